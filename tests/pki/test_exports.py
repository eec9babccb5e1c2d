"""Exports that import: the path decides file or folder, keys stay the owner's, every format
carries (or prints) the fingerprints to compare, and each is read by the tool a device
uses: openssl for PEM/DER/PKCS#7/PKCS#12 and hashed folders, Kamailio for ca_list/ca_path."""

from __future__ import annotations

import os
import re
import socket
import ssl
import stat
import subprocess
from pathlib import Path

import pytest

from fakepeer.cli.status import ExitStatus
from fakepeer.pki import export
from fakepeer.pki.keys import private_key_pem
from fakepeer.pki.situation import Situation, build_situation, sbc_chain
from fakepeer.sip import MICROSOFT, build_options, to_bytes
from tests.conftest import make_pki, require
from tests.peers.kamailio import kamailio
from tests.pki.helpers import openssl, run

SEVEN = 7  # the roots Microsoft asks SBCs to trust from 2026


def _export(session_store: Path, cwd: Path, *args: str,
            variables: dict[str, str] | None = None) -> tuple[ExitStatus, str, str]:
    return run(["certs", "export", *args, "--certs", str(session_store)], cwd, variables)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _leaf_id(session_store: Path) -> str:
    return next(p.stem for p in (session_store / "lab").glob(
        "leaf-microsoft-2026-digicert-g2-*.json"))


def _pem_count(text: str) -> int:
    return text.count("-----BEGIN CERTIFICATE-----")


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- file or folder: the path as written decides -----------------------------------------


def test_the_readme_sequence_makes_and_then_updates_one_folder(session_store, tmp_path):
    """`--out roots/` is a folder even for one root (the banner's 2023 hint), and the 2026
    export after it updates the same folder (no traceback): all seven roots and the 2023
    one, each with a hash link openssl finds, so `openssl verify -CApath` passes both
    eras' chains."""
    status, out, err = _export(session_store, tmp_path, "--roots", "microsoft-2023",
                               "--out", "roots/")
    assert status == ExitStatus.SUCCESS, err
    roots = tmp_path / "roots"
    assert roots.is_dir() and len(list(roots.glob("*.pem"))) == 1
    status, out, err = _export(session_store, tmp_path, "--roots", "microsoft-2026",
                               "--out", "roots/")
    assert status == ExitStatus.SUCCESS, err
    assert len(list(roots.glob("*.pem"))) == SEVEN  # G2, the 2023 root, is one of the seven
    links = sorted(p for p in roots.iterdir() if p.is_symlink())
    assert len(links) == SEVEN
    for link in links:
        assert openssl("x509", "-in", str(link), "-noout", "-hash").stdout.strip() == \
            link.name.split(".")[0]
    assert "ca_path = " in out
    pki = make_pki(session_store)
    for era in ("microsoft-2023", "microsoft-2026"):
        served = build_situation(pki, Situation(era=era))
        (tmp_path / f"{era}.pem").write_bytes(export.pem([served.leaf]))
        (tmp_path / f"{era}.chain.pem").write_bytes(export.pem(served.extra))
        verified = openssl("verify", "-CApath", str(roots), "-untrusted",
                           str(tmp_path / f"{era}.chain.pem"), str(tmp_path / f"{era}.pem"),
                           check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr


def test_one_ca_exported_into_the_folder_gets_its_link(session_store, tmp_path):
    """`certs export ID --out roots/` adds that CA to the hashed folder, link included."""
    _export(session_store, tmp_path, "--roots", "microsoft-2023", "--out", "roots/")
    status, out, err = _export(session_store, tmp_path, "microsoft-rsa-root-2017",
                               "--out", "roots/")
    assert status == ExitStatus.SUCCESS, err
    roots = tmp_path / "roots"
    assert sorted(p.name for p in roots.glob("*.pem")) == [
        "digicert-global-root-g2.pem", "microsoft-rsa-root-2017.pem"]
    assert sorted(str(p.readlink()) for p in roots.iterdir() if p.is_symlink()) == [
        "digicert-global-root-g2.pem", "microsoft-rsa-root-2017.pem"]
    assert "link       roots/" in out


def test_a_file_path_gets_one_bundle_with_every_root(session_store, tmp_path):
    """`--out bundle.pem` with seven roots is one file (not a folder) holding all seven,
    each after comment lines with its SHA-1 and SHA-256 exactly as openssl prints them."""
    status, out, err = _export(session_store, tmp_path, "--roots", "microsoft-2026",
                               "--out", "bundle.pem")
    assert status == ExitStatus.SUCCESS, err
    bundle = tmp_path / "bundle.pem"
    assert bundle.is_file() and _mode(bundle) == 0o644
    pkcs7 = openssl("crl2pkcs7", "-nocrl", "-certfile", str(bundle)).stdout
    printed = openssl_stdin(["pkcs7", "-print_certs", "-noout"], pkcs7)
    assert printed.count("subject=") == SEVEN
    comments = re.findall(r"^# SHA-256 (\S+)$", bundle.read_text(), re.MULTILINE)
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n",
                        bundle.read_text(), re.DOTALL)
    assert len(comments) == len(blocks) == SEVEN
    for comment, block in zip(comments, blocks, strict=True):
        shown = openssl_stdin(["x509", "-noout", "-fingerprint", "-sha256"], block)
        assert shown.strip().split("=")[1] == comment
    assert f"ca_list = {bundle}" in out


