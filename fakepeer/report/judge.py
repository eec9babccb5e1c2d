"""PASS or FAIL: a connection's verdict compared with what the scenario expects.

Pure: (expectation, dashboard verdict, events) in, a Judgement out, in plain words such
as "SBC accepted an expired certificate: FAIL" or "SBC rejected the chain with
unknown_ca: PASS". A mark-down can only be half seen from here (fakepeer sees its own
answer, not the SBC's routing table), so it is CHECK: exercised, confirm on the SBC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from fakepeer.report.events import Event
from fakepeer.report.verdict import Verdict


class ExpectationLike(Protocol):
    """What a judgement reads of an expectation (``fakepeer.scenario.model.Expectation``,
    a frozen value, so read-only)."""

    @property
    def reaction(self) -> str: ...
    @property
    def alert(self) -> str | None: ...
    @property
    def by(self) -> str: ...
    @property
    def sip_status(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Judgement:
    outcome: str  # "PASS", "FAIL", "OTHER-REASON", "CHECK" or "INCOMPLETE"
    reason: str

    def line(self) -> str:
        return f"{self.reason}: {self.outcome}"


def _tls_failure(events: Iterable[Event]) -> Event | None:
    return next((e for e in events if e.kind == "tls-failed"), None)


def judge(expectation: ExpectationLike, verdict: Verdict, events: list[Event]) -> Judgement:
    failed = _tls_failure(events)
    established = verdict.tls in ("Active", "CertExpiring", "CertExpired")
    answered = [e for e in events if e.kind == "sip-response" and e.data.get("method")]
    if expectation.reaction == "accept":
        if established and verdict.options == "Active":
            return Judgement("PASS", "SBC accepted the chain and got 200 OK to its OPTIONS")
        if failed is not None and failed.data.get("failed_by") == "peer":
            alert = failed.data.get("alert") or "no alert"
            return Judgement("FAIL", f"SBC rejected a chain it should accept ({alert})")
        if failed is not None:
            return Judgement("FAIL", f"fakepeer refused the SBC: {failed.summary}")
        if established and verdict.options == "Error":
            return Judgement("FAIL", f"SBC's OPTIONS was refused: {verdict.options_reason}")
        return Judgement("INCOMPLETE", "TLS completed but the SBC sent no OPTIONS")
    if expectation.reaction == "reject":
        return _judge_reject(expectation, established, failed)
    # mark-down
    status = expectation.sip_status
    statuses = [int(e.data.get("status", 0)) for e in answered]
    deliberate = {e.data.get("finding") for e in answered} & {"reset", "ignored"}
    if deliberate:
        what = "reset the connection" if "reset" in deliberate else "never answered"
        return Judgement("CHECK", f"fakepeer {what}; confirm the SBC marked this proxy down "
                                  "and moved on")
    if status is not None and status in statuses:
        return Judgement("CHECK", f"fakepeer answered {status}; confirm the SBC marked this "
                                  "proxy down and moved on")
    if status == 408 or (status is None and not statuses and established):
        return Judgement("CHECK", "fakepeer never answered; confirm the SBC timed out "
                                  "(408) and marked this proxy down")
    if failed is not None:
        return Judgement("FAIL", f"the connection failed before SIP: {failed.summary}")
    return Judgement("INCOMPLETE", "the SBC sent no OPTIONS, so the mark-down was not "
                                   "exercised")


def _judge_reject(expectation: ExpectationLike, established: bool,
                  failed: Event | None) -> Judgement:
    wanted = expectation.alert
    if established:
        who = "SBC accepted" if expectation.by != "fakepeer" else "fakepeer accepted"
        return Judgement("FAIL", f"{who} what it should refuse"
                         + (f" (expected {wanted})" if wanted else ""))
    if failed is None:
        return Judgement("INCOMPLETE", "the connection ended before the handshake decided")
    by = "SBC" if failed.data.get("failed_by") == "peer" else "fakepeer"
    alert = failed.data.get("alert")
    side_ok = expectation.by == "either" or (expectation.by == "sbc") == (by == "SBC")
    if not side_ok:
        return Judgement("FAIL", f"{by} ended the handshake ({alert or 'no alert'}) but the "
                                 f"{'SBC' if expectation.by == 'sbc' else 'fakepeer'} should")
    if wanted and alert and alert != wanted:
        return Judgement("OTHER-REASON", f"{by} rejected it with {alert}, not {wanted}: the "
                                         "SBC is wrong for this case, or the test set-up is")
    return Judgement("PASS", f"{by} rejected it" + (f" with {alert}" if alert else ""))
