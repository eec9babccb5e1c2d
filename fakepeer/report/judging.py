# -*- test-case-name: tests.report.test_judging -*-
"""PASS, FAIL, OTHER-REASON, INCOMPLETE or CHECK: one connection's running facts against
what a correctly configured SBC does, and a session's two directions combined.

Pure: :class:`ConnectionFacts` (kept up to date by :mod:`fakepeer.report.sessions`), the
expectation and the time in, a :class:`Decision` or ``None`` (not decidable yet) out.
The functions can be asked again at any time; the answer depends only on the facts, so
a later fact (an OPTIONS refused after a 200, a dial-back result) changes the decision
and the session's verdict with it. ``docs/verdicts.md`` states every rule in words.

A decision's ``cause`` is one short sentence; ``hint`` is what to check next (the
scenario's own advice first, see :mod:`fakepeer.report.hints`); ``explanation`` is
the long form for the JSON and the report.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from fakepeer.report import hints
from fakepeer.report.events import (
    OUTCOMES,
    Certificate,
    CertificateCheck,
    Closed,
    DialPurpose,
    Direction,
    OptionsAnswered,
    Outcome,
    Served,
    SessionVerdict,
    SipRequest,
    TlsFailed,
)
from fakepeer.report.verdict import tls_state
from fakepeer.scenario.model import Expectation

#: Worst first: a session's verdict is the worst of its two directions.
SEVERITY: tuple[Outcome, ...] = ("FAIL", "OTHER-REASON", "INCOMPLETE", "CHECK", "PASS")
assert set(SEVERITY) == set(OUTCOMES)
#: Outcomes in which fakepeer saw the SBC do what a correct one does.
PASSED: frozenset[Outcome] = frozenset({"PASS", "CHECK"})
#: Outcomes that say something about the SBC (INCOMPLETE says it was not exercised).
CONCLUSIVE: frozenset[Outcome] = frozenset({"PASS", "CHECK", "FAIL", "OTHER-REASON"})
#: The expectation of an outbound connection: the SBC accepts the cloud's connection.
ACCEPT = Expectation("accept")


@dataclass(frozen=True, slots=True)
class Decision:
    """One direction's outcome, in a short cause, a next step and the long form."""

    outcome: Outcome
    cause: str
    hint: str = ""
    explanation: str = ""
    alert: str | None = None


@dataclass(slots=True)
class ConnectionFacts:
    """The running facts of one connection: only what a verdict or the live view needs
    (counts, first and last OPTIONS, first failure, identity), never its history."""

    connection: int
    direction: Direction
    peer: str
    started: datetime
    purpose: DialPurpose | None = None
    dialled: str | None = None
    served: Served | None = None
    sni: str | None = None
    established: datetime | None = None
    tls: str = ""
    failure: TlsFailed | None = None
    certificate: Certificate | None = None
    verify_errors: tuple[str, ...] = ()
    sip_seen: bool = False
    requests: int = 0
    options: int = 0
    keepalives: int = 0
    delayed: int = 0
    first_options: SipRequest | None = None
    last_options: SipRequest | None = None
    last_options_at: datetime | None = None
    sip_error: str | None = None
    contact_host: str | None = None
    contact_port: int | None = None
    user_agent: str | None = None
    connect_error: str | None = None
    check: CertificateCheck | None = None
    options_sent: datetime | None = None
    answer: OptionsAnswered | None = None
    idle_limit: float | None = None
    closed: Closed | None = None
    decision: Decision | None = None
    session: int | None = None

    def answered(self, request: SipRequest) -> None:
        """Keep fakepeer's answer to an OPTIONS (not a delayed one: it counts when sent)."""
        if self.first_options is None:
            self.first_options = request
        self.last_options = request
        self.last_options_at = request.time


def expectation_for(served: Served, stated: Expectation | None) -> Expectation:
    """What applies on a connection: the served code and side, with the scenario's
    reason and setup (for hints) when ``stated`` is the same expectation."""
    parsed = replace(Expectation.parse(served.expectation), by=served.by)
    if stated is not None and (stated.code, stated.by) == (parsed.code, parsed.by):
        return stated
    return parsed


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


# --- inbound ------------------------------------------------------------------------------


