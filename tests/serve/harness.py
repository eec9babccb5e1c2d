"""``fakepeer serve`` on 127.0.0.1 and real clients against it.

:func:`serving` runs serve inside the test's reactor (``async with``, in an async test);
:func:`served` does the same for a plain fixture. Its ``--json`` lines are read as they
are written. The clients (``openssl s_client`` and friends) block, so tests await them:
they run on a worker thread while the reactor serves. :func:`serving_process` runs a real
``fakepeer serve`` process, for what only a process shows: signals, and memory measured
apart from the clients.
"""

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
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred

from fakepeer.cli.environment import Environment
from tests.inprocess import Command, block, in_thread, pause, within

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

Predicate = Callable[[dict[str, Any]], bool]


def _sip_listening(event: dict[str, Any]) -> bool:
    return event["kind"] == "listening" and event.get("service", "sip") == "sip"


def _http_listening(event: dict[str, Any]) -> bool:
    return event["kind"] == "listening" and event.get("service") == "http"


def listening_port(event: dict[str, Any]) -> int:
    """The port of a ``listening`` record (its ``address`` is ``HOST:PORT``)."""
    return int(event["address"].rpartition(":")[2])


@dataclass
class Events:
    """The JSON lines a command writes, parsed as they come; anything else is kept as
    text. (Filled from the reactor thread, read by tests and reader threads.)"""

    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    #: Re-entrant: a wait_for predicate may read the events (kinds(), events_of()) too.
    lock: threading.RLock = field(default_factory=threading.RLock)

    def mark(self) -> int:
        """A position in the event list: later waits can look only at what came after."""
        with self.lock:
            return len(self.events)

    def first(self, predicate: Predicate, since: int = 0) -> dict[str, Any] | None:
        with self.lock:
            return next((e for e in self.events[since:] if predicate(e)), None)

    def events_of(self, connection: int) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e.get("connection") == connection]

    def kinds(self) -> list[str]:
        with self.lock:
            return [e["kind"] for e in self.events]

    def add_line(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            self.stderr.append("stdout: " + line)
            return
        with self.lock:
            self.events.append(event)

    def dump(self) -> str:
        with self.lock:
            return json.dumps(self.events, indent=1)[-4000:]


class _Lines:
    """A text stream that hands over each complete line."""

    def __init__(self, take: Callable[[str], None]) -> None:
        self.take = take
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.take(line)
        return len(text)

    def flush(self) -> None:
        pass


@dataclass
class Server(Events):
    """``fakepeer serve --json`` running in this process (see :func:`serving`)."""

    command: Command | None = None
    port: int = 0
    http_port: int = 0
    returncode: int | None = None

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0, since: int = 0
                       ) -> dict[str, Any]:
        """The first event matching ``predicate``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.first(predicate, since)
            if found is not None:
                return found
            if self.command is not None and self.command.done.called:
                break
            await pause(0.02)
        raise AssertionError(f"no matching event within {timeout}s; events: {self.dump()}"
                             f"\nstderr: {chr(10).join(self.stderr)[-2000:]}")

    async def next_event(self, kind: str, since: int, timeout: float = 10.0
                         ) -> dict[str, Any]:
        return await self.wait_for(lambda e: e["kind"] == kind, timeout, since)

    def reload(self) -> None:
        """What SIGHUP does."""
        assert self.command is not None
        self.command.reload()

    async def stop(self) -> int:
        """What SIGINT does; the exit status once serve has stopped."""
        assert self.command is not None
        self.command.interrupt()
        self.returncode = int(await within(self.command.done, STOP_TIMEOUT))
        return self.returncode


def _command(certs: Path, options: tuple[str, ...]) -> tuple[list[str], bool]:
    argv = ["serve", "--listen", "127.0.0.1:0", "--json", "--certs", str(certs), *options]
    http = "--no-http" not in options
    if "--http" not in options and http:
        argv += ["--http", "127.0.0.1:0"]
    return argv, http


def _environment(server: Events) -> Environment:
    return Environment(stdout=_Lines(server.add_line),  # type: ignore[arg-type]
                       stderr=_Lines(server.stderr.append),  # type: ignore[arg-type]
                       variables=dict(os.environ), cwd=Path.cwd())


async def _start(server: Server, certs: Path, options: tuple[str, ...]) -> Server:
    argv, http = _command(certs, options)
    server.command = Command(argv, _environment(server))
    try:
        listening = await server.wait_for(_sip_listening, START_TIMEOUT)
    except AssertionError:
        raise AssertionError("fakepeer serve did not start:\n"
                             + "\n".join(server.stderr)) from None
    server.port = listening_port(listening)
    if http:
        server.http_port = listening_port(await server.wait_for(_http_listening, 10))
    return server


async def _finish(server: Server) -> None:
    if server.command is not None and not server.command.done.called:
        await server.stop()


@asynccontextmanager
async def serving(certs: Path, *options: str) -> AsyncIterator[Server]:
    """Run ``fakepeer serve --json`` on an ephemeral loopback port until the block ends
    (``async with``, in an async test)."""
    server = await _start(Server(), certs, options)
    try:
        yield server
    finally:
        await _finish(server)


@contextmanager
def served(certs: Path, *options: str) -> Iterator[Server]:
    """:func:`serving` for a plain (module) fixture, which runs outside the reactor."""
    server = block(Deferred.fromCoroutine(_start(Server(), certs, options)),
                   START_TIMEOUT + 20)
    try:
        yield server
    finally:
        block(Deferred.fromCoroutine(_finish(server)), STOP_TIMEOUT + 5)


@dataclass
class ServerProcess(Events):
    """A real ``fakepeer serve`` process (see :func:`serving_process`)."""

    process: subprocess.Popen[str] | None = None
    port: int = 0
    http_port: int = 0

    def wait_for(self, predicate: Predicate, timeout: float = 10.0, since: int = 0
                 ) -> dict[str, Any]:
        """The first event matching ``predicate``, waiting up to ``timeout`` seconds
        (a blocking wait: the server is another process)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.first(predicate, since)
            if found is not None:
                return found
            time.sleep(0.02)
        raise AssertionError(f"no matching event within {timeout}s; events: {self.dump()}")

    def next_event(self, kind: str, since: int, timeout: float = 10.0) -> dict[str, Any]:
        return self.wait_for(lambda e: e["kind"] == kind, timeout, since)


