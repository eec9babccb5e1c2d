"""The 2026 part of the shipped catalogue: every 2026 chain path is served by a scenario,
each path scenario says in its purpose where it anchors and how sure we are, and what it
expects is what an SBC trusting the seven roots does."""

from __future__ import annotations

import pytest

from fakepeer import vocabulary
from fakepeer.pki import mirrors
from fakepeer.pki.model import CertificateId
from fakepeer.realize import expectation_for_setup, revoked_on, routes_of
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
