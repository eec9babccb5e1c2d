"""Scenarios: what a fake peer serves and what a correct SBC does about it.

``model`` holds the frozen, self-validating values, ``validate`` the checks they run on
themselves; ``load`` reads ``scenarios/*.toml`` and user folders strictly. None imports
anything else from fakepeer but its errors and the vocabulary.
"""
