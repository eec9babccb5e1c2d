"""Scenario files: the shipped catalogue, the strict loader's messages, user folders that
override, and finding the shipped folder in a checkout and in an installed wheel."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakepeer.errors import ScenarioError
from fakepeer.scenario.load import (
    DEFAULT_SCENARIO,
    load_catalogue,
    load_scenario,
    parse_scenario_text,
    scenario_dirs,
    scenario_from_mapping,
    shipped_scenarios_dir,
)
from fakepeer.scenario.model import Expectation, Scenario, SipSpec, TlsSpec

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))

#: The catalogue issue 5 asks for, by the names the files use.
REQUIRED = {
    "baseline-microsoft-2020", "baseline-microsoft-2023", "baseline-microsoft-2026",
    "baseline-genesys", "rotated-root-2020-to-2023", "rotated-root-2023-to-2026",
    "missing-intermediate", "wrong-san", "expired-leaf", "expired-intermediate",
    "not-yet-valid", "self-signed", "impostor-root", "revoked", "sha1-signature",
    "weak-rsa-1024", "leaf-without-server-auth", "server-auth-only-dialback", "depth-4-chain",
    "reversed-chain", "cn-only", "tls10-tls11-only", "cipher-mismatch",
    "client-certificate-missing", "client-certificate-untrusted", "contact-mismatch",
    "contact-ip", "options-503", "options-no-answer", "connection-reset", "oversize-ca-list",
    "24-hour-test-flip", "staged-rollout",
}


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


class TestShippedCatalogue:
    def test_shipped_folder_is_the_checkouts(self):
        """In a checkout the shipped scenarios are <repo>/scenarios."""
        assert shipped_scenarios_dir() == ROOT / "scenarios"

    @pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
    def test_every_shipped_file_loads_and_explains_itself(self, path):
        """Each shipped file loads, is named by its stem, has a purpose and the two comments."""
        scenario = load_scenario(path)
        assert scenario.name == path.stem
        assert scenario.source == path
        assert scenario.expectation.purpose
        assert scenario.description.strip()
        text = path.read_text()
        assert text.startswith(f"# {path.stem}: ")
        assert "# Mirrors:" in text
        assert "# The SBC admin learns:" in text

    def test_the_catalogue_has_every_required_scenario(self):
        """The shipped catalogue covers every situation issue 5 lists."""
        catalogue = load_catalogue(scenario_dirs())
        assert set(catalogue) >= REQUIRED
        assert catalogue.overrides == ()

    def test_default_scenario_is_what_serve_serves_with_no_options(self):
        """baseline-microsoft-2026 serves exactly `fakepeer serve`'s option-less scenario."""
        from fakepeer.cli import options
        from fakepeer.cli.main import build_parser

        default = options.scenario_from_options(build_parser().parse_args(["serve"]))
        shipped = load_catalogue(scenario_dirs())[DEFAULT_SCENARIO]
        served = ("profile", "era", "path", "defects", "tls", "sip", "expect", "phases", "names")
        assert {k: getattr(shipped, k) for k in served} == {k: getattr(default, k) for k in served}

    def test_expected_reactions_of_the_catalogue(self):
        """Defect scenarios expect the alert pki.defects predicts, SIP ones a mark-down."""
        catalogue = load_catalogue(scenario_dirs())
        assert catalogue["expired-leaf"].expect == "reject:certificate_expired"
        assert catalogue["impostor-root"].expect == "reject:unknown_ca"
        assert catalogue["cipher-mismatch"].expectation.by == "fakepeer"
        assert catalogue["options-503"].expect == "mark-down:503"
        assert catalogue["options-no-answer"].sip.options_action == "ignore"
        assert catalogue["connection-reset"].sip.options_action == "reset"
        assert catalogue["server-auth-only-dialback"].sip.dialback is True
        assert [p.name for p in catalogue["24-hour-test-flip"].phases] == ["before", "flip",
                                                                           "back"]
        assert catalogue["24-hour-test-flip"].at_phase(1).era == "microsoft-2023"
        rollout = catalogue["staged-rollout"]
        assert [o.name for o in rollout.at_phase(1).names] == ["sip2.pstnhub.microsoft.com",
                                                               "sip3.pstnhub.microsoft.com"]
        assert rollout.at_phase(0).for_name("sip3.pstnhub.microsoft.com").era == \
            "microsoft-2026"

    @pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
    def test_every_phase_and_name_realizes_as_a_served_peer(self, path, pki):
        """fakepeer.realize.realize builds every chain a shipped scenario serves, and the
        defect-derived expectation agrees with the file's."""
        from fakepeer.realize import realize

        scenario = load_scenario(path)
        for _, served in scenario.timeline():
            for variant in (served, *(o.apply(served) for o in served.names)):
                peer = realize(variant, pki)
                assert peer.expected == variant.expect
                assert peer.chain.sent