def openssl_stdin(args: list[str], text: str) -> str:
    return subprocess.run(["openssl", *args], input=text, capture_output=True, text=True,
                          check=True, timeout=30).stdout


def test_a_trailing_slash_on_a_file_is_one_line(session_store, tmp_path):
    """`--out roots/` where roots is a file: one line saying so and what to write instead."""
    (tmp_path / "roots").write_text("a file")
    status, _, err = _export(session_store, tmp_path, "--roots", "microsoft-2026",
                             "--out", "roots/")
    assert status == ExitStatus.ERROR
    line = _one_line(err)
    assert "is a file" in line and "--out roots" in line


def test_a_device_is_written_to_not_replaced(session_store, tmp_path):
    """`--out /dev/full`: the device answers ENOSPC, told in one line, and stays a device
    (a rename into place would have put a regular file there)."""
    status, _, err = _export(session_store, tmp_path, "--roots", "microsoft-2026",
                             "--out", "/dev/full")
    assert status == ExitStatus.ERROR
    assert "no space left on device" in _one_line(err)
    assert stat.S_ISCHR(Path("/dev/full").stat().st_mode)


def test_a_symbolic_link_is_written_through(session_store, tmp_path):
    """`--out link.pem` where link.pem points elsewhere: the target gets the bundle."""
    (tmp_path / "real.pem").write_text("old")
    (tmp_path / "link.pem").symlink_to("real.pem")
    status, _, err = _export(session_store, tmp_path, "--roots", "microsoft-2023",
                             "--out", "link.pem")
    assert status == ExitStatus.SUCCESS, err
    assert (tmp_path / "link.pem").is_symlink()
    assert _pem_count((tmp_path / "real.pem").read_text()) == 1


# -- every format, read by openssl ------------------------------------------------------


