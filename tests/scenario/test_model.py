"""Scenario values: constructors that name the key, the names kept in step with the PKI,
and how phases and per-name overrides resolve."""

import dataclasses
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakepeer import vocabulary
from fakepeer.errors import ScenarioError
from fakepeer.pki import defects, mirrors
from fakepeer.scenario.model import (
    Expectation,
    NameOverride,
    Phase,
    Scenario,
    ScenarioValueError,
    SipSpec,
    TlsSpec,
)


class TestNamesMatchThePki:
    def test_shape_defects_are_those_that_choose_what_is_sent(self):
        """The vocabulary's chain-shape defects are exactly those that change a plan's
        chain shape."""
        era = mirrors.ERAS["microsoft-2026"]
        changed = set()
        for name, apply in defects.APPLY.items():
            plan = defects.LeafPlan(era=era, path_name=era.default_path, path=era.path(),
                                    profile=era.leaf, now=datetime.now(UTC))
            apply(plan, None)
            if plan.shape != "full":
                changed.add(name)
        assert changed == {d.name for d in vocabulary.DEFECTS.values() if d.chooses_shape}

    def test_scenario_package_imports_nothing_else_from_fakepeer(self):
        """fakepeer.scenario imports only fakepeer.errors, the vocabulary and the address
        checks, so files validate without the PKI."""
        import subprocess
        import sys

        code = ("import json, sys, fakepeer.scenario.load, fakepeer.scenario.model; "
                "print(json.dumps(sorted(m for m in sys.modules if m.startswith('fakepeer'))))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)
        loaded = set(json.loads(done.stdout))
        assert loaded == {"fakepeer", "fakepeer.addresses", "fakepeer.errors", "fakepeer.scenario",
                          "fakepeer.scenario.load", "fakepeer.scenario.model",
                          "fakepeer.scenario.toml_file", "fakepeer.scenario.validate",
                          "fakepeer.vocabulary"}


def _error(build) -> ScenarioValueError:
    with pytest.raises(ScenarioValueError) as caught:
        build()
    return caught.value


INVALID = [
    (lambda: TlsSpec(min_version="TLSv1.4"), "tls.min_version", "TLSv1, TLSv1.1"),
    (lambda: TlsSpec(min_version="TLSv1.2", max_version="TLSv1"), "tls.min_version",
     "above max_version"),
    (lambda: TlsSpec(ciphers=("A:B",)), "tls.ciphers[0]", "one name per array item"),
    (lambda: TlsSpec(ciphers=()), "tls.ciphers", "must not be empty"),
    (lambda: TlsSpec(ciphers="AES128-SHA"), "tls.ciphers", "array of strings"),
    (lambda: TlsSpec(client_certificate="maybe"), "tls.client_certificate",
     "required, optional, off"),
    (lambda: TlsSpec(ca_list="all"), "tls.ca_list", "empty, seven-roots, public-bundle"),
    (lambda: TlsSpec(insecure_security_level=9), "tls.insecure_security_level", "0-5"),
    (lambda: TlsSpec(tolerate_missing_client_auth="yes"), "tls.tolerate_missing_client_auth",
     "true or false"),
    (lambda: SipSpec(options_status=180), "sip.options_status", "200-699"),
    (lambda: SipSpec(options_status=True), "sip.options_status", "expected an integer"),
    (lambda: SipSpec(invite_status=200), "sip.invite_status", "300-699"),
    (lambda: SipSpec(options_delay=-1), "sip.options_delay", "0-600"),
    (lambda: SipSpec(options_action="drop"), "sip.options_action", "answer, ignore, reset"),
    (lambda: SipSpec(options_action="ignore", options_delay=5), "sip.options_delay",
     "only applies"),
    (lambda: SipSpec(tenant_domains=("not a domain",)), "sip.tenant_domains[0]",
     "one name per array item"),
    (lambda: SipSpec(tenant_domains=("-bad.example",)), "sip.tenant_domains[0]",
     "not a DNS host name"),
    (lambda: Expectation("maybe"), "expect.reaction", "accept, reject, mark-down"),
    (lambda: Expectation("reject", alert="nope"), "expect.alert", "unknown_ca"),
    (lambda: Expectation("accept", alert="unknown_ca"), "expect.alert", "only a 'reject'"),
    (lambda: Expectation("reject", by="proxy"), "expect.by", "sbc, fakepeer, either"),
    (lambda: Expectation("reject", sip_status=403), "expect.sip_status", "only a 'mark-down'"),
    (lambda: Expectation("mark-down", sip_status=200), "expect.sip_status", "300-699"),
    (lambda: Expectation(purpose="two\nlines"), "expect.purpose", "one line"),
    (lambda: Expectation(purpose="x" * 101), "expect.purpose", "100 or fewer"),
    (lambda: Phase(duration=0), "duration", "positive"),
    (lambda: Phase(duration=5, until_connections=3), "until_connections", "not both"),
    (lambda: Phase(until_connections=0), "until_connections", "1 or more"),
    (lambda: Phase(era="microsoft-2099"), "era", "microsoft-2020, microsoft-2023"),
    (lambda: NameOverride("bad name"), "name", "not a DNS host name"),
    (lambda: Scenario("Bad Name"), "name", "lower-case letters"),
    (lambda: Scenario("x", profile="cisco"), "profile", "microsoft, genesys"),
    (lambda: Scenario("x", era="microsoft-2099"), "era", "microsoft-2026, genesys"),
    (lambda: Scenario("x", path="baltimore"), "path", "digicert-g2, microsoft-2017"),
    (lambda: Scenario("x", defects=("expird-leaf",)), "defects[0]",
     "unknown defect 'expird-leaf' (did you mean 'expired-leaf'?); known: expired-leaf"),
    (lambda: Scenario("x", defects=("expired-leaf=now",)), "defects[0]", "takes no argument"),
    (lambda: Scenario("x", defects=("rotated-root",)), "defects[0]", "rotated-root=ERA"),
    (lambda: Scenario("x", defects=("rotated-root=microsoft-2026",)), "defects[0]",
     "already served"),
    (lambda: Scenario("x", defects=("ip-only-san=300.1.1.1",)), "defects[0]",
     "not an IP address"),
    (lambda: Scenario("x", defects=("leaf-only", "reversed")), "defects", "keep one"),
    (lambda: Scenario("x", defects=("revoked", "revoked")), "defects[1]", "given twice"),
    (lambda: Scenario("x", expect="refuse"), "expect", "accept, reject, reject:ALERT"),
    (lambda: Scenario("x", expect="reject:nope"), "expect", "unknown alert 'nope'"),
    (lambda: Scenario("x", expect="reject", expectation=Expectation("accept")), "expect",
     "disagrees"),
    (lambda: Scenario("x", era="genesys", profile="genesys", tls=TlsSpec(ca_list="oversize")),
     "tls.ca_list", "no client certificate is asked for"),
    (lambda: Scenario("x", phases=(Phase(era="microsoft-2020"), Phase())), "phases[0]",
     "only the last phase"),
    (lambda: Scenario("x", phases=(Phase(name="a", duration=1), Phase(name="a"))),
     "phases[1].name", "earlier phase"),
    (lambda: Scenario("x", phases=(Phase(era="microsoft-2020", path="digicert-g2"),)),
     "phases[0].path", "known: baltimore"),
    (lambda: Scenario("x", phases=(Phase(defects=("rotated-root=microsoft-2026",)),)),
     "phases[0].defects[0]", "already served"),
    (lambda: Scenario("x", names=(NameOverride("sip2.example.com", path="nope"),)),
     'names."sip2.example.com".path', "known: digicert-g2"),
    (lambda: Scenario("x", names=(NameOverride("a.example"), NameOverride("A.example."))),
     'names."a.example"', "given twice"),
]


@pytest.mark.parametrize(("build", "key", "allowed"), INVALID)
def test_invalid_values_name_their_key_and_what_is_allowed(build, key, allowed):
    """Each constructor refuses a bad value with the key's path and the allowed values."""
    error = _error(build)
    assert error.key == key
    assert str(error).startswith(f"{key}: ")
    assert allowed in error.problem


def test_errors_are_scenario_errors_and_value_errors():
    """ScenarioValueError is a ScenarioError (main reports it) and a ValueError (serve wraps it)."""
    error = _error(lambda: TlsSpec(client_certificate="maybe"))
    assert isinstance(error, ScenarioError)
    assert isinstance(error, ValueError)
    assert str(error.within("phases[2]")) == (
        "phases[2].tls.client_certificate: 'maybe' is not one of required, optional, off")


class TestDefaultsStayCompatible:
    def test_a_bare_scenario_is_todays_microsoft_peer(self):
        """Scenario(name) keeps the original defaults: microsoft, 2026, accept, no phases."""
        scenario = Scenario("x")
        assert (scenario.profile, scenario.era, scenario.path, scenario.defects) == (
            "microsoft", "microsoft-2026", None, ())
        assert scenario.tls == TlsSpec()
        assert scenario.sip == SipSpec(200, 503, None, False)
        assert scenario.expect == "accept"
        assert scenario.expectation == Expectation("accept")
        assert (scenario.phases, scenario.names) == ((), ())

    def test_serve_builds_its_command_line_scenario(self):
        """`fakepeer serve`'s option-built scenario still constructs, and its errors still wrap."""
        from fakepeer.cli import options
        from fakepeer.cli.main import build_parser

        args = build_parser().parse_args(["serve", "--defect", "expired-leaf",
                                          "--tls-min", "TLSv1.2", "--options-status", "503"])
        scenario = options.scenario_from_options(args)
        assert scenario.defects == ("expired-leaf",)
        assert scenario.sip.options_status == 503
        bad = build_parser().parse_args(["serve", "--tls-min", "TLSv9"])
        with pytest.raises(ScenarioError, match=r"command-line scenario: tls.min_version"):
            options.scenario_from_options(bad)

    def test_expect_string_and_expectation_fill_each_other(self):
        """Giving expect fills expectation and the reverse, so old and new readers agree."""
        short = Scenario("x", expect="reject:unknown_ca")
        assert short.expectation == Expectation("reject", alert="unknown_ca")
        full = Scenario("x", expectation=Expectation("mark-down", sip_status=503))
        assert full.expect == "mark-down:503"
        assert Scenario("x", expect="mark-down").expectation.reaction == "mark-down"

    def test_lists_become_tuples_and_names_are_lower_case(self):
        """Lists given for tuple fields are stored as tuples; host names are normalised."""
        spec = TlsSpec(ciphers=["AES128-SHA"])  # type: ignore[arg-type]
        assert spec.ciphers == ("AES128-SHA",)
        assert hash(spec)
        assert NameOverride("SIP2.Example.COM.").name == "sip2.example.com"
        assert SipSpec(options_delay=2).options_delay == 2.0


class TestTimeline:
    BASE = Scenario(
        "flip", era="microsoft-2023", path="microsoft-2017", defects=("reversed",),
        sip=SipSpec(dialback=True), expect="accept",
        names=(NameOverride("sip3.pstnhub.microsoft.com", era="microsoft-2026"),),
        phases=(
            Phase(name="old", duration=60),
            Phase(until_connections=2, era="microsoft-2020", names=()),
            Phase(sip=SipSpec(options_status=503), path="ecc-g3", defects=(),
                  expectation=Expectation("mark-down", sip_status=503)),
        ),
    )

    def test_phases_get_default_names(self):
        """Unnamed phases are called phase-N after their position."""
        assert [p.name for p in self.BASE.phases] == ["old", "phase-2", "phase-3"]

    def test_a_phase_without_overrides_serves_the_scenario(self):
        """A phase that overrides nothing serves the scenario's own values."""
        first = self.BASE.at_phase(0)
        assert (first.era, first.path, first.defects) == ("microsoft-2023", "microsoft-2017",
                                                          ("reversed",))
        assert first.names == self.BASE.names and first.phases == ()

    def test_a_new_era_resets_the_path_and_names_can_be_cleared(self):
        """Setting era without path means the era's default path; names=() clears them."""
        second = self.BASE.at_phase(1)
        assert (second.era, second.path, second.defects) == ("microsoft-2020", None,
                                                             ("reversed",))
        assert second.names == ()

    def test_sip_defects_and_expectation_overrides(self):
        """A phase replaces sip, defects and the expectation; expect follows the expectation."""
        third = self.BASE.at_phase(2)
        assert third.path == "ecc-g3" and third.defects == ()
        assert third.sip.options_status == 503
        assert third.expect == "mark-down:503"

    def test_timeline_of_a_scenario_without_phases(self):
        """A scenario without phases has one open-ended phase serving itself."""
        (phase, served), = Scenario("x").timeline()
        assert phase.ends == "when fakepeer stops"
        assert served == Scenario("x")
        assert [p.ends for p, _ in self.BASE.timeline()] == [
            "after 1 min (60 s)", "after 2 connections", "when fakepeer stops"]

    def test_for_name_applies_the_override_of_that_sni_name(self):
        """for_name serves the override's era (default path) to its name, else the scenario."""
        sip3 = self.BASE.for_name("SIP3.pstnhub.microsoft.com")
        assert (sip3.era, sip3.path, sip3.defects) == ("microsoft-2026", None, ("reversed",))
        other = self.BASE.for_name("sip.pstnhub.microsoft.com")
        assert other.era == "microsoft-2023" and other.names == () and other.phases == ()
        assert self.BASE.for_name(None).era == "microsoft-2023"


expectations = st.one_of(
    st.just(Expectation("accept")),
    st.builds(Expectation, st.just("reject"),
              st.none() | st.sampled_from(tuple(vocabulary.ALERT_NAMES.values()))),
    st.builds(lambda s: Expectation("mark-down", sip_status=s),
              st.none() | st.integers(300, 699)),
)


@given(expectations)
def test_expectation_code_parses_back(expectation):
    """Expectation.parse(e.code) gives back the reaction, alert and status of e."""
    parsed = Expectation.parse(expectation.code)
    assert dataclasses.astuple(parsed)[:4] == dataclasses.astuple(expectation)[:4]