def _reader(server: ServerProcess) -> None:
    assert server.process is not None and server.process.stdout is not None
    for line in server.process.stdout:
        server.add_line(line)


def _stderr_reader(server: ServerProcess) -> None:
    assert server.process is not None and server.process.stderr is not None
    for line in server.process.stderr:
        server.stderr.append(line.rstrip())


@contextmanager
def serving_process(certs: Path, *options: str, prefix: tuple[str, ...] = ()
                    ) -> Iterator[ServerProcess]:
    """Run a ``fakepeer serve --json`` process on an ephemeral loopback port until the
    block ends (SIGTERM, then a kill after 15 s); ``prefix`` runs it under another
    command (``prlimit ...``)."""
    argv, http = _command(certs, options)
    process = subprocess.Popen([*prefix, sys.executable, "-m", "fakepeer", *argv],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = ServerProcess(process=process)
    threading.Thread(target=_reader, args=(server,), daemon=True).start()
    threading.Thread(target=_stderr_reader, args=(server,), daemon=True).start()
    try:
        try:
            listening = server.wait_for(_sip_listening, START_TIMEOUT)
        except AssertionError:
            process.kill()
            raise AssertionError(
                "fakepeer serve did not start:\n" + "\n".join(server.stderr)) from None
        server.port = listening_port(listening)
        if http:
            server.http_port = listening_port(server.wait_for(_http_listening, 10))
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


def s_client_blocking(port: int, *options: str, timeout: float = 20.0) -> ClientResult:
    """``openssl s_client`` that handshakes and leaves (stdin closed at once)."""
    command = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *options,
               "-no_ign_eof"]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout)
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    return ClientResult(done.returncode, output, None)


def s_client_exchange_blocking(port: int, *options: str, request: bytes,
                               until: bytes = b"\r\n\r\n", timeout: float = 15.0
                               ) -> ClientResult:
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


def s_client(port: int, *options: str, timeout: float = 20.0) -> Deferred[ClientResult]:
    """:func:`s_client_blocking` on a worker thread (await it)."""
    return in_thread(s_client_blocking, port, *options, timeout=timeout,
                     deadline=timeout + 10)


def s_client_exchange(port: int, *options: str, request: bytes, until: bytes = b"\r\n\r\n",
                      timeout: float = 15.0) -> Deferred[ClientResult]:
    """:func:`s_client_exchange_blocking` on a worker thread (await it)."""
    return in_thread(s_client_exchange_blocking, port, *options, request=request,
                     until=until, timeout=timeout, deadline=timeout + 10)
