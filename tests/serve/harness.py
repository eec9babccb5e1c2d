"""A real ``fakepeer serve`` process on 127.0.0.1 and real clients against it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self) -> int:
        """A position in the event list: later waits can look only at what came after."""
        with self.lock:
            return len(self.events)

    def wait_for(self, predicate: Any, timeout: float = 10.0, since: int = 0
                 ) -> dict[str, Any]:
        """The first event matching ``predicate``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for event in self.events[since:]:
                    if predicate(event):
                        return event
            time.sleep(0.02)
        with self.lock:
            raise AssertionError(f"no matching event within {timeout}s; events: "
                                 f"{json.dumps(self.events, indent=1)[-4000:]}")

    def next_event(self, kind: str, since: int, timeout: float = 10.0) -> dict[str, Any]:
        return self.wait_for(lambda e: e["kind"] == kind, timeout, since)

    def events_of(self, connection: int) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e["connection"] == connection]

    def kinds(self) -> list[str]:
        with self.lock:
            return [e["kind"] for e in self.events]


def _reader(server: Server) -> None:
    assert server.process.stdout is not None
    for line in server.process.stdout:
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            server.stderr.append("stdout: " + line)
            continue
        with server.lock:
            server.events.append(event)


def _stderr_reader(server: Server) -> None:
    assert server.process.stderr is not None
    for line in server.process.stderr:
        server.stderr.append(line.rstrip())


@contextmanager
def serving(certs: Path, *options: str) -> Iterator[Server]:
    """Run ``fakepeer serve --json`` on an ephemeral loopback port until the block ends."""
    command = [sys.executable, "-m", "fakepeer", "serve", "--listen", "127.0.0.1:0",
               "--json", "--certs", str(certs), *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = Server(process)
    threading.Thread(target=_reader, args=(server,), daemon=True).start()
    threading.Thread(target=_stderr_reader, args=(server,), daemon=True).start()
    try:
        try:
            listening = server.wait_for(lambda e: e["kind"] == "listening", START_TIMEOUT)
        except AssertionError:
            process.kill()
            raise AssertionError(
                "fakepeer serve did not start:\n" + "\n".join(server.stderr)) from None
        server.port = listening["data"]["port"]
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class ClientResult:
    returncode: int
    output: str
    local_port: int | None

    @property
    def verify_code(self) -> int | None:
        match = re.search(r"Verify return code: (\d+)", self.output)
        return int(match.group(1)) if match else None


def s_client(port: int, *options: str, stdin: bytes = b"", timeout: float = 20.0
             ) -> ClientResult:
    """``openssl s_client`` against the server; returns its output and exit code."""
    command = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-no_ign_eof",
               *options]
    done = subprocess.run(command, input=stdin, capture_output=True, timeout=timeout)
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    return ClientResult(done.returncode, output, None)
