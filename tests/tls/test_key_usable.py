"""A leaf key no allowed suite can sign with is refused when the context is built, not
at every handshake ("no shared cipher")."""

import dataclasses

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fakepeer.pki.chain import ServedChain
from fakepeer.tls import MICROSOFT, ServerConnectionCreator, TlsPolicy
from fakepeer.tls.policy import TlsVersion


def _ecdsa_chain() -> ServedChain:
    ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
    leaf = ca.issue_cert("sip.pstnhub.microsoft.com", key_type=trustme.KeyType.ECDSA)
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    [certificate] = (x509.load_pem_x509_certificate(b.bytes()) for b in leaf.cert_chain_pems)
    return ServedChain(certificate, key, (), (x509.load_pem_x509_certificate(
        ca.cert_pem.bytes()),), (), "ecdsa-lab")


def test_an_ecdsa_leaf_under_the_microsoft_suites_is_refused_at_start():
    """Before: serve --leaf-key ec-p256 started silently, then failed every handshake."""
    with pytest.raises(ValueError) as caught:
        ServerConnectionCreator(MICROSOFT, _ecdsa_chain())
    assert str(caught.value) == (
        "chain 'ecdsa-lab': an ECDSA leaf key cannot sign with any allowed cipher "
        "(ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES256-SHA384, "
        "ECDHE-RSA-AES128-SHA256) and TLS 1.3 is off; use an RSA key (--leaf-key rsa2048) "
        "or allow matching ciphers")


def test_an_ecdsa_leaf_is_fine_where_a_suite_or_tls13_can_use_it():
    ServerConnectionCreator(TlsPolicy(), _ecdsa_chain())  # TLS 1.3 allowed
    ecdsa_suites = dataclasses.replace(MICROSOFT, ciphers=("ECDHE-ECDSA-AES256-GCM-SHA384",))
    ServerConnectionCreator(ecdsa_suites, _ecdsa_chain())


def test_an_rsa_leaf_with_only_ecdsa_suites_is_refused(tls_pki):
    only_ecdsa = dataclasses.replace(MICROSOFT, ciphers=("ECDHE-ECDSA-AES256-GCM-SHA384",),
                                     max_version=TlsVersion.TLS1_2)
    with pytest.raises(ValueError, match="an RSA leaf key cannot sign .* use an ECDSA key "
                                         r"\(--leaf-key ec-p256\)"):
        ServerConnectionCreator(only_ecdsa, tls_pki.proxy)
