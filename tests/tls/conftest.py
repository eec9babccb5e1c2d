"""Shared fixtures for the TLS tests: a throwaway PKI (roots and the foreign chain from
trustme, the certificates whose names and EKUs tests check from a small builder), an
in-memory TLS pump, openssl.

Helpers live here (not in an importable module) so they work under any pytest import
mode; tests reach them through fixtures.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytest_twisted
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet import defer, reactor, task, threads
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from fakepeer.pki.chain import ServedChain
from fakepeer.tls import TlsObservation, observation_for

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH


# --------------------------------------------------------------------------- PKI


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "[fakepeer lab] tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@dataclass
class Authority:
    """A test CA that issues what trustme cannot: trustme's certificates always carry its
    own subject layout and the EKU serverAuth+clientAuth+codeSigning, while these tests
    check exact names (``CN=Test Proxy Issuing CA``), chosen EKUs (serverAuth only, a CA
    restricted by EKU), chosen dates and chosen or weak keys."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    def child_ca(self, cn: str, key, eku: Sequence[x509.ObjectIdentifier] | None = None):
        builder = _base(
            _name(cn), self.cert.subject, key.public_key(), NOW - dt.timedelta(days=30), 1000
        )
        builder = _ca_extensions(builder, key.public_key(), self.key.public_key())
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        return Authority(builder.sign(self.key, hashes.SHA256()), key)

    def leaf(
        self,
        names: Sequence[str],
        key,
        eku: Sequence[x509.ObjectIdentifier] = (SERVER_AUTH, CLIENT_AUTH),
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> x509.Certificate:
        start = not_before or NOW - dt.timedelta(days=1)
        days = (not_after - start).days if not_after is not None else 199
        builder = _base(_name(names[0]), self.cert.subject, key.public_key(), start, days)
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(
                x509.KeyUsage(True, False, True, False, False, False, False, False, False), True
            )
            .add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        return builder.sign(self.key, hashes.SHA256())


def _base(subject, issuer, public_key, start, days):
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
    )


def _ca_extensions(builder, public_key, issuer_public_key):
    return (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), False
        )
    )


def _trustme_root(unit: str) -> Authority:
    """A root CA from trustme: what makes a root is all any TLS test needs of one (its
    name, dates and extensions are never asserted)."""
    ca = trustme.CA(organization_name="[fakepeer lab] tests", organization_unit_name=unit,
                    key_type=trustme.KeyType.RSA)
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return Authority(x509.load_pem_x509_certificate(ca.cert_pem.bytes()), key)


def _trustme_chain(cn: str) -> ServedChain:
    """A whole generic chain from trustme (root, issuing CA, leaf): an SBC certificate
    from a CA nobody trusts, for which nothing but the chain itself matters."""
    root = trustme.CA(organization_name="[fakepeer lab] tests",
                      organization_unit_name="Unrelated Root", key_type=trustme.KeyType.RSA)
    issuing = root.create_child_ca(key_type=trustme.KeyType.RSA)
    leaf = issuing.issue_cert(cn, key_type=trustme.KeyType.RSA)
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    certificate, issuer = (x509.load_pem_x509_certificate(blob.bytes())
                           for blob in leaf.cert_chain_pems)
    return ServedChain(certificate, key, (issuer,),
                       (x509.load_pem_x509_certificate(root.cert_pem.bytes()),), (), "sbc-foreign")


@pytest.fixture(scope="session")
def tls_pki() -> SimpleNamespace:
    """Throwaway hierarchies: a proxy chain, a second SNI chain, SBC client chains."""
    k_inter, k_leaf = (rsa.generate_private_key(65537, 2048) for _ in range(2))
    proxy_root = _trustme_root("Test Proxy Root")
    proxy_inter = proxy_root.child_ca("Test Proxy Issuing CA", k_inter)
    proxy_leaf = proxy_inter.leaf(
        ["sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com"], k_leaf
    )
    sbc_root = _trustme_root("Test SBC Root")
    k_other = sbc_root.key
    other_leaf = proxy_inter.leaf(["sip.other.test"], k_other)
    sbc_inter = sbc_root.child_ca("Test SBC Issuing CA", k_inter)
    sbc_leaf = sbc_inter.leaf(["sbc.customer.test"], k_leaf)
    sbc_server_only = sbc_inter.leaf(["sbc.customer.test"], k_leaf, eku=(SERVER_AUTH,))
    sbc_foreign = _trustme_chain("sbc.customer.test")

    return SimpleNamespace(
        proxy_root=proxy_root.cert,
        proxy_inter=proxy_inter.cert,
        proxy=ServedChain(
            proxy_leaf,
            k_leaf,
            (proxy_inter.cert,),
            (proxy_root.cert,),
            ("sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com"),
            "proxy",
        ),
        other=ServedChain(
            other_leaf,
            k_other,
            (proxy_inter.cert,),
            (proxy_root.cert,),
            ("sip.other.test",),
            "other",
        ),
        wrong_root=sbc_foreign.trust_anchors[0],
        sbc_root=sbc_root.cert,
        sbc=ServedChain(sbc_leaf, k_leaf, (sbc_inter.cert,), (sbc_root.cert,), (), "sbc"),
        sbc_server_only=ServedChain(
            sbc_server_only, k_leaf, (sbc_inter.cert,), (sbc_root.cert,), (), "sbc-serverAuth"
        ),
        sbc_foreign=sbc_foreign,
        authority=Authority,
        keys=[proxy_root.key, k_inter, k_leaf, k_other],
    )


# --------------------------------------------------------------------- in memory


