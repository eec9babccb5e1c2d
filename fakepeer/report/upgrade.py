# -*- test-case-name: tests.report.test_upgrade -*-
"""Today's untyped events, upgraded to the typed records where ``serve`` assembles its sinks.

The network edge (``net/``, ``probe/``) still builds :class:`~fakepeer.report.legacy.Event`
while its producers are switched one by one; :class:`LegacyUpgrade` sits at the single
place where ``serve`` fans its events out, so the console, the status board, the events
file and the :class:`~fakepeer.report.sessions.SessionJudge` only ever see typed records.
What an untyped event lacks (what was served under a phase's label, the full expectation
of a phase) the application tells it with :meth:`LegacyUpgrade.know`. Typed records pass
through unchanged. This module goes when the last producer emits typed records.

Three untyped kinds have no typed counterpart and are not records: a connection's
``verdict`` (judging is the session judge's now), the ``tls-failed`` of a connection
closed before any TLS (a port check: its ``closed`` alone says so), and fakepeer's own
server-level notices (refusals over the connection cap, file descriptors running out),
which go to ``on_notice`` as one line each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from fakepeer.report.events import (
    Certificate,
    CertificateCheck,
    Closed,
    ConnectionFact,
    Dialback,
    DialPurpose,
    DialStarted,
    Event,
    FailedBy,
    HttpError,
    HttpRefused,
    Keepalives,
    LimitReached,
    Listening,
    OptionsAnswered,
    OptionsSent,
    Record,
    RecordError,
    RecordSink,
    Served,
    Serving,
    ServingCause,
    SipError,
    SipFate,
    SipRequest,
    Stopped,
    StrayResponse,
    TcpAccepted,
    TcpConnected,
    TcpFailed,
    TlsEstablished,
    TlsFailed,
)

#: The untyped ``failed_by`` values, in the typed vocabulary.
_FAILED_BY: dict[str, FailedBy] = {"peer": "sbc", "us": "fakepeer"}


class LegacyUpgrade:
    """A sink for untyped events and typed records; hands ``out`` typed records only."""

    def __init__(self, out: RecordSink, *, on_notice: Callable[[str], None],
                 purpose: DialPurpose = "dialback") -> None:
        self.out = out
        self.on_notice = on_notice
        self.purpose = purpose
        #: Per phase label: what its connections are served (by SNI name; ``None``: the
        #: default), and its Serving record.
        self._served: dict[str, Mapping[str | None, Served]] = {}
        self._serving: dict[str, Serving] = {}
        self._outbound: set[int] = set()
        #: A request received, held until fakepeer's answer (one record per request).
        self._asked: dict[int, Event] = {}
        self._unrecorded: set[str] = set()

    def know(self, served: Mapping[str | None, Served], serving: Serving) -> None:
        """What connections served under ``serving.label`` get, by the SNI name they
        sent (``None``: no SNI, or a name without its own chain), and the phase's full
        expectation."""
        self._served[serving.label] = served
        self._serving[serving.label] = serving

    def serving(self, label: str, time: datetime, cause: ServingCause) -> Serving | None:
        """The Serving record of ``label`` at ``time`` (``None``: not known)."""
        known = self._serving.get(label)
        return None if known is None else dataclasses.replace(known, time=time, cause=cause)

    def __call__(self, event: Event | Record) -> None:
        if isinstance(event, Record):
            self.out(event)
            return
        try:
            records = self._upgrade(event)
        except (RecordError, ValueError, KeyError, TypeError) as exc:
            if event.kind not in self._unrecorded:  # once per kind: no flood
                self._unrecorded.add(event.kind)
                self.on_notice(f"cannot record a {event.kind} event ({exc}); "
                               "serving goes on")
            return
        for record in records:
            self.out(record)

    # -- one untyped event ---------------------------------------------------------------
    def _upgrade(self, event: Event) -> list[Record]:
        data, kind = event.data, event.kind
        if kind == "listening":
            return [Listening(time=event.time, address=event.peer,
                              service=data.get("service", "sip"))]
        if kind == "stopped":
            return [Stopped(time=event.time)]
        if kind == "phase":
            index = int(data.get("index", 0))
            serving = self.serving(str(data.get("label", "")), event.time,
                                   "start" if index == 0 else "timeline")
            return [] if serving is None else [serving]
        if kind in ("http-refused", "http-error"):
            return [self._http(event)]
        if kind == "tcp-refused" or (kind == "limit" and event.connection == 0):
            self.on_notice(event.summary)
            return []
        if kind == "verdict" or event.connection < 1:
            return []
        if kind == "dialback":
            return [self._dialback(event)]
        if kind == "probe":
            self._outbound.add(event.connection)
        if event.connection in self._outbound:
            return self._outbound_records(event)
        return self._inbound_records(event)

    def _base(self, event: Event) -> dict[str, Any]:
        return {"time": event.time, "connection": event.connection, "peer": event.peer}

    def _http(self, event: Event) -> Record:
        what = str(event.data.get("what") or event.summary)
        client = None if event.peer in ("", "-") else event.peer
        status = event.data.get("status")
        if event.kind == "http-refused" and client is not None and status is not None:
            return HttpRefused(time=event.time, client=client, status=int(status), what=what)
        return HttpError(time=event.time, client=client,
                         status=int(status) if status is not None else None, what=what)

    def _dialback(self, event: Event) -> Record:
        data = event.data
        outbound = data.get("outbound_connection")
        problem = "" if outbound is not None else str(data.get("reason") or event.summary)
        age = data.get("cached_age")
        return Dialback(**self._base(event), target=str(data.get("target", event.peer)),
                        outbound_connection=outbound, problem=problem,
                        cached_age=float(age) if age is not None else None)

    # -- the SBC's connection to fakepeer ------------------------------------------------
    def _inbound_records(self, event: Event) -> list[Record]:
        data, kind, base = event.data, event.kind, self._base(event)
        records: list[Record] = []
        if kind != "sip-response" and event.connection in self._asked:
            records.append(self._request(self._asked.pop(event.connection), None))
        if kind == "tcp-accepted":
            records.append(TcpAccepted(**base, listener=str(data.get("listener", ""))))
        elif kind == "tls-established":
            certificate = data.get("client_certificate") or {}
            records.append(TlsEstablished(
                **base, direction="inbound", version=str(data.get("version", "")),
                cipher=str(data.get("cipher", "")), sni=data.get("sni"),
                sni_outcome=data.get("sni_outcome", "not-applicable"),
                served=self._served_on(data), certificate=_certificate(certificate),
                verify_errors=tuple(certificate.get("verify_errors", ())),
                certificate_problems=tuple(certificate.get("problems", ()))))
        elif kind == "tls-failed":
            if data.get("reason") == "no-handshake":
                return records  # a port check: its ``closed`` alone tells the judge
            certificate = data.get("client_certificate") or {}
            records.append(TlsFailed(
                **base, direction="inbound",
                failed_by=_FAILED_BY.get(str(data.get("failed_by")), "unknown"),
                reason=data.get("reason", "tls-error"), alert=data.get("alert"),
                detail=str(data.get("detail") or event.summary), sni=data.get("sni"),
                served=self._served_on(data),
                certificate=_certificate(certificate),
                verify_errors=tuple(certificate.get("verify_errors", ())),
                certificate_problems=tuple(certificate.get("problems", ()))))
        elif kind == "sip-request":
            self._asked[event.connection] = event
        elif kind == "sip-response":
            asked = self._asked.pop(event.connection, None)
            if asked is not None:
                records.append(self._request(asked, event))
            else:
                records.append(StrayResponse(**base, direction="inbound",
                                             status=int(data.get("status", 0))))
        elif kind == "sip-keepalive":
            records.append(Keepalives(**base, count=int(data.get("count", 1))))
        elif kind == "sip-error":
            records.append(SipError(**base, problem=str(data.get("problem") or event.summary),
                                    status_hint=int(data.get("status") or 400),
                                    answered=bool(data.get("answered")),
                                    recoverable=bool(data.get("recoverable"))))
        elif kind == "limit":
            records.append(LimitReached(**base, limit=data.get("limit", "idle_timeout"),
                                        seconds=float(data.get("seconds", 0)),
                                        buffered=data.get("buffered")))
        elif kind == "closed":
            records.append(Closed(**base, direction="inbound",
                                  by="fakepeer" if data.get("by") == "fakepeer" else "sbc",
                                  clean=bool(data.get("clean", True)),
                                  reason=str(data.get("reason") or "")))
        return records

    def _served_on(self, data: dict[str, Any]) -> Served | None:
        """What the connection was served: what its phase serves to the SNI name it
        sent, each name judged by its own expectation."""
        known = self._served.get(str(data.get("scenario", "")))
        if known is None:
            return None
        name = str(data.get("sni") or "").lower().rstrip(".")
        return known.get(name) or known.get(None)

    def _request(self, asked: Event, answer: Event | None) -> SipRequest:
        """One request and what fakepeer did with it (``answer`` ``None``: nothing)."""
        data = asked.data
        answered = answer.data if answer is not None else {}
        finding = answered.get("finding")
        fate = cast(SipFate, finding if finding in ("ignored", "reset") else "answered")
        status = answered.get("status") or None
        cseq = data.get("cseq")
        return SipRequest(
            **self._base(answer if answer is not None else asked),
            method=str(data.get("method", "")), uri=str(data.get("uri", "")),
            call_id=data.get("call_id"), cseq=int(cseq) if cseq is not None else None,
            from_uri=data.get("from_uri"), contact=data.get("contact"),
            contact_host=data.get("contact_host"), contact_port=data.get("contact_port"),
            user_agent=data.get("user_agent"), fate=fate,
            status=int(status) if status is not None and fate == "answered" else None,
            reason=str(answered.get("reason", "")),
            answer_reason=finding if fate == "answered" else None,
            explanation=str(answered.get("explanation", "")))

    # -- fakepeer's connection to the SBC ------------------------------------------------
    def _outbound_records(self, event: Event) -> list[Record]:
        data, kind, base = event.data, event.kind, self._base(event)
        out: dict[str, Any] = {**base, "direction": "outbound"}
        record: ConnectionFact | None = None
        if kind == "probe":
            record = DialStarted(**base, purpose=self.purpose,
                                 dialled=str(data.get("dialled") or event.peer),
                                 sni=data.get("server_name"), profile=str(data.get("profile")),
                                 era=str(data.get("era")),
                                 timeout=float(data.get("timeout", 0)))
        elif kind == "tcp-failed":
            record = TcpFailed(**base, error=str(data.get("error", "")))
        elif kind == "tcp-connected":
            record = TcpConnected(**base, local_port=int(data.get("local_port", 0)))
        elif kind == "tls-established":
            record = TlsEstablished(
                **out, version=str(data.get("version", "")), cipher=str(data.get("cipher", "")),
                group=data.get("group"), sni=data.get("sni"),
                certificate=_certificate(data.get("sbc_certificate") or {}),
                chain=tuple(data.get("chain", ())),
                verify_errors=tuple(data.get("verify_errors", ())))
        elif kind == "certificate-check":
            findings = data.get("findings", [])
            record = CertificateCheck(
                **base, accepted=bool(data.get("accepted")),
                problems=tuple(f["message"] for f in findings if f.get("blocking")),
                warnings=tuple(f["message"] for f in findings if not f.get("blocking")),
                eku_rule=str(data.get("eku_rule", "")),
                verify_errors=tuple(data.get("openssl_verify_errors", ())))
        elif kind == "sip-request" and data.get("direction") == "sent":
            record = OptionsSent(**base, uri=str(data.get("uri", "")),
                                 call_id=str(data.get("call_id", "")),
                                 from_host=str(data.get("from_host", "")))
        elif kind == "sip-request":
            record = SipRequest(**out, method=str(data.get("method", "")),
                                uri=str(data.get("uri", "")), fate="not-answered")
        elif kind == "sip-response" and (data.get("method") or data.get("final") is False):
            record = OptionsAnswered(**base, status=int(data.get("status", 0)),
                                     reason=str(data.get("reason", "")),
                                     final=bool(data.get("final", True)),
                                     server=data.get("server"), contact=data.get("contact"),
                                     record_route=data.get("record_route"))
        elif kind == "sip-response":
            record = StrayResponse(**out, status=int(data.get("status", 0)))
        elif kind == "sip-error":
            record = SipError(**out, problem=event.summary,
                              status_hint=int(data.get("status") or 400))
        elif kind == "sip-keepalive":
            record = Keepalives(**out, count=int(data.get("count", 1)))
        elif kind == "tls-failed":
            record = TlsFailed(**out,
                               failed_by=_FAILED_BY.get(str(data.get("failed_by")), "unknown"),
                               reason=data.get("reason", "tls-error"), alert=data.get("alert"),
                               detail=event.summary,
                               verify_errors=tuple(data.get("verify_errors", ())))
        elif kind == "closed":
            self._outbound.discard(event.connection)
            record = Closed(**out, by="fakepeer" if data.get("by") == "fakepeer" else "sbc",
                            reason=event.summary)
        return [record] if record is not None else []


def _certificate(summary: dict[str, Any]) -> Certificate | None:
    """The SBC's certificate from an untyped event's summary of it (``None``: it sent
    none, or one whose subject alone could be read)."""
    if not summary.get("not_after") or "issuer" not in summary:
        return None
    return Certificate(subject=str(summary["subject"]), issuer=str(summary["issuer"]),
                       sans=tuple(summary.get("sans", ())), eku=tuple(summary.get("eku", ())),
                       not_after=datetime.fromisoformat(str(summary["not_after"])),
                       sha1=summary.get("sha1"))
