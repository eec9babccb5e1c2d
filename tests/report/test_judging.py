"""One connection's facts against the scenario's expectation: tables of (facts ->
outcome and cause), the hints, and the verdict line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fakepeer.report import events as ev
from fakepeer.report import hints
from fakepeer.report.judging import verdict_line
from fakepeer.report.sessions import judge_all
from fakepeer.scenario.model import Expectation
from tests.report.wire import T0, Wire, served, serving

WINDOW = 30.0


def outcome_of(expect: str, script, *, by: str = "sbc", until: float | None = None,
               reason: str = "", setup: str = ""):
    """The last verdict of one inbound connection served ``expect``."""
    wire = Wire(served=served(expect, by=by))
    records = [serving(expect, by=by, reason=reason, setup=setup), wire.accepted(),
               *script(wire)]
    verdicts = judge_all(records, window=WINDOW,
                         until=wire.at(until) if until is not None else None)
    return verdicts[-1] if verdicts else None


def established_then(*more):
    return lambda w: [w.established(), *(m(w) for m in more)]


ACCEPT_CASES = [
    # (why, facts, until, outcome, words in the cause)
    ("OPTIONS answered 200", established_then(lambda w: w.options()), None, "PASS",
     "OPTIONS answered 200 OK"),
    ("OPTIONS refused 403", established_then(lambda w: w.options(status=403,
                                                                 answer_reason="contact-ip")),
     None, "FAIL", "403 Forbidden (contact-ip)"),
    ("the SBC refused the chain", lambda w: [w.failed(alert="unknown_ca")], None, "FAIL",
     "refused a chain it should accept (unknown_ca)"),
    ("fakepeer refused the SBC", lambda w: [w.failed(
        by="fakepeer", alert="certificate_unknown", reason="client-certificate-missing")],
     None, "FAIL", "fakepeer refused the SBC"),
    ("silent rejection (sipsak/GnuTLS)", established_then(lambda w: w.closed(0.5)), None,
     "FAIL", "closed after the handshake without SIP: most likely it rejected the chain"),
    ("an alert after the handshake", established_then(
        lambda w: w.closed(0.5, alert="bad_certificate")), None, "FAIL",
     "with bad_certificate after the handshake"),
    ("idle without SIP past the window", established_then(), 31.0, "FAIL",
     "no SIP within 30 s"),
    ("fakepeer's idle limit first", established_then(lambda w: w.idle(3.1, 3.0),
                                                     lambda w: w.closed(3.1, by="fakepeer")),
     None, "FAIL", "no SIP within 3 s"),
    ("a message head never completed", established_then(
        lambda w: ev.LimitReached(time=w.at(5.1), connection=1, peer=w.peer,
                                  limit="head_deadline", seconds=5.0, buffered=120)),
     None, "FAIL", "the SBC sent malformed SIP: a message head not complete within 5 s"),
    ("keep-alives only", established_then(lambda w: w.keepalives(1.0, 3)), 31.0, "FAIL",
     "no OPTIONS"),
    ("fakepeer shut down early", established_then(lambda w: w.closed(
        1.0, by="fakepeer", reason="fakepeer is shutting down")), None, "INCOMPLETE",
     "fakepeer is shutting down 0.9 s after the handshake"),
    ("plain SIP on the TLS port", lambda w: [w.failed(by="fakepeer", alert=None,
                                                      reason="not-tls")], None, "FAIL",
     "did not speak TLS"),
    ("stalled handshake", lambda w: [w.failed(alert=None, reason="stalled")], None, "FAIL",
     "stopped in the middle of the handshake"),
]


@pytest.mark.parametrize(("why", "script", "until", "outcome", "words"), ACCEPT_CASES,
                         ids=[c[0] for c in ACCEPT_CASES])
def test_accept(why, script, until, outcome, words):
    """A scenario a correct SBC accepts: TLS then a 200 to its OPTIONS, nothing less."""
    verdict = outcome_of("accept", script, until=until)
    assert verdict is not None
    assert (verdict.outcome, words in verdict.cause) == (outcome, True), verdict.cause


REJECT_CASES = [
    ("the expected alert", "reject:certificate_expired", "sbc",
     lambda w: [w.failed(alert="certificate_expired")], "PASS",
     "refused it with certificate_expired"),
    ("another alert than expected", "reject:certificate_expired", "sbc",
     lambda w: [w.failed(alert="unknown_ca")], "OTHER-REASON",
     "refused it with unknown_ca, not certificate_expired"),
    ("no alert expected, any alert", "reject", "sbc", lambda w: [w.failed(alert="bad_certificate")],
     "PASS", "with bad_certificate"),
    ("closed during the handshake without an alert", "reject:unknown_ca", "sbc",
     lambda w: [w.failed(alert=None, reason="peer-closed-without-alert")], "OTHER-REASON",
     "without an alert"),
    ("silent rejection after the handshake, alert expected", "reject:unknown_ca", "sbc",
     established_then(lambda w: w.closed(0.3)), "OTHER-REASON",
     "closed after the handshake without SIP or an alert, not with unknown_ca"),
    ("silent rejection after the handshake, no alert expected", "reject", "sbc",
     established_then(lambda w: w.closed(0.3)), "PASS", "refused it silently"),
    ("accepted and sent OPTIONS", "reject:certificate_expired", "sbc",
     established_then(lambda w: w.options()), "FAIL",
     "accepted a chain it should refuse (expected certificate_expired)"),
    ("accepted and pinged CRLF", "reject:unknown_ca", "sbc",
     established_then(lambda w: w.keepalives()), "FAIL", "accepted a chain it should refuse"),
    ("went on past the chain, then fakepeer refused it", "reject:unknown_ca", "sbc",
     lambda w: [w.failed(by="fakepeer", alert="certificate_unknown",
                         reason="client-certificate-missing")], "FAIL",
     "went on past the chain it should refuse"),
    ("fakepeer refuses as expected", "reject:unknown_ca", "fakepeer",
     lambda w: [w.failed(by="fakepeer", alert="unknown_ca",
                         reason="client-certificate-untrusted")], "PASS",
     "fakepeer refused it with unknown_ca"),
    ("fakepeer refuses with another alert", "reject:certificate_unknown", "fakepeer",
     lambda w: [w.failed(by="fakepeer", alert="handshake_failure",
                         reason="client-certificate-missing")], "OTHER-REASON",
     "not certificate_unknown"),
    ("the SBC refused where fakepeer should", "reject:unknown_ca", "fakepeer",
     lambda w: [w.failed(alert="unknown_ca")], "FAIL", "before fakepeer could refuse it"),
    ("fakepeer accepted what it should refuse", "reject:unknown_ca", "fakepeer",
     established_then(), "FAIL", "fakepeer completed a handshake it should refuse"),
    ("either side, fakepeer refused", "reject:protocol_version", "either",
     lambda w: [w.failed(by="fakepeer", alert="protocol_version", reason="protocol-version")],
     "PASS", "fakepeer refused it with protocol_version"),
    ("either side, the SBC refused", "reject:protocol_version", "either",
     lambda w: [w.failed(alert="protocol_version")], "PASS", "the SBC refused it"),
]


@pytest.mark.parametrize(("why", "expect", "by", "script", "outcome", "words"), REJECT_CASES,
                         ids=[c[0] for c in REJECT_CASES])
def test_reject(why, expect, by, script, outcome, words):
    """A scenario a correct SBC refuses: who refused and with which alert both count."""
    verdict = outcome_of(expect, script, by=by)
    assert verdict is not None
    assert (verdict.outcome, words in verdict.cause) == (outcome, True), verdict.cause


def test_reject_kept_open_without_sip_is_not_a_refusal():
    """Holding the connection open past the window after the handshake is no refusal."""
    verdict = outcome_of("reject:unknown_ca", established_then(), until=WINDOW + 1)
    assert verdict.outcome == "FAIL"
    assert "kept the connection 30 s after the handshake without refusing" in verdict.cause


def test_undecided_before_the_window():
    """An established connection with no SIP yet has no verdict until the window ends."""
    assert outcome_of("accept", established_then(), until=WINDOW - 1) is None
    assert outcome_of("reject:unknown_ca", established_then(), until=WINDOW - 1) is None


MARK_DOWN_CASES = [
    ("mark-down:503", dict(status=503, answer_reason="options-override"), "CHECK", "answered 503"),
    ("mark-down:408", dict(status=None, fate="ignored"), "CHECK", "never answered"),
    ("mark-down", dict(status=None, fate="reset"), "CHECK", "reset the connection"),
    ("mark-down", dict(status=403, answer_reason="contact-ip"), "CHECK",
     "403 Forbidden (contact-ip)"),
    ("mark-down:503", dict(status=403, answer_reason="contact-ip"), "OTHER-REASON", "not 503"),
    ("mark-down", dict(status=200), "INCOMPLETE", "mark-down was not exercised"),
]


@pytest.mark.parametrize(("expect", "answer", "outcome", "words"), MARK_DOWN_CASES)
def test_mark_down(expect, answer, outcome, words):
    """A mark-down is exercised when fakepeer's SIP side fails on purpose; the SBC's
    reaction (failing over) is for the engineer to confirm: CHECK."""
    verdict = outcome_of(expect, established_then(lambda w: w.options(**answer)))
    assert (verdict.outcome, words in verdict.cause) == (outcome, True), verdict.cause


def test_mark_down_with_a_refused_chain_fails():
    """A mark-down scenario serves a good chain: refusing it is a FAIL, as for accept."""
    verdict = outcome_of("mark-down:503", lambda w: [w.failed(alert="unknown_ca")])
    assert verdict.outcome == "FAIL"


# --- hints and lines ---------------------------------------------------------------------

ROTATED_REASON = ("A correct SBC trusts DigiCert Global Root G2, pins no intermediate and "
                  "verifies 4 deep.\nunknown_ca here usually means a pinned intermediate or too "
                  "small a verify depth.")


def test_the_scenario_s_own_hint_comes_first():
    """The next step is the scenario's sentence that names the alert seen."""
    verdict = outcome_of("accept", lambda w: [w.failed(alert="unknown_ca")],
                         reason=ROTATED_REASON)
    assert verdict.hint == ("unknown_ca here usually means a pinned intermediate or too "
                            "small a verify depth.")


