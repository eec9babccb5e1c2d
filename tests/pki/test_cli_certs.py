"""``fakepeer certs`` from the command line, in-process, checked with real openssl."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

from cryptography import x509

from fakepeer.cli.status import ExitStatus
from fakepeer.pki.export import cisco_trustpoint
from tests.pki.helpers import openssl, run


def _openssl(*args: str) -> str:
    return openssl(*args).stdout


def test_generate_prints_a_line_per_hierarchy_then_reuses(tmp_path):
    """generate says what it does as it goes: the slow key generation is announced before
    it starts (kinds and cores), then one line for the CAs and one per era; the second run
    makes nothing."""
    store = tmp_path / "certs"
    status, out, _ = run(["certs", "generate", "--era", "microsoft-2023", "--certs",
                          str(store)], tmp_path)
    assert status == ExitStatus.SUCCESS
    assert "microsoft-2023:" in out and "certificates made" in out
    lines = out.splitlines()
    announce = next(i for i, line in enumerate(lines) if "generating" in line)
    assert "RSA 4096" in lines[announce] and " core" in lines[announce]
    assert announce < next(i for i, line in enumerate(lines) if "CAs:" in line) \
        < next(i for i, line in enumerate(lines) if "microsoft-2023:" in line)
    status, out, _ = run(["certs", "generate", "--era", "microsoft-2023", "--certs",
                          str(store)], tmp_path)
    assert "done: 0 certificates made" in out


def test_list_shows_thumbprints_and_hash_as_openssl_does(session_store, tmp_path):
    """list --json gives SHA-1/SHA-256 thumbprints and subject hashes equal to openssl's."""
    status, out, _ = run(["certs", "list", "--json", "--certs", str(session_store)], tmp_path)
    assert status == ExitStatus.SUCCESS
    rows = {row["id"]: row for row in map(json.loads, out.splitlines())}
    row = rows["digicert-global-root-g2"]
    pem = str(session_store / "lab" / "digicert-global-root-g2.pem")
    fingerprint = _openssl("x509", "-in", pem, "-noout", "-fingerprint", "-sha1")
    assert fingerprint.strip().split("=")[1].replace(":", "") == row["sha1"]
    assert _openssl("x509", "-in", pem, "-noout", "-hash").strip() == row["subject_hash"]
    assert row["key"] == "RSA 2048"


def test_show_prints_the_chain_depth_by_depth(session_store, tmp_path):
    """show ERA prints the served chain as s_client's 'Certificate chain' block."""
    status, out, _ = run(["certs", "show", "microsoft-2026", "--certs", str(session_store)],
                         tmp_path)
    assert status == ExitStatus.SUCCESS
    assert " 0 s:C = US, ST = WA, L = Redmond, O = Microsoft Corporation, CN = " \
           "sip.pstnhub.microsoft.com" in out
    assert " 2 s:C = US, O = Microsoft Corporation, CN = Microsoft TLS RSA Root G2" in out


def test_export_roots_folder_has_working_hash_links(session_store, tmp_path):
    """A folder export is a CApath openssl verify can use (hash links resolve)."""
    out_dir = tmp_path / "roots"
    status, _, _ = run(["certs", "export", "--roots", "microsoft-2026", "--out", f"{out_dir}/",
                        "--certs", str(session_store)], tmp_path)
    assert status == ExitStatus.SUCCESS
    assert len(list(out_dir.glob("*.pem"))) == 7
    for link in out_dir.glob("*.0"):
        assert link.is_symlink()
        assert _openssl("x509", "-in", str(link), "-noout", "-hash").strip() == link.stem
    leaf_id = next(p.stem for p in (session_store / "lab").glob("leaf-microsoft-2026-digicert"
                                                                 "-g2-*.json"))
    status, out, _ = run(["certs", "show", leaf_id, "--certs", str(session_store)], tmp_path)
    assert status == ExitStatus.SUCCESS and "OCSP 02" in out


