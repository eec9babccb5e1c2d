"""Per-name (and per-phase) expectations in scenario files: ``[names."..."]`` may carry
its own ``expect``, in the short or the table form, strictly checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakepeer.errors import ScenarioError
from fakepeer.scenario.load import parse_scenario_text
from fakepeer.scenario.model import Expectation, NameOverride, Scenario

SIP2 = "sip2.pstnhub.microsoft.com"


def _load(text: str) -> Scenario:
    return parse_scenario_text(text, Path("names.toml"))


def test_a_name_carries_its_own_expectation_in_either_form():
    """Short form and table form; the table keeps reason and purpose; a name without
    one keeps the scenario's."""
    scenario = _load(f"""
era = "microsoft-2026"
expect = "accept"
[names."{SIP2}"]
defects = ["expired-leaf"]
expect = "reject:certificate_expired"
[names."sip3.pstnhub.microsoft.com".expect]
reaction = "reject"
alert = "unknown_ca"
reason = "anchored at G5"
[names."sip.g1.pstnhub.microsoft.com"]
path = "ecc-g3"
""")
    sip2, sip3, g1 = scenario.names
    assert sip2.expectation == Expectation("reject", alert="certificate_expired")
    assert sip3.expectation is not None and sip3.expectation.reason == "anchored at G5"
    assert g1.expectation is None
    assert sip2.apply(scenario).expectation.code == "reject:certificate_expired"
    assert g1.apply(scenario).expectation.code == "accept"
    assert scenario.for_name(SIP2).expect == "reject:certificate_expired"


def test_a_phase_name_carries_its_own_expectation():
    """A phase's names table takes expect too; the phase's scenario applies it."""
    scenario = _load(f"""
era = "microsoft-2026"
[[phases]]
duration = 60
names = {{ "{SIP2}" = {{ path = "digicert-g5", expect = "reject:unknown_ca" }} }}
[[phases]]
""")
    first = scenario.at_phase(0)
    assert first.for_name(SIP2).expectation.code == "reject:unknown_ca"
    assert scenario.at_phase(1).for_name(SIP2).expectation.code == "accept"


@pytest.mark.parametrize(("body", "message"), [
    ('expect = "refuse"',
     'names."sip2.pstnhub.microsoft.com".expect: \'refuse\' is not one of accept, reject'),
    ('expect = "reject:unknown_alert"',
     'names."sip2.pstnhub.microsoft.com".expect: \'reject:unknown_alert\': unknown alert'),
    ('expect = { reaction = "accept", alert = "unknown_ca" }',
     'names."sip2.pstnhub.microsoft.com".expect.alert: only a \'reject\' expects an alert'),
    ('expect = { why = "x" }',
     'names."sip2.pstnhub.microsoft.com".expect.why: unknown key; allowed keys: reaction'),
    ("expect = 3",
     'names."sip2.pstnhub.microsoft.com".expect: expected a table, got an integer (3)'),
])
def test_a_bad_name_expectation_names_file_and_key(body, message):
    """Errors name the file and the key path under the name, and what is allowed."""
    with pytest.raises(ScenarioError) as caught:
        _load(f'era = "microsoft-2026"\n[names."{SIP2}"]\n{body}\n')
    assert str(caught.value).startswith(f"names.toml: {message}"), str(caught.value)


def test_a_name_override_refuses_a_non_expectation():
    """Built in code, an override's expectation must be an Expectation."""
    with pytest.raises(ScenarioError, match="expect: expected an Expectation"):
        NameOverride(SIP2, expectation="accept")  # type: ignore[arg-type]
