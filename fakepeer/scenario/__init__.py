"""Scenarios: what a fake peer serves and what a correct SBC does about it.

``model`` holds the frozen, self-validating values; ``load`` reads ``scenarios/*.toml``
and user folders strictly. Neither imports anything else from fakepeer but its errors.
"""
