"""The README's first command, as written, in a fresh clone with Debian's own Python.

Issue 14: ``scripts/setup.sh`` ran ``pip install -e .`` into the system interpreter,
which Debian 12 and Ubuntu 24.04 refuse (PEP 668), and killed any running kamailio after
installing packages. Here the command runs in a ``git clone`` of this checkout (plus its
uncommitted changes, so that a change is proven before it is committed) in a temporary
folder, with ``PATH=/usr/bin:/bin:/usr/sbin:/sbin``, exactly as the README prints it;
``FAKEPEER_LISTEN`` and ``FAKEPEER_HTTP`` choose free loopback ports so that the text
stays exact. It passes when the serve it started answers a lab SBC's OPTIONS with 200
over mutual TLS (``fakepeer healthcheck``, called the way the README says to put
``fakepeer`` on PATH); as root and as ``nobody``, who owns only their own clone.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers.kamailio import free_port
from tests.readme import ROOT, activation, two_commands

SYSTEM_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"  # Debian's Python first, nothing of ours
LISTENING = "listening for SIP over TLS"
SETUP_DEADLINE = 300.0  # a cold venv and pip install take about 20 s here
NOBODY = "nobody"
#: What a login shell would pass on: pip's configuration and the way to the registry.
PASSED_ON = re.compile(r"PIP_\w+|(?i:https?_proxy|no_proxy)|LANG|LC_ALL")


@dataclass
class User:
    """Who runs the commands: ``argv`` prefixes them, ``home`` is their HOME."""

    name: str
    argv: list[str]
    home: Path
    uid: int | None = None  # set when the files must be handed over to that user

    def give(self, path: Path) -> None:
        if self.uid is None:
            return
        for place in [path, *path.rglob("*")]:
            os.lchown(place, self.uid, self.uid)


@dataclass
class Serving:
    """The README command running in its own process group, its output read by a thread."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.seen)

    def wait_for(self, text: str, deadline: float) -> bool:
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=min(1.0, max(deadline - time.monotonic(), 0)))
            except queue.Empty:
                continue
            if line is None:
                return False
            self.seen.append(line)
            if text in line:
                return True
        return False

    def why_not(self) -> str:
        """Why the awaited line never came: the command ended, or the deadline passed."""
        try:
            return f"exited with status {self.process.wait(timeout=5)} before listening"
        except subprocess.TimeoutExpired:
            return f"did not listen within {SETUP_DEADLINE:g}s"

    def stop(self) -> None:
        """SIGTERM to the group this test started (bash, setup, serve), SIGKILL after 15 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)


def debian_python() -> None:
    """Skip off Debian; fail where Debian's Python cannot make a venv (the test's premise)."""
    if not Path("/usr/bin/python3").exists() or shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian-like machine: no /usr/bin/python3 or dpkg-query")
    done = subprocess.run(["/usr/bin/python3", "-c", "import ensurepip"], capture_output=True,
                          timeout=30)
    if done.returncode != 0:
        pytest.fail("python3-venv is not installed; scripts/setup.sh --test installs it")


def environment(user: User, **variables: str) -> dict[str, str]:
    """A login-like environment: Debian's PATH, the user's HOME, nothing of this session's
    Python (no PYTHONPATH, VIRTUAL_ENV or pyenv)."""
    kept = {k: v for k, v in os.environ.items() if PASSED_ON.fullmatch(k)}
    return {**kept, "PATH": SYSTEM_PATH, "HOME": str(user.home), "PYTHONUNBUFFERED": "1",
            **variables}


def fresh_clone(target: Path) -> Path:
    """``git clone`` of this checkout with its uncommitted changes to tracked files on top.
    No hard links: handing the clone to another user must not touch this one's files."""
    if not (ROOT / ".git").exists():
        pytest.skip(f"{ROOT} is not a git checkout")
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)],
                   check=True, timeout=120, capture_output=True)
    pending = subprocess.run(["git", "-C", str(ROOT), "diff", "HEAD", "--binary"],
                             check=True, timeout=60, capture_output=True).stdout
    if pending:
        subprocess.run(["git", "-C", str(target), "apply", "--binary", "-"], input=pending,
                       check=True, timeout=60, capture_output=True)
    return target


@contextmanager
def as_user(name: str, tmp_path: Path) -> Iterator[tuple[User, Path]]:
    """The user and a folder of theirs. ``nobody`` gets a world-traversable one of its own
    (pytest's tmp_path is root's alone), removed afterwards."""
    if name != NOBODY:
        yield User("self", [], Path.home()), tmp_path
        return
    if os.geteuid() != 0:
        pytest.skip(f"the tests run as uid {os.geteuid()}, not root: the run as this user "
                    "is already the non-root one")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is missing: cannot become nobody")
    try:
        uid = int(subprocess.run(["id", "-u", NOBODY], capture_output=True, text=True,
                                 check=True, timeout=10).stdout)
    except subprocess.CalledProcessError:
        pytest.skip(f"this machine has no user {NOBODY}")
    folder = Path(tempfile.mkdtemp(prefix="fakepeer-setup-test-"))
    try:
        folder.chmod(0o755)
        home = folder / "home"
        home.mkdir()
        user = User(NOBODY, ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"],
                    home, uid)
        yield user, folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("who", ["self", NOBODY])