def decide_inbound(facts: ConnectionFacts, expectation: Expectation, *, now: datetime,
                   window: float) -> Decision | None:
    """The inbound outcome, once decidable (see the module docstring and
    ``docs/verdicts.md``); ``None`` for a connection that never started TLS."""
    if facts.failure is not None:
        return _failed_handshake(facts.failure, expectation)
    if facts.established is None:
        return None
    if expectation.reaction == "reject":
        return _established_reject(facts, expectation, now, window)
    return _established_accept(facts, expectation, now, window)


def _silence(facts: ConnectionFacts, now: datetime, window: float) -> str | None:
    """How a connection with no SIP after the handshake ended, if it has: ``closed``
    (by the SBC, within the window), ``idle`` (the window or fakepeer's idle limit
    passed), ``cut`` (fakepeer closed it early), else ``None`` (keep waiting)."""
    assert facts.established is not None
    closed = facts.closed
    if facts.idle_limit is not None:
        return "idle"
    if closed is not None and _seconds(facts.established, closed.time) < window:
        return "closed" if closed.by == "sbc" else "cut"
    if _seconds(facts.established, closed.time if closed else now) >= window:
        return "idle"
    return None


def _waited(facts: ConnectionFacts, window: float) -> float:
    return facts.idle_limit if facts.idle_limit is not None else window


def _established_reject(facts: ConnectionFacts, e: Expectation, now: datetime,
                        window: float) -> Decision | None:
    wanted = e.alert
    expected = f" (expected {wanted})" if wanted else ""
    missed = hints.MISSED_REFUSAL_HINTS.get(wanted or "", hints.MISSED_REFUSAL_DEFAULT)
    if e.by == "fakepeer":
        return Decision("FAIL", f"fakepeer completed a handshake it should refuse{expected}",
                        hints.hint(e, "check that the SBC is set up as the scenario asks",
                                   setup_first=True),
                        "The scenario expects fakepeer itself to refuse this SBC; it did not, "
                        "so the SBC was not set up as the scenario asks.", None)
    if facts.sip_seen:
        return Decision("FAIL", f"the SBC accepted a chain it should refuse{expected}",
                        missed, "The handshake completed and the SBC then sent SIP, so it "
                        "accepted the chain served.")
    how = _silence(facts, now, window)
    if how is None:
        return None
    if how == "cut":
        return _cut(facts, e)
    if how == "idle":
        return Decision("FAIL", f"the SBC kept the connection {_waited(facts, window):g} s "
                        f"after the handshake without refusing{expected}", missed,
                        "A stack that refuses a chain ends the handshake with an alert or "
                        "closes right after it; this one kept the connection open.")
    closed = facts.closed
    assert closed is not None
    if closed.alert not in (None, "close_notify"):
        return _refused(e, "sbc", closed.alert, "after the handshake")
    if wanted:
        return Decision("OTHER-REASON", f"closed after the handshake without SIP or an "
                        f"alert, not with {wanted}", hints.SILENT_REJECTION_HINT,
                        f"{hints.SILENT_REJECTION_LONG} The scenario expects the alert "
                        f"{wanted}, which fakepeer cannot confirm.", None)
    return Decision("PASS", "the SBC refused it silently: closed after the handshake "
                    "without SIP", hints.SILENT_REJECTION_HINT, hints.SILENT_REJECTION_LONG,
                    None)


def _cut(facts: ConnectionFacts, e: Expectation) -> Decision:
    closed = facts.closed
    assert closed is not None and facts.established is not None
    after = _seconds(facts.established, closed.time)
    why = closed.reason or "fakepeer closed the connection"
    return Decision("INCOMPLETE", f"{why} {after:g} s after the handshake, before the SBC "
                    "said anything", hints.hint(e, "let the SBC keep its connection until it "
                                                "sends OPTIONS", setup_first=True),
                    "fakepeer ended the connection before the judgement window, so the SBC "
                    "showed neither acceptance nor refusal.")


