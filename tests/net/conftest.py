"""Live fixtures for the net edge: a trustme CA, fakepeer's listener on 127.0.0.1:0 and
TLS clients, all in this process's reactor (hostile peers that must ignore TLS manners
run in a thread with the standard library's ssl module)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_twisted
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.protocol import Protocol
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.python.failure import Failure

from fakepeer import sip
from fakepeer.net.phases import PhaseRuntime
from fakepeer.net.service import SipListeners
from fakepeer.net.sip_protocol import ServeSettings
from fakepeer.pki.chain import ServedChain
from fakepeer.report.events import Event
from fakepeer.tls import GENESYS, ServerConnectionCreator

#: The name fakepeer's test listener (and the hostile SBC) serves.
SERVER_NAME = "sip.lab.example"


@dataclass
class Lab:
    """A trustme CA and a leaf for :data:`SERVER_NAME` (RSA: the TLS policies want it)."""

    ca: trustme.CA
    leaf: trustme.LeafCert
    chain: ServedChain

    def client_context(self) -> ssl.SSLContext:
        """A standard-library client context trusting the CA (for threaded peers)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def server_context(self) -> ssl.SSLContext:
        """A standard-library server context presenting the leaf (for threaded peers)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.leaf.configure_cert(context)
        return context


@pytest.fixture(scope="session")
def lab() -> Lab:
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    leaf = ca.issue_cert(SERVER_NAME, key_type=trustme.KeyType.RSA)
    chain = ServedChain(
        leaf=x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()),
        key=load_pem_private_key(leaf.private_key_pem.bytes(), None),  # type: ignore[arg-type]
        names=(SERVER_NAME,),
        label="trustme",
    )
    return Lab(ca, leaf, chain)


@dataclass
class Served:
    """One running listener: its port and every event it reported."""

    port: int
    events: list[Event]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


@pytest_twisted.async_yield_fixture
async def serve(lab: Lab) -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    """Start fakepeer's SIP/TLS listener on 127.0.0.1:0 with the given ServeSettings
    fields (Microsoft SIP profile, Genesys TLS policy: no client certificate needed);
    stopped after the test."""
    running: list[SipListeners] = []

    async def start(**settings: Any) -> Served:
        events: list[Event] = []
        creator = ServerConnectionCreator.from_chains(GENESYS, [lab.chain])
        serve_settings = ServeSettings(profile=sip.MICROSOFT,
                                       responder_policy=sip.ResponderPolicy(), **settings)
        listeners = SipListeners(reactor, [PhaseRuntime("net-test", creator, serve_settings)],
                                 events.append, [("127.0.0.1", 0)])
        await listeners.listen()
        running.append(listeners)
        return Served(int(listeners.ports[0].getHost().port), events)

    yield start
    for listeners in running:
        await listeners.stopService()


class Client(Protocol):
    """A well-mannered TLS client: keeps what it receives, notes when it was closed."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.lost: Deferred[None] = Deferred()
        self.lost_at: float | None = None

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost_at = reactor.seconds()
        self.lost.callback(None)


async def connect(lab: Lab, port: int) -> Client:
    """A Twisted TLS client connected to ``port``, verifying :data:`SERVER_NAME`."""
    trust = Certificate.loadPEM(lab.ca.cert_pem.bytes())
    endpoint = wrapClientTLS(optionsForClientTLS(SERVER_NAME, trustRoot=trust),
                             TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=5))
    return await connectProtocol(endpoint, Client())


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait (polling every 20 ms, at most ``timeout`` s) until ``predicate()`` holds."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await task.deferLater(reactor, 0.02, lambda: None)
    raise AssertionError(f"not within {timeout} s: {what}")


def responses(data: bytes) -> list[sip.Response]:
    """The complete responses in ``data``, parsed as the SBC would."""
    reader = sip.SipConnection()
    if data:  # b"" would mean EOF
        reader.receive_data(data)
    found = []
    while (event := reader.next_event()) is not sip.NEED_DATA:
        assert isinstance(event, sip.Response)
        found.append(event)
    return found


@dataclass
class Flood:
    """What a threaded hostile peer did: bytes sent, for how long, how it stopped."""

    sent: int = 0
    seconds: float = 0.0
    stopped_by: str = ""
    notes: list[str] = field(default_factory=list)
