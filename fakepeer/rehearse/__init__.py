"""``fakepeer rehearse``: catalogue scenarios served one after another from a plan, and
a report (JSON, terminal, HTML) of every connection's verdict.

``plan`` reads plan files, ``runner`` serves the steps on the network, ``report`` turns
what happened into the report.
"""
