# -*- test-case-name: tests.tls.test_tls_memory,tests.tls.test_tls_loopback -*-
"""Twisted connection creators that pick a chain by SNI and observe every connection.

``TLSMemoryBIOFactory(ServerConnectionCreator(...), False, sip_factory)`` is how a
listener gets fakepeer's TLS: for each TCP connection Twisted calls
:meth:`ServerConnectionCreator.serverConnectionForTLS`, which returns an
:class:`ObservedConnection` carrying a fresh :class:`~fakepeer.tls.observation.TlsObservation`.
The SNI callback switches to the context of the chain named by the client (or records
that the default was served); the callbacks installed by :mod:`fakepeer.tls.context`
fill in alerts and verify errors; :class:`ObservedConnection` adds the negotiated
parameters, the peer's chain, OpenSSL's error strings and, for SslStream-style
policies, writes fakepeer's own refusal alert.

The wrapped protocol finds the observation with
``fakepeer.tls.observation_for(self.transport)``, from ``connectionMade`` on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import cast

from cryptography import x509
from OpenSSL import SSL, crypto
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IOpenSSLServerConnectionCreator,
)
from zope.interface import implementer

from fakepeer.addresses import is_ip_address
from fakepeer.pki.chain import ServedChain
from fakepeer.tls.context import build_client_context, build_server_context
from fakepeer.tls.decision import decide_client_certificate
from fakepeer.tls.keylog import KeyLog
from fakepeer.tls.observation import (
    FIRST_BYTES_KEPT,
    Refusal,
    Role,
    TlsObservation,
    guarded,
    observation_of,
)
from fakepeer.tls.policy import TlsPolicy

ObservationSink = Callable[[TlsObservation], None]
"""Called with each new observation as its connection starts (tests pass ``list.append``)."""

Judge = Callable[[TlsObservation], Refusal | None]


class PolicyRefusal(SSL.Error):
    """fakepeer failed the handshake by policy (not OpenSSL); carries the refusal.

    Twisted passes it to the wrapped protocol's ``connectionLost`` as the reason.
    """

    def __init__(self, refusal: Refusal) -> None:
        super().__init__([("fakepeer", "", refusal.detail)])
        self.refusal = refusal


class ObservedConnection(SSL.Connection):
    """An ``SSL.Connection`` (memory BIO) that fills its :class:`TlsObservation`.

    When OpenSSL completes a handshake it records version, cipher, group and the peer's
    chain, then asks ``judge`` whether policy refuses. A refusal (TLS 1.2 and older
    only: the policy constructor enforces that) throws away the ChangeCipherSpec and
    Finished OpenSSL just queued and puts one clear-text fatal alert record in their
    place, so the peer sees exactly what a refusing server sends; the handshake then
    fails through Twisted's ordinary error path with :class:`PolicyRefusal`.
    """

    def __init__(
        self, context: SSL.Context, observation: TlsObservation, judge: Judge | None = None
    ) -> None:
        super().__init__(context, None)
        self.observation = observation
        self._judge = judge
        self._refused: PolicyRefusal | None = None
        self._alert_out = b""

    def do_handshake(self) -> None:
        """Run OpenSSL's handshake, then record it and apply the policy's judgement."""
        if self._refused is not None:
            raise self._refused
        try:
            super().do_handshake()
        except SSL.WantReadError:
            raise
        except SSL.Error as exc:
            self.observation.record_openssl_error(exc)
            self._capture_requested_cas()
            raise
        self._capture()
        refusal = self._judge(self.observation) if self._judge is not None else None
        if refusal is not None:
            self._refuse(refusal)
            raise self._refused  # type: ignore[misc]
        self.observation.handshake_done = True

    def bio_write(self, buf: bytes | bytearray | memoryview) -> int:
        """Incoming TLS bytes; the first few are kept until the handshake is done, to
        name what a peer that does not speak TLS sent instead."""
        observation = self.observation
        if not observation.handshake_done and len(observation.first_bytes) < FIRST_BYTES_KEPT:
            observation.first_bytes += bytes(buf[:FIRST_BYTES_KEPT - len(observation.first_bytes)])
        return super().bio_write(buf)

    def bio_read(self, bufsiz: int) -> bytes:
        """Outgoing TLS bytes; after a refusal only fakepeer's alert record."""
        if self._refused is None:
            return super().bio_read(bufsiz)
        self._discard_queued()
        if not self._alert_out:
            raise SSL.WantReadError()
        out, self._alert_out = self._alert_out[:bufsiz], self._alert_out[bufsiz:]
        return out

    def recv(self, bufsiz: int, flags: int | None = None) -> bytes:
        """Application bytes; errors that end the connection are recorded first."""
        if self._refused is not None:
            raise self._refused
        try:
            return super().recv(bufsiz, flags)
        except (SSL.WantReadError, SSL.ZeroReturnError):
            raise
        except SSL.Error as exc:
            self.observation.record_openssl_error(exc)
            raise

    def send(self, buf: bytes, flags: int = 0) -> int:  # type: ignore[override]
        """Refuse application data on a refused connection."""
        if self._refused is not None:
            raise self._refused
        return super().send(buf, flags)

    def shutdown(self) -> bool:
        """No close_notify after a refusal: the alert was the last word."""
        if self._refused is not None:
            raise self._refused
        return super().shutdown()

    def bio_shutdown(self) -> None:
        """The transport closed under us: note it for :meth:`TlsObservation.failure`."""
        self.observation.transport_closed = True
        super().bio_shutdown()

    def _capture(self) -> None:
        obs = self.observation
        obs.version = self.get_protocol_version_name()
        obs.cipher = self.get_cipher_name()
        group = self.get_group_name()
        obs.group = group.decode() if isinstance(group, bytes) else group
        # OpenSSL's copies, converted one by one: cryptography may refuse some of them.
        chain = cast("list[crypto.X509]", self.get_peer_cert_chain() or [])
        if obs.role == "server":
            leaf = self.get_peer_certificate()
            # Server side, OpenSSL's peer chain excludes the client's leaf.
            obs.record_peer_chain([leaf, *chain] if leaf is not None else [])
        else:
            obs.record_peer_chain(chain)
            self._capture_requested_cas()

    def _capture_requested_cas(self) -> None:
        """Client side: the CA names the server put in its CertificateRequest."""
        if self.observation.role == "client":
            names = self.get_client_ca_list(as_cryptography=True)
            self.observation.requested_ca_names = tuple(names)

    def _refuse(self, refusal: Refusal) -> None:
        version = self.get_protocol_version()
        # TLSPlaintext: type alert(21), record version, length 2, level fatal(2), code.
        self._alert_out = bytes([21]) + version.to_bytes(2, "big") + bytes([0, 2, 2, refusal.alert])
        self._discard_queued()
        self._refused = PolicyRefusal(refusal)
        self.observation.refusal = refusal
        self.observation.record_alert("sent", 2, refusal.alert, by_fakepeer=True)

    def _discard_queued(self) -> None:
        while True:
            try:
                super().bio_read(1 << 16)
            except SSL.WantReadError:
                return


