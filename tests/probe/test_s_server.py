"""``fakepeer probe`` against ``openssl s_server`` serving SBC certificates with each
SBC-side defect. s_server speaks TLS but not SIP: it prints the OPTIONS it receives and
never answers, so these tests check the certificate findings and the unanswered OPTIONS."""

from __future__ import annotations

import pytest
import pytest_twisted

from fakepeer.cli.status import ExitStatus
from tests.probe.conftest import SBC, s_server

pytestmark = pytest.mark.loopback

#: defect -> (chain attribute, send the intermediate?, extra probe options, finding kinds)
SBC_DEFECTS = {
    "expired": ("expired", True, (), {"expired"}),
    "wrong-name": ("wrong_name", True, (), {"name-mismatch"}),
    "missing-intermediate": ("good", False, (), {"incomplete-chain", "untrusted"}),
    "untrusted-issuer": ("untrusted", True, (), {"untrusted"}),
    "ip-only": ("ip_only", True, ("--profile", "genesys"), {"ip-address-name", "no-host-name"}),
}


def _fqdn(options: tuple[str, ...]) -> tuple[str, ...]:
    """The probe dials 127.0.0.1; the SBC's FQDN comes from --fqdn, except for the IP-only
    case, which dials by IP address as a misconfigured trunk would."""
    return () if "genesys" in options else ("--fqdn", SBC)


@pytest_twisted.ensureDeferred
async def test_a_good_sbc_certificate_is_accepted_and_options_reach_the_sbc(chains, probe,
                                                                          tmp_path):
    """The lab SBC certificate passes every check; OPTIONS arrive but s_server cannot answer."""
    with s_server(tmp_path / "s_server", chains.good) as server:
        run = await probe(server.port, "--fqdn", SBC)
        printed = server.finish()
    assert run.verdict["certificate"] == "Accepted", run.out
    assert run.findings == set()
    assert "OPTIONS sip:sbc.lab.example:" in printed
    assert "FROM: <sip:sip-du-a-us.pstnhub.microsoft.com:5061;transport=tls>" in printed
    assert run.verdict["options"] == "Error"
    assert "no SIP answer" in run.verdict["options_reason"]
    assert run.status == ExitStatus.PEER_FAILED


@pytest.mark.parametrize("defect", list(SBC_DEFECTS))
@pytest_twisted.ensureDeferred
async def test_each_sbc_defect_is_a_finding_and_options_get_no_sip_answer(defect, chains, probe,
                                                                   tmp_path):
    """Each broken SBC certificate is refused with its finding; sent anyway, OPTIONS go
    unanswered."""
    attribute, send_chain, options, expected = SBC_DEFECTS[defect]
    with s_server(tmp_path / "s_server", getattr(chains, attribute),
                  send_chain=send_chain) as server:
        run = await probe(server.port, *options, *_fqdn(options), "--options-anyway")
        printed = server.finish()
    assert run.findings == expected, run.out
    assert run.verdict["certificate"] == "Refused"
    assert run.verdict["tls"] == "Active"
    assert "OPTIONS sip:" in printed
    assert run.verdict["options"] == "Error" and "no SIP answer" in run.verdict["options_reason"]
    assert run.status == ExitStatus.PEER_FAILED


@pytest_twisted.ensureDeferred
async def test_a_refused_sbc_certificate_gets_no_options_by_default(chains, probe, tmp_path):
    """Like the real proxy, fakepeer sends nothing to an SBC whose certificate it refuses."""
    with s_server(tmp_path / "s_server", chains.expired) as server:
        run = await probe(server.port, "--fqdn", SBC)
        printed = server.finish()
    assert "OPTIONS" not in printed
    assert run.verdict["options"] == "None"
    assert "refused the SBC certificate" in run.verdict["options_reason"]
    closed = run.of("closed")[0]
    assert closed["data"]["by"] == "fakepeer"
    assert run.status == ExitStatus.PEER_FAILED
