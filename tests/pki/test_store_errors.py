"""The store when the file system says no: a user who may not read or write, a read-only
mount, a full disk. Each ends in one line naming the file, the problem and the fix (exit 1,
no traceback), and a complete store still serves from where it cannot be written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakepeer.cli.status import ExitStatus
from tests.pki.helpers import run as cli
from tests.pki.sandbox import (
    OTHER_UID,
    Result,
    as_ordinary_user,
    fakepeer,
    give_to_other_user,
    in_private_mounts,
    one_line_error,
    read_until,
    run,
    shell,
    start_in_private_mounts,
    stop,
)


def _make_unreadable(path: Path) -> None:
    """A file the command's user may not read: another user's (as root), or mode 000."""
    if os.geteuid() == 0:
        os.chown(path, OTHER_UID, OTHER_UID)
        path.chmod(0o600)
    else:
        path.chmod(0)


@pytest.mark.parametrize("relative", ["keys/digicert-global-root-g2.key.pem",
                                      "lab/digicert-global-root-g2.pem"])
def test_a_file_the_user_cannot_read_is_one_line(store_copy, tmp_path, relative):
    """A key or certificate the user may not read: exit 1 and one line naming the file,
    "permission denied", who owns it and another way (--certs)."""
    target = store_copy / relative
    _make_unreadable(target)
    result = run(as_ordinary_user(fakepeer("certs", "export", "--roots", "microsoft-2023",
                                           "--certs", str(store_copy))), tmp_path)
    assert result.status == ExitStatus.ERROR
    line = one_line_error(result)
    assert str(target) in line and "permission denied" in line and "--certs DIR" in line


def test_an_unwritable_current_folder_is_one_line(tmp_path):
    """The default store ./certs cannot be made where the user stands: the line says the
    folder is the current one and how to choose another (--certs, FAKEPEER_CERTS)."""
    here = tmp_path / "read-only-here"
    here.mkdir()
    here.chmod(0o555)
    try:
        result = run(as_ordinary_user(fakepeer("certs", "generate", "--era", "genesys")), here)
    finally:
        here.chmod(0o755)
    assert result.status == ExitStatus.ERROR
    line = one_line_error(result)
    assert "cannot create the certificate store" in line and "./certs" in line
    assert "permission denied" in line and "FAKEPEER_CERTS" in line
    assert not (here / "certs").exists()


def test_a_store_owned_by_another_user_is_one_line(tmp_path):
    """./certs belongs to someone else (made by root, say): the line names the owner."""
    store = tmp_path / "certs"
    store.mkdir(mode=0o700)
    give_to_other_user(store)
    result = run(as_ordinary_user(fakepeer("certs", "generate", "--era", "genesys")), tmp_path)
    assert result.status == ExitStatus.ERROR
    line = one_line_error(result)
    assert f"uid {OTHER_UID}" in line and "permission denied" in line
    assert list(store.iterdir()) == []


def _read_only(store: Path) -> str:
    return f"mount --bind {store} {store}\nmount -o remount,bind,ro {store}"


def test_a_complete_store_on_a_read_only_file_system_serves(store_copy, tmp_path):
    """serve starts from a complete store mounted read-only (nothing is written, not even
    a chmod), and listens."""
    argv = fakepeer("serve", "--listen", "127.0.0.1:0", "--no-http", "--certs", str(store_copy))
    process = start_in_private_mounts(_read_only(store_copy), argv, tmp_path)
    try:
        seen = read_until(process, "listening for SIP over TLS", deadline=60)
    finally:
        status = stop(process)
    assert "listening for SIP over TLS" in seen, seen
    assert "Traceback" not in seen
    assert status == ExitStatus.SUCCESS, seen


def test_an_incomplete_store_on_a_read_only_file_system_is_one_line(store_copy, tmp_path):
    """A store that lacks a certificate, read-only: one line naming the file to make and
    "read-only file system", and the store is as it was."""
    (store_copy / "lab" / "digicert-global-root-g2.json").unlink()
    before = sorted(p.name for p in (store_copy / "lab").iterdir())
    command = fakepeer("certs", "export", "--roots", "microsoft-2023", "--certs", str(store_copy))
    result = in_private_mounts(f"{_read_only(store_copy)}\nexec {shell(command)}", tmp_path)
    assert result.status == ExitStatus.ERROR
    line = one_line_error(result)
    assert "read-only file system" in line and str(store_copy) in line
    assert sorted(p.name for p in (store_copy / "lab").iterdir()) == before


def test_a_full_disk_is_one_line_and_leaves_a_consistent_store(session_store, tmp_path):
    """ENOSPC from a real (tiny) tmpfs halfway through writing certificates: one line with
    "no space left on device"; what was written is whole (`certs list` reads it all, no
    temporary file stays), and with space again the same command completes the store."""
    disk = tmp_path / "disk"
    disk.mkdir()
    store = disk / "certs"
    out = tmp_path / "out"
    out.mkdir()

    def step(name: str, argv: list[str]) -> str:
        return f"{shell(argv)} >{out}/{name}.out 2>{out}/{name}.err; echo $? >{out}/{name}.rc"

    generate = fakepeer("certs", "generate", "--certs", str(store))
    script = "\n".join([
        "set -e",
        f"mount -t tmpfs -o size=320k tmpfs {disk}",
        f"mkdir -m 700 {store}",
        f"cp -a {session_store}/keys {store}/keys",  # no key to generate: straight to writing
        "set +e",
        step("full", generate),
        step("list", fakepeer("certs", "list", "--json", "--certs", str(store))),
        f"find {disk} -name '*.tmp' >{out}/leftovers",
        f"mount -o remount,size=16m {disk}",
        step("again", generate),
    ])
    result = in_private_mounts(script, tmp_path, timeout=180)
    assert result.status == 0, result.err

    def read(name: str) -> str:
        return (out / name).read_text()

    assert read("full.rc").strip() == str(int(ExitStatus.ERROR)), read("full.err")
    line = one_line_error(Result(1, "", read("full.err")))
    assert "no space left on device" in line and str(store) in line
    assert read("list.rc").strip() == "0", read("list.err")
    assert read("leftovers") == ""
    assert read("again.rc").strip() == "0", read("again.err")
    assert "done:" in read("again.out")


def test_a_store_path_that_is_a_file_is_one_line(tmp_path):
    """--certs naming a file: one line saying so, with the fix."""
    (tmp_path / "certs").write_text("not a folder")
    status, _, err = cli(["certs", "generate", "--era", "genesys"], tmp_path)
    assert status == ExitStatus.ERROR
    assert "is a file, not a folder" in one_line_error(Result(status, "", err))

