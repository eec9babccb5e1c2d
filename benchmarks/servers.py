"""The servers under test, each pinned to the server core: fakepeer from a tree, and Kamailio.

A server is started for a block and stopped at its end, by the PID this module started
(SIGTERM, then SIGKILL after a deadline); it listens on a free 127.0.0.1 port. Its
processes (the one started and its descendants) are what the generator watches: their
CPU and PSS are the server's figures.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.peers.kamailio import free_port, kamailio

#: The four ECDHE-RSA suites both servers allow (fakepeer's Microsoft profile).
CIPHERS = ("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
           "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
#: Enough for figure C's 5,000 idle connections with room to spare, on both servers.
MAX_CONNECTIONS = 20000


class ServerError(RuntimeError):
    """A server did not start or died; the message names it and quotes its log."""


@dataclass(frozen=True)
class Served:
    """One running server: its name, port and the PID this benchmark started."""

    name: str
    port: int
    pid: int

    def processes(self) -> list[int]:
        return process_tree(self.pid)


def pinned(core: int) -> list[str]:
    return ["taskset", "-c", str(core)]


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (Kamailio forks a dozen)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree = [root]
    for pid in tree:
        tree.extend(child for child, parent in parents.items() if parent == pid)
    return tree


def wait_forked(pid: int, timeout: float = 10.0) -> None:
    """Wait until a server has forked all its workers: Kamailio forks after it listens,
    and a process missed here would be missing from its CPU and PSS."""
    deadline = time.monotonic() + timeout
    count, stable_since = len(process_tree(pid)), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - stable_since < 1.0:
        time.sleep(0.1)
        now = len(process_tree(pid))
        if now != count:
            count, stable_since = now, time.monotonic()


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wait_quiet(served: Served, timeout: float = 5.0) -> None:
    """Wait until the server has finished the last run's closings (under 5% of its core)."""
    pids = served.processes()
    deadline = time.monotonic() + timeout
    before = cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        after = cpu_seconds(pids)
        if after - before < 0.0125:
            return
        before = after


def _wait_listening(port: int, process: subprocess.Popen[bytes], name: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{name} exited at start ({process.returncode}): "
                              + log.read_text(errors="replace")[-2000:])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise ServerError(f"{name} did not listen on 127.0.0.1:{port} within {START_TIMEOUT:g} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fakepeer_environment(tree: Path) -> dict[str, str]:
    """The environment that makes ``python -m fakepeer`` run this tree's code."""
    return {**os.environ, "PYTHONPATH": str(tree)}


@contextmanager
def fakepeer(name: str, tree: Path, store: Path, folder: Path, core: int, *,
             mutual_tls: bool) -> Iterator[Served]:
    """``fakepeer serve`` of ``tree`` on the server core, as a user runs it (readable
    console lines, here into a log file), without its HTTP side or dial-back."""
    port = free_port()
    log = folder / f"{name}-serve.log"
    command = [*pinned(core), sys.executable, "-m", "fakepeer", "serve",
               "--certs", str(store), "--listen", f"127.0.0.1:{port}", "--no-http",
               "--no-dialback", "--client-cert", "required" if mutual_tls else "off",
               "--max-connections", str(MAX_CONNECTIONS), "--idle-timeout", "3600"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   env=fakepeer_environment(tree))
    try:
        _wait_listening(port, process, f"fakepeer serve ({tree})", log)
        wait_forked(process.pid)
        yield Served(name, port, process.pid)
        if process.poll() is not None:
            raise ServerError(f"fakepeer serve ({tree}) died during the run: "
                              + log.read_text(errors="replace")[-2000:])
    finally:
        _stop(process)
        log.unlink(missing_ok=True)  # a B run writes two lines per OPTIONS


@contextmanager
def kamailio_server(folder: Path, chain_pem: bytes, key_pem: bytes, core: int, *,
                    client_ca_pem: bytes | None, workers: int) -> Iterator[Served]:
    """Kamailio configured as ``tests/peers/kamailio.py`` does (TLS 1.2, the same chain
    and suites, ``sl_send_reply`` 200 to OPTIONS), verifying and requiring a client
    certificate when given the roots to check it against."""
    with kamailio(folder, chain_pem, key_pem, ca_pem=client_ca_pem,
                  require_certificate=client_ca_pem is not None, method="TLSv1.2",
                  ciphers=CIPHERS, children=workers, launcher=pinned(core),
                  shared_memory_mb=1024) as reference:
        wait_forked(reference.process.pid)
        yield Served("kamailio", reference.port, reference.process.pid)
        if reference.process.poll() is not None:
            raise ServerError("kamailio died during the run: " + reference.log()[-2000:])
