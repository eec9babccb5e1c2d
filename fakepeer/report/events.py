"""What happened on the wire, as records: one ``Event`` per fact, JSON-ready.

A sink is any ``Callable[[Event], None]`` (tests pass ``list.append``), so the network
edge reports without knowing where records go.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Event kinds, in the order they usually happen on one connection. Outbound
#: connections (``probe`` and dial-back) start with ``probe`` and ``tcp-connected`` or
#: ``tcp-failed``, and add ``certificate-check``: fakepeer's judgement of the SBC's chain.
#: The HTTP side reports requests it refuses (``http-refused``) or fails (``http-error``).
KINDS = (
    "listening", "probe", "tcp-accepted", "tcp-connected", "tcp-failed", "tcp-refused",
    "tls-established", "tls-failed", "certificate-check", "sip-request", "sip-response",
    "sip-keepalive", "sip-error", "limit", "dialback", "phase", "closed", "verdict", "stopped",
    "http-refused", "http-error",
)

Sink = Callable[["Event"], None]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Event:
    """One fact: ``kind`` from ``KINDS``, the connection it belongs to, and details."""

    kind: str
    connection: int
    peer: str
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(timespec="milliseconds"), "kind": self.kind,
                "connection": self.connection, "peer": self.peer, "summary": self.summary,
                **({"data": self.data} if self.data else {})}

    def console_line(self) -> str:
        stamp = self.time.strftime("%H:%M:%S.%f")[:-3]
        who = f"#{self.connection} {self.peer}" if self.connection else self.peer
        return f"{stamp} {who:<24} {self.kind:<15} {self.summary}"


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
