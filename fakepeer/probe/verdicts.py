# -*- test-case-name: tests.probe -*-
"""What one outbound attempt means for the SBC: the dashboard verdict of the facts
:func:`fakepeer.net.dialer.dial` gathered, and :func:`attempt`, which dials and reports it.

The dialler (net) only says what happened on the wire; this module, on the probe side of
the layers, says whether both directions of trust held, in the vocabulary of the Teams
health dashboard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred

from fakepeer import sip
from fakepeer.net.dialer import DEFAULT_TIMEOUT, DialFacts, DialTarget, dial
from fakepeer.net.reactors import IDialReactor
from fakepeer.probe.caller import Caller
from fakepeer.probe.validation import CertificateCheck
from fakepeer.report.events import Event, Sink, utc_now


@dataclass(frozen=True, slots=True)
class DialVerdict:
    """One attempt in three parts, in the vocabulary of the Teams health dashboard.

    ``tls``: ``Active`` or ``Failed``; ``certificate`` (fakepeer's check of the SBC's
    chain): ``Accepted``, ``Refused`` or ``Unchecked``; ``options``: ``Active``
    (a 2xx answer), ``Error`` (another answer, none, or garbage) or ``None`` (not sent).
    """

    tls: str
    tls_reason: str
    certificate: str
    certificate_reason: str
    options: str
    options_reason: str

    @property
    def sbc_accepted_us(self) -> bool:
        """The SBC completed TLS with our chain and answered OPTIONS with a 2xx."""
        return self.tls == "Active" and self.options == "Active"

    @property
    def we_accepted_sbc(self) -> bool:
        """fakepeer found nothing that makes the cloud refuse the SBC's certificate."""
        return self.certificate == "Accepted"

    @property
    def ok(self) -> bool:
        """Both directions of trust held: what ``fakepeer probe`` exits 0 for."""
        return self.sbc_accepted_us and self.we_accepted_sbc

    def line(self) -> str:
        """``PASS: TLS Active; SBC certificate Accepted; OPTIONS Active (200 OK)``."""
        parts = []
        for label, state, reason in (("TLS", self.tls, self.tls_reason),
                                     ("SBC certificate", self.certificate,
                                      self.certificate_reason),
                                     ("OPTIONS", self.options, self.options_reason)):
            parts.append(f"{label} {state}" + (f" ({reason})" if reason else ""))
        return ("PASS: " if self.ok else "FAIL: ") + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The verdict's fields plus the three booleans scripts test."""
        return {"tls": self.tls, "tls_reason": self.tls_reason,
                "certificate": self.certificate, "certificate_reason": self.certificate_reason,
                "options": self.options, "options_reason": self.options_reason,
                "sbc_accepted_us": self.sbc_accepted_us,
                "we_accepted_sbc": self.we_accepted_sbc, "ok": self.ok}


@dataclass(frozen=True, slots=True)
class DialResult:
    """One outbound attempt: its facts and their verdict."""

    facts: DialFacts
    verdict: DialVerdict

    @property
    def target(self) -> DialTarget:
        return self.facts.target

    @property
    def connection(self) -> int:
        return self.facts.connection

    @property
    def certificate_check(self) -> CertificateCheck | None:
        check = self.facts.certificate_check
        assert check is None or isinstance(check, CertificateCheck)  # probe's Caller judged
        return check

    @property
    def response(self) -> sip.Response | None:
        return self.facts.response

    @property
    def ok(self) -> bool:
        """Both sides accepted each other (see :attr:`DialVerdict.ok`)."""
        return self.verdict.ok

    def outbound_summary(self) -> str:
        """``Active (...)`` or ``Error (reason)``: the outbound half of a serve verdict."""
        target = self.facts.target
        if self.ok:
            status = self.response.status if self.response is not None else 0
            reason = self.response.reason if self.response is not None else ""
            return f"Active ({target.dialled}:{target.port} answered {status} {reason})"
        return f"Error ({target.dialled}:{target.port}: {self.first_problem()})"

    def first_problem(self) -> str:
        """The first thing that went wrong, in the order a connection runs into them."""
        v = self.verdict
        if self.facts.connect_error is not None:
            return f"TCP connect failed: {self.facts.connect_error}"
        if v.tls != "Active":
            return v.tls_reason
        if v.certificate == "Refused":
            return f"fakepeer refused the SBC certificate: {v.certificate_reason}"
        if v.options != "Active":
            return f"OPTIONS {v.options}: {v.options_reason}"
        return "no problem"


def attempt(reactor: IDialReactor, caller: Caller, target: DialTarget, *, sink: Sink,
            connection_id: int, timeout: float = DEFAULT_TIMEOUT,
            options_anyway: bool = False, clock: Callable[[], dt.datetime] = utc_now,
            now: dt.datetime | None = None) -> Deferred[DialResult]:
    """Dial ``target`` (:func:`fakepeer.net.dialer.dial`), then judge and report the
    attempt: its ``verdict`` event goes to ``sink`` after the attempt's own events."""

    def conclude(facts: DialFacts) -> DialResult:
        verdict = judge(facts)
        sink(Event("verdict", facts.connection, facts.target.peer, verdict.line(),
                   verdict.to_json(), clock()))
        return DialResult(facts, verdict)

    return dial(reactor, caller, target, sink=sink, connection_id=connection_id,
                timeout=timeout, options_anyway=options_anyway, clock=clock,
                now=now).addCallback(conclude)


def judge(facts: DialFacts) -> DialVerdict:
    """The dashboard verdict of one attempt's facts."""
    failure = facts.tls_failure
    if facts.connect_error is not None:
        return DialVerdict("Failed", f"TCP connect failed: {facts.connect_error}", "Unchecked",
                           "", "None", "not sent")
    if facts.handshake_done and (failure is None or facts.response is not None):
        tls, tls_reason = "Active", ""
    elif failure is not None:
        who = "the SBC" if failure.failed_by == "peer" else "fakepeer"
        alert = f" with alert {failure.alert_name}" if failure.alert_name else ""
        tls, tls_reason = "Failed", f"{who} failed the handshake{alert}: " \
                                    f"{facts.tls_failure_detail}"
    else:
        tls, tls_reason = "Failed", "the connection closed before the TLS handshake completed"
    check = facts.certificate_check
    if check is None:
        certificate, certificate_reason = "Unchecked", ""
    elif check.accepted:
        certificate = "Accepted"
        assert isinstance(check, CertificateCheck)
        certificate_reason = "; ".join(f"warning: {f.message}" for f in check.warnings)
    else:
        certificate = "Refused"
        assert isinstance(check, CertificateCheck)
        certificate_reason = "; ".join(f.message for f in check.blocking)
    if not facts.options_sent:
        options = "None"
        options_reason = ("not sent: fakepeer refused the SBC certificate"
                          if check is not None and not check.accepted else "not sent")
    elif facts.response is not None:
        status = facts.response.status
        options = "Active" if 200 <= status < 300 else "Error"
        options_reason = f"{status} {facts.response.reason}"
    else:
        options, options_reason = "Error", facts.sip_problem or "no answer"
    return DialVerdict(tls, tls_reason, certificate, certificate_reason, options,
                       options_reason)
