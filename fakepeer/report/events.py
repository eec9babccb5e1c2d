"""What happened on the wire, as records: one ``Event`` per fact, JSON-ready.

A sink is any ``Callable[[Event], None]`` (tests pass ``list.append``), so the network
edge reports without knowing where records go.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime

from fakepeer.report.legacy import KINDS, Event

__all__ = ["KINDS", "Clock", "ConnectionIds", "Event", "Fanout", "Sink", "utc_now"]

Sink = Callable[[Event], None]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ConnectionIds:
    """Connection numbers, 1, 2, 3... per server run (0 is the server itself)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        return next(self._counter)


class Fanout:
    """Send every event to several sinks; one failing sink does not silence the others."""

    def __init__(self, *sinks: Sink) -> None:
        self.sinks = list(sinks)
        self.errors: list[str] = []

    def __call__(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink(event)
            except Exception as exc:  # a broken sink must not stop serving
                self.errors.append(f"{sink!r}: {exc}")
