"""``fakepeer healthcheck`` against a real ``fakepeer serve`` on 127.0.0.1, and its failing
twins: nothing listening, a peer that never speaks TLS, a proxy that answers 503, and a
client without the certificate the proxy requires. Each must say what went wrong in one
line and exit non-zero, as the container's HEALTHCHECK relies on."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import pytest_twisted

from fakepeer.cli.commands.healthcheck import HEALTHCHECK_FQDN, options_request, target_address
from fakepeer.cli.environment import Environment
from fakepeer.cli.main import main
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import ConfigError
from tests.inprocess import in_thread
from tests.serve.harness import serving

pytestmark = pytest.mark.loopback


def _env(tmp_path: Path, **variables: str) -> Environment:
    return Environment(stdout=io.StringIO(), stderr=io.StringIO(), variables=dict(variables),
                       cwd=tmp_path)


def _output(env: Environment) -> tuple[str, str]:
    return env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _silent_listener() -> Iterator[int]:
    """A TCP port that accepts and then says nothing: a hung proxy."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        server.close()


@pytest_twisted.ensureDeferred
async def test_healthy_against_a_real_serve(session_store: Path, tmp_path: Path) -> None:
    async with serving(session_store) as server:
        env = _env(tmp_path)
        status = await in_thread(main, ["healthcheck", f"127.0.0.1:{server.port}",
                                        "--certs", str(session_store)], env)
        out, err = _output(env)
        assert status == ExitStatus.SUCCESS, err
        assert f"healthy: 127.0.0.1:{server.port} answered OPTIONS with 200 OK over TLSv1.2" \
            in out
        tls = await server.next_event("tls-established", 0)
        verdict = await server.next_event("verdict", 0)
    # The proxy saw a proper lab SBC: mutual TLS with the healthcheck's certificate,
    # OPTIONS with that FQDN in Contact, and a clean close.
    assert f"CN={HEALTHCHECK_FQDN}" in tls["certificate"]["subject"]
    assert verdict["tls"] == "Active" and verdict["options"] == "Active"
    assert verdict["identity"]["healthcheck"], verdict  # labelled, out of the counts
    closed = [e for e in server.events if e["kind"] == "closed"]
    assert closed and closed[0].get("clean", True), closed


@pytest_twisted.ensureDeferred
async def test_address_comes_from_fakepeer_listen(session_store: Path, tmp_path: Path) -> None:
    """In the image serve listens on $FAKEPEER_LISTEN=0.0.0.0:5061; the healthcheck reads
    the same variable and dials loopback, and takes the store from $FAKEPEER_CERTS."""
    async with serving(session_store) as server:
        env = _env(tmp_path, FAKEPEER_LISTEN=f"0.0.0.0:{server.port}",
                   FAKEPEER_CERTS=str(session_store))
        assert await in_thread(main, ["healthcheck"], env) == ExitStatus.SUCCESS, _output(env)[1]


def test_nothing_listening_is_unhealthy(session_store: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path)
    start = time.monotonic()
    status = main(["healthcheck", f"127.0.0.1:{port}", "--certs", str(session_store)], env)
    out, err = _output(env)
    assert status == ExitStatus.ERROR
    assert time.monotonic() - start < 10
    assert out == ""
    assert err.strip().splitlines() == [
        f"fakepeer healthcheck: unhealthy: 127.0.0.1:{port}: connect to 127.0.0.1:{port}: "
        "Connection refused"]


def test_a_silent_peer_times_out(session_store: Path, tmp_path: Path) -> None:
    with _silent_listener() as port:
        env = _env(tmp_path)
        start = time.monotonic()
        status = main(["healthcheck", f"127.0.0.1:{port}", "--timeout", "1", "--certs",
                       str(session_store)], env)
        elapsed = time.monotonic() - start
    assert status == ExitStatus.ERROR
    assert elapsed < 5, f"took {elapsed:.1f}s for a 1 s timeout"
    assert "TLS handshake: no progress within 1s" in _output(env)[1]


@pytest_twisted.ensureDeferred
async def test_a_non_200_answer_is_unhealthy(session_store: Path, tmp_path: Path) -> None:
    async with serving(session_store, "--options-status", "503") as server:
        env = _env(tmp_path)
        status = await in_thread(main, ["healthcheck", f"127.0.0.1:{server.port}",
                                        "--certs", str(session_store)], env)
    assert status == ExitStatus.ERROR
    assert "answered OPTIONS with 503 Service Unavailable" in _output(env)[1]


@pytest_twisted.ensureDeferred
async def test_without_the_client_certificate_the_handshake_fails(session_store: Path,
                                                                   tmp_path: Path) -> None:
    """The Microsoft profile requires mutual TLS: the healthcheck must not pass without
    it, or it would not be testing what an SBC does."""
    async with serving(session_store) as server:
        env = _env(tmp_path)
        status = await in_thread(main, ["healthcheck", f"127.0.0.1:{server.port}",
                                        "--no-client-cert", "--certs",
                                        str(session_store)], env)
    assert status == ExitStatus.ERROR
    assert "TLS handshake:" in _output(env)[1]


@pytest.mark.parametrize(("text", "expected"), [
    (None, ("127.0.0.1", 5061)),
    ("0.0.0.0:15061", ("127.0.0.1", 15061)),
    (":5062", ("127.0.0.1", 5062)),
    ("[::]:5061", ("::1", 5061)),
    ("[::1]:5063", ("::1", 5063)),
    ("sip.lab.example:5061", ("sip.lab.example", 5061)),
])
def test_target_address(text: str | None, expected: tuple[str, int]) -> None:
    assert target_address(text, {}) == expected


def test_target_address_falls_back_to_fakepeer_listen() -> None:
    assert target_address(None, {"FAKEPEER_LISTEN": "0.0.0.0:25061"}) == ("127.0.0.1", 25061)
    assert target_address("127.0.0.2:5061", {"FAKEPEER_LISTEN": "0.0.0.0:1"}) == \
        ("127.0.0.2", 5061)


@pytest.mark.parametrize("text", ["5061", "host:", "host:0", "host:70000", "host:port"])
def test_bad_address_is_a_one_line_error(text: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        target_address(text, {})
    env = _env(tmp_path)
    assert main(["healthcheck", text, "--certs", str(tmp_path / "certs")], env) == \
        ExitStatus.ERROR
    assert len(_output(env)[1].strip().splitlines()) == 1


def test_options_request_carries_the_fqdn_in_contact() -> None:
    request = options_request("sbc.lab.example").decode()
    assert request.startswith("OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls "
                              "SIP/2.0\r\n")
    assert "\r\nContact: <sip:sbc.lab.example:5061;transport=tls>\r\n" in request
    assert request.endswith("Content-Length: 0\r\n\r\n")
