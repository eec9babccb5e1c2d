"""build_server_context / build_client_context: what OpenSSL accepts, and errors naming fields."""

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from OpenSSL import SSL

from fakepeer.tls import GENESYS, MICROSOFT, TlsPolicy
from fakepeer.tls.context import build_client_context, build_server_context
from fakepeer.tls.policy import oversize_ca_list


def test_microsoft_context_offers_exactly_its_suites(tls_pki):
    """A Microsoft server context offers the four suites in order and nothing else for TLS 1.2."""
    ctx = build_server_context(MICROSOFT, tls_pki.proxy, client_trust=[tls_pki.sbc_root])
    offered = SSL.Connection(ctx).get_cipher_list()
    assert [c for c in offered if not c.startswith("TLS_")] == list(MICROSOFT.ciphers)
    assert ctx.get_verify_mode() == SSL.VERIFY_PEER


def test_openssl_style_sets_fail_if_no_peer_cert(tls_pki):
    """The OpenSSL refusal style asks OpenSSL itself to fail without a client certificate."""
    policy = MICROSOFT.with_client_certificate("required", refusal="openssl")
    ctx = build_server_context(policy, tls_pki.proxy)
    assert ctx.get_verify_mode() == SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT


def test_off_requests_no_certificate(tls_pki):
    """With client certificates off the context does not verify peers."""
    assert build_server_context(GENESYS, tls_pki.proxy).get_verify_mode() == SSL.VERIFY_NONE


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (TlsPolicy(ciphers=("NOT-A-CIPHER",)), "ciphers: OpenSSL accepts none of"),
        (
            TlsPolicy(ciphers=("DEFAULT", "ECDHE-RSA-AES257-GCM")),
            "ciphers: OpenSSL offers no cipher named 'ECDHE-RSA-AES257-GCM'",
        ),
        (
            TlsPolicy(tls13_ciphersuites=("TLS_AES_256_GCM_SHA384", "TLS_NOPE")),
            "tls13_ciphersuites: OpenSSL offers no suite named 'TLS_NOPE'",
        ),
        (TlsPolicy(groups=("secp999r1",)), "groups: OpenSSL rejects 'secp999r1'"),
    ],
)
def test_unknown_names_raise_naming_the_field(tls_pki, policy, message):
    """Names OpenSSL does not know raise ValueError naming the policy field."""
    with pytest.raises(ValueError, match=message):
        build_server_context(policy, tls_pki.proxy)


def test_rsa_1024_leaf_needs_the_insecure_security_level(tls_pki):
    """An RSA-1024 leaf is refused at OpenSSL's default level and served at level 0."""
    key = rsa.generate_private_key(65537, 1024)
    weak = dataclasses.replace(
        tls_pki.proxy,
        leaf=tls_pki.authority(tls_pki.proxy_inter, tls_pki.keys[1]).leaf(["weak.test"], key),
        key=key,
        label="weak",
    )
    with pytest.raises(ValueError, match=r"chain 'weak': OpenSSL refuses it .*key too small"):
        build_server_context(MICROSOFT, weak)
    build_server_context(MICROSOFT.with_insecure_security_level(0), weak)


def test_mismatched_key_is_refused(tls_pki):
    """A chain whose key does not match its leaf fails when the context is built."""
    broken = dataclasses.replace(tls_pki.proxy, key=tls_pki.keys[0])
    with pytest.raises(ValueError, match="chain 'proxy'"):
        build_server_context(MICROSOFT, broken)


def test_oversize_ca_list_is_loaded(tls_pki):
    """A CA list past 16 KB loads into the context in full."""
    names = oversize_ca_list()
    ctx = build_server_context(MICROSOFT.with_ca_list(names), tls_pki.proxy)
    conn = SSL.Connection(ctx)
    assert conn.get_client_ca_list(as_cryptography=True) == list(names)


def test_client_context_without_certificate(tls_pki):
    """A probe client context can be built without a client certificate."""
    ctx = build_client_context(MICROSOFT, None, [tls_pki.sbc_root])
    assert ctx.get_verify_mode() == SSL.VERIFY_PEER
