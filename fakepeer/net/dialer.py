# -*- test-case-name: tests.probe -*-
"""The Twisted client edge: dial an SBC as the cloud does, send OPTIONS, report.

The mirror image of :mod:`fakepeer.net.sip_protocol`. :func:`dial` opens one TCP
connection to an address, runs TLS with the caller's connection creator (the profile's
versions and suites, the era's client chain, SNI = the FQDN dialled), asks the caller to
judge the SBC's certificate the way the cloud does, sends an OPTIONS built by
:func:`fakepeer.sip.build_options` and reads the answer with a
:class:`fakepeer.sip.SipConnection`. Every step is an
:class:`~fakepeer.report.events.Event` (the kinds ``serve`` uses, plus ``probe``,
``tcp-connected``, ``tcp-failed`` and ``certificate-check``); the Deferred fires with the
:class:`DialFacts`, never with an error: an SBC that fails is a result. What the facts
mean for the SBC (the verdict) is :mod:`fakepeer.probe`'s to say.

Who dials is described by :class:`CallerLike` (``fakepeer.probe.caller.Caller`` is one):
net sits below probe, so it names what it needs instead of importing it.

Like the real proxy ("the service will reset the connection", real-peers.md section 3),
fakepeer sends no OPTIONS to an SBC whose certificate it refuses and closes at once;
``options_anyway`` sends them regardless, to see the SIP side of a lab SBC whose
certificate is still being fixed. Each phase (connect, handshake, answer) has its own
timeout; a peer that never answers costs at most three of them plus a close grace.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IDelayedCall,
    IHandshakeListener,
    IOpenSSLClientConnectionCreator,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from fakepeer import sip
from fakepeer.net.endpoints import client_endpoint
from fakepeer.net.keepalives import KeepaliveTally, keepalive_summary
from fakepeer.net.reactors import IDialReactor
from fakepeer.pki.chain import ServedChain
from fakepeer.report.events import Event, Sink, utc_now
from fakepeer.tls import FailureReason, HandshakeFailure, TlsObservation, observation_for
from fakepeer.tls.inspect import subjects, summarize_certificate

#: Per phase (TCP connect, TLS handshake, SIP answer). The proxy's own value is not
#: published [?]; SBC OPTIONS transactions time out after 32 s (RFC 3261 Timer F), far
#: too long for a lab loop, and a healthy SBC on a LAN answers in milliseconds.
DEFAULT_TIMEOUT = 5.0
#: How long a close_notify may wait for the SBC's before the socket is simply closed.
CLOSE_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class DialTarget:
    """Where to dial and which name to expect there.

    ``address`` is the IP address connected to (names are resolved before dialling, so
    that ``--sbc FQDN=ADDRESS:PORT`` mappings and the system resolver look alike);
    ``server_name`` is the FQDN sent as SNI and checked in the certificate (``None``
    when the SBC is dialled by IP address alone); ``dialled`` is what the user or the
    Contact header said, for messages.
    """

    address: str
    port: int
    server_name: str | None = None
    dialled: str = ""

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            raise ValueError(f"address {self.address!r} is not an IP address; resolve "
                             "names before dialling") from None
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, not {self.port}")
        if not self.dialled:
            object.__setattr__(self, "dialled", self.server_name or self.address)

    @property
    def peer(self) -> str:
        """``address:port`` (IPv6 in brackets), as events name peers."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"

    @property
    def uri(self) -> str:
        """The Request-URI of the OPTIONS: the name dialled, port, transport TLS."""
        host = self.server_name or (f"[{self.address}]" if ":" in self.address
                                    else self.address)
        return f"sip:{host}:{self.port};transport=tls"


class ProblemLike(typing.Protocol):
    """One finding of a certificate check (``fakepeer.probe.validation``'s problems)."""

    @property
    def message(self) -> str: ...


class CertificateCheckLike(typing.Protocol):
    """What the dialler reads of the cloud's check of the SBC's certificate
    (``fakepeer.probe.validation.CertificateCheck`` is one)."""

    @property
    def accepted(self) -> bool: ...
    @property
    def problems(self) -> Sequence[ProblemLike]: ...
    def to_json(self) -> list[dict[str, object]]: ...


