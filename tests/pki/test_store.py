"""The certs/ store: reuse, permissions, atomicity, concurrency, clear errors."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.hashes import SHA256

from fakepeer.errors import StoreError
from fakepeer.pki.authority import IssueOptions
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.keys import KeySpec
from fakepeer.pki.situation import Situation, build_situation
from fakepeer.pki.store import CertStore
from tests.conftest import make_pki


def test_second_run_generates_nothing(session_store):
    """A warm run over a complete store makes no certificate and no key."""
    pki = make_pki(session_store)
    keys_before = sorted(p.name for p in (session_store / "keys").iterdir())
    for era in ("microsoft-2020", "microsoft-2023", "microsoft-2026", "genesys"):
        build_situation(pki, Situation(era=era))
    assert pki.generated == []
    assert sorted(p.name for p in (session_store / "keys").iterdir()) == keys_before


def test_private_keys_are_owner_only(session_store):
    """Every private key file is mode 0600 and the keys folder 0700."""
    assert stat.S_IMODE((session_store / "keys").stat().st_mode) == 0o700
    for key in (session_store / "keys").iterdir():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_damaged_certificate_names_file_and_command(store_copy):
    """An unreadable PEM is an error naming the file and the regenerate command."""
    path = store_copy / "lab" / "digicert-global-root-g2.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    with pytest.raises(StoreError, match=r"digicert-global-root-g2\.pem.*fakepeer certs generate"):
        make_pki(store_copy).certificate("digicert-global-root-g2")


def test_foreign_certificate_is_refused(store_copy):
    """A certificate swapped for another one (even a valid one) is refused by name."""
    lab = store_copy / "lab"
    (lab / "digicert-global-root-g2.pem").write_bytes(
        (lab / "digicert-global-root-g3.pem").read_bytes())
    with pytest.raises(StoreError, match="not the certificate fakepeer stored"):
        make_pki(store_copy).certificate("digicert-global-root-g2")


def test_key_not_matching_certificate_is_refused(store_copy):
    """A key file that does not belong to its certificate is named in the error."""
    keys = store_copy / "keys"
    (keys / "digicert-global-root-g2.key.pem").write_bytes(
        (keys / "baltimore-cybertrust-root.key.pem").read_bytes())
    with pytest.raises(StoreError, match=r"does not match its private key"):
        make_pki(store_copy).certificate("digicert-global-root-g2")


def test_unreadable_key_names_file(store_copy):
    """A damaged key is an error naming the key file."""
    (store_copy / "keys" / "digicert-global-root-g2.key.pem").write_text("not a key")
    with pytest.raises(StoreError, match=r"digicert-global-root-g2\.key\.pem"):
        make_pki(store_copy).certificate("digicert-global-root-g2")


def test_certificate_without_description_is_regenerated(store_copy):
    """A generation killed before the .json was written leaves nothing trusted."""
    (store_copy / "lab" / "digicert-global-root-g2.json").unlink()
    old = (store_copy / "lab" / "digicert-global-root-g2.pem").read_bytes()
    pki = make_pki(store_copy)
    pki.certificate("digicert-global-root-g2")
    assert pki.generated == ["digicert-global-root-g2"]
    assert (store_copy / "lab" / "digicert-global-root-g2.pem").read_bytes() != old


def test_killed_generation_leaves_a_usable_store(tmp_path):
    """SIGKILL in the middle of a cold generation never leaves a file a later run trusts."""
    root = tmp_path / "certs"
    script = textwrap.dedent(f"""
        from fakepeer import generation
        from fakepeer.pki import mirrors
        from tests.conftest import make_pki
        from pathlib import Path
        generation.generate(make_pki(Path({str(root)!r})),
                           list(mirrors.ERAS), with_defects=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path.cwd())
    try:
        proc.wait(timeout=1.2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    pki = make_pki(root)
    served = build_situation(pki, Situation(era="microsoft-2026"))
    served.leaf.verify_directly_issued_by(served.extra[0])
    assert not list(root.rglob("*.tmp"))


def test_two_processes_on_one_store_agree(tmp_path):
    """Two concurrent generations on one folder end with one consistent hierarchy."""
    root = tmp_path / "certs"
    script = textwrap.dedent(f"""
        from pathlib import Path
        from fakepeer.pki.situation import Situation, build_situation
        from tests.conftest import make_pki
        s = build_situation(make_pki(Path({str(root)!r})), Situation(era="microsoft-2026"))
        from cryptography.hazmat.primitives.hashes import SHA256
        print(s.trust_anchors[0].fingerprint(SHA256()).hex())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs[0] == outputs[1]
    served = build_situation(make_pki(root), Situation(era="microsoft-2026"))
    assert served.trust_anchors[0].fingerprint(SHA256()).hex() == outputs[0]


# -- the key pool ----------------------------------------------------------------------


def _fill(root: Path, count: int) -> list[bytes]:
    """``count`` spare RSA 2048 keys in a new store's pool; their PEM bytes."""
    store = make_pki(root).store
    for _ in range(count):
        store.add_to_pool(KeySpec("RSA", 2048).generate())
    return [p.read_bytes() for p in sorted((root / "pool").iterdir())]


def test_a_generation_takes_keys_from_the_pool_before_making_any(tmp_path):
    """A missing key is a spare key moved into place (0600), not a new one."""
    root = tmp_path / "certs"
    spares = _fill(root, 2)
    pki = make_pki(root)
    pki.certificate("digicert-global-root-g2")
    assert (pki.keys_generated, pki.keys_from_pool) == (0, 1)
    key_file = root / "keys" / "digicert-global-root-g2.key.pem"
    assert key_file.read_bytes() in spares
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(list((root / "pool").iterdir())) == 1
    assert make_pki(root).store.pool_counts() == {KeySpec("RSA", 2048): 1}


def test_two_processes_never_take_the_same_spare_key(tmp_path):
    """Two concurrent generations drawing on one pool: every key in the store differs."""
    root = tmp_path / "certs"
    spares = set(_fill(root, 4))
    script = textwrap.dedent(f"""
        from pathlib import Path
        from fakepeer.pki.situation import Situation, build_situation
        from tests.conftest import make_pki
        build_situation(make_pki(Path({str(root)!r})), Situation(era="genesys"))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    keys = [p.read_bytes() for p in (root / "keys").iterdir()]
    assert len(keys) == len(set(keys)) >= 3
    left = {p.read_bytes() for p in (root / "pool").iterdir()}
    assert len(set(keys) & spares) + len(left) == len(spares)  # none used twice, none lost


def test_one_core_is_enough(tmp_path):
    """Pinned to one CPU, key generation runs one key at a time and still completes."""
    taskset = shutil.which("taskset")
    if taskset is None:
        pytest.skip("taskset (util-linux) is needed to pin a process to one CPU")
    script = textwrap.dedent(f"""
        from pathlib import Path
        from fakepeer.pki.keys import usable_cores
        from fakepeer.pki.situation import Situation, build_situation
        from tests.conftest import make_pki
        pki = make_pki(Path({str(tmp_path / "certs")!r}))
        served = build_situation(pki, Situation(era="genesys"))
        served.leaf.verify_directly_issued_by(served.extra[0])
        print(usable_cores(), pki.keys_generated)
    """)
    done = subprocess.run([taskset, "-c", "0", sys.executable, "-c", script], text=True,
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    cores, generated = map(int, done.stdout.split())
    assert cores == 1 and generated >= 3


# -- leftovers and a store that must not be written ------------------------------------------


def test_leftovers_of_a_killed_run_are_removed_and_nothing_else(store_copy):
    """fakepeer's own temporary names (.<file>.<8 chars>.tmp) go at the next run; a user's
    files that only look similar stay."""
    ours = [store_copy / ".README.md.x1y2z3ab.tmp",
            store_copy / "keys" / ".digicert-global-root-g2.key.pem.abc_1234.tmp",
            store_copy / "lab" / ".digicert-global-root-g2.pem.qq9rr8ss.tmp",
            store_copy / "lab" / "revoked" / ".x.json.aaaabbbb.tmp"]
    theirs = [store_copy / "lab" / "notes.tmp", store_copy / "lab" / ".draft.ABCDEFGH.tmp",
              store_copy / "keys" / ".backup.tmp"]
    for path in ours + theirs:
        path.parent.mkdir(exist_ok=True)
        path.write_text("left over")
    make_pki(store_copy).certificate("digicert-global-root-g2")
    assert [p for p in ours if p.exists()] == []
    assert all(p.exists() for p in theirs)


def test_the_non_writing_mode_makes_what_is_missing_in_memory_only(store_copy, tmp_path):
    """read_only=True: a missing certificate is made (the chain verifies), nothing on disk
    changes, no lock file is created; an absent store is not even created."""
    (store_copy / "lab" / "digicert-global-root-g2.json").unlink()
    (store_copy / ".lock").unlink()
    before = {p: p.stat().st_mtime_ns for p in store_copy.rglob("*")}
    issue = IssueOptions()
    pki = Pki(CertStore(store_copy, issue.variant, read_only=True), issue)
    served = build_situation(pki, Situation(era="microsoft-2023"))
    served.extra[0].verify_directly_issued_by(served.trust_anchors[0])
    assert "digicert-global-root-g2" in pki.generated
    assert {p: p.stat().st_mtime_ns for p in store_copy.rglob("*")} == before

    nowhere = tmp_path / "never-made"
    pki = Pki(CertStore(nowhere, issue.variant, read_only=True), issue)
    build_situation(pki, Situation(era="genesys"))
    assert not nowhere.exists()
    assert "digicert-global-root-g2" in pki.store.stored_ids()


def test_a_fresh_store_is_private_whatever_the_umask(tmp_path):
    """Under umask 000 the store and its folders are 0700, keys 0600, certificates 0644."""
    old = os.umask(0)
    try:
        build_situation(make_pki(tmp_path / "certs"), Situation(era="genesys"))
    finally:
        os.umask(old)
    root = tmp_path / "certs"
    for folder in (root, root / "keys", root / "lab"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert {stat.S_IMODE(p.stat().st_mode) for p in (root / "keys").iterdir()} == {0o600}
    assert {stat.S_IMODE(p.stat().st_mode) for p in (root / "lab").glob("*.pem")} == {0o644}
    assert stat.S_IMODE((root / ".lock").stat().st_mode) == 0o600


def test_a_certificate_left_empty_by_a_power_cut_is_made_again(store_copy):
    """Certificates are not flushed to disk one by one (keys are): one a power cut left
    empty counts as never made, not as damaged."""
    (store_copy / "lab" / "digicert-global-root-g2.pem").write_bytes(b"")
    pki = make_pki(store_copy)
    pki.certificate("digicert-global-root-g2")
    assert pki.generated == ["digicert-global-root-g2"]
