"""The one realize: what a scenario serves, presents when it dials back, and expects."""

from __future__ import annotations

import pytest

from fakepeer.realize import realize, realize_timeline
from fakepeer.scenario.load import load_catalogue, scenario_dirs
from fakepeer.scenario.model import LeafSpec, NameOverride, Phase, Scenario, TlsSpec
from fakepeer.tls import TlsVersion


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(scenario_dirs())


def test_the_dial_back_presents_the_served_chain_with_its_leaf_changes(pki):
    """Microsoft dials back with the chain it serves, [leaf] changes included."""
    realized = realize(Scenario("x", leaf=LeafSpec(dns_names=("sip.lab.example",))), pki)
    assert realized.chain.names == ("sip.lab.example",)
    assert realized.dialback_chain is realized.chain
    assert realized.dialback_policy.label == "microsoft-client"


def test_genesys_presents_no_client_certificate(pki):
    """A profile that never does mutual TLS has no dial-back chain."""
    realized = realize(Scenario("g", profile="genesys", era="genesys"), pki)
    assert realized.dialback_chain is None
    assert realized.profile.name == "genesys"
    assert realized.policy.client_certificate == "off"


def test_sni_names_get_their_own_chain(pki):
    """chain_for picks a name's override (case and a trailing dot ignored), else the
    default chain, whose own names the creator also recognises."""
    realized = realize(Scenario("r", names=(NameOverride("sip3.pstnhub.microsoft.com",
                                                        era="microsoft-2023"),)), pki)
    other = realized.chain_for("SIP3.pstnhub.microsoft.com.")
    assert other.label == "microsoft-2023/digicert-g2"
    assert realized.chain_for(None) is realized.chain
    assert realized.chain_for("sip.pstnhub.microsoft.com") is realized.chain
    by_sni = realized.chains_by_sni()
    assert by_sni["sip3.pstnhub.microsoft.com"] is other
    assert by_sni["sip.pstnhub.microsoft.com"] is realized.chain


def test_a_phase_and_a_name_can_be_asked_for(pki, catalogue):
    """realize(phase=..., server_name=...) is what that phase serves to that name."""
    rollout = catalogue["staged-rollout"]
    timeline = realize_timeline(rollout, pki)
    assert [phase.name for phase, _ in timeline] == [p.name for p in rollout.phases]
    one = realize(rollout, pki, phase=1, server_name="sip3.pstnhub.microsoft.com")
    assert one.chain.label == timeline[1][1].chain_for("sip3.pstnhub.microsoft.com").label
    assert dict(one.chains_by_name) == {}


def test_command_line_defects_decide_the_expectation(pki):
    """Without a file, a defect a correct SBC refuses becomes the expected alert; a move
    to another era does not."""
    assert realize(Scenario("c", defects=("expired-leaf",)), pki).expected == \
        "reject:certificate_expired"
    assert realize(Scenario("c", defects=("rotated-root=microsoft-2023",)), pki).expected \
        == "accept"


def test_weak_defects_lower_the_security_level_of_both_directions(pki):
    """A SHA-1 leaf is served and presented at OpenSSL security level 0."""
    realized = realize(Scenario("s", defects=("sha1-signature",)), pki)
    assert realized.policy.insecure_security_level == 0
    assert realized.dialback_policy.insecure_security_level == 0
    assert realize(Scenario("s"), pki).dialback_policy.insecure_security_level is None


def test_a_scenario_min_version_alone_keeps_the_profile_maximum(pki):
    """tls.min_version alone in a scenario lowers the minimum of what is served only."""
    realized = realize(Scenario("v", tls=TlsSpec(min_version="TLSv1")), pki)
    assert (realized.policy.min_version, realized.policy.max_version) == (
        TlsVersion.TLS1_0, TlsVersion.TLS1_2)


def test_an_open_ended_timeline_is_one_phase(pki):
    """A scenario without phases realises as one phase serving itself."""
    ((phase, realized),) = realize_timeline(Scenario("o"), pki)
    assert phase.name == "always" and realized.scenario.phases == ()
    two = Scenario("t", phases=(Phase(duration=1), Phase(era="microsoft-2023")))
    assert [r.chain.label for _, r in realize_timeline(two, pki)] == [
        "microsoft-2026/digicert-g2", "microsoft-2023/digicert-g2"]