def _established_accept(facts: ConnectionFacts, e: Expectation, now: datetime,
                        window: float) -> Decision | None:
    if facts.last_options is not None:
        return _options_answer(facts.last_options, e)
    if facts.sip_error is not None:
        return Decision("FAIL", f"the SBC sent malformed SIP: {facts.sip_error}",
                        hints.ANSWER_REASON_HINTS["malformed"])
    if facts.delayed:  # a deliberately delayed answer is still to come
        if facts.closed is None:
            return None
        return Decision("INCOMPLETE", "the connection closed before fakepeer's delayed "
                        "answer", hints.hint(e, "", setup_first=True))
    how = _silence(facts, now, window)
    if how is None:
        return None
    if how == "cut":
        return _cut(facts, e)
    if facts.sip_seen:
        return Decision("FAIL", "the SBC sent no OPTIONS after the handshake (keep-alives or "
                        "other requests only)", hints.NO_OPTIONS_HINT,
                        "A trunk is Active only while the SBC pings with OPTIONS.")
    if how == "idle":
        return Decision("FAIL", f"no SIP within {_waited(facts, window):g} s after the "
                        "handshake", hints.NO_OPTIONS_HINT,
                        "The SBC completed the handshake and sent nothing: it may have "
                        "rejected the chain without closing, or its OPTIONS ping is off.")
    closed = facts.closed
    assert closed is not None
    if closed.alert not in (None, "close_notify"):
        refused = _refused(e, "sbc", closed.alert, "after the handshake")
        return replace(refused, outcome="FAIL",
                       cause=f"the SBC refused the chain with {closed.alert} after the "
                             "handshake")
    return Decision("FAIL", f"closed after the handshake without SIP: {hints.SILENT_REJECTION}",
                    hints.hint(e, hints.SILENT_REJECTION_HINT, "unknown_ca"),
                    hints.SILENT_REJECTION_LONG)


def _options_answer(request: SipRequest, e: Expectation) -> Decision:
    status = request.status
    said = f"{status} {request.reason}".strip() if status is not None else ""
    reason = request.answer_reason
    why = f" ({reason})" if reason and reason != "ok" else ""
    if e.reaction == "accept":
        if request.fate == "answered" and status is not None and 200 <= status < 300:
            return Decision("PASS", f"the SBC accepted the chain; OPTIONS answered {said}")
        if request.fate != "answered":
            return Decision("INCOMPLETE", f"fakepeer did not answer the OPTIONS ({request.fate})"
                            " in a scenario that expects acceptance",
                            "serve a scenario whose SIP side answers")
        return Decision("FAIL", f"OPTIONS answered {said}{why}",
                        hints.hint(e, hints.ANSWER_REASON_HINTS.get(request.answer_reason or "",
                                                              "check the SBC's OPTIONS"),
                                   request.answer_reason),
                        request.explanation)
    # mark-down: TLS is accepted and the SIP exchange fails on purpose
    confirm = "confirm on the SBC that it marked this proxy down and moved on"
    if request.fate == "ignored":
        return Decision("CHECK", "fakepeer never answered the OPTIONS (the SBC times out with "
                        "408)", confirm)
    if request.fate == "reset":
        return Decision("CHECK", "fakepeer reset the connection instead of answering", confirm)
    assert status is not None
    if 200 <= status < 300:
        return Decision("INCOMPLETE", f"fakepeer answered {said}: the mark-down was not "
                        "exercised", hints.hint(e, "set the SBC up as the scenario asks",
                                                setup_first=True))
    if e.sip_status is not None and status != e.sip_status:
        return Decision("OTHER-REASON", f"OPTIONS answered {said}{why}, not "
                        f"{e.sip_status}", hints.ANSWER_REASON_HINTS.get(
                            request.answer_reason or "", "check the SBC's OPTIONS"),
                        request.explanation)
    return Decision("CHECK", f"fakepeer answered {said}{why}", confirm, request.explanation)


# --- handshake failures (both directions share the alert rules) ------------------------


