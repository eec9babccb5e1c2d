"""`fakepeer scenarios list` and `show`, run in-process with an injected environment, and
once as a real `python -m fakepeer` process."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fakepeer.cli.environment import Environment
from fakepeer.cli.main import main
from fakepeer.cli.status import ExitStatus

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.stem for p in (ROOT / "scenarios").glob("*.toml"))


class Run:
    def __init__(self, argv: list[str], cwd: Path, variables: dict[str, str] | None = None):
        self.env = Environment(stdout=io.StringIO(), stderr=io.StringIO(),
                               variables=variables or {}, cwd=cwd)
        self.status = main(argv, env=self.env)
        self.out = self.env.stdout.getvalue()
        self.err = self.env.stderr.getvalue()


def run(tmp_path: Path, *argv: str, **variables: str) -> Run:
    return Run(list(argv), tmp_path, variables)


class TestList:
    def test_lists_every_shipped_scenario_with_reaction_and_purpose(self, tmp_path):
        """`scenarios list` prints one line per scenario: name, expected reaction, purpose."""
        result = run(tmp_path, "scenarios", "list")
        assert result.status == ExitStatus.SUCCESS, result.err
        lines = result.out.splitlines()
        assert lines[0].split() == ["NAME", "EXPECTED", "PURPOSE"]
        rows = {line.split()[0]: line for line in lines[1:len(SHIPPED) + 1]}
        assert sorted(rows) == SHIPPED
        assert "SBC rejects (certificate_expired)" in rows["expired-leaf"]
        assert "The proxy's leaf expired yesterday" in rows["expired-leaf"]
        assert "mark down (503)" in rows["options-503"]
        assert "fakepeer refuses (handshake_failure)" in rows["cipher-mismatch"]
        assert f"{len(SHIPPED)} scenarios; `fakepeer serve` with no options serves " \
               "baseline-microsoft-2026." in result.out
        assert result.err == ""

    def test_json_lines(self, tmp_path):
        """`scenarios list --json` prints one JSON object per scenario."""
        result = run(tmp_path, "scenarios", "list", "--json")
        objects = [json.loads(line) for line in result.out.splitlines()]
        assert [o["name"] for o in objects] == SHIPPED
        flip = next(o for o in objects if o["name"] == "24-hour-test-flip")
        assert flip["phases"] == ["before", "flip", "back"]
        assert flip["shipped"] is True and flip["reaction"] == "accept"

    def test_a_user_folder_adds_and_overrides_and_says_so(self, tmp_path):
        """--scenarios DIR adds its scenarios, overrides shipped ones, marks and reports them."""
        mine = tmp_path / "mine"
        mine.mkdir()
        (mine / "options-503.toml").write_text(
            '[sip]\noptions_status = 504\n[expect]\nreaction = "mark-down"\nsip_status = 504\n'
            'purpose = "Our gateway answers 504."\n')
        (mine / "lab-extra.toml").write_text('[expect]\npurpose = "A lab addition."\n')
        result = run(tmp_path, "scenarios", "list", "--scenarios", "mine")
        assert result.status == ExitStatus.SUCCESS
        rows = {line.split()[0]: line for line in result.out.splitlines()[1:]
                if line and not line.startswith(("`", str(len(SHIPPED))))}
        assert rows["options-503"].startswith("options-503 *")
        assert "mark down (504)" in rows["options-503"]
        assert rows["lab-extra"].startswith("lab-extra *")
        assert "(* 2 from your folders)" in result.out
        assert result.err.strip() == (f"note: scenario options-503: {mine / 'options-503.toml'} "
                                      f"overrides {ROOT / 'scenarios' / 'options-503.toml'}")

    def test_the_folder_can_come_from_the_environment(self, tmp_path):
        """$FAKEPEER_SCENARIOS names user folders when --scenarios is not given."""
        (tmp_path / "env-dir").mkdir()
        (tmp_path / "env-dir" / "from-env.toml").write_text("")
        result = run(tmp_path, "scenarios", "list", FAKEPEER_SCENARIOS="env-dir")
        assert "from-env *" in result.out

    def test_a_bad_user_file_is_left_out_naming_file_and_key(self, tmp_path):
        """A bad file in a user folder is one warning line (file, key, allowed values);
        the rest of the catalogue is listed, and showing the bad one fails with it."""
        (tmp_path / "bad").mkdir()
        (tmp_path / "bad" / "oops.toml").write_text('[tls]\nclient_certificate = "maybe"\n')
        (tmp_path / "bad" / "fine.toml").write_text("")
        problem = (f"{tmp_path / 'bad' / 'oops.toml'}: tls.client_certificate: 'maybe' is "
                   "not one of required, optional, off")
        result = run(tmp_path, "scenarios", "list", "--scenarios", "bad")
        assert result.status == ExitStatus.SUCCESS
        assert "\nfine *" in result.out and "oops" not in result.out
        assert result.err == (f"warning: {problem} (scenario 'oops' is left out until the "
                              "file is fixed)\n")
        shown = run(tmp_path, "scenarios", "show", "oops", "--no-chain", "--scenarios", "bad")
        assert shown.status == ExitStatus.ERROR
        assert shown.err.endswith(f"fakepeer: error: {problem}\n")

    def test_a_missing_user_folder_is_an_error(self, tmp_path):
        """--scenarios naming a folder that does not exist fails with its name."""
        result = run(tmp_path, "scenarios", "list", "--scenarios", "nowhere")
        assert result.status == ExitStatus.ERROR
        assert f"{tmp_path / 'nowhere'}: no such scenario folder" in result.err


class TestShow:
    def test_describes_what_is_served_expected_and_which_roots_to_import(self, tmp_path):
        """`show --no-chain` prints the served chain path, defects, TLS, SIP, expectation, roots."""
        result = run(tmp_path, "scenarios", "show", "expired-intermediate", "--no-chain")
        assert result.status == ExitStatus.SUCCESS, result.err
        out = result.out
        assert out.startswith("scenario expired-intermediate: Azure RSA TLS Issuing CA 03 "
                              "expired")
        assert "era             microsoft-2023: Teams Direct Routing 2023-2026" in out
        assert ("chain path      digicert-g2 (default): leaf <- azure-rsa-tls-issuing-ca-03 <- "
                "digicert-global-root-g2") in out
        assert "defect          expired-intermediate: the issuing CA re-issued" in out
        assert "TLS client cert required  (profile default)" in out
        assert "SIP             OPTIONS answered 200; INVITE 503" in out
        assert "reaction        reject: the SBC refuses fakepeer with alert certificate_expired" \
            in out
        assert "DigiCert Global Root G2 [digicert-global-root-g2]" in out
        assert "export:  fakepeer certs export --roots microsoft-2023 --out roots/" in out
        assert "Certificate chain" not in out

    def test_phases_and_per_name_chains(self, tmp_path):
        """`show` lists each phase with when it ends and which chain each SNI name gets."""
        out = run(tmp_path, "scenarios", "show", "staged-rollout", "--no-chain").out
        assert "1. sip3-first (ends after 1 h (3600 s)): microsoft-2023/digicert-g2" in out
        assert "SNI sip3.pstnhub.microsoft.com: microsoft-2026/digicert-g2" in out
        assert "3. everywhere (ends when fakepeer stops): microsoft-2026/digicert-g2" in out
        assert "(anchor of the microsoft-2023 and microsoft-2026 chains)" in out
        assert "also recommended for microsoft-2026: DigiCert Global Root CA" in out
        assert "fakepeer certs export --roots microsoft-2023 microsoft-2026" in out

    def test_rotated_root_shows_the_chain_it_rotates_to(self, tmp_path):
        """A rotated-root scenario shows the target era's path and roots."""
        out = run(tmp_path, "scenarios", "show", "rotated-root-2020-to-2023", "--no-chain").out
        assert "microsoft-2023/digicert-g2 (rotated from microsoft-2020)" in out
        assert "--roots microsoft-2023 " in out

    def test_a_non_default_path_joins_the_one_export_command(self, tmp_path):
        """An anchor that `--roots ERA` would not export is named in the same command."""
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "ms2017.toml").write_text(
            'era = "microsoft-2023"\npath = "microsoft-2017"\n')
        out = run(tmp_path, "scenarios", "show", "ms2017", "--no-chain",
                  "--scenarios", "mine").out
        assert ("export:  fakepeer certs export --roots microsoft-2023 microsoft-rsa-root-2017 "
                "--out roots/") in out

    def test_builds_and_prints_the_chain_depth_by_depth(self, tmp_path, session_store):
        """Without --no-chain, `show` builds the chain and prints it as s_client does."""
        result = run(tmp_path, "scenarios", "show", "baseline-microsoft-2026",
                     "--certs", str(session_store))
        assert result.status == ExitStatus.SUCCESS, result.err
        chain = result.out.split("Chain sent: microsoft-2026/digicert-g2", 1)[1]
        assert "Certificate chain" in chain
        for depth in (0, 1, 2):
            assert f"   {depth} s:" in chain
        assert "CN = Microsoft TLS G2 RSA CA OCSP 02" in chain
        assert "trust anchor: C = US, O = DigiCert Inc, OU = www.digicert.com, CN = DigiCert " \
               "Global Root G2" in chain

    def test_each_distinct_chain_of_a_timeline_is_printed_once(self, tmp_path, session_store):
        """A timeline prints one chain per distinct situation, naming the phases using it."""
        out = run(tmp_path, "scenarios", "show", "24-hour-test-flip",
                  "--certs", str(session_store)).out
        assert out.count("Chain sent: ") == 2
        assert "Chain sent: microsoft-2020/baltimore (phase before; phase back)" in out
        assert "Chain sent: microsoft-2023/digicert-g2 (phase flip)" in out

    def test_unknown_name_suggests_the_near_one(self, tmp_path):
        """`show` of a misspelt scenario suggests the near name and where the list is
        (before: all names on one line, no suggestion)."""
        result = run(tmp_path, "scenarios", "show", "expired-leef", "--no-chain")
        assert result.status == ExitStatus.ERROR
        assert result.err.startswith("fakepeer: error: unknown scenario 'expired-leef' "
                                     "(did you mean 'expired-leaf'?); `fakepeer scenarios "
                                     "list` shows all ")
        assert "baseline-genesys" not in result.err

    @pytest.mark.parametrize("name", SHIPPED)
    def test_every_shipped_scenario_can_be_shown(self, tmp_path, name):
        """`show --no-chain` works for every shipped scenario."""
        result = run(tmp_path, "scenarios", "show", name, "--no-chain")
        assert result.status == ExitStatus.SUCCESS, result.err
        assert "Roots the SBC must trust" in result.out