def test_der_is_one_certificate_per_file(session_store, tmp_path):
    """DER to a file holds the one root; to a folder one file each; several roots to one
    DER file is a one-line error pointing at p7b or a folder. Fingerprints are printed."""
    status, out, err = _export(session_store, tmp_path, "--roots", "microsoft-2023",
                               "--format", "der", "--out", "g2.der")
    assert status == ExitStatus.SUCCESS, err
    shown = openssl("x509", "-inform", "DER", "-in", str(tmp_path / "g2.der"), "-noout",
                    "-fingerprint", "-sha1").stdout
    assert f"SHA-1 {shown.strip().split('=')[1]}" in out
    status, _, err = _export(session_store, tmp_path, "--roots", "microsoft-2026",
                             "--format", "der", "--out", "all.der")
    assert status == ExitStatus.ERROR and "p7b" in _one_line(err)
    assert not (tmp_path / "all.der").exists()
    status, _, err = _export(session_store, tmp_path, "--roots", "microsoft-2026",
                             "--format", "der", "--out", "der/")
    assert status == ExitStatus.SUCCESS, err
    files = sorted((tmp_path / "der").glob("*.der"))
    assert len(files) == SEVEN
    for path in files:
        openssl("x509", "-inform", "DER", "-in", str(path), "-noout")


def test_p7b_holds_every_root_in_one_binary_file(session_store, tmp_path):
    """PKCS#7 (the single-file binary bundle Windows and CUCM import): openssl reads seven."""
    status, out, err = _export(session_store, tmp_path, "--roots", "microsoft-2026",
                               "--format", "p7b", "--out", "roots.p7b")
    assert status == ExitStatus.SUCCESS, err
    printed = openssl("pkcs7", "-inform", "DER", "-in", str(tmp_path / "roots.p7b"),
                      "-print_certs", "-noout").stdout
    assert printed.count("subject=") == SEVEN
    assert out.count("SHA-256 ") == SEVEN


def test_p12_trust_store_of_roots(session_store, tmp_path):
    """`--roots ... --format p12` is a trust store: seven certificates, no key."""
    status, _, err = _export(session_store, tmp_path, "--roots", "microsoft-2026",
                             "--format", "p12", "--out", "trust.p12")
    assert status == ExitStatus.SUCCESS, err
    shown = openssl("pkcs12", "-in", str(tmp_path / "trust.p12"), "-nokeys",
                    "-passin", "pass:").stdout
    assert _pem_count(shown) == SEVEN and "PRIVATE KEY" not in shown


def test_audiocodes_bundle_carries_both_fingerprints(session_store, tmp_path):
    """The AudioCodes bundle: every root with SHA-1 and SHA-256 lines; openssl reads all."""
    status, _, err = _export(session_store, tmp_path, "--roots", "microsoft-2026",
                             "--format", "audiocodes", "--out", "ac/")
    assert status == ExitStatus.SUCCESS, err
    bundle = tmp_path / "ac" / "trusted-roots.pem"
    text = bundle.read_text()
    assert text.count("# SHA-1 ") == text.count("# SHA-256 ") == _pem_count(text) == SEVEN
    pkcs7 = openssl("crl2pkcs7", "-nocrl", "-certfile", str(bundle)).stdout
    assert openssl_stdin(["pkcs7", "-print_certs", "-noout"], pkcs7).count("subject=") == SEVEN


def test_cisco_snippets_carry_the_fingerprints_ios_shows_and_its_question(session_store,
                                                                          tmp_path):
    """Each IOS snippet gives MD5 and SHA1 in IOS's own layout (groups of eight, as openssl
    computes them) and says that IOS asks to accept the certificate; one file holds every
    trustpoint and says to paste one at a time."""
    status, _, err = _export(session_store, tmp_path, "--roots", "microsoft-2026",
                             "--format", "cisco", "--out", "ios.txt")
    assert status == ExitStatus.SUCCESS, err
    text = (tmp_path / "ios.txt").read_text()
    assert text.count("crypto pki authenticate ") == SEVEN
    assert text.count("% Do you accept this certificate? [yes/no]:") == SEVEN
    assert "one trustpoint at a time" in text
    g2 = session_store / "lab" / "digicert-global-root-g2.pem"
    for algorithm, label in (("-sha1", "SHA1"), ("-md5", "MD5")):
        digits = openssl("x509", "-in", str(g2), "-noout", "-fingerprint", algorithm)\
            .stdout.strip().split("=")[1].replace(":", "")
        grouped = " ".join(digits[i:i + 8] for i in range(0, len(digits), 8))
        assert f"Fingerprint {label}:" in text and grouped in text