class CallerLike(typing.Protocol):
    """Who dials (``fakepeer.probe.caller.Caller`` is one): its name for messages, the
    client chain it presents, how it makes TLS connections and judges the SBC's
    certificate, and the SIP style and host of its OPTIONS."""

    @property
    def label(self) -> str: ...
    @property
    def profile(self) -> str: ...
    @property
    def era(self) -> str: ...
    @property
    def client_chain(self) -> ServedChain | None: ...
    @property
    def sip_profile(self) -> sip.SipProfile: ...
    @property
    def sbc_eku(self) -> str: ...
    @property
    def from_host(self) -> str: ...

    def creator(self, server_name: str | None) -> IOpenSSLClientConnectionCreator: ...

    def judge(self, sent: Sequence[Any], *, expected_name: str | None, dialled: str,
              now: dt.datetime) -> CertificateCheckLike: ...


@dataclass(frozen=True, slots=True)
class DialFacts:
    """Everything one outbound attempt produced, unjudged.

    ``observation`` is the TLS record (``None`` when TCP never connected);
    ``tls_failure_detail`` says why the handshake failed, with what fakepeer knows that
    the alert alone does not say; ``certificate_check`` is the caller's check of the SBC's
    chain (``None`` when the handshake did not complete); ``response`` is the final
    answer to the OPTIONS.
    """

    target: DialTarget
    connection: int
    caller: str
    connect_error: str | None = None
    observation: TlsObservation | None = None
    handshake_done: bool = False
    tls_failure: HandshakeFailure | None = None
    tls_failure_detail: str = ""
    certificate_check: CertificateCheckLike | None = None
    options_sent: bool = False
    response: sip.Response | None = None
    sip_problem: str | None = None
    events: tuple[Event, ...] = field(default=(), repr=False)

    @property
    def peer_chain(self) -> tuple[Any, ...]:
        """The certificates the SBC sent, leaf first (``x509.Certificate``)."""
        return self.observation.peer_certificates if self.observation is not None else ()


Clock = Callable[[], dt.datetime]