BAD_FILES = [
    # (file text, key path, words the message must contain)
    ('[tls]\nclient_certificate = "maybe"\n', "tls.client_certificate",
     "'maybe' is not one of required, optional, off"),
    ('[tls]\nclient_cert = "required"\n', "tls.client_cert",
     "unknown key; allowed keys: min_version, max_version, ciphers"),
    ('colour = "blue"\n', "colour", "allowed keys: name, profile, description, era"),
    ('era = "microsoft-2099"\n', "era", "microsoft-2020, microsoft-2023, microsoft-2026, genesys"),
    ('profile = "cisco"\n', "profile", "microsoft, genesys"),
    ('era = 2026\n', "era", "expected a string, got an integer (2026)"),
    ('description = 2026-09-05\n', "description", "expected a string, got a date/time "
     "(2026-09-05)"),
    ('defects = "expired-leaf"\n', "defects", "expected an array of strings"),
    ('defects = ["expired-leaf", 3]\n', "defects[1]", "expected a string, got an integer"),
    ('defects = ["expird-leaf"]\n', "defects[0]", "known: expired-leaf, not-yet-valid"),
    ('path = "digicert-g5"\nera = "microsoft-2023"\n', "path",
     "known: digicert-g2, microsoft-2017, ecc-g3"),
    ('[tls]\nmin_version = "TLSv1.4"\n', "tls.min_version", "TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"),
    ('[tls]\nca_list = "huge"\n', "tls.ca_list", "empty, seven-roots, public-bundle, oversize"),
    ('[sip]\noptions_status = "503"\n', "sip.options_status",
     "expected an integer, got a string ('503')"),
    ('[sip]\ndialback = "yes"\n', "sip.dialback", "expected true or false"),
    ('[sip]\noptions_action = "drop"\n', "sip.options_action", "answer, ignore, reset"),
    ('[sip]\noptions_delay = "5s"\n', "sip.options_delay", "expected a number"),
    ('sip = 5\n', "sip", "expected a table, got an integer"),
    ('expect = "refuse"\n', "expect", "accept, reject, reject:ALERT, mark-down"),
    ('[expect]\nreaction = "reject"\nalert = "unknown-ca"\n', "expect.alert",
     "handshake_failure, no_certificate, bad_certificate"),
    ('[expect]\nreaction = "reject"\nwhy = "x"\n', "expect.why",
     "allowed keys: reaction, alert, by, sip_status, reason, purpose, setup"),
    ('[expect]\nreaction = "accept"\nsip_status = 403\n', "expect.sip_status",
     "only a 'mark-down'"),
    ('phases = {}\n', "phases", "expected an array of tables ([[phases]])"),
    ('[[phases]]\nduration = "1h"\n', "phases[0].duration", "expected a number"),
    ('[[phases]]\nera = "microsoft-2020"\n[[phases]]\n', "phases[0]",
     "give duration or until_connections"),
    ('[[phases]]\nduration = 5\nuntil = 3\n', "phases[0].until",
     "allowed keys: name, duration, until_connections"),
    ('[[phases]]\nduration = 5\nera = "microsoft-2020"\npath = "digicert-g2"\n',
     "phases[0].path", "known: baltimore"),
    ('[[phases]]\n[phases.tls]\nmax_version = "TLSv1.4"\n', "phases[0].tls.max_version",
     "TLSv1, TLSv1.1"),
    ('[[phases]]\n[phases.sip]\noptions_action = "drop"\n', "phases[0].sip.options_action",
     "answer, ignore, reset"),
    ('[[phases]]\nexpect = "reject:nope"\n', "phases[0].expect",
     "unknown alert 'nope'; known: close_notify"),
    ('[[phases]]\n[phases.expect]\nreaction = "maybe"\n', "phases[0].expect.reaction",
     "accept, reject, mark-down"),
    ('[names."sip2.pstnhub.microsoft.com"]\nera = "microsoft-2099"\n',
     'names."sip2.pstnhub.microsoft.com".era', "microsoft-2020, microsoft-2023"),
    ('[names."sip2.pstnhub.microsoft.com"]\nchain = "x"\n',
     'names."sip2.pstnhub.microsoft.com".chain', "allowed keys: era, path, defects"),
    ('[names."sip2.pstnhub.microsoft.com"]\ndefects = ["nope"]\n',
     'names."sip2.pstnhub.microsoft.com".defects[0]', "known: expired-leaf"),
    ('[names."not a host"]\nera = "microsoft-2023"\n', 'names."not a host"',
     "not a DNS host name"),
    ('[[phases]]\n[phases.names."sip3.pstnhub.microsoft.com"]\npath = "nope"\n',
     'phases[0].names."sip3.pstnhub.microsoft.com".path', "known: digicert-g2"),
    ('profile = "genesys"\nera = "genesys"\n[tls]\nca_list = "oversize"\n', "tls.ca_list",
     "set client_certificate to required or optional"),
    ('name = "Has Spaces"\n', "name", "lower-case letters, digits"),
]


