"""The exceptions fakepeer raises on purpose.

Only :func:`fakepeer.cli.main.main` catches :class:`FakepeerError`; it turns one into a
one-line message on stderr and an exit status. A peer that misbehaves is not an
exception: it becomes an event, and then a verdict.
"""

from __future__ import annotations


class FakepeerError(Exception):
    """Something the user can fix: bad input, a damaged file, an impossible request."""


class StoreError(FakepeerError):
    """A file in the certificate store is missing, damaged, foreign or inconsistent."""


class PkiError(FakepeerError):
    """A certificate or hierarchy cannot be built as asked (unknown era, defect, CA...)."""


class ScenarioError(FakepeerError):
    """A scenario file or a scenario built from options is invalid; names file and key."""


class ConfigError(FakepeerError):
    """A command-line option or configuration value is invalid."""
