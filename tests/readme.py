"""The README's text as the tests read it: one place for the sections tests hold to."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next ``##`` heading."""
    text = (ROOT / "README.md").read_text()
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def two_commands() -> list[str]:
    """The one-line ``sh`` blocks of "Two commands": serve first, then the tests."""
    return re.findall(r"```sh\n(.+?)\n```", section("Two commands"))


def activation() -> str:
    """The command "Two commands" gives once for putting ``fakepeer`` on PATH."""
    commands: set[str] = set(re.findall(r"`(\. \S+/bin/activate)`", section("Two commands")))
    (command,) = commands
    return command
