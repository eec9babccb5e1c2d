"""What realize says per SNI name: the chain, the path and anchor it takes, and what a
correct SBC (or one set up another way) does there, so verdicts can judge each name."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakepeer.errors import ScenarioError
from fakepeer.realize import anchors_of, realize, roots_export_command
from fakepeer.scenario.load import parse_scenario_text
from fakepeer.scenario.model import Expectation, NameOverride, Phase, Scenario

SIP, SIP2, SIP3 = (f"{host}.pstnhub.microsoft.com" for host in ("sip", "sip2", "sip3"))

#: The README's custom-scenario example, as a user writes it (no expect for sip2).
README_EXAMPLE = """
description = "The 2026 chain, but sip2 serves an expired leaf."
era = "microsoft-2026"

[names."sip2.pstnhub.microsoft.com"]
defects = ["expired-leaf"]

[expect]
reaction = "accept"
purpose = "sip and sip3 stay Active; sip2 must be refused."
"""

REGIONAL = Scenario("r", names=(NameOverride(SIP2, path="digicert-g5"),
                                NameOverride(SIP3, path="ecc-g3")))


def test_the_readme_example_expects_sip2_refused_and_sip_accepted(pki):
    """A name that adds a defect a correct SBC refuses is expected refused there, even
    without its own expect; the other names keep the scenario's accept."""
    realized = realize(parse_scenario_text(README_EXAMPLE, Path("expired-on-sip2.toml")), pki)
    assert realized.expectation_for(SIP2).code == "reject:certificate_expired"
    assert realized.expectation_for(SIP).code == "accept"
    assert realized.expectation_for(None).code == "accept"
    assert realized.serving_for("SIP2.pstnhub.microsoft.com.").chain is \
        realized.chains_by_name[SIP2]
    scenario = parse_scenario_text(README_EXAMPLE, Path("expired-on-sip2.toml"))
    assert realize(scenario, pki, server_name=SIP2).expected == "reject:certificate_expired"
    assert realize(scenario, pki, server_name=SIP3).expected == "accept"


def test_a_name_s_own_expectation_wins(pki):
    """An explicit per-name expect is what realize gives that name."""
    own = Expectation("reject", alert="unknown_ca", reason="anchored at G5")
    scenario = Scenario("o", names=(NameOverride(SIP2, path="digicert-g5", expectation=own),))
    assert realize(scenario, pki).serving_for(SIP2).expectation is own


def test_each_name_says_its_path_and_anchor(pki):
    """The path and anchor realize reports are those of the chain it serves."""
    realized = realize(REGIONAL, pki)
    wanted = {None: ("digicert-g2", "digicert-global-root-g2"),
              SIP2: ("digicert-g5", "digicert-tls-rsa4096-root-g5"),
              SIP3: ("ecc-g3", "digicert-global-root-g3")}
    for name, (path, anchor) in wanted.items():
        serving = realized.serving_for(name)
        assert (serving.era, serving.path, serving.anchor) == ("microsoft-2026", path, anchor)
        assert serving.chain.trust_anchors == (pki.certificate(anchor).certificate,)
    assert realized.serving_for(SIP2).revoked == (
        "microsoft-tls-rsa-root-g2@digicert-tls-rsa4096-root-g5",)
    assert realized.serving.revoked == ()


@pytest.mark.parametrize(("setup", "codes"), [
    (None, ("accept", "accept", "accept")),
    ("seven-roots", ("accept", "accept", "accept")),
    ("g2-only", ("accept", "reject:unknown_ca", "reject:unknown_ca")),
    ("g2-and-rsa-2017", ("accept", "reject:unknown_ca", "reject:unknown_ca")),
    ("checks-revocation", ("accept", "reject:certificate_revoked", "accept")),
    ("no-revocation-check", ("accept", "accept", "accept")),
])
def test_an_sbc_trusting_two_roots_works_on_one_name_and_fails_on_another(pki, setup, codes):
    """Expectations per SBC set-up follow from each name's anchor and revocations."""
    realized = realize(REGIONAL, pki)
    assert tuple(realized.expectation_for(name, setup).code
                 for name in (SIP, SIP2, SIP3)) == codes


def test_set_ups_against_single_paths(pki):
    """The self-signed G2 anchor is in no set-up; browsers dropped DigiCert Global Root
    CA; a revoked leaf is accepted by an SBC that checks nothing."""
    def code(scenario: Scenario, setup: str) -> str:
        return realize(scenario, pki).expectation_for(None, setup).code

    self_signed = Scenario("s", path="self-signed-g2", expect="reject:unknown_ca")
    assert code(self_signed, "seven-roots") == "reject:unknown_ca"
    global_root = Scenario("g", path="digicert-global-root-ca")
    assert code(global_root, "seven-roots") == "accept"
    assert code(global_root, "browser-policy") == "reject:unknown_ca"
    revoked = Scenario("v", defects=("revoked",), expect="reject:certificate_revoked")
    assert code(revoked, "no-revocation-check") == "accept"
    assert code(revoked, "checks-revocation") == "reject:certificate_revoked"
    with pytest.raises(ScenarioError, match="unknown SBC set-up 'lenient'; known: seven-roots"):
        code(revoked, "lenient")


def test_every_root_of_every_phase_and_name_is_in_one_export_command():
    """One command covers all anchors: era root sets first, then the ids they leave out;
    a rotation exports the era rotated to (serve used to say the era rotated from)."""
    rotated = Scenario("x", era="microsoft-2023", defects=("rotated-root=microsoft-2026",))
    assert roots_export_command(rotated) == \
        "fakepeer certs export --roots microsoft-2026 --out roots/"
    timeline = Scenario("t", era="microsoft-2023", phases=(
        Phase(duration=1, names=(NameOverride(SIP2, era="microsoft-2026",
                                              path="ecc-self-signed-g2"),)),
        Phase(era="microsoft-2020")))
    assert anchors_of(timeline) == ("digicert-global-root-g2",
                                    "microsoft-tls-ecc-root-g2@microsoft-tls-ecc-root-g2",
                                    "baltimore-cybertrust-root")
    assert roots_export_command(timeline) == (
        "fakepeer certs export --roots microsoft-2023 microsoft-2026 microsoft-2020 "
        "microsoft-tls-ecc-root-g2@microsoft-tls-ecc-root-g2 --out roots/")


def test_the_realized_value_carries_the_whole_scenario_s_command(pki):
    """Realised at its first phase, a scenario still names the roots of its later ones."""
    timeline = Scenario("t", era="microsoft-2023", phases=(Phase(duration=1),
                                                            Phase(era="microsoft-2026")))
    assert realize(timeline, pki, phase=0).roots_command == roots_export_command(timeline)