def dial(reactor: IDialReactor, caller: CallerLike, target: DialTarget, *, sink: Sink,
         connection_id: int,
         timeout: float = DEFAULT_TIMEOUT, options_anyway: bool = False,
         clock: Clock = utc_now, now: dt.datetime | None = None) -> Deferred[DialFacts]:
    """Dial ``target`` as ``caller`` and fire with the :class:`DialFacts` (never fails).

    ``sink`` receives every event as it happens, tagged with ``connection_id``;
    ``now`` is the time the SBC's certificate is judged at (default: ``clock()`` when
    the handshake completes).
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, not {timeout}")
    attempt = _Attempt(reactor, caller, target, sink, connection_id, timeout,
                       options_anyway, clock, now)
    return attempt.start()


class _OneShot(Factory):
    """Hands the one attempt protocol to the TLS wrapper."""

    def __init__(self, attempt: _Attempt) -> None:
        self.attempt = attempt

    def buildProtocol(self, addr: Any) -> Protocol:
        return self.attempt


@implementer(IHandshakeListener)
class _Attempt(Protocol):
    """One outbound connection: state, timers and events (see the module docstring)."""

    #: The ``TLSMemoryBIOProtocol`` once connected (Twisted types it as ``ITransport``).
    transport: Any

    def __init__(self, reactor: IDialReactor, caller: CallerLike, target: DialTarget,
                 sink: Sink,
                 connection_id: int, timeout: float, options_anyway: bool, clock: Clock,
                 now: dt.datetime | None) -> None:
        self.reactor = reactor
        self.caller = caller
        self.target = target
        self.sink = sink
        self.connection_id = connection_id
        self.timeout = timeout
        self.options_anyway = options_anyway
        self.clock = clock
        self.now = now
        self.done: Deferred[DialFacts] = Deferred(canceller=self._cancel)
        self._connecting: Deferred[Any] | None = None
        self.events: list[Event] = []
        self.sip = sip.SipConnection()
        self.observation: TlsObservation | None = None
        self.handshake_done = False
        self.certificate_check: CertificateCheckLike | None = None
        self.request: sip.Request | None = None
        self.response: sip.Response | None = None
        self.sip_problem: str | None = None
        self.closing_reason = ""
        self.stalled = False
        self._timer: IDelayedCall | None = None
        self._tls: Any = None
        self._done_reading = False
        self.keepalives = KeepaliveTally(reactor, self._report_keepalives)

    # -- reporting -----------------------------------------------------------------------
    def emit(self, kind: str, summary: str, **data: Any) -> None:
        if kind != "sip-keepalive":
            self.keepalives.flush()  # the pings before this record come first
        event = Event(kind, self.connection_id, self.target.peer, summary, data, self.clock())
        self.events.append(event)
        self.sink(event)

    def _report_keepalives(self, count: int) -> None:
        self.emit("sip-keepalive", keepalive_summary(count), count=count)

    def _arm(self, seconds: float, action: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.reactor.callLater(seconds, action)

    def _disarm(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    # -- connecting ----------------------------------------------------------------------
    def start(self) -> Deferred[DialFacts]:
        creator = self.caller.creator(self.target.server_name)  # refused options raise here
        chain = self.caller.client_chain
        client = chain.leaf.subject.rfc4514_string() if chain is not None else "none"
        sni = self.target.server_name or "none (dialled by IP address)"
        self.emit("probe", f"dialling {self.target.peer} as {self.caller.label}; SNI {sni}; "
                  f"client certificate {client}",
                  address=self.target.address, port=self.target.port,
                  server_name=self.target.server_name, dialled=self.target.dialled,
                  profile=self.caller.profile, era=self.caller.era,
                  client_certificate=client, timeout=self.timeout)
        endpoint = client_endpoint(self.reactor, self.target.address, self.target.port,
                                   timeout=self.timeout)
        tls = TLSMemoryBIOFactory(creator, True, _OneShot(self), clock=self.reactor)
        self._connecting = endpoint.connect(tls)
        self._connecting.addErrback(self._connect_failed)
        return self.done

    def _cancel(self, done: Deferred[DialFacts]) -> None:
        """The attempt is no longer wanted (the command was interrupted): hang up."""
        self.closing_reason = "fakepeer was interrupted"
        if self._connecting is not None and not self._connecting.called:
            self._connecting.cancel()
        elif self.transport is not None:
            self.transport.abortConnection()

    def _connect_failed(self, reason: Failure) -> None:
        if self.done.called:  # cancelled: nobody waits for this attempt any more
            return
        message = reason.getErrorMessage()
        self.emit("tcp-failed", f"TCP connect to {self.target.peer} failed: {message}",
                  error=message)
        self._finish(connect_error=message)

    def connectionMade(self) -> None:
        local = self.transport.getHost()
        self.emit("tcp-connected", f"TCP connected from local port {local.port}",
                  local_port=local.port)
        try:
            self.observation = observation_for(self.transport)
        except LookupError:  # pragma: no cover - the creator always attaches one
            self.observation = None
        self._tls = self.transport.getHandle()
        self._arm(self.timeout, self._handshake_timeout)

    def _handshake_timeout(self) -> None:
        self.stalled = True
        self.closing_reason = (f"fakepeer gave up: no TLS handshake within {self.timeout:g} s")
        self.transport.abortConnection()

    # -- TLS -----------------------------------------------------------------------------
    def handshakeCompleted(self) -> None:
        self._disarm()
        self.handshake_done = True
        obs = self.observation
        if obs is None:  # pragma: no cover - see connectionMade
            return
        chain = obs.peer_certificates
        leaf = summarize_certificate(chain[0]) if chain else None
        subject = leaf.subject if leaf is not None else "none"
        self.emit("tls-established",
                  f"{obs.version} {obs.cipher}; SNI {obs.sni or 'none'}; SBC certificate "
                  f"{subject}" + (f" (issuer {leaf.issuer})" if leaf is not None else ""),
                  version=obs.version, cipher=obs.cipher, group=obs.group, sni=obs.sni,
                  served=obs.served, sbc_certificate=_leaf_json(leaf),
                  chain=list(subjects(chain)),
                  verify_errors=[f"{e.code} {e.name} at depth {e.depth}"
                                 for e in obs.verify_errors],
                  requested_ca_names=[n.rfc4514_string() for n in obs.requested_ca_names])
        check = self._check_certificate(chain)
        if not check.accepted and not self.options_anyway:
            self.closing_reason = ("fakepeer closed the connection without sending OPTIONS: "
                                   "the real proxy resets it over this certificate")
            self.transport.abortConnection()
            return
        self._send_options()

    def _check_certificate(self, chain: tuple[Any, ...], note: str = ""
                           ) -> CertificateCheckLike:
        """Check the SBC's chain as the cloud does and report it as ``certificate-check``."""
        check = self.caller.judge(chain, expected_name=self.target.server_name,
                                  dialled=self.target.dialled, now=self.now or self.clock())
        self.certificate_check = check
        messages = [problem.message for problem in check.problems]
        if check.accepted:
            summary = "SBC certificate accepted" + (
                f" with warnings: {'; '.join(messages)}" if messages else "")
        else:
            summary = f"SBC certificate refused: {'; '.join(messages)}"
        openssl = [f"{e.code} {e.name} at depth {e.depth}"
                   for e in (self.observation.verify_errors if self.observation else [])]
        if openssl and not check.accepted:
            summary += f" [OpenSSL verify: {'; '.join(openssl)}]"
        self.emit("certificate-check", summary + note, accepted=check.accepted,
                  findings=check.to_json(), eku_rule=self.caller.sbc_eku,
                  openssl_verify_errors=openssl)
        return check

    def _check_certificate_anyway(self) -> None:
        """After a failed handshake, check the SBC's chain if it had arrived.

        In TLS 1.2 the SBC sends its Certificate before it sees ours, so when it refuses
        our chain its own is already known, and the report can say both.
        """
        chain: list[Any] = []
        with contextlib.suppress(Exception):  # no handle, or OpenSSL kept nothing
            chain = list(self._tls.get_peer_cert_chain(as_cryptography=True) or [])
        if chain:
            self._check_certificate(tuple(chain), " (judged although the handshake failed)")

    # -- SIP -----------------------------------------------------------------------------
    def _send_options(self) -> None:
        host = self.caller.from_host
        request = sip.build_options(self.caller.sip_profile, self.target.uri, via_host=host,
                                    from_host=host)
        self.request = request
        self.transport.write(sip.to_bytes(request))
        self.emit("sip-request", f"OPTIONS {request.uri} sent", method="OPTIONS",
                  uri=request.uri, call_id=request.headers.get("call-id"),
                  direction="sent", from_host=host)
        self._arm(self.timeout, self._answer_timeout)

    def _answer_timeout(self) -> None:
        self.sip_problem = f"no SIP answer within {self.timeout:g} s"
        self.closing_reason = f"fakepeer hung up: {self.sip_problem}"
        self._close()

    def dataReceived(self, data: bytes) -> None:
        if self._done_reading:  # the answer is in, or the SBC's SIP is broken: drop it
            return
        try:
            self.sip.receive_data(data)
            while self.response is None:
                event = self.sip.next_event()
                if event is sip.NEED_DATA or isinstance(event, sip.ConnectionClosed):
                    return
                self._sip_event(event)
        except sip.RemoteSipError as error:
            # Once: the SBC may go on sending (issue 12 item 6: 6,241 lines for a 100 MB
            # answer header), but nothing after a framing error can be read.
            self._done_reading = True
            self.sip_problem = f"malformed SIP from the SBC: {error.message}"
            self.emit("sip-error", self.sip_problem, status=error.status_hint,
                      direction="received")
            self.closing_reason = "fakepeer hung up after malformed SIP"
            self._close()

    def _sip_event(self, event: sip.Event) -> None:
        if isinstance(event, sip.KeepAlive):
            self.keepalives.ping()
            self.transport.write(sip.PONG)
        elif isinstance(event, sip.Request):
            self.emit("sip-request", f"{event.method} {event.uri} from the SBC on fakepeer's "
                      "connection: not answered", method=event.method, uri=event.uri,
                      direction="received")
        elif isinstance(event, sip.Response):
            ours = self.request is not None and (
                event.headers.get("call-id") == self.request.headers.get("call-id"))
            if not ours or event.status < 200:
                what = "provisional" if ours else "unrelated"
                self.emit("sip-response", f"{what} {event.status} {event.reason}: waiting",
                          status=event.status, direction="received", final=False)
                return
            self.response = event
            agent = event.headers.get("server") or event.headers.get("user-agent")
            self.emit("sip-response", f"{event.status} {event.reason} to OPTIONS"
                      + (f" from {agent}" if agent else ""), method="OPTIONS",
                      status=event.status, reason=event.reason, direction="received",
                      server=agent, final=True)
            self.closing_reason = "fakepeer closed the connection after the answer"
            self._done_reading = True  # what follows the answer is not buffered
            self._close()

    def _close(self) -> None:
        """close_notify, then an abort if the SBC has not finished within CLOSE_GRACE.

        Called once per connection: re-arming it would let an SBC that keeps sending
        postpone the abort for ever.
        """
        self.transport.loseConnection()
        self._arm(CLOSE_GRACE, self.transport.abortConnection)

    # -- the end -------------------------------------------------------------------------
    def connectionLost(self, reason: Failure | None = None) -> None:
        self._disarm()
        failure = self.observation.failure() if self.observation is not None else None
        if self.stalled and (failure is None or failure.alert is None):
            state = self.observation.last_state if self.observation is not None else ""
            failure = HandshakeFailure("peer", FailureReason.INCOMPLETE, None,
                                       f"the SBC did not complete the TLS handshake within "
                                       f"{self.timeout:g} s (last state: {state or 'start'})")
        if not self.handshake_done and failure is not None:
            who = "the SBC" if failure.failed_by == "peer" else "fakepeer"
            alert = f" with alert {failure.alert_name}" if failure.alert_name else ""
            self.emit("tls-failed", f"{who} failed the handshake{alert}: "
                      f"{_hint(self, failure)}", failed_by=failure.failed_by,
                      reason=str(failure.reason), alert=failure.alert_name,
                      verify_errors=[f"{e.code} {e.name} at depth {e.depth}"
                                     for e in (self.observation.verify_errors
                                               if self.observation is not None else [])])
            self._check_certificate_anyway()
        elif self.handshake_done and failure is not None and self.response is None:
            self.sip_problem = f"the SBC ended TLS with alert {failure.alert_name}"
        if (self.request is not None and self.response is None
                and self.sip_problem is None):
            self.sip_problem = "the SBC closed the connection without answering"
        by = "fakepeer" if self.closing_reason else "peer"
        who = self.closing_reason or "the SBC closed the connection"
        self.emit("closed", who, by=by)
        self._finish(tls_failure=failure)

    def _finish(self, *, connect_error: str | None = None,
                tls_failure: HandshakeFailure | None = None) -> None:
        facts = DialFacts(
            target=self.target, connection=self.connection_id, caller=self.caller.label,
            connect_error=connect_error, observation=self.observation,
            handshake_done=self.handshake_done, tls_failure=tls_failure,
            tls_failure_detail=_hint(self, tls_failure) if tls_failure is not None else "",
            certificate_check=self.certificate_check, options_sent=self.request is not None,
            response=self.response, sip_problem=self.sip_problem, events=tuple(self.events))
        if not self.done.called:
            self.done.callback(facts)


def _hint(attempt: _Attempt, failure: HandshakeFailure) -> str:
    """The failure's detail, plus what fakepeer knows that the alert alone does not say."""
    detail = failure.detail
    if (failure.failed_by == "peer" and failure.alert in (40, 116)
            and attempt.caller.client_chain is None):
        detail += (f" (fakepeer presented no client certificate: {attempt.caller.profile} "
                   "never does mutual TLS)")
    return detail


def _leaf_json(summary: Any) -> dict[str, Any]:
    if summary is None:
        return {}
    return {"subject": summary.subject, "issuer": summary.issuer,
            "sans": list(summary.dns_names) + list(summary.ip_addresses),
            "eku": list(summary.extended_key_usages or ()),
            "key": f"{summary.key_type} {summary.key_bits}",
            "not_after": summary.not_after.isoformat(), "sha1": summary.sha1}