def _failed_handshake(failure: TlsFailed, e: Expectation) -> Decision:
    if failure.reason == "not-tls":
        return Decision("FAIL", "it did not speak TLS on the TLS port (plain SIP or garbage?)",
                        hints.REFUSAL_HINTS["not-tls"], failure.detail)
    if failure.reason == "stalled":
        outcome: Outcome = "OTHER-REASON" if e.reaction == "reject" else "FAIL"
        return Decision(outcome, "the SBC stopped in the middle of the handshake",
                        hints.REFUSAL_HINTS["stalled"], failure.detail)
    if e.reaction != "reject":
        if failure.failed_by == "fakepeer":
            return Decision("FAIL", f"fakepeer refused the SBC ({failure.alert or 'no alert'}): "
                            f"{failure.reason}", hints.hint(
                                e, hints.REFUSAL_HINTS.get(failure.reason, hints.SILENT_HINT),
                                failure.alert), failure.detail, failure.alert)
        what = failure.alert or "closed without an alert"
        return Decision("FAIL", f"the SBC refused a chain it should accept ({what})",
                        hints.hint(e, hints.ALERT_HINTS.get(failure.alert or "",
                                                            hints.SILENT_HINT), failure.alert),
                        failure.detail, failure.alert)
    side = failure.failed_by
    if side == "unknown":
        return Decision("INCOMPLETE", f"the handshake failed and fakepeer cannot tell who "
                        f"ended it: {failure.detail}", hints.SILENT_HINT, failure.detail,
                        failure.alert)
    if e.by == "sbc" and side == "fakepeer":
        missed = hints.MISSED_REFUSAL_HINTS.get(e.alert or "", hints.MISSED_REFUSAL_DEFAULT)
        return Decision("FAIL", f"the SBC went on past the chain it should refuse; fakepeer "
                        f"then refused it ({failure.reason})", missed,
                        f"The SBC did not refuse the chain served; the handshake only failed "
                        f"because fakepeer refused the SBC: {failure.detail}", failure.alert)
    if e.by == "fakepeer" and side == "sbc":
        return Decision("FAIL", f"the SBC refused fakepeer's chain "
                        f"({failure.alert or 'no alert'}) before fakepeer could refuse it",
                        hints.hint(e, hints.ALERT_HINTS.get(failure.alert or "",
                                                            hints.SILENT_HINT), failure.alert),
                        failure.detail, failure.alert)
    return _refused(e, side, failure.alert, "", failure.detail)


def _refused(e: Expectation, side: str, alert: str | None, when: str,
             detail: str = "") -> Decision:
    """The right side refused: PASS when the alert is the expected one (or none was
    expected), OTHER-REASON when it is another, or none where one was expected."""
    who = "the SBC" if side == "sbc" else "fakepeer"
    when = f" {when}" if when else ""
    wanted = e.alert
    if alert is None:
        if wanted:
            return Decision("OTHER-REASON", f"{who} refused it without an alert{when}, not "
                            f"with {wanted}", hints.SILENT_HINT, detail, None)
        return Decision("PASS", f"{who} refused it{when}", f"no alert: {hints.SILENT_HINT}",
                        detail, None)
    if wanted and alert != wanted:
        generic = hints.ALERT_HINTS.get(alert, hints.SILENT_HINT)
        return Decision("OTHER-REASON", f"{who} refused it with {alert}, not {wanted}",
                        hints.hint(e, f"{generic}; or fix the test set-up", alert),
                        f"{detail} A correctly configured SBC sends {wanted} here; {alert} "
                        "means the SBC is wrong for this case, or the test set-up is.".strip(),
                        alert)
    return Decision("PASS", f"{who} refused it with {alert}{when}", "", detail, alert)


# --- outbound -----------------------------------------------------------------------------