def _normalize(name: str) -> str:
    return name.strip().rstrip(".").lower()


@implementer(IOpenSSLServerConnectionCreator)
class ServerConnectionCreator:
    """Serve one policy with a chain per SNI name, observing every connection.

    ``by_name`` maps host names (exact, or ``*.`` one-label wildcards) to chains; an
    absent or unknown SNI gets ``default`` and is recorded as such. All chains share
    ``policy``: OpenSSL fixes versions and ciphers before SNI is read, so SNI can only
    pick the certificate.
    """

    #: Seam for tests that need to see or alter contexts as they are built.
    _build_context = staticmethod(build_server_context)

    def __init__(
        self,
        policy: TlsPolicy,
        default: ServedChain,
        by_name: Mapping[str, ServedChain] | None = None,
        *,
        client_trust: Sequence[x509.Certificate] = (),
        on_observation: ObservationSink | None = None,
        keylog: KeyLog | None = None,
    ) -> None:
        self.policy = policy
        self.default = default
        self._by_name = {_normalize(k): v for k, v in (by_name or {}).items()}
        self._on_observation = on_observation
        self._judge = functools.partial(decide_client_certificate, policy)
        contexts: dict[int, SSL.Context] = {}
        for chain in (default, *self._by_name.values()):
            if id(chain) not in contexts:
                contexts[id(chain)] = self._build_context(
                    policy,
                    chain,
                    client_trust=client_trust,
                    servername_callback=self._on_servername,
                    keylog=keylog,
                )
        self._contexts = contexts

    @classmethod
    def from_chains(
        cls,
        policy: TlsPolicy,
        chains: Iterable[ServedChain],
        *,
        default: ServedChain | None = None,
        client_trust: Sequence[x509.Certificate] = (),
        on_observation: ObservationSink | None = None,
        keylog: KeyLog | None = None,
    ) -> ServerConnectionCreator:
        """Serve each chain for the names in its ``names``; default to the first chain."""
        listed = list(chains)
        if not listed and default is None:
            raise ValueError("chains: at least one chain is needed")
        by_name = {name: chain for chain in listed for name in chain.names}
        return cls(
            policy,
            default or listed[0],
            by_name,
            client_trust=client_trust,
            on_observation=on_observation,
            keylog=keylog,
        )

    def chain_for(self, server_name: str | None) -> tuple[ServedChain, bool]:
        """The chain served for an SNI name, and whether the name was known."""
        if server_name is None:
            return self.default, False
        name = _normalize(server_name)
        found = self._by_name.get(name)
        if found is None and "." in name:
            found = self._by_name.get("*." + name.split(".", 1)[1])
        return (found, True) if found is not None else (self.default, False)

    def serverConnectionForTLS(self, tls_protocol: object) -> ObservedConnection:
        """A fresh observed server connection using the default chain until SNI arrives."""
        observation = TlsObservation(role="server", served=self.default.label, sni_outcome="absent")
        conn = ObservedConnection(self._contexts[id(self.default)], observation, self._judge)
        conn.set_accept_state()
        if self._on_observation is not None:
            self._on_observation(observation)
        return conn

    @guarded(fallback=None)
    def _on_servername(self, conn: SSL.Connection) -> None:
        observation = observation_of(conn)
        raw = conn.get_servername()
        name = raw.decode("ascii", "replace") if raw is not None else None
        chain, known = self.chain_for(name)
        if observation is not None:
            observation.sni = name
            observation.sni_outcome = (
                "absent" if name is None else ("matched" if known else "unknown")
            )
            observation.served = chain.label
        context = self._contexts[id(chain)]
        if conn.get_context() is not context:
            conn.set_context(context)


