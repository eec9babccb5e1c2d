"""The 2026 part of the shipped catalogue: every 2026 chain path is served by a scenario,
each path scenario says in its purpose where it anchors and how sure we are, and what it
expects is what an SBC trusting the seven roots does."""

from __future__ import annotations

import re

import pytest

from fakepeer import vocabulary
from fakepeer.pki import mirrors
from fakepeer.pki.model import CertificateId
from fakepeer.realize import anchors_of, expectation_for_setup, revoked_on, routes_of
from fakepeer.rehearse.plan import load_plan, shipped_plans
from fakepeer.scenario.load import load_catalogue, shipped_scenarios_dir

CATALOGUE = load_catalogue([shipped_scenarios_dir()])
PATH_SCENARIOS = sorted(name for name in CATALOGUE if name.startswith("path-2026-"))


def _served_paths() -> set[tuple[str, str]]:
    return {(route.era.id, route.path_name) for scenario in CATALOGUE.values()
            for _, _, route in routes_of(scenario)}


def test_every_2026_path_is_served_by_a_catalogue_scenario():
    """No 2026 path exists only in an error message any more (nor the intermediate
    DigiCert revoked the same day, on its Genesys path)."""
    served = _served_paths()
    missing = [p for p in vocabulary.ERAS["microsoft-2026"].paths
               if ("microsoft-2026", p) not in served]
    assert missing == []
    assert ("genesys", "digicert-global-ca-g2") in served


@pytest.mark.parametrize("name", PATH_SCENARIOS)
def test_a_path_scenario_names_its_anchor_and_its_tag(name):
    """The purpose line names the root the path anchors at and the path's tags."""
    scenario = CATALOGUE[name]
    path = mirrors.ERAS[scenario.era].path(scenario.path)
    anchor = mirrors.CAS[CertificateId.parse(path.anchor).ca].common_name
    assert anchor.replace("Certificate Authority", "CA") in scenario.purpose
    for tag in path.source.split("/"):
        assert tag in scenario.purpose


@pytest.mark.parametrize("name", [*PATH_SCENARIOS, "distrusted-digicert-global-root-ca",
                                  "regional-rollout-2026", "regional-rollout-2026-staged"])
def test_the_stated_expectation_is_that_of_an_sbc_with_the_seven_roots(name):
    """Accept where the anchor is one of the seven, unknown_ca where it is not, on every
    phase and name."""
    scenario = CATALOGUE[name]
    for _, effective in scenario.timeline():
        for served in (effective, *(o.apply(effective) for o in effective.names)):
            route = routes_of(served)[0][2]
            stated = served.expectation
            derived = expectation_for_setup(stated, route.path.anchor, revoked_on(served),
                                            "seven-roots")
            assert derived.code == stated.code, (name, route.path_name)


def test_the_revocation_scenarios_carry_a_revoked_certificate():
    """Each revocation scenario's chain has a certificate revoked on 2026-05-15; the
    scenario without revocation checks on the same path expects acceptance."""
    for name, twin in (("revoked-g5-cross-sign-rsa", "path-2026-rsa-g5"),
                       ("revoked-g5-cross-sign-ecc", "path-2026-ecc-g5"),
                       ("revoked-digicert-global-ca-g2", None)):
        scenario = CATALOGUE[name]
        assert scenario.expect == "reject:certificate_revoked"
        assert revoked_on(scenario) and all(
            mirrors.REVOCATIONS[0].date == fact.date for fact in routes_of(scenario)[0][2]
            .revocations)
        if twin is not None:
            assert CATALOGUE[twin].path == scenario.path and CATALOGUE[twin].expect == "accept"


def test_the_regional_and_revocation_scenarios_are_in_a_shipped_plan():
    """A shipped plan rehearses each of them."""
    planned = {step.scenario for path in shipped_plans().values()
               for step in load_plan(path, CATALOGUE).steps}
    assert {"regional-rollout-2026", "revoked-g5-cross-sign-rsa", "revoked-g5-cross-sign-ecc",
            "distrusted-digicert-global-root-ca", "path-2026-rsa-g5"} <= planned