def test_the_generic_hint_without_one():
    """Without a sentence of its own the alert's generic hint is given."""
    verdict = outcome_of("accept", lambda w: [w.failed(alert="unknown_ca")])
    assert verdict.hint == hints.ALERT_HINTS["unknown_ca"]


def test_a_missed_refusal_names_what_the_sbc_must_check():
    """An SBC that accepted an expired chain is told to check validity dates."""
    verdict = outcome_of("reject:certificate_expired", established_then(lambda w: w.options()))
    assert verdict.hint == hints.MISSED_REFUSAL_HINTS["certificate_expired"]


def test_scenario_hint_finds_a_sentence_by_word():
    """Sentences split at full stops, across line breaks."""
    e = Expectation("accept", reason="First one.\nAn SBC that checks it refuses with "
                    "unsupported_certificate (error 26).", setup="Route it.")
    assert hints.scenario_hint(e, "unsupported_certificate").startswith("An SBC that checks")
    assert hints.scenario_hint(e, "unknown_ca") == ""
    assert hints.hint(e, "generic", "unknown_ca", setup_first=True) == "Route it."


LINE_CASES = [
    ("accept", lambda w: [w.failed(alert="unknown_ca")]),
    ("reject:certificate_expired", lambda w: [w.failed(alert="unknown_ca")]),
    ("accept", established_then(lambda w: w.closed(0.5))),
    ("reject:certificate_expired", established_then(lambda w: w.options())),
    ("accept", established_then(lambda w: w.options(status=403, answer_reason="contact-ip"))),
    ("mark-down:408", established_then(lambda w: w.options(status=None, fate="ignored"))),
]