@implementer(IOpenSSLClientConnectionCreator)
class ClientConnectionCreator:
    """Dial an SBC as the real proxy does: present ``chain`` as client certificate.

    For the ``probe`` command and for tests. ``server_name`` is sent as SNI (never for
    an IP literal, which TLS forbids); ``trust`` checks the SBC's certificate, and
    errors are recorded without aborting unless ``refuse_invalid_server``.
    """

    def __init__(
        self,
        policy: TlsPolicy,
        chain: ServedChain | None,
        trust: Sequence[x509.Certificate],
        *,
        server_name: str | None = None,
        refuse_invalid_server: bool = False,
        on_observation: ObservationSink | None = None,
        keylog: KeyLog | None = None,
    ) -> None:
        self.policy = policy
        self.server_name = server_name
        self._on_observation = on_observation
        self._context = build_client_context(
            policy, chain, trust, refuse_invalid_server=refuse_invalid_server, keylog=keylog
        )
        self._label = chain.label if chain is not None else ""

    def clientConnectionForTLS(self, tls_protocol: object) -> ObservedConnection:
        """A fresh observed client connection, SNI set, ready to send its ClientHello."""
        role: Role = "client"
        observation = TlsObservation(role=role, served=self._label, sni=self.server_name)
        conn = ObservedConnection(self._context, observation)
        if self.server_name and not is_ip_address(self.server_name):
            conn.set_tlsext_host_name(self.server_name.encode("idna"))
        conn.set_connect_state()
        if self._on_observation is not None:
            self._on_observation(observation)
        return conn