def test_python_m_fakepeer_scenarios_list():
    """`python -m fakepeer scenarios list` runs as a real process and lists the catalogue."""
    done = subprocess.run([sys.executable, "-m", "fakepeer", "scenarios", "list"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for name in SHIPPED:
        assert f"\n{name} " in done.stdout


class TestShowWritesNothing:
    def test_show_in_an_empty_folder_writes_nothing_and_says_so(self, tmp_path):
        """Before: `scenarios show` made ./certs (keys included) wherever it ran."""
        result = run(tmp_path, "scenarios", "show", "expired-leaf", "--certs",
                     str(tmp_path / "certs"))
        assert result.status == ExitStatus.SUCCESS, result.err
        assert not (tmp_path / "certs").exists()
        assert "made for this look only (nothing is written)" in result.err
        assert "trust anchor:" in result.out

    def test_show_of_a_stocked_store_changes_no_file(self, tmp_path, session_store):
        before = {p: p.stat().st_mtime_ns for p in session_store.rglob("*")}
        result = run(tmp_path, "scenarios", "show", "regional-rollout-2026", "--certs",
                     str(session_store))
        assert result.status == ExitStatus.SUCCESS, result.err
        assert "made for this look only" not in result.err
        assert {p: p.stat().st_mtime_ns for p in session_store.rglob("*")} == before