# -- keys stay the owner's --------------------------------------------------------------


@pytest.fixture
def umask_000():
    old = os.umask(0)
    yield
    os.umask(old)


def test_issue_sbc_keys_are_owner_only_whatever_the_umask(session_store, tmp_path, umask_000):
    """Under umask 000: the key and the PKCS#12 are 0600, certificates 0644, the new folder
    0700; each file is named with its mode; the empty-password p12 is said to be
    unencrypted, and openssl opens it with an empty password."""
    status, out, err = run(["certs", "issue-sbc", "sbc.lab.example", "--out", "sbc",
                            "--certs", str(session_store)], tmp_path)
    assert status == ExitStatus.SUCCESS, err
    sbc = tmp_path / "sbc"
    assert _mode(sbc) == 0o700
    modes = {p.name: _mode(p) for p in sbc.iterdir()}
    assert modes == {"sbc.lab.example.pem": 0o644, "sbc.lab.example.chain.pem": 0o644,
                     "sbc.lab.example.root.pem": 0o644, "sbc.lab.example.key.pem": 0o600,
                     "sbc.lab.example.p12": 0o600}
    for name, mode in modes.items():
        assert f"wrote {mode:04o} sbc/{name}" in out
    assert "sbc/sbc.lab.example.p12 is not encrypted" in err
    openssl("pkcs12", "-in", str(sbc / "sbc.lab.example.p12"), "-info", "-noout",
            "-passin", "pass:")


def test_a_password_encrypts_the_p12_from_the_environment(session_store, tmp_path):
    """`--password env:NAME`: openssl opens the p12 with that password and not without."""
    status, out, err = run(["certs", "issue-sbc", "sbc.lab.example", "--out", "sbc",
                            "--password", "env:SBC_P12", "--certs", str(session_store)],
                           tmp_path, {"SBC_P12": "lab-secret"})
    assert status == ExitStatus.SUCCESS, err
    p12 = str(tmp_path / "sbc" / "sbc.lab.example.p12")
    openssl("pkcs12", "-in", p12, "-info", "-noout", "-passin", "pass:lab-secret")
    assert openssl("pkcs12", "-in", p12, "-info", "-noout", "-passin", "pass:",
                   check=False).returncode != 0
    assert "is encrypted" in out and "not encrypted" not in err


def test_export_p12_of_a_leaf_is_owner_only_with_or_without_password(session_store, tmp_path,
                                                                     umask_000):
    """`certs export LEAF --format p12` is 0600 under umask 000; with --password file:PATH
    it needs that password, without one openssl reads it with an empty one."""
    leaf = _leaf_id(session_store)
    status, _, err = _export(session_store, tmp_path, leaf, "--format", "p12",
                             "--out", "plain.p12")
    assert status == ExitStatus.SUCCESS, err
    assert _mode(tmp_path / "plain.p12") == 0o600 and "not encrypted" in err
    openssl("pkcs12", "-in", str(tmp_path / "plain.p12"), "-info", "-noout", "-passin", "pass:")
    (tmp_path / "pw").write_text("from-a-file\n")
    status, _, err = _export(session_store, tmp_path, leaf, "--format", "p12",
                             "--out", "locked.p12", "--password", "file:pw")
    assert status == ExitStatus.SUCCESS, err
    assert _mode(tmp_path / "locked.p12") == 0o600
    openssl("pkcs12", "-in", str(tmp_path / "locked.p12"), "-info", "-noout",
            "-passin", "pass:from-a-file")
    assert openssl("pkcs12", "-in", str(tmp_path / "locked.p12"), "-info", "-noout",
                   "-passin", "pass:", check=False).returncode != 0


