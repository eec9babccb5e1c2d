"""Builders for typed records: one connection's facts at times counted from its start,
so a test reads like a transcript (accepted, established at 0.1 s, OPTIONS at 5 s...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fakepeer.report import events as ev
from fakepeer.scenario.model import Expectation

T0 = datetime(2026, 11, 22, 12, tzinfo=UTC)
SBC_NAME = "sbc.lab.example"
SBC_CERTIFICATE = ev.Certificate(subject=f"CN={SBC_NAME}", issuer="CN=DigiCert Global G2 TLS",
                                 sans=(SBC_NAME,), eku=("serverAuth", "clientAuth"),
                                 not_after=T0 + timedelta(days=200), sha1="AB" * 20)


def served(expect: str = "accept", *, by: str = "sbc", label: str = "lab",
           dialback: bool = False, name: str | None = None) -> ev.Served:
    return ev.Served(label=label, name=name, chain="microsoft-2026/digicert-g2",
                     era="microsoft-2026", path="digicert-g2",
                     anchor="CN=DigiCert Global Root G2", expectation=expect, by=by,
                     dialback=dialback)


def serving(expect: str = "accept", *, by: str = "sbc", label: str = "lab",
            dialback: bool = False, reason: str = "", setup: str = "",
            at: datetime = T0) -> ev.Serving:
    parsed = Expectation.parse(expect)
    full = Expectation(parsed.reaction, alert=parsed.alert, by=by, sip_status=parsed.sip_status,
                       reason=reason, setup=setup)
    return ev.Serving(time=at, label=label, scenario=label, expectation=full,
                      dialback=dialback)


@dataclass
class Wire:
    """Records of one connection: ``connection`` id, the SBC's ``peer`` address, what
    it was ``served``, times in seconds from ``start``."""

    connection: int = 1
    peer: str = "192.0.2.20:40000"
    served: ev.Served = field(default_factory=served)
    start: datetime = T0
    direction: ev.Direction = "inbound"

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def _base(self, seconds: float) -> dict[str, Any]:
        return {"time": self.at(seconds), "connection": self.connection, "peer": self.peer}

    def accepted(self, t: float = 0.0) -> ev.TcpAccepted:
        return ev.TcpAccepted(**self._base(t), listener="127.0.0.1:5061")

    def established(self, t: float = 0.1, *, certificate: ev.Certificate | None = SBC_CERTIFICATE,
                    sni: str | None = None) -> ev.TlsEstablished:
        return ev.TlsEstablished(**self._base(t), direction=self.direction,
                                 version="TLSv1.2", cipher="ECDHE-RSA-AES256-GCM-SHA384",
                                 sni=sni, sni_outcome="matched" if sni else "absent",
                                 served=self.served, certificate=certificate)

    def failed(self, t: float = 0.1, *, by: ev.FailedBy = "sbc", alert: str | None = "unknown_ca",
               reason: ev.TlsFailureReason = "peer-alert",
               certificate: ev.Certificate | None = None) -> ev.TlsFailed:
        who = "the SBC" if by == "sbc" else "fakepeer"
        return ev.TlsFailed(**self._base(t), direction=self.direction,
                            failed_by=by, reason=reason, alert=alert,
                            detail=f"{who} sent {alert or 'no alert'}", served=self.served,
                            certificate=certificate)

    def options(self, t: float = 1.0, status: int | None = 200, *, answer_reason: str | None = "ok",
                fate: ev.SipFate = "answered", contact: str | None = SBC_NAME,
                user_agent: str | None = "Kamailio (5.6.3 (x86_64/linux))",
                cseq: int = 1) -> ev.SipRequest:
        reason = {200: "OK", 403: "Forbidden", 503: "Service Unavailable"}.get(status or 0, "")
        return ev.SipRequest(
            **self._base(t), method="OPTIONS", uri="sip:sip.pstnhub.microsoft.com:5061",
            call_id=f"c{self.connection}@{SBC_NAME}", cseq=cseq,
            from_uri=f"sip:{SBC_NAME}:5061", contact=f"<sip:{contact}:5061;transport=tls>"
            if contact else None, contact_host=contact, contact_port=5061 if contact else None,
            user_agent=user_agent, fate=fate, status=status if fate == "answered" else None,
            reason=reason, answer_reason=answer_reason if fate == "answered" else None)

    def keepalives(self, t: float = 1.0, count: int = 1) -> ev.Keepalives:
        return ev.Keepalives(**self._base(t), direction=self.direction, count=count)

    def idle(self, t: float, seconds: float) -> ev.LimitReached:
        return ev.LimitReached(**self._base(t), direction=self.direction,
                               limit="idle_timeout", seconds=seconds)

    def closed(self, t: float = 2.0, *, by: ev.ClosedBy = "sbc", alert: str | None = None,
               reason: str = "") -> ev.Closed:
        return ev.Closed(**self._base(t), direction=self.direction, by=by,
                         alert=alert, reason=reason)


@dataclass
class Dial(Wire):
    """Records of one outbound connection (a dial-back or a probe)."""

    connection: int = 2
    peer: str = "192.0.2.20:5061"
    direction: ev.Direction = "outbound"
    purpose: ev.DialPurpose = "dialback"

    def started(self, t: float = 0.0) -> ev.DialStarted:
        return ev.DialStarted(**self._base(t), purpose=self.purpose, dialled=SBC_NAME,
                              sni=SBC_NAME, profile="microsoft", era="microsoft-2026",
                              client_chain=self.served, timeout=5.0)

    def connect_failed(self, t: float = 0.1) -> ev.TcpFailed:
        return ev.TcpFailed(**self._base(t), error="Connection refused.")

    def check(self, t: float = 0.2, *problems: str) -> ev.CertificateCheck:
        return ev.CertificateCheck(**self._base(t), accepted=not problems,
                                   problems=problems)

    def sent(self, t: float = 0.3) -> ev.OptionsSent:
        return ev.OptionsSent(**self._base(t), uri=f"sip:{SBC_NAME}:5061;transport=tls",
                              call_id="out-1", from_host="sip.pstnhub.microsoft.com")

    def answered(self, t: float = 0.4, status: int = 200, *,
                 contact: str | None = f"<sip:{SBC_NAME}:5061;transport=tls>"
                 ) -> ev.OptionsAnswered:
        reason = {200: "OK", 403: "Forbidden"}.get(status, "")
        return ev.OptionsAnswered(**self._base(t), status=status, reason=reason,
                                  call_id="out-1", server="Kamailio", contact=contact)


def link(inbound: Wire, t: float, outbound: int | None = 2,
         problem: str = "") -> ev.Dialback:
    """The dial-back record of ``inbound``: its outbound connection, or why none."""
    return ev.Dialback(time=inbound.at(t), connection=inbound.connection, peer=inbound.peer,
                       target=f"{SBC_NAME}:5061", outbound_connection=outbound,
                       problem=problem)
