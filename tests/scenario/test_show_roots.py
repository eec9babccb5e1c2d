"""`scenarios show` prints each SNI name's chain and expectation, names every root the
scenario can anchor at (all phases and names), and gives the one export command the
serve banner gives too; that command, run, writes every one of those roots."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from cryptography import x509

from fakepeer.cli.briefing import briefing
from fakepeer.cli.commands.scenarios import describe
from fakepeer.realize import anchors_of, realize
from fakepeer.scenario.load import load_catalogue, shipped_scenarios_dir
from tests.pki.helpers import run

CATALOGUE = load_catalogue([shipped_scenarios_dir()])
EXPIRED_ON_SIP2 = """
era = "microsoft-2026"

[names."sip2.pstnhub.microsoft.com"]
defects = ["expired-leaf"]

[names."sip3.pstnhub.microsoft.com"]
path = "self-signed-g2"
expect = "reject:unknown_ca"

[expect]
reaction = "accept"
purpose = "sip stays Active; sip2 and sip3 must be refused."
"""


def _export_line(lines: list[str]) -> str:
    (line,) = [line for line in lines
               if line.lstrip().startswith(("export:", "export them:"))]
    return line[line.index("fakepeer certs export"):]


def test_sni_rows_keep_a_separator_and_say_each_name_s_expectation(tmp_path):
    """Each SNI row reads `SNI NAME: era/path (anchor ID); expect ...` (it used to run the
    name into the chain label), and its anchor is among the roots to trust."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "expired-on-sip2.toml").write_text(EXPIRED_ON_SIP2)
    status, out, err = run(["scenarios", "show", "expired-on-sip2", "--no-chain",
                            "--scenarios", "mine"], tmp_path)
    assert status == 0, err
    assert "microsoft.commicrosoft" not in out
    assert ("  SNI sip2.pstnhub.microsoft.com: microsoft-2026/digicert-g2 +expired-leaf "
            "(anchor digicert-global-root-g2); expect SBC rejects (certificate_expired)") in out
    assert ("  SNI sip3.pstnhub.microsoft.com: microsoft-2026/self-signed-g2 (anchor "
            "microsoft-tls-rsa-root-g2@microsoft-tls-rsa-root-g2); expect SBC rejects "
            "(unknown_ca)") in out
    assert ("Microsoft TLS RSA Root G2 [microsoft-tls-rsa-root-g2@microsoft-tls-rsa-root-g2] "
            "(anchor of the microsoft-2026 chain)") in out
    assert ("export:  fakepeer certs export --roots microsoft-2026 "
            "microsoft-tls-rsa-root-g2@microsoft-tls-rsa-root-g2 --out roots/") in out


def test_show_names_what_other_sbc_set_ups_do():
    """The set-ups section says, per outcome, on which names it happens."""
    text = "\n".join(describe(CATALOGUE["staged-rollout"]))
    assert "  g2-only         accept (trusts only DigiCert Global Root G2" in text
    assert "  checks-revocation  accept (checks CRL or OCSP" in text


def test_the_rotation_banner_exports_the_era_it_rotates_to(pki):
    """serve's banner for rotated-root-2023-to-2026 used to say --roots microsoft-2023,
    while the chain it serves needs the 2026 roots (as show said)."""
    lines = briefing(realize(CATALOGUE["rotated-root-2023-to-2026"], pki), ["127.0.0.1:5061"])
    assert _export_line(lines) == "fakepeer certs export --roots microsoft-2026 --out roots/"


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_show_and_the_serve_banner_give_the_same_export_command(pki, name):
    """One function makes both hints, over the whole scenario."""
    scenario = CATALOGUE[name]
    assert _export_line(describe(scenario)) == \
        _export_line(briefing(realize(scenario, pki), ["127.0.0.1:5061"]))


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_the_export_command_writes_every_root_the_scenario_can_anchor_at(
        pki, session_store, tmp_path, name):
    """Run as printed (plus --certs), the command writes each anchor of every phase and
    name, and nothing but roots."""
    scenario = CATALOGUE[name]
    argv = shlex.split(_export_line(describe(scenario)))[1:]
    status, _, err = run([*argv, "--certs", str(session_store)], tmp_path)
    assert status == 0, err
    written = {x509.load_pem_x509_certificate(path.read_bytes())
               for path in (tmp_path / "roots").glob("*.pem") if not path.is_symlink()}
    wanted = {pki.certificate(anchor).certificate for anchor in anchors_of(scenario)}
    assert wanted <= written
    assert all(c.issuer == c.subject for c in written)


def test_an_unknown_root_set_lists_the_sets_and_ids(session_store, tmp_path: Path):
    """--roots with a typo names the eras, all, and the root ids it accepts."""
    status, _, err = run(["certs", "export", "--roots", "microsoft-2062", "--certs",
                          str(session_store)], tmp_path)
    assert status != 0
    assert err.startswith("fakepeer: error: unknown root set 'microsoft-2062'; give an era "
                          "(microsoft-2020, microsoft-2023, microsoft-2026, genesys), all, or "
                          "the id of a root: baltimore-cybertrust-root")
    assert "microsoft-tls-ecc-root-g2@microsoft-tls-ecc-root-g2" in err
