"""The JSON-lines event log: one object per line, flushed per event so nothing is lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from fakepeer.report.events import Event


class JsonLinesSink:
    """Appends each event as one JSON line to a file or stream, flushed at once."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    @classmethod
    def open(cls, path: Path) -> JsonLinesSink:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path.open("a", encoding="utf-8", buffering=1))

    def __call__(self, event: Event) -> None:
        self.stream.write(json.dumps(event.to_json(), default=str) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()


class ConsoleSink:
    """A readable line per event, for the engineer watching the terminal."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        self.stream.write(event.console_line() + "\n")
        self.stream.flush()


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Read a log back; a damaged line is reported with its number, not skipped silently."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not a JSON line ({exc.msg})") from None
