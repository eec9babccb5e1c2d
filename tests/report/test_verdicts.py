"""Dashboard verdicts and PASS/FAIL judgements, as tables of events in, words out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fakepeer.report.events import Event
from fakepeer.report.judge import judge
from fakepeer.report.verdict import judge_connection
from fakepeer.scenario.model import Expectation

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def ev(kind: str, summary: str = "", **data: object) -> Event:
    return Event(kind, 1, "192.0.2.20:40000", summary, dict(data), NOW)


ESTABLISHED = ev("tls-established", "TLSv1.2", client_certificate={
    "not_after": (NOW + timedelta(days=200)).isoformat()})
OPTIONS_200 = ev("sip-response", "200 OK", method="OPTIONS", status=200, finding="ok")
REJECTED_UNKNOWN_CA = ev("tls-failed", "the SBC failed the handshake with alert unknown_ca",
                         failed_by="peer", alert="unknown_ca")
WE_REFUSED = ev("tls-failed", "fakepeer failed the handshake with alert certificate_unknown",
                failed_by="us", alert="certificate_unknown")


@pytest.mark.parametrize(("events", "tls", "options"), [
    ([ESTABLISHED, OPTIONS_200], "Active", "Active"),
    ([REJECTED_UNKNOWN_CA], "Failed", "None"),
    ([ESTABLISHED, ev("sip-response", "403", method="OPTIONS", status=403,
                      finding="contact-ip")], "Active", "Error"),
    ([ev("tls-established", client_certificate={
        "not_after": (NOW + timedelta(days=10)).isoformat()}), OPTIONS_200],
     "CertExpiring", "Active"),
    ([ev("tls-established", client_certificate={
        "not_after": (NOW - timedelta(days=1)).isoformat()})], "CertExpired", "None"),
])
def test_dashboard_vocabulary(events, tls, options):
    """Events map to the Health Dashboard's TLS and OPTIONS states."""
    verdict = judge_connection(1, events, NOW)
    assert (verdict.tls, verdict.options) == (tls, options)


@pytest.mark.parametrize(("expect", "events", "outcome", "words"), [
    ("accept", [ESTABLISHED, OPTIONS_200], "PASS", "accepted the chain"),
    ("accept", [REJECTED_UNKNOWN_CA], "FAIL", "rejected a chain it should accept"),
    ("reject:unknown_ca", [REJECTED_UNKNOWN_CA], "PASS", "rejected it with unknown_ca"),
    ("reject:certificate_expired", [ESTABLISHED, OPTIONS_200], "FAIL",
     "accepted what it should refuse"),
    ("reject:certificate_expired", [REJECTED_UNKNOWN_CA], "OTHER-REASON",
     "rejected it with unknown_ca, not certificate_expired"),
    ("mark-down:503", [ESTABLISHED, ev("sip-response", "503", method="OPTIONS", status=503)],
     "CHECK", "answered 503"),
    ("accept", [ESTABLISHED], "INCOMPLETE", "no OPTIONS"),
])
def test_judgements(expect, events, outcome, words):
    """A connection is judged against the scenario's expectation in plain words."""
    verdict = judge_connection(1, events, NOW)
    judgement = judge(Expectation.parse(expect), verdict, events)
    assert judgement.outcome == outcome
    assert words in judgement.reason


def test_refusal_expected_from_fakepeer_fails_when_the_sbc_refused():
    """Who refused matters: an SBC-side alert does not satisfy a fakepeer refusal."""
    expectation = Expectation("reject", alert="certificate_unknown", by="fakepeer")
    events = [REJECTED_UNKNOWN_CA]
    assert judge(expectation, judge_connection(1, events, NOW), events).outcome == "FAIL"
    events = [WE_REFUSED]
    assert judge(expectation, judge_connection(1, events, NOW), events).outcome == "PASS"
