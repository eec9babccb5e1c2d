"""A real ``fakepeer serve`` process on 127.0.0.1 and real clients against it."""

from __future__ import annotations

import json
import os
import re
import select
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
    http_port: int = 0
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
    if "--http" not in options and "--no-http" not in options:
        command += ["--http", "127.0.0.1:0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = Server(process)
    threading.Thread(target=_reader, args=(server,), daemon=True).start()
    threading.Thread(target=_stderr_reader, args=(server,), daemon=True).start()
    try:
        try:
            listening = server.wait_for(
                lambda e: e["kind"] == "listening" and "service" not in e.get("data", {}),
                START_TIMEOUT)
        except AssertionError:
            process.kill()
            raise AssertionError(
                "fakepeer serve did not start:\n" + "\n".join(server.stderr)) from None
        server.port = listening["data"]["port"]
        if "--no-http" not in options:
            http = server.wait_for(lambda e: e["kind"] == "listening"
                                   and e.get("data", {}).get("service") == "http", 10)
            server.http_port = http["data"]["port"]
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


def s_client(port: int, *options: str, timeout: float = 20.0) -> ClientResult:
    """``openssl s_client`` that handshakes and leaves (stdin closed at once)."""
    command = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *options,
               "-no_ign_eof"]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout)
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    return ClientResult(done.returncode, output, None)


def s_client_exchange(port: int, *options: str, request: bytes, until: bytes = b"\r\n\r\n",
                      timeout: float = 15.0) -> ClientResult:
    """``openssl s_client`` that sends ``request`` and reads until a whole answer came
    (``until`` after the first ``SIP/2.0``) or ``timeout``; then hangs up."""
    command = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-quiet", *options]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(request)
    process.stdin.flush()
    received = b""
    deadline = time.monotonic() + timeout
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            chunk = process.stdout.read() or b""
            received += chunk
            start = received.find(b"SIP/2.0 ")
            if start >= 0 and until in received[start:]:
                break
    process.kill()
    rest = process.communicate()[0] or b""
    output = (received + rest).decode(errors="replace")
    return ClientResult(process.returncode or 0, output, None)
