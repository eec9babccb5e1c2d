"""Each connection's one-line verdict, in the Teams Health Dashboard's vocabulary.

TLS: ``Active``, ``CertExpiring`` (the SBC's certificate ends within 30 days),
``CertExpired``, or ``Failed`` with the reason; OPTIONS: ``Active`` (answered 200),
``Error`` (answered otherwise, or the message was refused) or ``None`` (no OPTIONS seen).
Pure: events in, verdict out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fakepeer.report.events import Event

#: The dashboard flags certificates that expire within 30 days [real-peers.md §3].
CERT_EXPIRING_WINDOW = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Verdict:
    connection: int
    tls: str
    tls_reason: str
    options: str
    options_reason: str
    dialback: str = ""

    def line(self) -> str:
        tls = self.tls + (f" ({self.tls_reason})" if self.tls_reason else "")
        options = self.options + (f" ({self.options_reason})" if self.options_reason else "")
        out = f"TLS {tls}; OPTIONS {options}"
        return out + (f"; outbound {self.dialback}" if self.dialback else "")

    def to_json(self) -> dict[str, str]:
        return {"tls": self.tls, "tls_reason": self.tls_reason, "options": self.options,
                "options_reason": self.options_reason, "dialback": self.dialback}


def tls_state(not_after: datetime | None, now: datetime) -> tuple[str, str]:
    """The dashboard's TLS state of an established connection, from the end date of
    the SBC's certificate (``None``: it presented none)."""
    if not_after is None:
        return "Active", ""
    if not_after < now:
        return "CertExpired", f"SBC certificate expired {not_after:%Y-%m-%d}"
    if not_after - now < CERT_EXPIRING_WINDOW:
        return "CertExpiring", f"SBC certificate ends {not_after:%Y-%m-%d}"
    return "Active", ""


def judge_connection(connection: int, events: Iterable[Event], now: datetime) -> Verdict:
    tls, tls_reason = "Failed", "connection closed before the TLS handshake completed"
    options, options_reason = "None", "no OPTIONS received"
    dialback = ""
    for event in events:
        if event.kind == "tls-established":
            not_after = event.data.get("client_certificate", {}).get("not_after")
            tls, tls_reason = tls_state(datetime.fromisoformat(not_after) if not_after
                                        else None, now)
        elif event.kind == "tls-failed":
            tls, tls_reason = "Failed", event.summary
        elif event.kind == "sip-response" and event.data.get("method") == "OPTIONS":
            status = int(event.data.get("status", 0))
            if status == 200:
                options, options_reason = "Active", ""
            else:
                options = "Error"
                options_reason = f"{status} {event.data.get('finding', '')}".strip()
        elif event.kind == "sip-error" and options != "Active":
            options, options_reason = "Error", event.summary
        elif event.kind == "dialback":
            dialback = event.summary
    return Verdict(connection, tls, tls_reason, options, options_reason, dialback)
