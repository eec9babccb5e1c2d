"""Today's untyped ``Event(kind, data: dict)``: the compatibility path while the network
edge still builds it. The wiring task switches every producer to the typed records of
:mod:`fakepeer.report.events` and then deletes this module (see
``/work/notes/verdict-wiring.md``).
"""

from __future__ import annotations

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

#: Where each of today's kinds goes among the typed records (docs/events.md, "From the
#: untyped events"): one kind became several where the old one meant several things.
TYPED_KINDS: dict[str, tuple[str, ...]] = {
    "listening": ("listening",), "probe": ("dial-started",),
    "tcp-accepted": ("tcp-accepted",), "tcp-connected": ("tcp-connected",),
    "tcp-failed": ("tcp-failed",), "tcp-refused": ("tcp-refused",),
    "tls-established": ("tls-established",), "tls-failed": ("tls-failed",),
    "certificate-check": ("certificate-check",),
    "sip-request": ("sip-request", "options-sent"),
    "sip-response": ("sip-request", "sip-answer", "options-answered", "sip-stray-response"),
    "sip-keepalive": ("keepalives",), "sip-error": ("sip-error",), "limit": ("limit",),
    "dialback": ("dialback",), "phase": ("serving", "reload-refused"), "closed": ("closed",),
    "verdict": ("verdict",), "stopped": ("stopped",),
    "http-refused": ("http-refused",), "http-error": ("http-error",),
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Event:
    """One fact: ``kind`` from ``KINDS``, the connection it belongs to, and details."""

    kind: str
    connection: int
    peer: str
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=_utc_now)

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
