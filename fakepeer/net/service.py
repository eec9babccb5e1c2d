"""Listeners as Twisted services: one TLS-wrapped SIP factory on every ``--listen``, and
one factory on one endpoint (the HTTP side)."""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from datetime import datetime
from typing import Any

from twisted.application.service import Service
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import (
    Deferred,
    DeferredList,
    gatherResults,
    maybeDeferred,
    succeed,
)
from twisted.internet.interfaces import (
    IHalfCloseableProtocol,
    IListeningPort,
    IOpenSSLServerConnectionCreator,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from zope.interface import implementer

from fakepeer.net.endpoints import server_endpoint
from fakepeer.net.phases import PhaseRuntime, PhaseSwitch
from fakepeer.net.reactors import IListenReactor
from fakepeer.net.sip_protocol import SipServerFactory
from fakepeer.report.events import Event, Sink, utc_now

#: Many SBCs (or a load test) reconnecting at once must not overflow the accept queue;
#: Twisted's default of 50 drops connections in bursts.
LISTEN_BACKLOG = 1024
#: How long a stopping serve waits for its connections to finish closing before it
#: aborts them.
STOP_GRACE = 2.0


@implementer(IHalfCloseableProtocol)
class HalfCloseTolerantTLSProtocol(TLSMemoryBIOProtocol):
    """TLS that still delivers its answers when the peer shuts its sending side.

    Without IHalfCloseableProtocol, Twisted drops unsent output the moment the peer's
    FIN arrives, so an SBC that sends OPTIONS and half-closes would never see the
    200 OK written for it in the same instant. Here the read side ending becomes an
    orderly close that flushes what was written first.
    """

    # TLSMemoryBIOProtocol's own methods are not annotated: hence the ignores below.
    def readConnectionLost(self) -> None:
        if self._tlsConnection is not None:
            self._tlsConnection.bio_shutdown()
            self._flushReceiveBIO()  # type: ignore[no-untyped-call]  # see above
        self.loseConnection()  # type: ignore[no-untyped-call]  # see above

    def writeConnectionLost(self) -> None:
        self.loseConnection()  # type: ignore[no-untyped-call]  # see above


class HalfCloseTolerantTLSFactory(TLSMemoryBIOFactory):
    protocol = HalfCloseTolerantTLSProtocol


class SipTlsFactory(HalfCloseTolerantTLSFactory):
    """TLS around a :class:`SipServerFactory` that refuses a connection over the cap at
    accept: no TLS object is made, and the listening port closes the socket at once."""

    def __init__(self, contexts: IOpenSSLServerConnectionCreator, sip_factory: SipServerFactory,
                 reactor: IListenReactor) -> None:
        super().__init__(contexts, False, sip_factory, clock=reactor)
        self.sip_factory = sip_factory

    # IProtocolFactory.buildProtocol may return None (refuse); WrappingFactory's stub says
    # it never does, hence the ignore.
    def buildProtocol(self, addr: Any) -> TLSMemoryBIOProtocol | None:  # type: ignore[override]
        if not self.sip_factory.admit(addr):
            return None
        built: TLSMemoryBIOProtocol = super().buildProtocol(addr)
        return built


#: What Twisted's listening port logs when accept() fails for want of descriptors (it
#: then closes, or cannot accept, the waiting connections: silent resets to the SBC).
_FD_EXHAUSTED_LOGS = frozenset({
    "EMFILE encountered; releasing reserved file descriptor.",
    "Could not accept new connection ({acceptError})",
})


def open_descriptors(limit: int) -> int:
    """How many of the descriptors below ``limit`` are open. (Asked with ``fstat``: at
    the limit, listing /proc/self/fd would need a descriptor of its own.)"""
    count = 0
    for fd in range(min(limit, 1 << 20)):
        try:
            os.fstat(fd)
        except OSError:
            continue
        count += 1
    return count


@implementer(ILogObserver)
class DescriptorWatch:
    """Says once, through ``sink``, that the process ran out of file descriptors:
    Twisted only logs it, and the SBCs see their connections reset (issue 12 item 2)."""

    def __init__(self, sink: Sink, clock: Callable[[], datetime]) -> None:
        self.sink = sink
        self.clock = clock
        self.reported = False

    def __call__(self, event: LogEvent) -> None:
        if self.reported or event.get("log_format") not in _FD_EXHAUSTED_LOGS:
            return
        if event.get("acceptError", "EMFILE") not in ("EMFILE", "ENFILE"):
            return
        self.reported = True
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        limit = "unlimited" if soft == resource.RLIM_INFINITY else str(soft)
        count = open_descriptors(soft if soft != resource.RLIM_INFINITY else 1 << 20)
        self.sink(Event("limit", 0, "-", f"out of file descriptors: {count} open, limit "
                        f"{limit}; "
                        "new connections are reset until some close (lower "
                        "--max-connections or raise ulimit -n)",
                        {"limit": "file_descriptors", "open": count, "value": soft},
                        self.clock()))


class SipListeners(Service):
    """Every listening address of one ``serve`` run, started and stopped together.

    ``listen()`` returns a Deferred that fails if any address cannot be bound (a port in
    use is an error the user must see at once, not a log line later); ``startService``
    keeps it as :attr:`listening`.
    """

    def __init__(self, reactor: IListenReactor, phases: list[PhaseRuntime], sink: Sink,
                 addresses: list[tuple[str, int]],
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.reactor = reactor
        self.sink = sink
        self.clock = clock
        self.addresses = addresses
        self.sip_factory = SipServerFactory(phases[0].settings, sink, reactor, clock)
        self.timeline = PhaseSwitch(reactor, phases, self.sip_factory, sink, clock)
        self.tls_factory = SipTlsFactory(self.timeline, self.sip_factory, reactor)
        self.ports: list[IListeningPort] = []
        self.listening: Deferred[list[IListeningPort]] | None = None
        self.descriptors = DescriptorWatch(sink, clock)

    def listen(self) -> Deferred[list[IListeningPort]]:
        self.running = True
        self.timeline.start()
        attempts = []
        for host, port in self.addresses:
            endpoint = server_endpoint(self.reactor, host, port, backlog=LISTEN_BACKLOG)
            attempts.append(endpoint.listen(self.tls_factory).addCallback(self._listening))
        return gatherResults(attempts, consumeErrors=True)

    def _listening(self, port: IListeningPort) -> IListeningPort:
        address = port.getHost()
        assert isinstance(address, IPv4Address | IPv6Address)  # a TCP port's address
        self.ports.append(port)
        self.sink(Event("listening", 0, f"{address.host}:{address.port}",
                        f"listening for SIP over TLS on {address.host}:{address.port}",
                        {"host": address.host, "port": address.port}, self.clock()))
        return port

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]  # Service is not annotated
        globalLogPublisher.addObserver(self.descriptors)
        self.listening = self.listen()

    def stopService(self) -> Deferred[Any]:
        super().stopService()  # type: ignore[no-untyped-call]  # Service is not annotated
        self.timeline.stop()
        globalLogPublisher.removeObserver(self.descriptors)
        self.sip_factory.stop_reporting()
        for protocol in list(self.sip_factory.active):
            protocol.closing_reason = "fakepeer is shutting down"
            protocol.transport.loseConnection()
        stopping = DeferredList([maybeDeferred(port.stopListening) for port in self.ports])
        stopping.addCallback(lambda _: self._connections_closed())
        stopping.addCallback(lambda _: self.sink(
            Event("stopped", 0, "-", "fakepeer stopped listening", {}, self.clock())))
        return stopping

    def _connections_closed(self) -> Deferred[None]:
        """The open connections' closes (close_notify answered or not), each aborted
        if it takes longer than :data:`STOP_GRACE` seconds: serve stops in bounded time
        and every connection's records (its verdict) come out before it has stopped."""
        closed = self.sip_factory.all_closed()
        if closed.called:
            return closed
        abort = self.reactor.callLater(STOP_GRACE, self._abort_open)

        def done(result: None) -> None:
            if abort.active():
                abort.cancel()
            return result

        return closed.addBoth(done)

    def _abort_open(self) -> None:
        for protocol in list(self.sip_factory.active):
            protocol.transport.abortConnection()


class EndpointService(Service):
    """``factory`` listening on ``endpoint`` while the service runs.

    Twisted's ``StreamServerEndpointService`` does this too, but keeps the outcome of
    ``listen`` to itself (it only logs a failure); here :attr:`listening` fires with the
    port or fails, so the application can refuse to start on a port in use.
    ``on_listening`` sees the port once it listens.
    """

    def __init__(self, endpoint: IStreamServerEndpoint, factory: IProtocolFactory,
                 on_listening: Callable[[IListeningPort], object] | None = None) -> None:
        self.endpoint = endpoint
        self.factory = factory
        self.on_listening = on_listening
        self.port: IListeningPort | None = None
        self.listening: Deferred[IListeningPort] | None = None

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]  # Service is not annotated
        self.listening = self.endpoint.listen(self.factory).addCallback(self._listening)

    def _listening(self, port: IListeningPort) -> IListeningPort:
        self.port = port
        if self.on_listening is not None:
            self.on_listening(port)
        return port

    def stopService(self) -> Deferred[Any]:
        super().stopService()  # type: ignore[no-untyped-call]  # Service is not annotated
        if self.port is None:
            return succeed(None)
        return maybeDeferred(self.port.stopListening)