def test_readme_first_command_serves_from_a_fresh_clone_with_debian_python(
        who: str, tmp_path: Path) -> None:
    """The README's serve command installs into .venv and serves; a second set-up is quick
    and installs nothing; the clone stays clean (.venv and certs/ are ignored)."""
    debian_python()
    serve_command, _ = two_commands()
    with as_user(who, tmp_path) as (user, folder):
        clone = fresh_clone(folder / "clone")
        user.give(folder)
        sip, http = free_port(), free_port()
        env = environment(user, FAKEPEER_LISTEN=f"127.0.0.1:{sip}",
                          FAKEPEER_HTTP=f"127.0.0.1:{http}")
        start = time.monotonic()
        serving = Serving(subprocess.Popen(
            [*user.argv, "bash", "-c", serve_command], cwd=clone, env=env, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True))
        threading.Thread(target=_pump, args=(serving,), daemon=True).start()
        try:
            if not serving.wait_for(LISTENING, start + SETUP_DEADLINE):
                pytest.fail(f"`{serve_command}` {serving.why_not()}:\n"
                            f"{serving.output()[-4000:]}", pytrace=False)
            ready = time.monotonic() - start
            check = subprocess.run(
                [*user.argv, "bash", "-c", f"{activation()} && fakepeer healthcheck"],
                cwd=clone, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=60)
            assert check.returncode == 0, check.stdout + check.stderr
            assert f"healthy: 127.0.0.1:{sip} answered OPTIONS with 200 OK" in check.stdout
        finally:
            serving.stop()
        print(f"\n{who}: README serve command listening after {ready:.1f}s")

        start = time.monotonic()
        again = subprocess.run([*user.argv, "scripts/setup.sh"], cwd=clone, env=env,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=60)
        assert again.returncode == 0, again.stderr
        assert "setup: .venv is up to date" in again.stderr
        assert time.monotonic() - start < 10, "a second set-up should only check, not install"
        untracked = subprocess.run(
            [*user.argv, "git", "-C", str(clone), "ls-files", "--others", "--exclude-standard"],
            env=env, capture_output=True, text=True, check=True, timeout=60).stdout
        assert untracked == "", f"setup or serve left files git does not ignore:\n{untracked}"


def _pump(serving: Serving) -> None:
    assert serving.process.stdout is not None
    for line in serving.process.stdout:
        serving.lines.put(line)
    serving.lines.put(None)


def test_without_root_or_sudo_setup_names_the_missing_packages_in_one_line(
        tmp_path: Path) -> None:
    """A normal user without sudo on a machine that lacks the packages (an empty dpkg
    database, through dpkg's own DPKG_ADMINDIR) gets one line naming them and the fix, and
    nothing is installed or made."""
    debian_python()
    if shutil.which("sudo", path=SYSTEM_PATH):
        pytest.skip("sudo is installed here: setup would ask it, so the path without "
                    "root or sudo cannot be shown")
    with as_user(NOBODY, tmp_path) as (user, folder):
        (folder / "scripts").mkdir()
        shutil.copy2(ROOT / "scripts" / "setup.sh", folder / "scripts" / "setup.sh")
        admin = folder / "dpkg"
        (admin / "info").mkdir(parents=True)
        (admin / "updates").mkdir()
        (admin / "status").write_text("")
        user.give(folder)
        before = sorted(folder.rglob("*"))
        done = subprocess.run([*user.argv, "scripts/setup.sh"], cwd=folder,
                              env=environment(user, DPKG_ADMINDIR=str(admin)),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60)
        assert sorted(folder.rglob("*")) == before
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "setup: missing Debian packages: openssl ca-certificates; neither root nor sudo "
        "here: install them as root (apt-get install openssl ca-certificates) and run "
        "scripts/setup.sh again"]


SERVICE_CONTROL = re.compile(r"\b(systemctl|service|invoke-rc\.d|update-rc\.d|pkill|killall|"
                             r"kill)\b")


@pytest.mark.parametrize("script", ["scripts/setup.sh", ".ci/run"])
def test_set_up_never_stops_disables_or_kills_a_service(script: str) -> None:
    """No command of the set-up touches a running service: on a lab box whose SBC is
    Kamailio, setup used to disable and kill it (`systemctl disable --now`, `pkill`)."""
    commands = [line for line in (ROOT / script).read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert [line for line in commands if SERVICE_CONTROL.search(line)] == []


@pytest.mark.parametrize(("arguments", "variables", "message"), [
    (["--tset"], {}, "setup: unknown option '--tset': scripts/setup.sh takes only --test "
                   "or --bench"),
    (["--test", "x"], {}, "setup: too many arguments (--test x): scripts/setup.sh takes only "
                          "--test or --bench"),
    ([], {"PYTHON": "python3.99"}, "setup: PYTHON=python3.99 is not a command: name an "
                                    "installed Python 3.11+"),
])
def test_bad_input_to_setup_is_one_line_naming_the_fix(
        arguments: list[str], variables: dict[str, str], message: str, tmp_path: Path) -> None:
    """Before anything is installed or made: one line, exit 1."""
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    done = subprocess.run(["scripts/setup.sh", *arguments], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={"PATH": SYSTEM_PATH, "HOME": str(tmp_path), **variables})
    assert (done.returncode, done.stderr.splitlines()) == (1, [message])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scripts"]
