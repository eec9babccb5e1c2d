"""``fakepeer probe`` against Kamailio from Debian's packages, configured as an SBC's TLS
listener that answers OPTIONS with 200: one-way TLS, and mutual TLS with the trust store
of an SBC that was set up for an earlier era."""

from __future__ import annotations

import pytest
import pytest_twisted

from fakepeer.cli.status import ExitStatus
from fakepeer.pki import export
from fakepeer.pki.keys import private_key_pem
from tests.conftest import require
from tests.peers.kamailio import kamailio
from tests.probe.conftest import SBC

pytestmark = pytest.mark.loopback


def _sbc(chains, tmp_path_factory, name: str, trusted_era: str | None):
    """A Kamailio SBC serving the lab SBC chain; with ``trusted_era`` it requires a client
    certificate and trusts only that era's root."""
    require("kamailio")
    ca = export.pem(chains.anchors[trusted_era]) if trusted_era else None
    return kamailio(tmp_path_factory.mktemp(name), export.pem(chains.good.sent),
                    private_key_pem(chains.good.key), ca_pem=ca,
                    require_certificate=ca is not None)


@pytest.fixture(scope="module")
def one_way(chains, tmp_path_factory):
    """Kamailio that asks for no client certificate."""
    with _sbc(chains, tmp_path_factory, "kamailio-one-way", None) as server:
        yield server


@pytest.fixture(scope="module")
def trusts_2023(chains, tmp_path_factory):
    """Kamailio that requires a client certificate and trusts only the 2023 root
    (DigiCert Global Root G2, mirrored)."""
    with _sbc(chains, tmp_path_factory, "kamailio-2023", "microsoft-2023") as server:
        yield server


@pytest_twisted.ensureDeferred
async def test_microsoft_probe_gets_200_from_kamailio(one_way, probe):
    """Kamailio answers the proxy-style OPTIONS with 200 over TLS: exit 0, PASS both ways."""
    run = await probe(one_way.port, "--fqdn", SBC)
    assert run.status == ExitStatus.SUCCESS, run.out + run.err
    assert run.verdict["ok"] and run.verdict["options_reason"] == "200 OK"
    response = next(e for e in run.of("sip-response") if e["data"].get("final"))
    assert response["data"]["server"].startswith("kamailio")


@pytest_twisted.ensureDeferred
async def test_the_same_kamailio_under_a_name_it_lacks_is_refused_by_us(one_way, probe):
    """Dialled as a name its certificate does not carry, fakepeer refuses the SBC and sends
    no OPTIONS, although Kamailio would have answered."""
    run = await probe(one_way.port, "--fqdn", "other.lab.example")
    assert run.status == ExitStatus.PEER_FAILED
    assert run.findings == {"name-mismatch"}
    assert run.of("sip-request") == []
    assert not run.verdict["we_accepted_sbc"]


@pytest_twisted.ensureDeferred
async def test_genesys_probe_needs_no_client_certificate_for_one_way_tls(one_way, probe):
    """Genesys never presents a client certificate; one-way Kamailio answers 200."""
    run = await probe(one_way.port, "--profile", "genesys", "--fqdn", SBC)
    assert run.status == ExitStatus.SUCCESS, run.out
    assert run.of("probe")[0]["data"]["client_certificate"] == "none"


@pytest_twisted.ensureDeferred
async def test_an_sbc_trusting_the_2023_root_accepts_the_2023_chain(trusts_2023, probe):
    """Mutual TLS: the 2023 chain (serverAuth and clientAuth, DigiCert G2) passes; 200 OK."""
    run = await probe(trusts_2023.port, "--fqdn", SBC, "--era", "microsoft-2023")
    assert run.status == ExitStatus.SUCCESS, run.out


@pytest_twisted.ensureDeferred
async def test_an_sbc_trusting_the_2023_root_rejects_the_2026_chain_for_its_eku(trusts_2023, probe):
    """The 2026 default chain reaches the same DigiCert G2 root, so Kamailio builds the path
    and then refuses the serverAuth-only EKU as a TLS client purpose: unsupported_certificate
    (43), the 2026 story; fakepeer still judged Kamailio's own certificate acceptable."""
    run = await probe(trusts_2023.port, "--fqdn", SBC)
    assert run.status == ExitStatus.PEER_FAILED
    failed = run.of("tls-failed")[0]["data"]
    assert (failed["failed_by"], failed["alert"]) == ("peer", "unsupported_certificate")
    assert "unsupported_certificate" in run.verdict["tls_reason"]
    assert run.verdict["certificate"] == "Accepted"


@pytest_twisted.ensureDeferred
async def test_an_sbc_trusting_only_the_2023_root_rejects_a_2026_chain_to_another_root(trusts_2023,
                                                                                probe):
    """The 2026 chain through DigiCert TLS RSA4096 Root G5 ends at a root the SBC lacks:
    unknown_ca (48), with the reason shown."""
    run = await probe(trusts_2023.port, "--fqdn", SBC, "--path", "digicert-g5")
    assert run.status == ExitStatus.PEER_FAILED
    assert run.of("tls-failed")[0]["data"]["alert"] == "unknown_ca"
    assert "does not trust the root" in run.verdict["tls_reason"]


@pytest_twisted.ensureDeferred
async def test_an_sbc_trusting_only_the_2020_root_rejects_the_2026_chain(chains, probe,
                                                                  tmp_path_factory):
    """An SBC still trusting only Baltimore refuses the 2026 chain with unknown_ca."""
    with _sbc(chains, tmp_path_factory, "kamailio-2020", "microsoft-2020") as server:
        run = await probe(server.port, "--fqdn", SBC)
    assert run.status == ExitStatus.PEER_FAILED
    assert run.of("tls-failed")[0]["data"]["alert"] == "unknown_ca"


@pytest_twisted.ensureDeferred
async def test_genesys_without_client_certificate_fails_at_an_sbc_that_requires_one(trusts_2023,
                                                                             probe):
    """An SBC requiring a client certificate from Genesys fails the handshake
    (handshake_failure), and the report says Genesys never presents one."""
    run = await probe(trusts_2023.port, "--profile", "genesys", "--fqdn", SBC)
    assert run.status == ExitStatus.PEER_FAILED
    failed = run.of("tls-failed")[0]
    assert failed["data"]["alert"] == "handshake_failure"
    assert "never does mutual TLS" in failed["summary"]