def decide_outbound(facts: ConnectionFacts, expectation: Expectation, *, now: datetime,
                    window: float) -> Decision | None:
    """fakepeer's own connection to the SBC (dial-back or probe): a correct SBC accepts
    fakepeer's client chain, presents a certificate the cloud accepts and answers
    OPTIONS with 2xx."""
    target = facts.dialled or facts.peer
    e = expectation
    if facts.connect_error is not None:
        return Decision("FAIL", f"TCP connect to {target} failed: {facts.connect_error}",
                        hints.hint(e, "make the SBC listen on its Contact FQDN and port",
                                   setup_first=True))
    if facts.failure is not None:
        failure = facts.failure
        if failure.failed_by == "sbc" or failure.reason == "stalled":
            what = f"with {failure.alert}" if failure.alert else "without an alert"
            return Decision("FAIL", f"the SBC refused fakepeer's connection {what}",
                            hints.hint(e, hints.ALERT_HINTS.get(failure.alert or "",
                                                                hints.SILENT_HINT),
                                       failure.alert),
                            _with_check(failure.detail, facts.check), failure.alert)
        return Decision("FAIL", f"fakepeer's TLS to the SBC failed: {failure.detail}",
                        hints.SILENT_HINT, _with_check(failure.detail, facts.check),
                        failure.alert)
    if facts.check is not None and not facts.check.accepted:
        return Decision("FAIL", f"the cloud refuses the SBC's certificate: "
                        f"{facts.check.problems[0]}", "fix the SBC's certificate as the "
                        "problems say", "; ".join(facts.check.problems))
    if facts.answer is not None:
        answer = facts.answer
        said = f"{answer.status} {answer.reason}".strip()
        if 200 <= answer.status < 300:
            if answer.contact is None and answer.record_route is None:
                return Decision("PASS", f"the SBC accepted fakepeer's connection and answered "
                                f"{said}", "its answer has no Contact or Record-Route with "
                                "its FQDN (Teams expects one)")
            return Decision("PASS", f"the SBC accepted fakepeer's connection and answered "
                            f"{said}")
        return Decision("FAIL", f"the SBC answered fakepeer's OPTIONS with {said}",
                        "check what the SBC logs for the cloud's OPTIONS")
    if facts.sip_error is not None:
        return Decision("FAIL", f"the SBC's answer was malformed: {facts.sip_error}",
                        hints.ANSWER_REASON_HINTS["malformed"])
    closed = facts.closed
    if closed is not None:
        if facts.established is None:
            return Decision("FAIL", "the connection closed before the TLS handshake completed",
                            hints.SILENT_HINT, closed.reason)
        if closed.by == "sbc":
            return Decision("FAIL", "the SBC closed it without answering: most likely it "
                            "rejected fakepeer's client certificate without an alert",
                            hints.hint(e, hints.SILENT_REJECTION_HINT, "unsupported_certificate"),
                            "The SBC completed the TLS handshake and closed fakepeer's "
                            "connection without answering its OPTIONS and without an alert.")
        return Decision("FAIL", closed.reason or "fakepeer gave up waiting for an answer",
                        "check what the SBC logs for the cloud's OPTIONS")
    if _seconds(facts.started, now) >= window:
        return Decision("INCOMPLETE", f"no result within {window:g} s of dialling {target}",
                        hints.hint(e, "", setup_first=True))
    return None


def _with_check(detail: str, check: CertificateCheck | None) -> str:
    if check is None or check.accepted:
        return detail
    return f"{detail} fakepeer also refuses the SBC's certificate: {'; '.join(check.problems)}"


# --- a session: both directions -----------------------------------------------------------


def worst(*outcomes: Outcome) -> Outcome:
    return min(outcomes, key=SEVERITY.index)


def combine(inbound: Decision | None, outbound: Decision | None) -> tuple[Decision, str]:
    """The session's decision from its directions' (at least one given) and which one
    it speaks for (``inbound`` or ``outbound``): the worse; the inbound on a tie."""
    if inbound is None and outbound is None:
        raise ValueError("combine needs at least one direction's decision")
    if outbound is None:
        assert inbound is not None
        return inbound, "inbound"
    if inbound is None or worst(inbound.outcome, outbound.outcome) != inbound.outcome:
        return replace(outbound, cause=f"dial-back: {outbound.cause}"), "outbound"
    return inbound, "inbound"


def dashboard(facts: ConnectionFacts, now: datetime) -> tuple[str, str, str, str]:
    """TLS and OPTIONS of an inbound connection in the Teams Health Dashboard's words:
    (tls, tls_reason, options, options_reason)."""
    if facts.failure is not None:
        tls, tls_reason = "Failed", facts.failure.detail
    elif facts.established is not None:
        not_after = facts.certificate.not_after if facts.certificate else None
        tls, tls_reason = tls_state(not_after, now)
    else:
        tls, tls_reason = "Failed", "no TLS handshake"
    last = facts.last_options
    if last is None:
        options, options_reason = ("Error", facts.sip_error) if facts.sip_error else (
            "None", "no OPTIONS received")
    elif last.fate == "answered" and last.status is not None and 200 <= last.status < 300:
        options, options_reason = "Active", ""
    else:
        status = f"{last.status} " if last.status is not None else ""
        options, options_reason = "Error", f"{status}{last.answer_reason or last.fate}"
    return tls, tls_reason, options, options_reason


def verdict_line(verdict: SessionVerdict) -> str:
    """The console's verdict line: the outcome first, who, one short cause, then
    ``next:`` (``note:`` on a PASS) and, for an update, what it was."""
    who = verdict.identity.name + (" (healthcheck)" if verdict.identity.healthcheck else "")
    line = f"{verdict.outcome} {who} #{verdict.connection}: {verdict.cause}"
    if verdict.previous is not None and verdict.previous != verdict.outcome:
        line += f" (was {verdict.previous})"
    if verdict.hint:
        line += f"; {'note' if verdict.outcome == 'PASS' else 'next'}: {verdict.hint}"
    return line
