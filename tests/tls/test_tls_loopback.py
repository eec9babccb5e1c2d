"""A real Twisted listener on 127.0.0.1 against ``openssl s_client`` subprocesses."""

import dataclasses

import pytest
import pytest_twisted

from fakepeer.tls import MICROSOFT, FailureReason, ServerConnectionCreator

pytestmark = pytest.mark.loopback

NAME = "sip.pstnhub.microsoft.com"


def _microsoft(tls_pki, chain=None, policy=MICROSOFT):
    def build(sink):
        return ServerConnectionCreator.from_chains(
            policy, [chain or tls_pki.proxy], client_trust=[tls_pki.sbc_root], on_observation=sink
        )

    return build


def _client_cert_args(s_client, tls_pki, chain):
    return [
        "-cert",
        s_client.write_pem("sbc.pem", [chain.leaf]),
        "-cert_chain",
        s_client.write_pem("sbc-chain.pem", chain.extra),
        "-key",
        s_client.write_key("sbc.key", chain.key),
    ]


@pytest_twisted.ensureDeferred
async def test_microsoft_accepts_its_first_suite_with_client_certificate(tls_pki, listen, s_client):
    """s_client with a client certificate and ECDHE-RSA-AES256-GCM-SHA384 gets in over TLS 1.2."""
    server = listen(_microsoft(tls_pki))
    run = await s_client(
        server.port,
        "-servername",
        NAME,
        "-tls1_2",
        "-cipher",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "-CAfile",
        s_client.write_pem("root.pem", [tls_pki.proxy_root]),
        "-verify_return_error",
        *_client_cert_args(s_client, tls_pki, tls_pki.sbc),
    )
    await server.settled()
    assert run.returncode == 0, run.output
    assert "Cipher is ECDHE-RSA-AES256-GCM-SHA384" in run.output
    assert "Verify return code: 0 (ok)" in run.output
    [obs] = server.observations
    assert obs.handshake_done and obs.failure() is None
    assert obs.peer_certificates == tls_pki.sbc.sent
    assert obs.sni_outcome == "matched"


REFUSALS = [
    # (client options, what s_client prints, our reason, alert)
    (("-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"), "alert protocol version",
     FailureReason.PROTOCOL_VERSION, 70),
    (("-tls1_2", "-cipher", "AES128-SHA"), "alert handshake failure",
     FailureReason.NO_SHARED_CIPHER, 40),
]


@pytest.mark.parametrize(("options", "printed", "reason", "alert"), REFUSALS,
                         ids=["tls-1.0", "non-microsoft-cipher"])
@pytest_twisted.ensureDeferred
async def test_microsoft_refuses_old_protocol_and_foreign_cipher(
        tls_pki, listen, s_client, options, printed, reason, alert):
    """Negative twins: a TLS 1.0 ClientHello gets protocol_version(70); offering only
    AES128-SHA gets handshake_failure(40), no shared cipher."""
    server = listen(_microsoft(tls_pki))
    run = await s_client(server.port, "-servername", NAME, *options,
                         *_client_cert_args(s_client, tls_pki, tls_pki.sbc))
    await server.settled()
    assert run.returncode != 0
    assert printed in run.output
    failure = server.observations[0].failure()
    assert (failure.failed_by, failure.reason, failure.alert) == ("us", reason, alert)


@pytest_twisted.ensureDeferred
async def test_missing_client_certificate_gets_certificate_unknown(tls_pki, listen, s_client):
    """s_client without a certificate is told certificate_unknown (46), as the real proxy does."""
    server = listen(_microsoft(tls_pki))
    run = await s_client(
        server.port,
        "-servername",
        NAME,
        "-tls1_2",
        "-CAfile",
        s_client.write_pem("root.pem", [tls_pki.proxy_root]),
    )
    await server.settled()
    assert run.returncode != 0
    assert "alert certificate unknown" in run.output
    assert "alert number 46" in run.output
    obs = server.observations[0]
    failure = obs.failure()
    assert (failure.failed_by, failure.reason, failure.alert) == (
        "us",
        FailureReason.CLIENT_CERTIFICATE_MISSING,
        46,
    )
    assert obs.alerts[0].written_by_fakepeer


@pytest_twisted.ensureDeferred
async def test_wrong_root_at_client_sends_unknown_ca_to_us(tls_pki, listen, s_client):
    """An s_client trusting the wrong root reports error 20 and we record unknown_ca from it."""
    server = listen(_microsoft(tls_pki))
    run = await s_client(
        server.port,
        "-servername",
        NAME,
        "-tls1_2",
        "-CAfile",
        s_client.write_pem("wrong.pem", [tls_pki.wrong_root]),
        "-verify_return_error",
        *_client_cert_args(s_client, tls_pki, tls_pki.sbc),
    )
    await server.settled()
    assert run.returncode != 0
    assert "verify error:num=20" in run.output
    obs = server.observations[0]
    [alert] = obs.alerts_from("received")
    assert (alert.description, alert.name, alert.level, alert.during_handshake) == (
        48,
        "unknown_ca",
        2,
        True,
    )
    assert obs.failure().failed_by == "peer"


@pytest_twisted.ensureDeferred
async def test_missing_intermediate_gives_error_20_at_client(tls_pki, listen, s_client):
    """A chain served without its intermediate fails at s_client with verify error 20."""
    chain = dataclasses.replace(tls_pki.proxy, extra=())
    server = listen(_microsoft(tls_pki, chain))
    run = await s_client(
        server.port,
        "-servername",
        NAME,
        "-tls1_2",
        "-CAfile",
        s_client.write_pem("root.pem", [tls_pki.proxy_root]),
        "-verify_return_error",
        *_client_cert_args(s_client, tls_pki, tls_pki.sbc),
    )
    await server.settled()
    assert "verify error:num=20" in run.output
    assert server.observations[0].alerts_from("received")[0].name == "unknown_ca"


@pytest.mark.parametrize("order", ["given", "reversed", "with_root"])
@pytest_twisted.ensureDeferred
async def test_chain_order_goes_on_the_wire_as_given(tls_pki, listen, s_client, order):
    """``-showcerts`` prints exactly leaf + ``extra`` in the given order (defects included)."""
    extra = {
        "given": (tls_pki.proxy_inter,),
        "reversed": (tls_pki.proxy_root, tls_pki.proxy_inter),
        "with_root": (tls_pki.proxy_inter, tls_pki.proxy_root),
    }[order]
    chain = dataclasses.replace(tls_pki.proxy, extra=extra)
    server = listen(_microsoft(tls_pki, chain))
    run = await s_client(
        server.port,
        "-servername",
        NAME,
        "-tls1_2",
        "-showcerts",
        *_client_cert_args(s_client, tls_pki, tls_pki.sbc),
    )
    await server.settled()
    assert run.pem_blocks() == [chain.leaf, *extra]
    assert (run.pem_blocks() == list(tls_pki.proxy.sent)) == (order == "given")