@implementer(IHandshakeListener)
class Recorder(Protocol):
    """The application protocol under TLS: records what a later SIP protocol would see."""

    def __init__(self) -> None:
        self.observation: TlsObservation | None = None
        self.handshake_completed = False
        self.received = b""
        self.lost: Failure | None = None
        self.done: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        self.observation = observation_for(self.transport)

    def handshakeCompleted(self) -> None:
        self.handshake_completed = True

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:  # noqa: B008
        self.lost = reason
        if not self.done.called:
            self.done.callback(None)


class RecorderFactory(Factory):
    protocol = Recorder

    def __init__(self) -> None:
        self.built: list[Recorder] = []

    def buildProtocol(self, addr):
        proto = super().buildProtocol(addr)
        self.built.append(proto)
        return proto


@dataclass
class MemoryResult:
    """Both ends of one in-memory handshake."""

    server: TlsObservation
    client: TlsObservation
    server_app: Recorder
    client_app: Recorder
    server_tls: object
    client_tls: object
    client_bytes: list[bytes] = field(default_factory=list)


def _pump(server_tls, client_tls, clock: task.Clock, rounds: int = 200) -> list[bytes]:
    """Move bytes both ways until quiet (like twisted.test.iosim.IOPump), then close."""
    s_t, c_t = server_tls.transport, client_tls.transport
    to_client: list[bytes] = []
    for _ in range(rounds):
        clock.advance(0)
        moved = False
        for src, dst in ((s_t, client_tls), (c_t, server_tls)):
            data = src.value()
            if data:
                src.clear()
                if src is s_t:
                    to_client.append(data)
                dst.dataReceived(data)
                moved = True
        if moved:
            continue
        if s_t.disconnecting or c_t.disconnecting:
            # TCP closes for both ends once the pending bytes are delivered.
            for proto in (server_tls, client_tls):
                proto.connectionLost(Failure(ConnectionDone()))
        break
    return to_client


@pytest.fixture
def handshake_in_memory() -> Callable[..., MemoryResult]:
    """Run one real handshake between two creators over an in-memory byte pump."""

    def run(server_creator, client_creator, *, then_close: bool = False) -> MemoryResult:
        clock = task.Clock()
        observations: list[TlsObservation] = []
        sf, cf = RecorderFactory(), RecorderFactory()
        server_tls = TLSMemoryBIOFactory(server_creator, False, sf, clock=clock).buildProtocol(None)
        client_tls = TLSMemoryBIOFactory(client_creator, True, cf, clock=clock).buildProtocol(None)
        server_tls.makeConnection(StringTransport())
        client_tls.makeConnection(StringTransport())
        to_client = _pump(server_tls, client_tls, clock)
        if then_close and client_tls.connected:
            client_tls.loseConnection()
            to_client += _pump(server_tls, client_tls, clock)
        server_app, client_app = sf.built[0], cf.built[0]
        observations = [server_app.observation, client_app.observation]
        return MemoryResult(
            observations[0],
            observations[1],
            server_app,
            client_app,
            server_tls,
            client_tls,
            to_client,
        )

    return run


# --------------------------------------------------------------------- loopback


@dataclass
class OpensslRun:
    """What ``openssl s_client`` printed and returned."""

    returncode: int
    output: str

    def pem_blocks(self) -> list[x509.Certificate]:
        """The certificates ``-showcerts`` printed, in wire order."""
        data = self.output.encode()
        return [
            x509.load_pem_x509_certificate(b"-----BEGIN CERTIFICATE-----" + body)
            for body in data.split(b"-----BEGIN CERTIFICATE-----")[1:]
        ]


@dataclass
class Listener:
    """A real Twisted TLS listener on 127.0.0.1 with its recorded connections."""

    port: int
    factory: RecorderFactory
    observations: list[TlsObservation]

    async def settled(self, timeout: float = 5.0) -> Recorder:
        """The first connection's protocol, once its connection has closed."""
        for _ in range(int(timeout / 0.02)):
            if self.factory.built and self.factory.built[0].done.called:
                return self.factory.built[0]
            await task.deferLater(reactor, 0.02, lambda: None)
        raise AssertionError("the server connection did not close in time")


@pytest.fixture
def openssl_bin() -> str:
    """The openssl CLI; missing it is a failure, as in tests/conftest.py's ``require``."""
    found = shutil.which("openssl")
    if found is None:
        pytest.fail("openssl is not installed; scripts/setup.sh --test installs it")
    return found


@pytest_twisted.async_yield_fixture
async def listen():
    """Start real listeners on 127.0.0.1:0 wrapping a creator; stop them afterwards."""
    ports = []

    def start(creator_builder: Callable[[Callable[[TlsObservation], None]], object]) -> Listener:
        observations: list[TlsObservation] = []
        factory = RecorderFactory()
        creator = creator_builder(observations.append)
        port = reactor.listenTCP(
            0, TLSMemoryBIOFactory(creator, False, factory), interface="127.0.0.1"
        )
        ports.append(port)
        return Listener(port.getHost().port, factory, observations)

    yield start
    for port in ports:
        await defer.maybeDeferred(port.stopListening)


@pytest.fixture
def s_client(openssl_bin, tmp_path: Path):
    """Run ``openssl s_client`` against a port in a thread, bounded by a timeout."""

    def write_pem(name: str, certs: Iterable[x509.Certificate]) -> str:
        path = tmp_path / name
        path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
        return str(path)

    def write_key(name: str, key) -> str:
        path = tmp_path / name
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return str(path)

    async def run(port: int, *args: str, timeout: float = 10.0) -> OpensslRun:
        argv = [openssl_bin, "s_client", "-connect", f"127.0.0.1:{port}", *args]
        done = await threads.deferToThread(
            subprocess.run,
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
        return OpensslRun(done.returncode, output)

    run.write_pem = write_pem  # type: ignore[attr-defined]
    run.write_key = write_key  # type: ignore[attr-defined]
    return run
