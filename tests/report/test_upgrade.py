"""LegacyUpgrade: today's untyped events become the typed records the session judge
reads, and the judge's verdicts follow from them (one connection per test, as the
network edge reports it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fakepeer.report import events as ev
from fakepeer.report.events import Event
from fakepeer.report.sessions import SessionJudge
from fakepeer.report.upgrade import LegacyUpgrade
from tests.report.wire import SBC_NAME, T0, served, serving

PEER = "192.0.2.20:40000"
CLIENT_CERTIFICATE = {"subject": f"CN={SBC_NAME}", "issuer": "CN=DigiCert Global G2 TLS",
                      "sans": [SBC_NAME], "eku": ["serverAuth", "clientAuth"],
                      "not_after": (T0 + timedelta(days=200)).isoformat(),
                      "verify_errors": [], "problems": []}


def _event(kind: str, seconds: float, connection: int = 1, **data: Any) -> Event:
    return Event(kind, connection, PEER, kind, data, T0 + timedelta(seconds=seconds))


class Lab:
    """An upgrade in front of a judge; every record and verdict kept, notices too."""

    def __init__(self, expect: str) -> None:
        self.records: list[ev.Record] = []
        self.notices: list[str] = []
        self.judge = SessionJudge(self.records.append)
        self.upgrade = LegacyUpgrade(self._record, on_notice=self.notices.append)
        self.upgrade.know({None: served(expect)}, serving(expect))
        self.upgrade(serving(expect))

    def _record(self, record: ev.Record) -> None:
        self.records.append(record)
        self.judge(record)

    def feed(self, *events: Event) -> None:
        for event in events:
            self.upgrade(event)

    def kinds(self) -> list[str]:
        return [r.kind for r in self.records]

    def verdicts(self) -> list[ev.SessionVerdict]:
        return [r for r in self.records if isinstance(r, ev.SessionVerdict)]


def _handshake(seconds: float = 0.1) -> Event:
    return _event("tls-established", seconds, version="TLSv1.2",
                  cipher="ECDHE-RSA-AES256-GCM-SHA384", sni="sip.pstnhub.microsoft.com",
                  sni_outcome="matched", served="microsoft-2026/digicert-g2",
                  client_certificate=CLIENT_CERTIFICATE, scenario="lab")


def test_an_answered_options_is_one_request_record_and_decides_at_once():
    lab = Lab("accept")
    lab.feed(_event("tcp-accepted", 0, listener="127.0.0.1:5061"), _handshake(),
             _event("sip-request", 1, method="OPTIONS", uri="sip:proxy", call_id="c1",
                    cseq=1, contact_host="sbc.lab.example", contact_port=5061,
                    user_agent="lab-sbc"),
             _event("sip-response", 1, method="OPTIONS", status=200, finding="ok",
                    reason="OK", explanation="matches"))
    [request] = [r for r in lab.records if isinstance(r, ev.SipRequest)]
    assert (request.status, request.fate, request.answer_reason, request.cseq) == \
        (200, "answered", "ok", 1)
    [verdict] = lab.verdicts()  # while the connection is open
    assert verdict.outcome == "PASS" and verdict.identity.name == SBC_NAME


def test_a_silent_close_after_the_handshake_is_judged_as_a_rejection():
    lab = Lab("reject:certificate_expired")
    lab.feed(_event("tcp-accepted", 0, listener="127.0.0.1:5061"), _handshake(),
             _event("closed", 0.2, clean=True, by="peer", reason=""))
    closed = next(r for r in lab.records if isinstance(r, ev.Closed))
    assert closed.by == "sbc"
    [verdict] = lab.verdicts()
    assert verdict.outcome == "OTHER-REASON" and "without SIP" in verdict.cause


def test_a_connection_closed_before_tls_is_a_port_check_not_a_verdict():
    lab = Lab("reject")
    lab.feed(_event("tcp-accepted", 0, listener="127.0.0.1:5061"),
             _event("tls-failed", 0.1, failed_by="peer", reason="no-handshake"),
             _event("closed", 0.1, clean=True, by="peer"),
             _event("verdict", 0.1, outcome="PASS"))  # the old per-connection judge's
    assert lab.kinds() == ["serving", "tcp-accepted", "closed"]
    assert lab.judge.port_checks == 1 and not lab.verdicts()


def test_an_sbc_refusal_keeps_its_alert_and_the_vocabulary_changes():
    lab = Lab("reject:unknown_ca")
    lab.feed(_event("tcp-accepted", 0, listener="127.0.0.1:5061"),
             _event("tls-failed", 0.1, failed_by="peer", reason="peer-alert",
                    alert="bad_certificate", client_certificate={}, scenario="lab"))
    failed = next(r for r in lab.records if isinstance(r, ev.TlsFailed))
    assert (failed.failed_by, failed.alert, failed.served) == ("sbc", "bad_certificate",
                                                              served("reject:unknown_ca"))
    [verdict] = lab.verdicts()
    assert verdict.outcome == "OTHER-REASON", verdict.cause


def test_server_notices_are_lines_and_a_bad_event_is_said_once():
    lab = Lab("accept")
    lab.feed(Event("tcp-refused", 0, "-", "refused 3 connections at accept", {}, T0),
             _event("tls-established", 0.1, scenario="lab", version="TLSv1.2",
                    cipher="x", sni_outcome="bogus"),
             _event("tls-established", 0.2, scenario="lab", version="TLSv1.2",
                    cipher="x", sni_outcome="bogus"))
    assert lab.notices[0] == "refused 3 connections at accept"
    assert len(lab.notices) == 2 and "cannot record a tls-established event" in lab.notices[1]


def test_the_console_says_a_refusal_and_a_close_once():
    """The console printed 'the SBC failed the handshake with alert unknown_ca: the SBC
    failed the handshake with alert unknown_ca: ...' and 'the SBC closed the connection
    (not clean) (not clean)': the record's summary wraps its detail, which was the whole
    legacy summary."""
    lab = Lab("accept")
    detail = "the SBC does not trust the root/issuer of the chain fakepeer served"
    lab.feed(_event("tcp-accepted", 0.0, listener="127.0.0.1:5061"),
             _event("tls-failed", 0.1, failed_by="peer", reason="peer-alert",
                    alert="unknown_ca", detail=detail, client_certificate={}, scenario="lab"),
             _event("closed", 0.2, clean=False, by="peer", reason=""))
    failed = next(r for r in lab.records if isinstance(r, ev.TlsFailed))
    closed = next(r for r in lab.records if isinstance(r, ev.Closed))
    assert failed.summary == f"the SBC failed the handshake with alert unknown_ca: {detail}"
    assert closed.summary == "the SBC closed the connection (not clean)"