def test_an_unset_password_variable_is_one_line(session_store, tmp_path):
    status, _, err = _export(session_store, tmp_path, _leaf_id(session_store), "--format", "p12",
                             "--out", "x.p12", "--password", "env:NOT_SET")
    assert status == ExitStatus.ERROR
    assert "NOT_SET is not set" in _one_line(err)
    assert not (tmp_path / "x.p12").exists()


# -- Kamailio, the SBC, trusts what was exported -----------------------------------------


def _options_over_tls(port: int, chain: Path, key: Path) -> str:
    """A TLS client presenting ``chain``/``key`` sends OPTIONS; Kamailio's answer line."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # what is tested is Kamailio trusting us
    context.load_cert_chain(str(chain), str(key))
    request = build_options(MICROSOFT, f"sip:127.0.0.1:{port};transport=tls",
                            via_host="127.0.0.1")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw) as tls:
        tls.settimeout(10)
        tls.sendall(to_bytes(request))
        return tls.recv(4096).decode(errors="replace").split("\r\n")[0]


@pytest.fixture(scope="module")
def client_chains(session_store, tmp_path_factory):
    """Two clients: the 2023 proxy chain (under DigiCert Global Root G2, one of the seven)
    and a lab SBC under a root no export contains."""
    folder = tmp_path_factory.mktemp("clients")
    pki = make_pki(session_store)
    chains = {"trusted": build_situation(pki, Situation(era="microsoft-2023")),
              "untrusted": sbc_chain(pki, ("sbc.lab.example",), issuer="untrusted")}
    files = {}
    for name, chain in chains.items():
        (folder / f"{name}.pem").write_bytes(export.pem(chain.sent))
        (folder / f"{name}.key").write_bytes(private_key_pem(chain.key))
        files[name] = (folder / f"{name}.pem", folder / f"{name}.key")
    return chains["trusted"], files


@pytest.mark.loopback
@pytest.mark.parametrize("layout", ["ca_list", "ca_path"])
def test_kamailio_trusts_the_export(session_store, tmp_path, client_chains, layout):
    """Kamailio requiring a client certificate starts with the exported bundle as its
    ca_list, or the exported folder as its ca_path, and then accepts a client chained to
    one of the roots (200 to OPTIONS) and refuses one chained to another root."""
    require("kamailio")
    served, files = client_chains
    out = "roots.pem" if layout == "ca_list" else "roots/"
    status, _, err = _export(session_store, tmp_path, "--roots", "microsoft-2026", "--out", out)
    assert status == ExitStatus.SUCCESS, err
    setting = ("ca_list", tmp_path / "roots.pem") if layout == "ca_list" \
        else ("ca_path", tmp_path / "roots")
    with kamailio(tmp_path / "kamailio", export.pem(served.sent),
                  private_key_pem(served.key), require_certificate=True,
                  ca_setting=setting) as sbc:
        assert _options_over_tls(sbc.port, *files["trusted"]).startswith("SIP/2.0 200")
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _options_over_tls(sbc.port, *files["untrusted"])


@pytest.mark.loopback
def test_kamailio_refuses_a_folder_as_ca_list(session_store, tmp_path, client_chains):
    """Why the README says ca_path for the folder: Kamailio 5.6 will not start with a
    folder as ca_list."""
    require("kamailio")
    served, _ = client_chains
    status, _, err = _export(session_store, tmp_path, "--roots", "microsoft-2026",
                             "--out", "roots/")
    assert status == ExitStatus.SUCCESS, err
    try:
        with kamailio(tmp_path / "kamailio", export.pem(served.sent),
                      private_key_pem(served.key), require_certificate=True,
                      ca_setting=("ca_list", tmp_path / "roots")) as sbc:
            # It binds its port, then a child fails to load the list and the whole exits.
            status = sbc.process.wait(timeout=20)
            log = sbc.log()
    except RuntimeError as exc:  # it exited before the port answered
        status, log = 1, str(exc)
    assert status != 0
    assert "Unable to load CA list file" in log and "exiting" in log