def _root_short_names() -> dict[str, str]:
    """How plan notes name the seven roots: 'Global Root G2', 'TLS RSA4096 Root G5',
    'RSA Root CA 2017' ... (the CN without the company)."""
    return {mirrors.CAS[root].common_name.replace("Certificate Authority", "CA")
            .removeprefix("DigiCert ").removeprefix("Microsoft "): root
            for root in vocabulary.SEVEN_ROOTS}


@pytest.mark.parametrize("plan", sorted(shipped_plans()))
def test_a_plan_note_says_what_its_step_s_scenario_anchors_at(plan):
    """A step's note names only roots its scenario anchors at, says 'new root' only where
    the anchors change from the step before and 'same anchor' only where they do not
    (migration-2026 used to call the cutover to the same DigiCert Global Root G2 a new
    root)."""
    shorts = _root_short_names()
    previous: set[str] | None = None
    for step in load_plan(shipped_plans()[plan], CATALOGUE).steps:
        anchors = set(anchors_of(CATALOGUE[step.scenario]))
        note = " ".join(step.note.split())
        named = {root for short, root in shorts.items() if short in note}
        assert named <= anchors, (step.scenario, note)
        if "new root" in note.lower():
            assert previous is not None and anchors != previous, (step.scenario, note)
        if re.search(r"\bsame (anchor|DigiCert Global Root|Global Root)", note):
            assert anchors == previous, (step.scenario, note)
        previous = anchors


#: What an SBC trusting only DigiCert Global Root G2 (as most did in 2023) gets from each
#: 2026 scenario, per phase and SNI name (None: the default chain); revocation checking as
#: the scenario states it.
G2_ONLY = {
    "path-2026-ecc-g3": "reject:unknown_ca",
    "path-2026-ecc-g5": "reject:unknown_ca",
    "path-2026-ecc-microsoft-2017": "reject:unknown_ca",
    "path-2026-ecc-self-signed-g2": "reject:unknown_ca",
    "path-2026-rsa-g5": "reject:unknown_ca",
    "path-2026-rsa-microsoft-2017": "reject:unknown_ca",
    "path-2026-rsa-self-signed-g2": "reject:unknown_ca",
    "distrusted-digicert-global-root-ca": "reject:unknown_ca",
    "revoked-g5-cross-sign-rsa": "reject:unknown_ca",
    "revoked-g5-cross-sign-ecc": "reject:unknown_ca",
    "revoked-digicert-global-ca-g2": "reject:certificate_revoked",
}
SIP, SIP2, SIP3, SIP_G1 = (f"{host}.pstnhub.microsoft.com" for host in ("sip", "sip2", "sip3",
                                                                      "sip.g1"))
REFUSED = "reject:unknown_ca"


def _g2_only(name: str) -> dict[tuple[str, str | None], str]:
    scenario = CATALOGUE[name]
    codes = {}
    for phase, effective in scenario.timeline():
        for sni, served in ((None, effective), *((o.name, o.apply(effective))
                                                 for o in effective.names)):
            route = routes_of(served)[0][2]
            codes[phase.name, sni] = expectation_for_setup(
                served.expectation, route.path.anchor, revoked_on(served), "g2-only").code
    return codes


@pytest.mark.parametrize("name", sorted(G2_ONLY))
def test_what_a_g2_only_sbc_gets_from_each_2026_scenario(name):
    """Only the G2 anchor passes a G2-only SBC: every other 2026 path fails it."""
    assert set(_g2_only(name).values()) == {G2_ONLY[name]}


def test_a_g2_only_sbc_fails_on_the_regional_names_anchored_elsewhere():
    """Regional rollout: sip (and an SBC sending no SNI) passes, sip2, sip3 and sip.g1
    fail; staged, each name fails from the phase it moves in."""
    assert _g2_only("regional-rollout-2026") == {
        ("always", None): "accept", ("always", SIP2): REFUSED, ("always", SIP3): REFUSED,
        ("always", SIP_G1): REFUSED}
    staged = _g2_only("regional-rollout-2026-staged")
    assert {key for key, code in staged.items() if code == REFUSED} == {
        ("test-endpoint", SIP_G1), ("sip3", SIP_G1), ("sip3", SIP3), ("sip2", SIP_G1),
        ("sip2", SIP3), ("sip2", SIP2), ("everywhere", SIP_G1), ("everywhere", SIP3),
        ("everywhere", SIP2)}
    assert all(code == "accept" for key, code in staged.items() if key[1] is None)
