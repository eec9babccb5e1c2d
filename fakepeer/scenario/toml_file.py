# -*- test-case-name: tests.scenario.test_toml_file -*-
"""Reading the TOML files a user gives fakepeer (scenarios, rehearsal plans).

The one place that turns a path into TOML text, so that every file problem becomes the
same kind of one-line error naming the file.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from fakepeer.errors import FakepeerError, ScenarioError

_TOML_POSITION = re.compile(r"^(?P<message>.*?) \(at (?:line (?P<line>\d+), column "
                            r"(?P<column>\d+)|end of document)\)$")


def _syntax_error(path: Path, exc: tomllib.TOMLDecodeError) -> ScenarioError:
    text = str(exc)
    match = _TOML_POSITION.match(text)
    if match is None:
        return ScenarioError(f"{path}: TOML syntax error: {text}")
    if match["line"] is None:
        return ScenarioError(f"{path}: at the end: TOML syntax error: {match['message']}")
    return ScenarioError(f"{path}: line {match['line']}, column {match['column']}: TOML "
                         f"syntax error: {match['message']}")


def read_toml_text(path: Path, error: type[FakepeerError] = ScenarioError) -> str:
    """A TOML file's text, or ``error`` naming the file (unreadable, or not UTF-8)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}); TOML files are "
                    "UTF-8") from None