def test_export_p12_opens_with_openssl(session_store, tmp_path):
    """A leaf exported as PKCS#12 holds its key and its chain up to the root."""
    leaf_id = next(p.stem for p in (session_store / "lab").glob("leaf-microsoft-2026-"
                                                                 "digicert-g2-*.json"))
    target = tmp_path / "leaf.p12"
    status, _, err = run(["certs", "export", leaf_id, "--format", "p12", "--out", str(target),
                          "--certs", str(session_store)], tmp_path)
    assert status == ExitStatus.SUCCESS, err
    info = subprocess.run(["openssl", "pkcs12", "-in", str(target), "-info", "-nodes",
                           "-passin", "pass:"], capture_output=True, text=True, timeout=30)
    assert info.returncode == 0, info.stderr
    assert info.stdout.count("BEGIN CERTIFICATE") == 4  # leaf, two intermediates, root
    assert "PRIVATE KEY" in info.stdout


def test_audiocodes_bundle_names_each_root(session_store, tmp_path):
    """The AudioCodes bundle is one PEM file with a comment line per root."""
    target = tmp_path / "bundle.pem"
    run(["certs", "export", "--roots", "all", "--format", "audiocodes", "--out", str(target),
         "--certs", str(session_store)], tmp_path)
    text = target.read_text()
    assert text.count("BEGIN CERTIFICATE") == 11  # 9 public roots, 2 self-signed TLS G2
    assert "# baltimore-cybertrust-root: C = IE, O = Baltimore" in text
    assert "# microsoft-tls-ecc-root-g2@microsoft-tls-ecc-root-g2: C = US" in text


def test_cisco_snippet_warns_on_a_quit_line():
    """The real DigiCert TLS RSA4096 Root G5 PEM has a line starting 'qUIT': warned."""
    real = x509.load_pem_x509_certificate(
        Path("/etc/ssl/certs/DigiCert_TLS_RSA4096_Root_G5.pem").read_bytes())
    snippet, warnings = cisco_trustpoint("digicert-g5", real)
    assert "\ncrypto pki trustpoint digicert-g5\n" in snippet
    assert snippet.rstrip().endswith("quit")
    assert len(warnings) == 1 and "line 29" in warnings[0] and "TFTP/SCP" in warnings[0]


def test_cisco_snippet_without_quit_lines_has_no_warning(session_store, tmp_path):
    """The negative twin: an ordinary PEM gets no warning."""
    real = x509.load_pem_x509_certificate(
        Path("/etc/ssl/certs/DigiCert_Global_Root_G2.pem").read_bytes())
    assert cisco_trustpoint("g2", real)[1] == []


def test_issue_sbc_writes_pem_p12_and_a_private_key(session_store, tmp_path):
    """issue-sbc writes the certificate, chain, 0600 key and PKCS#12 that verify."""
    out_dir = tmp_path / "sbc"
    status, _, err = run(["certs", "issue-sbc", "sbc.lab.example", "sbc2.lab.example",
                            "--eku", "server", "--out", str(out_dir), "--certs",
                            str(session_store)], tmp_path)
    assert status == ExitStatus.SUCCESS, err
    base = out_dir / "sbc.lab.example"
    key = Path(f"{base}.key.pem")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    verified = subprocess.run(
        ["openssl", "verify", "-purpose", "sslserver", "-CAfile", f"{base}.root.pem",
         "-untrusted", f"{base}.chain.pem", "-verify_hostname", "sbc2.lab.example",
         f"{base}.pem"], capture_output=True, text=True, timeout=30)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    client = subprocess.run(
        ["openssl", "verify", "-purpose", "sslclient", "-CAfile", f"{base}.root.pem",
         "-untrusted", f"{base}.chain.pem", f"{base}.pem"],
        capture_output=True, text=True, timeout=30)
    assert "unsuitable certificate purpose" in client.stdout + client.stderr


def test_damaged_store_is_one_clear_line(store_copy, tmp_path):
    """A damaged file ends the command with exit 1 and a line naming file and fix."""
    (store_copy / "lab" / "digicert-global-root-g2.pem").write_text("garbage")
    status, _, err = run(["certs", "export", "--roots", "microsoft-2023", "--certs",
                          str(store_copy)], tmp_path)
    assert status == ExitStatus.ERROR
    assert "digicert-global-root-g2.pem" in err and "fakepeer certs generate" in err
