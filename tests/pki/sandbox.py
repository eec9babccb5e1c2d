"""Run ``python -m fakepeer`` the way a user meets a hostile file system: as a user who may
not read or write a file, on a read-only mount, on a full disk.

Real kernel behaviour, no mocks: permissions come from ``setpriv`` (when the tests run as
root, the command runs without the capabilities that let root ignore file modes, so a file
of another user's is as closed to it as to anyone), read-only and tiny file systems from a
private mount namespace (``unshare -m``) that disappears with the command.
"""

from __future__ import annotations

import os
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Root would read and write any file whatever its mode; without these it cannot.
_FILE_CAPABILITIES = "-dac_override,-dac_read_search,-fowner"
#: A user the tests give files to when they run as root.
OTHER_UID = 65534


@dataclass
class Result:
    status: int
    out: str
    err: str


def fakepeer(*args: str) -> list[str]:
    return [sys.executable, "-m", "fakepeer", *args]


def _env() -> dict[str, str]:
    """The test's environment without fakepeer's own variables: each test says what it
    means with options."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKEPEER_")}
    return {**env, "PYTHONUNBUFFERED": "1"}


def as_ordinary_user(argv: list[str]) -> list[str]:
    """``argv`` run so that file modes apply to it (they already do for a non-root user)."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to run without root's file capabilities")
    return [setpriv, f"--bounding-set={_FILE_CAPABILITIES}", "--", *argv]


def run(argv: list[str], cwd: Path, timeout: float = 60) -> Result:
    done = subprocess.run(argv, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)
    return Result(done.returncode, done.stdout, done.stderr)


def _private_mounts(script: str) -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is needed for a private mount namespace")
    namespace = ["-m"] if os.geteuid() == 0 else ["-r", "-m"]
    probe = subprocess.run([unshare, *namespace, "true"], capture_output=True, timeout=10,
                           check=False)
    if probe.returncode != 0:
        pytest.skip(f"this machine allows no private mount namespace: {probe.stderr.decode()}")
    return [unshare, *namespace, "sh", "-c", script]


def in_private_mounts(script: str, cwd: Path, timeout: float = 120) -> Result:
    """Run the shell ``script`` (mounts, then commands) in a mount namespace of its own, so
    nothing mounted outlives it or is seen by anyone else."""
    return run(_private_mounts(script), cwd, timeout)


def start_in_private_mounts(prologue: str, argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    """``argv`` started after the shell ``prologue``, in a mount namespace of its own; the
    shell ``exec``s it, so the process returned is ``argv``'s own (stop it by its PID)."""
    script = f"set -e\n{prologue}\nexec {shlex.join(argv)}"
    return subprocess.Popen(_private_mounts(script), cwd=cwd, env=_env(), bufsize=0,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def read_until(process: subprocess.Popen[bytes], marker: str, deadline: float) -> str:
    """What ``process`` printed up to ``marker``, or up to its exit or ``deadline`` seconds;
    reads the pipe unbuffered, so it never waits on output it already has."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        end = time.monotonic() + deadline
        while marker.encode() not in seen and time.monotonic() < end:
            if not selector.select(timeout=max(0.0, end - time.monotonic())):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the process started (by PID), then wait for it with a deadline."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    return process.returncode


def shell(argv: list[str]) -> str:
    return shlex.join(argv)


def give_to_other_user(path: Path) -> None:
    """Hand ``path`` (recursively) to another user; only root can."""
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root; the tests run unprivileged")
    for folder, _dirs, files in os.walk(path):
        os.chown(folder, OTHER_UID, OTHER_UID)
        for name in files:
            os.chown(Path(folder) / name, OTHER_UID, OTHER_UID, follow_symlinks=False)


def one_line_error(result: Result) -> str:
    """The error a command printed, checked to be one line and no traceback."""
    assert "Traceback" not in result.err, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("fakepeer: error: "), result.err
    return lines[0]
