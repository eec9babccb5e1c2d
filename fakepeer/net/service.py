"""Listeners as a Twisted service: one TLS-wrapped SIP factory on every ``--listen``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from twisted.application.service import Service
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, DeferredList, gatherResults, maybeDeferred
from twisted.internet.interfaces import IHalfCloseableProtocol, IListeningPort
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


class SipListeners(Service):
    """Every listening address of one ``serve`` run, started and stopped together.

    ``listen()`` returns a Deferred that fails if any address cannot be bound (a port in
    use is an error the user must see at once, not a log line later).
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
        self.tls_factory = HalfCloseTolerantTLSFactory(self.timeline, False, self.sip_factory,
                                                       clock=reactor)
        self.ports: list[IListeningPort] = []

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
        self.listen()

    def stopService(self) -> Deferred[Any]:
        super().stopService()  # type: ignore[no-untyped-call]  # Service is not annotated
        self.timeline.stop()
        for protocol in list(self.sip_factory.active):
            protocol.closing_reason = "fakepeer is shutting down"
            protocol.transport.loseConnection()
        stopping = DeferredList([maybeDeferred(port.stopListening) for port in self.ports])
        self.sink(Event("stopped", 0, "-", "fakepeer stopped listening", {}, self.clock()))
        return stopping
