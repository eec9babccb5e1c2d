# -*- test-case-name: tests.net -*-
"""The Twisted edge of ``serve``: bytes in, SIP responder, bytes out, events reported.

Thin on purpose: parsing and answering live in :mod:`fakepeer.sip`, TLS behaviour in
:mod:`fakepeer.tls`; this module only moves bytes, keeps timers and turns what happened
into :class:`~fakepeer.report.events.Event` records.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IDelayedCall,
    IHandshakeListener,
    IReactorTime,
    ITCPTransport,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from fakepeer import sip
from fakepeer.net.keepalives import KeepaliveTally, keepalive_summary
from fakepeer.report.events import ConnectionIds, Event, Sink
from fakepeer.report.judge import ExpectationLike, judge
from fakepeer.report.verdict import judge_connection
from fakepeer.tls import identity, observation_for
from fakepeer.tls.observation import TlsObservation, client_certificate_summary

#: The real proxy demotes an SBC after 3-5 minutes without OPTIONS; we close idle
#: connections after that too, so abandoned sockets do not pile up.
DEFAULT_IDLE_TIMEOUT = 300.0
#: A lab tool on a laptop: generous, but bounded so a runaway client cannot exhaust fds.
DEFAULT_MAX_CONNECTIONS = 4000
#: After fakepeer closes a connection (a fatal framing error, a message deadline) the
#: peer gets this long to answer our close_notify before the socket is aborted: a peer
#: that keeps sending instead must not hold the connection (issue 12 item 6).
DEFAULT_CLOSE_GRACE = 2.0
#: Refusals over the connection cap are reported as one line per interval, with the count.
REFUSAL_REPORT_INTERVAL = 1.0


#: Called after a 200 OK to an OPTIONS, with (connection id, Contact host, port).
OptionsHook = Callable[[int, str, int], None]


@dataclass
class ServeSettings:
    """What every connection of one listener shares."""

    profile: sip.SipProfile
    responder_policy: sip.ResponderPolicy
    tenant_domains: tuple[str, ...] | None = None
    limits: sip.Limits = field(default_factory=sip.Limits)
    #: How long a message head and body may take to arrive (distinct from idle_timeout,
    #: which every byte resets).
    deadlines: sip.Deadlines = field(default_factory=sip.Deadlines)
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    close_grace: float = DEFAULT_CLOSE_GRACE
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    #: The dial-back, if any (see :data:`OptionsHook`).
    on_options_accepted: OptionsHook | None = None
    #: Scenario knobs: wait before answering OPTIONS; or "ignore" / "reset" them.
    options_delay: float = 0.0
    options_action: str = "answer"
    #: What a correct SBC does here (a scenario Expectation); None: no PASS/FAIL.
    expectation: ExpectationLike | None = None
    #: The scenario (and phase) these settings come from, for the record.
    label: str = ""
    #: Whether each connection judges itself when it closes (the connection-scoped
    #: ``verdict`` event). ``serve`` judges per SBC session instead
    #: (:class:`~fakepeer.report.sessions.SessionJudge`) and turns this off.
    connection_verdicts: bool = True


#: Records the verdict of a connection never reads (report/verdict.py, report/judge.py).
_NOT_JUDGED = frozenset({"sip-request", "sip-keepalive", "limit"})


def _same_answer(a: Event, b: Event) -> bool:
    return all(a.data.get(key) == b.data.get(key) for key in ("method", "status", "finding"))


@implementer(IHandshakeListener)
class SipTlsProtocol(Protocol):
    """One SBC connection: SIP over the TLS transport that wraps it."""

    #: The TLSMemoryBIOProtocol once connected; ITransport alone lacks abortConnection.
    transport: ITCPTransport

    def __init__(self, factory: SipServerFactory, connection_id: int, peer: str) -> None:
        self.factory = factory
        self.settings = factory.settings
        self.connection_id = connection_id
        self.peer = peer
        self.events: list[Event] = []
        self.sip = sip.SipConnection(self.settings.limits)
        self.handshake_done = False
        self.closing_reason = ""
        self._idle: IDelayedCall | None = None
        self._deadline: IDelayedCall | None = None  # the message deadline armed, if any
        self._deadline_phase = sip.ReadPhase.BETWEEN_MESSAGES
        self._abort: IDelayedCall | None = None  # the close grace, once fakepeer closes
        self._peer_names: tuple[str, ...] = ()
        self._client_certificate = False
        self._peer_context = sip.PeerContext(tenant_domains=self.settings.tenant_domains)
        self._contact_memo = sip.ContactMemo()
        self._stalled = False
        self._lost = False
        self._closing = False  # fakepeer closed: nothing more is read
        self.keepalives = KeepaliveTally(factory.reactor, self._report_keepalives)

    # -- reporting -----------------------------------------------------------------------
    def emit(self, kind: str, summary: str, **data: Any) -> None:
        if kind != "sip-keepalive":
            self.keepalives.flush()  # the pings before this record come first
        event = Event(kind, self.connection_id, self.peer, summary, data,
                      self.factory.clock())
        self._remember(event)
        self.factory.sink(event)

    def _remember(self, event: Event) -> None:
        """Keep what the connection's verdict reads, not its history: requests and
        keep-alives are not read, and an answer like the last one kept replaces it (a
        persistent SBC's thousandth 200 OK adds nothing). So memory stays flat on a
        connection that pings for days (issue 11 item 1)."""
        if event.kind in _NOT_JUDGED:
            return
        if event.kind in ("sip-response", "sip-error") and self.events:
            last = self.events[-1]
            if last.kind == event.kind and (event.kind == "sip-error"
                                            or _same_answer(last, event)):
                self.events[-1] = event
                return
        self.events.append(event)

    def _report_keepalives(self, count: int) -> None:
        self.emit("sip-keepalive", keepalive_summary(count), count=count)

    # -- connection ----------------------------------------------------------------------
    def connectionMade(self) -> None:
        host = self.transport.getHost()
        self.emit("tcp-accepted", "TCP connection accepted",
                  listener=f"{getattr(host, 'host', '?')}:{getattr(host, 'port', '?')}")
        self._arm_idle_timer()

    def handshakeCompleted(self) -> None:
        self.handshake_done = True
        observation = self._observation()
        data: dict[str, Any] = {}
        summary = "TLS handshake completed"
        if observation is not None:
            leaf = observation.peer_leaf
            self._peer_names = identity.certificate_names(leaf)[0] if leaf is not None else ()
            self._client_certificate = leaf is not None
            self._peer_context = sip.PeerContext(
                certificate_names=self._peer_names, tenant_domains=self.settings.tenant_domains,
                mutual_tls=self._client_certificate,
                name_matcher=identity.matches_certificate_name)
            data = {"version": observation.version, "cipher": observation.cipher,
                    "sni": observation.sni, "sni_outcome": observation.sni_outcome,
                    "served": observation.served,
                    "client_certificate": client_certificate_summary(observation),
                    "scenario": self.settings.label}
            sni = observation.sni or "no SNI"
            client = data["client_certificate"].get("subject", "no client certificate")
            summary = (f"{observation.version} {observation.cipher}; SNI {sni} "
                       f"({observation.sni_outcome}); client certificate: {client}")
        self.emit("tls-established", summary, **data)

    def dataReceived(self, data: bytes) -> None:
        if self._closing:  # fakepeer closed after a fatal error or a deadline: drop it
            return
        self._arm_idle_timer()
        self.sip.receive_data(data)
        progressed = self._drain()
        if not self._closing:
            self._follow_phase(progressed)

    def _drain(self) -> bool:
        """Handle every event the bytes so far complete; whether there was any.

        A loop, not recursion: a recoverable error is answered and reading goes on in
        the same loop, so any number of bad messages in one read get their answers in
        order (issue 12 item 3: ~500 pipelined ones recursed until RecursionError).
        """
        progressed = False
        pongs = 0  # written together, before anything else is: one write, not one a ping
        while not self._closing:
            try:
                event = self.sip.next_event()
            except sip.RemoteSipError as error:
                progressed = True
                pongs = self._pong(pongs)
                if self._protocol_error(error):
                    continue
                break
            if event is sip.NEED_DATA or isinstance(event, sip.ConnectionClosed):
                break
            progressed = True
            if isinstance(event, sip.KeepAlive):
                pongs += 1
                self.keepalives.ping()
                continue
            pongs = self._pong(pongs)
            if isinstance(event, sip.Request):
                self._answer(event)
            elif isinstance(event, sip.Response):
                self.emit("sip-response", f"unexpected response {event.status} from the SBC "
                          "on its own connection: ignored", status=event.status,
                          direction="received")
        self._pong(pongs)
        return progressed

    def _pong(self, pongs: int) -> int:
        if pongs and not self._lost:
            self.transport.write(sip.PONG * pongs)
        return 0

    def _answer(self, request: sip.Request) -> None:
        contact = sip.contact_target(request)
        cseq = (request.headers.get("cseq") or "").split()
        self.emit("sip-request", f"{request.method} {request.uri}", method=request.method,
                  uri=request.uri, call_id=request.headers.get("call-id"),
                  cseq=int(cseq[0]) if cseq and cseq[0].isdigit() else None,
                  from_uri=request.headers.get("from"), contact=request.headers.get("contact"),
                  contact_host=contact[0] if contact else None,
                  contact_port=contact[1] if contact else None,
                  user_agent=request.headers.get("user-agent"))
        if request.method == "OPTIONS" and self.settings.options_action != "answer":
            self._misbehave(request)
            return
        if request.method == "OPTIONS" and self.settings.options_delay > 0:
            self.factory.reactor.callLater(self.settings.options_delay, self._respond, request)
            return
        self._respond(request)

    def _misbehave(self, request: sip.Request) -> None:
        """The scenario's deliberate failures: never answer, or reset the connection."""
        if self.settings.options_action == "ignore":
            self.emit("sip-response", "OPTIONS deliberately left unanswered (the SBC should "
                      "time out with 408)", method="OPTIONS", status=0, finding="ignored")
            return
        self.emit("sip-response", "OPTIONS answered with a TCP reset (scenario)",
                  method="OPTIONS", status=0, finding="reset")
        self.closing_reason = "fakepeer reset the connection (scenario)"
        tcp = getattr(self.transport, "transport", None)
        handle = tcp.getHandle() if tcp is not None else None
        if handle is not None:  # SO_LINGER 0: close() sends RST instead of FIN
            handle.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        (tcp or self.transport).abortConnection()

    def _respond(self, request: sip.Request) -> None:
        if self._lost:  # a delayed answer whose connection has gone
            return
        decision = sip.respond(request, self.settings.profile, self._peer_context,
                               self.settings.responder_policy, memo=self._contact_memo)
        if decision.response is None:
            return
        self.transport.write(sip.to_bytes(decision.response))
        self.emit("sip-response",
                  f"{decision.response.status} {decision.response.reason} to "
                  f"{request.method}: {decision.explanation}",
                  method=request.method, status=decision.response.status,
                  finding=decision.answer_reason, reason=decision.response.reason,
                  explanation=decision.explanation)
        if (request.method == "OPTIONS" and decision.response.status == 200
                and self.settings.on_options_accepted is not None):
            contact = sip.contact_target(request)
            if contact is not None:
                self.settings.on_options_accepted(self.connection_id, *contact)

    def _protocol_error(self, error: sip.RemoteSipError) -> bool:
        """Report and answer a malformed message; whether reading can go on.

        A recoverable error that could be answered leaves the stream framed. Anything
        else closes the connection, once: the answer (if one can be addressed), then
        close_notify, then an abort if the peer has not finished within the grace.
        """
        response = sip.error_response(error, error.partial, self.settings.profile)
        answered = f"answered {response.status}" if response is not None else "no answer"
        self.emit("sip-error", f"malformed SIP ({answered}): {error.message}",
                  problem=error.message, status=error.status_hint,
                  answered=response is not None,
                  recoverable=error.recoverable)
        if response is not None:
            self.transport.write(sip.to_bytes(response))
        if error.recoverable and response is not None:
            return True
        self._close("fakepeer closed the connection after a malformed message")
        return False

    def _close(self, reason: str) -> None:
        """Close from fakepeer's side: close_notify, and an abort if the peer lingers."""
        self.closing_reason = reason
        self._closing = True
        self._cancel_deadline()
        self.transport.loseConnection()
        self._abort = self.factory.reactor.callLater(self.settings.close_grace,
                                                     self._abort_lingering)

    def _abort_lingering(self) -> None:
        self.closing_reason += (f"; the SBC did not finish closing within "
                                f"{self.settings.close_grace:g} s, so fakepeer aborted it")
        self.transport.abortConnection()

    # -- timers --------------------------------------------------------------------------
    def _arm_idle_timer(self) -> None:
        if self._idle is not None and self._idle.active():
            self._idle.reset(self.settings.idle_timeout)
        else:
            self._idle = self.factory.reactor.callLater(self.settings.idle_timeout,
                                                        self._idle_timeout)

    def _idle_timeout(self) -> None:
        self.emit("limit", f"idle for {self.settings.idle_timeout:g} s: closing",
                  limit="idle_timeout", seconds=self.settings.idle_timeout)
        self.closing_reason = "fakepeer closed an idle connection"
        self._stalled = True
        self.transport.abortConnection()

    def _follow_phase(self, progressed: bool) -> None:
        """Keep the message deadline in step with where the stream stands.

        Between messages there is none. A message's head gets ``deadlines.head`` from
        the read that brought its first byte, its body ``deadlines.body`` from the read
        that completed its head; later bytes of the same part do not extend them (the
        idle timer is the one that every byte resets).
        """
        phase = self.sip.phase
        if phase is sip.ReadPhase.BETWEEN_MESSAGES:
            self._cancel_deadline()
            return
        armed = self._deadline is not None and self._deadline.active()
        if armed and phase is self._deadline_phase and not progressed:
            return
        self._cancel_deadline()
        deadlines = self.settings.deadlines
        seconds = deadlines.head if phase is sip.ReadPhase.IN_HEAD else deadlines.body
        self._deadline_phase = phase
        self._deadline = self.factory.reactor.callLater(seconds, self._deadline_passed,
                                                        phase, seconds)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _deadline_passed(self, phase: sip.ReadPhase, seconds: float) -> None:
        part = "head" if phase is sip.ReadPhase.IN_HEAD else "body"
        self.emit("limit", f"message {part} not complete within {seconds:g} s "
                  f"({self.sip.buffered_bytes} bytes of it received): closing",
                  limit=f"{part}_deadline", seconds=seconds,
                  buffered=self.sip.buffered_bytes)
        self._close(f"fakepeer closed the connection: a message {part} took longer than "
                    f"{seconds:g} s")

    # -- the end -------------------------------------------------------------------------
    def _observation(self) -> TlsObservation | None:
        try:
            return observation_for(self.transport)
        except LookupError:
            return None

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._lost = True
        for timer in (self._idle, self._deadline, self._abort):
            if timer is not None and timer.active():
                timer.cancel()
        try:
            self._report_end(reason)
        finally:  # reporting may fail (a crafted certificate, a full disk): still leave
            self.factory.connection_ended(self)

    def _report_end(self, reason: Failure | None) -> None:
        observation = self._observation()
        if not self.handshake_done:
            failure = observation.failure() if observation is not None else None
            # Not one byte came (a port check, a silent socket): no handshake to judge.
            spoke = observation is None or bool(observation.first_bytes)
            if spoke and self._stalled and (failure is None or failure.alert is None):
                state = observation.last_state if observation is not None else ""
                self.emit("tls-failed", "the SBC stopped talking in the middle of the "
                          f"handshake ({state or 'before its ClientHello'}); fakepeer closed "
                          f"it after {self.settings.idle_timeout:g} s",
                          failed_by="peer", reason="stalled", alert=None,
                          scenario=self.settings.label)
            elif spoke and failure is not None:
                who = "the SBC" if failure.failed_by == "peer" else "fakepeer"
                alert = f" with alert {failure.alert_name}" if failure.alert_name else ""
                if failure.failed_by != "peer":
                    self.closing_reason = "fakepeer closed the connection after refusing TLS"
                self.emit("tls-failed", f"{who} failed the handshake{alert}: {failure.detail}",
                          failed_by=failure.failed_by, reason=str(failure.reason),
                          alert=failure.alert_name, detail=failure.detail,
                          sni=observation.sni if observation is not None else None,
                          sni_outcome=observation.sni_outcome if observation is not None
                          else "not-applicable",
                          served=observation.served if observation is not None else "",
                          client_certificate=client_certificate_summary(observation)
                          if observation is not None else {}, scenario=self.settings.label)
            else:
                self.emit("tls-failed", "connection closed before any TLS handshake",
                          failed_by="peer", reason="no-handshake")
        clean = reason is None or isinstance(reason.value, ConnectionDone)
        who = self.closing_reason or "the SBC closed the connection"
        self.emit("closed", f"{who} ({'clean' if clean else 'not clean'})", clean=clean,
                  by="fakepeer" if self.closing_reason else "peer", reason=self.closing_reason)
        if not self.settings.connection_verdicts:
            return
        verdict = judge_connection(self.connection_id, self.events, self.factory.clock())
        data = verdict.to_json()
        line = verdict.line()
        if self.settings.expectation is not None:
            judgement = judge(self.settings.expectation, verdict, self.events)
            data.update(outcome=judgement.outcome, outcome_reason=judgement.reason,
                        scenario=self.settings.label)
            line += f" -> {judgement.line()}"
        self.emit("verdict", line, **data)


class SipServerFactory(Factory):
    """Makes one :class:`SipTlsProtocol` per connection; :meth:`admit` enforces the
    connection cap (the TLS factory asks it at accept, before any TLS)."""

    def __init__(self, settings: ServeSettings, sink: Sink, reactor: IReactorTime,
                 clock: Callable[[], Any]) -> None:
        self.settings = settings
        self.sink = sink
        self.reactor = reactor
        self.clock = clock
        self.ids = ConnectionIds()
        self.active: set[SipTlsProtocol] = set()
        self._waiting: list[Deferred[None]] = []
        self._refused = 0  # refused since the last report
        self._refusal_report: IDelayedCall | None = None

    def admit(self, addr: Any) -> bool:
        """Whether a connection just accepted may be served; one over the cap is not
        (its socket is closed at once, so the cap bounds file descriptors) and is
        counted: a burst of refusals is one line, once per :data:`REFUSAL_REPORT_INTERVAL`
        (issue 12 item 2: each refusal printed a traceback after a full TLS handshake).
        """
        if len(self.active) < self.settings.max_connections:
            return True
        self._refused += 1
        if self._refusal_report is None:
            self._refusal_report = self.reactor.callLater(REFUSAL_REPORT_INTERVAL,
                                                          self._report_refusals)
        return False

    def _report_refusals(self) -> None:
        refused, self._refused = self._refused, 0
        if refused == 0:  # the burst is over; the next refusal starts a new one
            self._refusal_report = None
            return
        limit = self.settings.max_connections
        self.sink(Event("tcp-refused", 0, "-",
                        f"refused {refused} connection{'s' if refused != 1 else ''} at "
                        f"accept: {limit} open connections is the limit (--max-connections)",
                        {"limit": "max_connections", "value": limit, "count": refused},
                        self.clock()))
        self._refusal_report = self.reactor.callLater(REFUSAL_REPORT_INTERVAL,
                                                      self._report_refusals)

    def buildProtocol(self, addr: Any) -> Protocol:
        peer = f"{getattr(addr, 'host', '?')}:{getattr(addr, 'port', '?')}"
        protocol = SipTlsProtocol(self, self.ids.next(), peer)
        self.active.add(protocol)
        return protocol

    def stop_reporting(self) -> None:
        """Report the refusals still counted, and stop the interval timer."""
        if self._refusal_report is not None and self._refusal_report.active():
            self._refusal_report.cancel()
            self._report_refusals()
            if self._refusal_report is not None and self._refusal_report.active():
                self._refusal_report.cancel()
        self._refusal_report = None

    def connection_ended(self, protocol: SipTlsProtocol) -> None:
        self.active.discard(protocol)
        if not self.active:
            waiting, self._waiting = self._waiting, []
            for deferred in waiting:
                deferred.callback(None)

    def all_closed(self) -> Deferred[None]:
        """Fires once no connection is open (at once if none is): a stopping service
        waits for this, so every connection's last records are out before it stops."""
        if not self.active:
            return succeed(None)
        deferred: Deferred[None] = Deferred()
        self._waiting.append(deferred)
        return deferred
