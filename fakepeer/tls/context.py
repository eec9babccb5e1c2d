# -*- test-case-name: tests.tls.test_tls_memory,tests.tls.test_tls_loopback -*-
"""Turn a (policy, chain) pair into a pyOpenSSL ``SSL.Context``.

This is the only module that configures OpenSSL: versions, cipher lists, groups,
certificates, the extra chain, client-certificate verification, the CertificateRequest
CA list and the recording callbacks. Everything an SBC can observe about fakepeer's TLS
is decided here or in :mod:`fakepeer.tls.policy`.

Two rules shape it:

* ``chain.extra`` goes on the wire exactly as given: fakepeer adds it with
  ``add_extra_chain_cert`` in order and switches off OpenSSL's automatic chain building
  (``SSL_MODE_NO_AUTO_CHAIN``), so a reversed, incomplete or root-carrying defect chain
  really reaches the SBC that way.
* Verification records, the policy decides: the verify callback notes every error
  (code, depth, subject) and returns True unless the policy lets OpenSSL refuse.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from OpenSSL import SSL, crypto
from OpenSSL._util import lib as _lib  # only for SSL_CTX_set1_curves_list, see _set_groups

from fakepeer.pki.chain import ServedChain
from fakepeer.tls.decision import intolerable
from fakepeer.tls.keylog import KeyLog
from fakepeer.tls.observation import guarded, observation_of
from fakepeer.tls.policy import CaEntry, TlsPolicy, TlsVersion

_PROTOCOL = {
    TlsVersion.TLS1_0: SSL.TLS1_VERSION,
    TlsVersion.TLS1_1: SSL.TLS1_1_VERSION,
    TlsVersion.TLS1_2: SSL.TLS1_2_VERSION,
    TlsVersion.TLS1_3: SSL.TLS1_3_VERSION,
}

# ssl.h: send exactly the extra chain (or nothing), never a chain OpenSSL builds itself
# from the verify store. pyOpenSSL does not export the constant.
SSL_MODE_NO_AUTO_CHAIN = 0x00000008

#: pyOpenSSL's verify callback signature: (connection, cert, errnum, depth, ok) -> bool.
VerifyCallback = Callable[[SSL.Connection, crypto.X509, int, int, int], bool]
ServernameCallback = Callable[[SSL.Connection], None]


def build_server_context(
    policy: TlsPolicy,
    chain: ServedChain,
    *,
    client_trust: Sequence[x509.Certificate] = (),
    servername_callback: ServernameCallback | None = None,
    keylog: KeyLog | None = None,
) -> SSL.Context:
    """A server context serving ``chain`` under ``policy``.

    ``client_trust`` are the roots client certificates are verified against (and the
    names ``ca_list="trust"`` advertises). ``servername_callback`` is installed as the
    SNI callback; :class:`fakepeer.tls.creator.ServerConnectionCreator` uses it to switch
    contexts. ``keylog`` receives every connection's secrets. Raises ``ValueError``
    naming the policy field OpenSSL rejected.
    """
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    _configure_protocol(ctx, policy)
    _configure_chain(ctx, chain)
    _check_key_usable(policy, chain)
    if policy.server_cipher_preference:
        ctx.set_options(SSL.OP_CIPHER_SERVER_PREFERENCE)
    # Full handshakes only: a resumed session would skip the client-certificate check
    # fakepeer is there to observe (and the refusal fakepeer writes itself).
    ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    ctx.set_options(SSL.OP_NO_TICKET)
    ctx.set_session_id(b"fakepeer")
    _trust(ctx, client_trust)
    if policy.client_certificate != "off":
        mode = SSL.VERIFY_PEER
        if (
            policy.client_certificate == "required"
            and policy.client_certificate_refusal == "openssl"
        ):
            mode |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT
        ctx.set_verify(mode, _server_verify_callback(policy))
        for entry in _ca_entries(policy, client_trust):
            ctx.add_client_ca(_carrier(entry))
    ctx.set_info_callback(_record_info)
    if servername_callback is not None:
        ctx.set_tlsext_servername_callback(servername_callback)
    if keylog is not None:
        keylog.install(ctx)
    return ctx


def build_client_context(
    policy: TlsPolicy,
    chain: ServedChain | None,
    trust: Sequence[x509.Certificate],
    *,
    refuse_invalid_server: bool = False,
    keylog: KeyLog | None = None,
) -> SSL.Context:
    """A client context for dialing an SBC, presenting ``chain`` as client certificate.

    ``trust`` are the roots the SBC's certificate is checked against. Every verify error
    is recorded; with ``refuse_invalid_server`` OpenSSL also aborts on the first one
    (sending the alert an OpenSSL client would), otherwise the handshake continues so
    the SBC's behaviour after TLS can still be observed. ``keylog`` receives every
    connection's secrets.
    """
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    _configure_protocol(ctx, policy)
    if chain is not None:
        _configure_chain(ctx, chain)
    else:
        ctx.set_mode(SSL_MODE_NO_AUTO_CHAIN)
    ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    ctx.set_options(SSL.OP_NO_TICKET)
    _trust(ctx, trust)
    ctx.set_verify(SSL.VERIFY_PEER, _client_verify_callback(refuse_invalid_server))
    ctx.set_info_callback(_record_info)
    if keylog is not None:
        keylog.install(ctx)
    return ctx


def _configure_protocol(ctx: SSL.Context, policy: TlsPolicy) -> None:
    # Idle connections keep no OpenSSL read/write buffers (about 34 KiB each): a lab
    # may hold thousands of idle SBC connections, and OPTIONS are small and rare.
    ctx.set_mode(SSL.MODE_RELEASE_BUFFERS)
    ctx.set_min_proto_version(_PROTOCOL[policy.min_version])
    ctx.set_max_proto_version(_PROTOCOL[policy.max_version])
    cipher_string = ":".join(policy.ciphers)
    if policy.insecure_security_level is not None:
        cipher_string += f":@SECLEVEL={policy.insecure_security_level}"
    try:
        ctx.set_cipher_list(cipher_string.encode())
    except SSL.Error as exc:
        raise ValueError(f"ciphers: OpenSSL accepts none of {cipher_string!r}") from exc
    try:
        ctx.set_tls13_ciphersuites(":".join(policy.tls13_ciphersuites).encode())
    except SSL.Error as exc:
        raise ValueError(
            f"tls13_ciphersuites: OpenSSL accepts none of {policy.tls13_ciphersuites!r}"
        ) from exc
    _check_names(policy, cipher_string)
    if policy.groups is not None:
        _set_groups(ctx, policy.groups)


def _check_names(policy: TlsPolicy, cipher_string: str) -> None:
    """Refuse cipher names OpenSSL silently drops (typos, or weak at this security level)."""
    offered = set(_cipher_names(cipher_string, ":".join(policy.tls13_ciphersuites)))
    for name in policy.ciphers:
        # Plain OpenSSL names contain "-" (ECDHE-RSA-AES256-SHA); keywords and
        # expressions (DEFAULT, HIGH, !aNULL, ECDHE+AESGCM, @STRENGTH) do not.
        if "-" in name and name[0].isalnum() and name not in offered:
            raise ValueError(f"ciphers: OpenSSL offers no cipher named {name!r} here")
    for name in policy.tls13_ciphersuites:
        if name not in offered:
            raise ValueError(f"tls13_ciphersuites: OpenSSL offers no suite named {name!r}")


@functools.lru_cache(maxsize=64)
def _cipher_names(cipher_string: str, tls13: str) -> tuple[str, ...]:
    scratch = SSL.Context(SSL.TLS_METHOD)
    scratch.set_cipher_list(cipher_string.encode())
    scratch.set_tls13_ciphersuites(tls13.encode())
    return tuple(SSL.Connection(scratch).get_cipher_list())


def _set_groups(ctx: SSL.Context, groups: tuple[str, ...]) -> None:
    # pyOpenSSL's only public group setter (set_tmp_ecdh) takes one NIST curve; this is
    # the one place fakepeer calls OpenSSL through pyOpenSSL's private binding, to set a
    # list (X25519 included) the way OpenSSL's own -groups option does.
    if _lib.SSL_CTX_set1_curves_list(ctx._context, ":".join(groups).encode()) != 1:
        raise ValueError(f"groups: OpenSSL rejects {':'.join(groups)!r}")


def _configure_chain(ctx: SSL.Context, chain: ServedChain) -> None:
    ctx.set_mode(SSL_MODE_NO_AUTO_CHAIN)
    try:
        ctx.use_certificate(chain.leaf)
        ctx.use_privatekey(chain.key)
        ctx.check_privatekey()
        for cert in chain.extra:
            ctx.add_extra_chain_cert(cert)
    except SSL.Error as exc:
        reasons = "; ".join(str(item[-1]) for item in exc.args[0]) if exc.args else str(exc)
        raise ValueError(
            f"chain {chain.label or chain.leaf.subject.rfc4514_string()!r}: OpenSSL refuses it "
            f"({reasons}); a weak key or digest needs insecure_security_level"
        ) from exc


def _check_key_usable(policy: TlsPolicy, chain: ServedChain) -> None:
    """Refuse a leaf key no allowed suite can sign with: OpenSSL would start and then
    fail every handshake with "no shared cipher" (an ECDSA leaf under the Microsoft
    policy, whose TLS 1.2 suites are all ECDHE-RSA). TLS 1.3 suites work with any key."""
    if policy.max_version is TlsVersion.TLS1_3:
        return
    ecdsa = isinstance(chain.key, ec.EllipticCurvePrivateKey)
    cipher_string = ":".join(policy.ciphers)
    if policy.insecure_security_level is not None:
        cipher_string += f":@SECLEVEL={policy.insecure_security_level}"
    names = [n for n in _cipher_names(cipher_string, "") if not n.startswith("TLS_")]
    if any(("ECDSA" in name) == ecdsa for name in names):
        return
    key, other = ("an ECDSA", "an RSA") if ecdsa else ("an RSA", "an ECDSA")
    raise ValueError(
        f"chain {chain.label or chain.leaf.subject.rfc4514_string()!r}: {key} leaf key "
        f"cannot sign with any allowed cipher ({', '.join(names[:4])}"
        f"{', ...' if len(names) > 4 else ''}) and TLS 1.3 is off; use {other} key "
        f"(--leaf-key {'rsa2048' if ecdsa else 'ec-p256'}) or allow matching ciphers")


def _trust(ctx: SSL.Context, roots: Sequence[x509.Certificate]) -> None:
    store = ctx.get_cert_store()
    if store is None:  # pragma: no cover - OpenSSL always has one
        return
    for root in roots:
        store.add_cert(crypto.X509.from_cryptography(root))


def _ca_entries(policy: TlsPolicy, trust: Sequence[x509.Certificate]) -> tuple[CaEntry, ...]:
    if policy.ca_list == "empty":
        return ()
    if policy.ca_list == "trust":
        return tuple(trust)
    return policy.ca_list


def _carrier(entry: CaEntry) -> x509.Certificate:
    """A certificate whose subject is ``entry``: pyOpenSSL's ``add_client_ca`` takes
    certificates, and its name-based setter is deprecated."""
    if isinstance(entry, x509.Certificate):
        return entry
    return _name_carrier(entry)


@functools.lru_cache(maxsize=4096)
def _name_carrier(name: x509.Name) -> x509.Certificate:
    key = _carrier_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(_EPOCH)
        .not_valid_after(_EPOCH)
        .sign(key, hashes.SHA256())
    )


@functools.cache
def _carrier_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # carriers are never validated


def _server_verify_callback(policy: TlsPolicy) -> VerifyCallback:
    """Record every error; let OpenSSL refuse only when the policy says it decides."""
    native = (
        policy.client_certificate == "required" and policy.client_certificate_refusal == "openssl"
    )

    @guarded(fallback=False)
    def verify_client(
        conn: SSL.Connection, cert: crypto.X509, errnum: int, depth: int, ok: int
    ) -> bool:
        found = observation_of(conn)
        if found is not None:
            read = found.read_certificate(cert, depth)  # None: cryptography cannot load it
            if errnum:
                found.record_verify_error(errnum, depth, read)
            if depth == 0 and read is not None:
                found.note_presented_leaf(read)
        return not (native and intolerable(policy, (errnum,)))

    return verify_client


def _client_verify_callback(refuse: bool) -> VerifyCallback:
    @guarded(fallback=False)
    def verify_server(
        conn: SSL.Connection, cert: crypto.X509, errnum: int, depth: int, ok: int
    ) -> bool:
        found = observation_of(conn)
        if found is not None and errnum:
            found.record_verify_error(errnum, depth, found.read_certificate(cert, depth))
        return not (refuse and errnum)

    return verify_server


@guarded(fallback=None)
def _record_info(conn: SSL.Connection, where: int, ret: int) -> None:
    """Record alerts with their direction; remember the last handshake state."""
    found = observation_of(conn)
    if found is None:
        return
    if where & SSL.SSL_CB_ALERT:
        direction: Literal["received", "sent"] = (
            "received" if where & SSL.SSL_CB_READ else "sent")
        found.record_alert(direction, ret >> 8, ret & 0xFF)
    elif where & SSL.SSL_CB_LOOP:
        found.last_state = conn.get_state_string().decode("ascii", "replace")