@pytest.mark.parametrize(("text", "key", "allowed"), BAD_FILES,
                         ids=[f"{i}-{case[1]}" for i, case in enumerate(BAD_FILES)])
def test_bad_files_name_the_file_the_key_and_the_allowed_values(tmp_path, text, key, allowed):
    """A bad scenario file's error starts with the file, then the key path, then what is allowed."""
    path = write(tmp_path, "expired-leaf.toml", text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert allowed in message


class TestFileProblems:
    def test_toml_syntax_errors_name_the_file_and_line(self, tmp_path):
        """A TOML syntax error names the file, the line and the column."""
        path = write(tmp_path, "broken.toml", 'era = "microsoft-2026"\n[tls\nmin_version = 1\n')
        with pytest.raises(ScenarioError, match=r"broken\.toml: line 2, column \d+: TOML syntax"):
            load_scenario(path)

    def test_a_syntax_error_at_the_end(self, tmp_path):
        """An error at the very end of the document says so instead of a line."""
        path = write(tmp_path, "end.toml", 'description = """never closed')
        with pytest.raises(ScenarioError, match=r"end\.toml: (at the end|line 1)"):
            load_scenario(path)

    def test_files_that_are_not_utf8(self, tmp_path):
        """A file in another encoding is refused with the byte offset."""
        path = tmp_path / "latin.toml"
        path.write_bytes('description = "caf\xe9"\n'.encode("latin-1"))
        with pytest.raises(ScenarioError, match=r"latin\.toml: not UTF-8 text \(byte 18\)"):
            load_scenario(path)

    def test_unreadable_file(self, tmp_path):
        """A missing file is a ScenarioError naming it, not an OSError."""
        with pytest.raises(ScenarioError, match=r"missing\.toml: cannot read"):
            load_scenario(tmp_path / "missing.toml")


class TestWhatFilesMean:
    def test_name_defaults_to_the_stem_and_can_be_given(self, tmp_path):
        """A file's scenario is named after its stem unless it says otherwise."""
        assert load_scenario(write(tmp_path, "lab-a.toml", "")).name == "lab-a"
        assert load_scenario(write(tmp_path, "lab-b.toml", 'name = "other"\n')).name == "other"

    def test_an_empty_file_is_the_default_scenario(self, tmp_path):
        """An empty file serves Scenario's defaults (today's Microsoft peer)."""
        loaded = load_scenario(write(tmp_path, "empty.toml", ""))
        assert loaded == Scenario("empty")

    def test_profile_defaults_to_the_eras(self, tmp_path):
        """Without profile, the genesys era is served as the genesys profile."""
        loaded = load_scenario(write(tmp_path, "g.toml", 'era = "genesys"\n'))
        assert loaded.profile == "genesys"

    def test_short_and_long_expect_forms(self, tmp_path):
        """expect = "reject:unknown_ca" and an [expect] table mean the same."""
        short = load_scenario(write(tmp_path, "s.toml", 'expect = "reject:unknown_ca"\n'))
        long = load_scenario(write(tmp_path, "l.toml",
                                   '[expect]\nreaction = "reject"\nalert = "unknown_ca"\n'))
        assert short.expectation == long.expectation == Expectation("reject", alert="unknown_ca")

    def test_phase_tls_and_sip_tables_merge_over_the_scenarios(self, tmp_path):
        """A phase's [sip]/[tls] change only the keys it writes; the rest is inherited."""
        text = (
            '[sip]\ndialback = true\noptions_delay = 2\n[tls]\nca_list = "seven-roots"\n'
            '[[phases]]\nduration = 10\n[phases.sip]\noptions_status = 503\n'
            '[phases.tls]\nclient_certificate = "optional"\n'
            '[[phases]]\n'
        )
        scenario = load_scenario(write(tmp_path, "merge.toml", text))
        first = scenario.at_phase(0)
        assert first.sip == SipSpec(options_status=503, dialback=True, options_delay=2.0)
        assert first.tls == TlsSpec(ca_list="seven-roots", client_certificate="optional")
        assert scenario.at_phase(1).sip == SipSpec(dialback=True, options_delay=2.0)

    def test_inline_and_dotted_names_tables(self, tmp_path):
        """Per-name overrides work as [names."host"] tables and as inline tables in phases."""
        text = (
            'era = "microsoft-2023"\n'
            '[names."sip2.pstnhub.microsoft.com"]\nera = "microsoft-2026"\n'
            '[[phases]]\nnames = { "sip3.pstnhub.microsoft.com" = { defects = ["revoked"] } }\n'
        )
        scenario = load_scenario(write(tmp_path, "names.toml", text))
        assert scenario.for_name("sip2.pstnhub.microsoft.com").era == "microsoft-2026"
        phase = scenario.at_phase(0)
        assert phase.for_name("sip2.pstnhub.microsoft.com").era == "microsoft-2023"
        assert phase.for_name("sip3.pstnhub.microsoft.com").defects == ("revoked",)


class TestCatalogue:
    def test_a_user_file_overrides_the_shipped_one_and_it_is_reported(self, tmp_path):
        """A user scenario named like a shipped one replaces it, and the override is recorded."""
        user = tmp_path / "mine"
        mine = write(user, "expired-leaf.toml", 'era = "microsoft-2023"\n'
                     'defects = ["expired-leaf"]\nexpect = "reject:certificate_expired"\n')
        write(user, "my-lab.toml", "")
        catalogue = load_catalogue(scenario_dirs([user]))
        assert catalogue["expired-leaf"].era == "microsoft-2023"
        assert catalogue["expired-leaf"].source == mine
        assert "my-lab" in catalogue and "baseline-genesys" in catalogue
        (override,) = catalogue.overrides
        assert (override.name, override.replaced, override.by) == (
            "expired-leaf", ROOT / "scenarios" / "expired-leaf.toml", mine)
        assert "overrides" in override.line()

    def test_later_user_folders_override_earlier_ones(self, tmp_path):
        """Folders are read in order; each later one wins and every override is recorded."""
        one = write(tmp_path / "one", "lab.toml", 'era = "microsoft-2020"\n').parent
        two = write(tmp_path / "two", "lab.toml", 'era = "microsoft-2023"\n').parent
        catalogue = load_catalogue([one, two])
        assert catalogue["lab"].era == "microsoft-2023"
        assert [o.name for o in catalogue.overrides] == ["lab"]

    def test_duplicate_names_in_one_folder_leave_both_out(self, tmp_path):
        """Two files of one folder defining the same scenario name: neither can be meant,
        so naming it fails with both files named; the folder's other files load."""
        first = write(tmp_path, "a.toml", 'name = "lab"\n')
        second = write(tmp_path, "lab.toml", "")
        write(tmp_path, "other.toml", "")
        catalogue = load_catalogue([tmp_path])
        assert set(catalogue) == {"other"}
        with pytest.raises(ScenarioError) as caught:
            catalogue.get_scenario("lab")
        assert str(caught.value) == (f"{second}: scenario 'lab' is also defined by {first}; "
                                     "names must be unique within a folder")

    def test_every_bad_file_is_reported_and_the_rest_load(self, tmp_path):
        """One broken file no longer blocks its folder (issue 12 item 12): each bad file
        is one entry naming it, the good ones load."""
        write(tmp_path, "one.toml", 'era = "x"\n')
        write(tmp_path, "two.toml", "[tls\n")
        write(tmp_path, "fine.toml", "")
        catalogue = load_catalogue([tmp_path])
        assert set(catalogue) == {"fine"}
        assert sorted(catalogue.broken) == ["one", "two"]
        assert catalogue.broken["one"].error.startswith(f"{tmp_path / 'one.toml'}: era: ")
        assert catalogue.broken["two"].error.startswith(f"{tmp_path / 'two.toml'}: line 1")
        with pytest.raises(ScenarioError, match=r"one\.toml: era: "):
            catalogue.get_scenario("one")

    def test_only_visible_toml_files_count(self, tmp_path):
        """Hidden files, other suffixes and sub-folders are not scenarios."""
        write(tmp_path, "lab.toml", "")
        write(tmp_path, ".#lab.toml", "not toml at all [")
        write(tmp_path, "notes.txt", "hello")
        write(tmp_path / "sub", "deep.toml", "")
        assert set(load_catalogue([tmp_path])) == {"lab"}

    def test_a_missing_folder_is_an_error(self, tmp_path):
        """A --scenarios folder that does not exist is named in the error."""
        with pytest.raises(ScenarioError, match="no such scenario folder"):
            load_catalogue([tmp_path / "nowhere"])

    def test_unknown_scenario_says_where_the_list_is(self):
        """Asking the catalogue for an unknown name says how many exist and where."""
        catalogue = load_catalogue(scenario_dirs())
        with pytest.raises(ScenarioError, match=r"^unknown scenario 'nope'; `fakepeer "
                                                f"scenarios list` shows all {len(catalogue)}$"):
            catalogue.get_scenario("nope")


class TestShippedFolder:
    def test_an_installed_copy_is_preferred(self, tmp_path):
        """Inside an installed package, fakepeer/_scenarios is the shipped folder."""
        package = tmp_path / "site" / "fakepeer"
        (package / "_scenarios").mkdir(parents=True)
        (tmp_path / "site" / "scenarios").mkdir()
        assert shipped_scenarios_dir(package) == package / "_scenarios"

    def test_a_checkout_uses_the_folder_beside_the_package(self, tmp_path):
        """In a checkout, <repo>/scenarios is used."""
        package = tmp_path / "repo" / "fakepeer"
        package.mkdir(parents=True)
        (tmp_path / "repo" / "scenarios").mkdir()
        assert shipped_scenarios_dir(package) == tmp_path / "repo" / "scenarios"

    def test_neither_is_an_error_naming_both(self, tmp_path):
        """Without either folder the error names both places looked at."""
        with pytest.raises(ScenarioError, match=r"_scenarios nor .*scenarios"):
            shipped_scenarios_dir(tmp_path / "fakepeer")

    def test_a_built_wheel_ships_and_finds_the_catalogue(self, tmp_path):
        """The wheel holds scenarios/ as fakepeer/_scenarios, and the installed code finds it."""
        pytest.importorskip("hatchling")
        from hatchling.builders.wheel import WheelBuilder

        wheel = Path(next(iter(WheelBuilder(str(ROOT)).build(directory=str(tmp_path / "dist"),
                                                             versions=["standard"]))))
        site = tmp_path / "site"
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            archive.extractall(site)
        assert "fakepeer/_scenarios/baseline-microsoft-2026.toml" in names
        code = ("from fakepeer.scenario.load import load_catalogue, scenario_dirs, "
                "shipped_scenarios_dir; print(shipped_scenarios_dir()); "
                "print(len(load_catalogue(scenario_dirs())))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=tmp_path, env={"PYTHONPATH": str(site)}, timeout=60)
        assert done.returncode == 0, done.stderr
        folder, count = done.stdout.split()
        assert Path(folder) == site / "fakepeer" / "_scenarios"
        assert int(count) == len(SHIPPED)


toml_scalars = st.one_of(st.booleans(), st.integers(-5, 700), st.floats(allow_nan=False),
                         st.text(max_size=20),
                         st.sampled_from(["microsoft-2023", "genesys", "TLSv1.2", "reject",
                                          "expired-leaf", "sip2.pstnhub.microsoft.com"]))
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["era", "path", "tls", "sip", "defects", "reaction",
                                       "duration", "names", "min_version", "x"]),
                      inner, max_size=3),
    max_leaves=8,
)
top_keys = st.sampled_from(["name", "description", "profile", "era", "path", "defects", "tls",
                            "sip", "expect", "phases", "names", "unknown"])


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(st.dictionaries(top_keys, toml_values, max_size=4))
def test_any_document_gives_a_scenario_or_a_scenario_error(document):
    """Whatever a TOML document holds, loading it yields a Scenario or a ScenarioError only."""
    try:
        scenario = scenario_from_mapping(document, name="fuzz")
    except ScenarioError as exc:
        assert ": " in str(exc)
    else:
        assert isinstance(scenario, Scenario)


def test_parse_scenario_text_names_the_path_given():
    """parse_scenario_text works from a string and names the path it was given."""
    with pytest.raises(ScenarioError, match=r"^virtual\.toml: era: "):
        parse_scenario_text('era = "x"', Path("virtual.toml"))


def test_leaf_table_is_validated_strictly(tmp_path):
    """[leaf] keys are checked: a bad key type names leaf.key and the allowed values."""
    good = parse_scenario_text('[leaf]\ndays = 30\nip_addresses = ["2001:db8::1"]\n',
                               tmp_path / "good.toml")
    assert good.leaf.days == 30 and good.leaf.ip_addresses == ("2001:db8::1",)
    with pytest.raises(ScenarioError, match=r"bad\.toml: leaf\.key: 'dsa' is not one of"):
        parse_scenario_text('[leaf]\nkey = "dsa"\n', tmp_path / "bad.toml")
    with pytest.raises(ScenarioError, match=r"leaf\.colour: unknown key"):
        parse_scenario_text('[leaf]\ncolour = "red"\n', tmp_path / "bad.toml")
