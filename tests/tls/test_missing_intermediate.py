"""An SBC that sends its certificate without the intermediate CA that issued it is told
so ("the SBC sent no intermediate"), not "use a certificate from a public CA"."""

import dataclasses

import pytest

from fakepeer.report import hints
from fakepeer.tls import MICROSOFT, ClientConnectionCreator, FailureReason, ServerConnectionCreator
from fakepeer.tls.policy import TlsPolicy

STYLES = {"sslstream": MICROSOFT,
          "openssl": MICROSOFT.with_client_certificate("required", refusal="openssl")}


def _handshake(tls_pki, handshake_in_memory, policy, chain):
    server = ServerConnectionCreator.from_chains(policy, [tls_pki.proxy],
                                                 client_trust=[tls_pki.sbc_root])
    client = ClientConnectionCreator(TlsPolicy(max_version=MICROSOFT.max_version), chain,
                                     [tls_pki.proxy_root],
                                     server_name="sip.pstnhub.microsoft.com")
    return handshake_in_memory(server, client).server.failure()


@pytest.mark.parametrize("style", STYLES)
def test_a_leaf_sent_alone_is_named_a_missing_intermediate(tls_pki, handshake_in_memory, style):
    """Before: client-certificate-untrusted, hint "use a certificate from a public CA"."""
    alone = dataclasses.replace(tls_pki.sbc, extra=())
    failure = _handshake(tls_pki, handshake_in_memory, STYLES[style], alone)
    assert failure is not None and failure.failed_by == "us"
    assert failure.reason is FailureReason.CLIENT_CERTIFICATE_WITHOUT_INTERMEDIATE
    assert failure.detail.startswith(
        "the SBC sent no intermediate: its certificate came without the CA that issued it "
        f"({tls_pki.sbc.leaf.issuer.rfc4514_string()}); ")
    assert failure.alert_name == "unknown_ca"
    assert hints.REFUSAL_HINTS[failure.reason].startswith("make the SBC send its full chain")


@pytest.mark.parametrize("style", STYLES)
def test_a_chain_from_an_untrusted_ca_is_still_untrusted(tls_pki, handshake_in_memory, style):
    """Negative twin: a whole chain under a root nobody trusts keeps its own reason."""
    failure = _handshake(tls_pki, handshake_in_memory, STYLES[style], tls_pki.sbc_foreign)
    assert failure is not None
    assert failure.reason is FailureReason.CLIENT_CERTIFICATE_UNTRUSTED


def test_the_full_chain_is_accepted(tls_pki, handshake_in_memory):
    assert _handshake(tls_pki, handshake_in_memory, MICROSOFT, tls_pki.sbc) is None