@pytest.mark.parametrize(("expect", "script"), LINE_CASES)
def test_verdict_line_outcome_first_and_short(expect, script):
    """The line starts with the outcome; outcome, who and cause stay under ~120 characters,
    and a next step follows for anything but a PASS."""
    verdict = outcome_of(expect, script, reason=ROTATED_REASON)
    line = verdict_line(verdict)
    assert line.startswith(verdict.outcome + " ")
    head = line.split("; next: ")[0]
    assert len(head) <= 120, head
    if verdict.outcome != "PASS":
        assert "; next: " in line


def test_a_window_elapsed_verdict_is_timed_at_the_window():
    """The verdict of a silent connection carries the time its window ended."""
    verdict = outcome_of("accept", established_then(), until=WINDOW + 5)
    assert verdict.time == T0 + timedelta(seconds=WINDOW + 5)


def _delayed_answer(wire, t):
    return ev.DelayedAnswer(time=wire.at(t), connection=wire.connection, peer=wire.peer,
                            method="OPTIONS", status=200, reason="OK", answer_reason="ok",
                            delay=t - 1)


@pytest.mark.parametrize(("more", "until", "outcome"), [
    ([_delayed_answer], None, "PASS"),
    ([], WINDOW + 40, None),
    ([lambda w, t: w.closed(t)], None, "INCOMPLETE"),
])
def test_a_deliberately_delayed_answer_is_waited_for(more, until, outcome):
    """options_delay: the OPTIONS arrived (so the SBC talks), the answer comes later; the
    window does not judge it silent, a close before the answer leaves it INCOMPLETE."""
    def script(w):
        return [w.established(), w.options(1.0, fate="delayed"),
                *(m(w, WINDOW + 20) for m in more)]
    verdict = outcome_of("accept", script, until=until)
    assert (verdict.outcome if verdict else None) == outcome


def test_malformed_sip_fails_an_accept():
    """Garbage where OPTIONS belong is the SBC's fault."""
    def script(w):
        return [w.established(), ev.SipError(time=w.at(1.0), connection=1, peer=w.peer,
                                             problem="no CSeq header", status_hint=400,
                                             answered=True)]
    verdict = outcome_of("accept", script)
    assert (verdict.outcome, verdict.cause) == ("FAIL", "the SBC sent malformed SIP: no CSeq "
                                                "header")
