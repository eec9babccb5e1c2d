"""Verdicts of a running serve, as an SBC's admin sees them (issue 9 item 1): decided
while a persistent connection is open, a silent close after the handshake read as the
rejection it is, a port check left unjudged, and the expected alert taking part.

Each of these failed before serve judged with the session judge: the verdict came only
at close, a silent close was "SBC accepted", a bare TCP connect was "SBC rejected it:
PASS", and another alert than the expected one was still PASS.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from fakepeer.cli.environment import Environment
from tests.inprocess import Command, in_thread, pause, within
from tests.serve.harness import _Lines, s_client, serving
from tests.serve.test_tls_refusals import OPTIONS

pytestmark = pytest.mark.loopback

#: The persistent SBC's OPTIONS interval (a real one pings every 5-60 s).
PING_INTERVAL = 0.2


def _status_blocking(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as reply:
        return dict(json.loads(reply.read()))


def _pinging_blocking(port: int, context: ssl.SSLContext, stop: threading.Event) -> int:
    """One TLS connection sending OPTIONS every PING_INTERVAL until ``stop`` (at most
    30 s); how many were answered 200 OK."""
    answered = 0
    deadline = time.monotonic() + 30
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="sip.pstnhub.microsoft.com") as tls:
        while not stop.is_set() and time.monotonic() < deadline:
            tls.sendall(OPTIONS)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = tls.recv(65536)
                if not chunk:
                    return answered
                received += chunk
            answered += received.startswith(b"SIP/2.0 200 ")
            stop.wait(PING_INTERVAL)
    return answered


@pytest_twisted.ensureDeferred
async def test_a_persistent_sbc_gets_its_pass_while_its_connection_is_open(
        session_store, sbc_context):
    """Issue 9: a real SBC keeps one mutual-TLS connection for hours; its PASS came only
    when it closed. Now it comes at the first answered OPTIONS, on the console and on
    the status page, while the connection is still open."""
    stop = threading.Event()
    async with serving(session_store) as server:
        pinging = in_thread(_pinging_blocking, server.port, sbc_context, stop, deadline=40)
        try:
            verdict = await server.next_event("verdict", 0, timeout=10)
            await pause(3 * PING_INTERVAL)  # more OPTIONS on the same connection
            status = await in_thread(_status_blocking, server.http_port)
            open_now = [e for e in server.events if e["kind"] == "closed"]
        finally:
            stop.set()
        answered = await pinging
    assert verdict["outcome"] == "PASS", verdict
    assert verdict["identity"]["name"] == "sbc.lab.example", verdict
    assert not open_now, open_now  # nothing had closed when the verdict was read
    assert answered >= 2
    [session] = status["sessions"]
    assert session["outcome"] == "PASS" and session["line"].startswith("PASS sbc.lab.example")
    assert len(session["open"]) == 1 and session["open"][0]["options"] >= 2, session
    assert status["outcomes"] == {"PASS": 1}
    # one verdict for the whole run: the same answer again writes nothing
    assert [e["kind"] for e in server.events].count("verdict") == 1


def _handshake_then_close_blocking(port: int, context: ssl.SSLContext) -> None:
    """TLS, then a TCP close: no SIP, no alert (what sipsak and GnuTLS stacks do when
    their own check of the chain fails after the handshake)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = context.wrap_socket(raw, server_hostname="sip.pstnhub.microsoft.com")
    tls.getpeercert(binary_form=True)
    os.close(tls.detach())  # the socket closed under TLS: no close_notify


@pytest_twisted.ensureDeferred
async def test_a_silent_close_after_the_handshake_is_a_rejection_not_an_acceptance(
        session_store, sbc_context):
    """Issue 9: a client that completes TLS and closes without SIP or an alert had, in a
    scenario the SBC should refuse, been judged "SBC accepted what it should refuse".
    It refused, silently: expired-leaf expects certificate_expired, so it is OTHER-REASON
    (docs/verdicts.md), with the cause saying what it did."""
    async with serving(session_store, "--scenario", "expired-leaf") as server:
        await in_thread(_handshake_then_close_blocking, server.port, sbc_context)
        verdict = await server.next_event("verdict", 0)
    assert verdict["outcome"] == "OTHER-REASON", verdict
    assert "without SIP" in verdict["cause"] and "certificate_expired" in verdict["cause"]
    assert "accepted" not in verdict["cause"], verdict


def _connect_and_close_blocking(port: int) -> None:
    socket.create_connection(("127.0.0.1", port), timeout=10).close()


@pytest_twisted.ensureDeferred
async def test_a_bare_tcp_connect_before_tls_is_no_verdict(session_store, sbc_context):
    """Issue 9: a port check (a load balancer, monitoring) was judged "SBC rejected it:
    PASS" in a scenario that expects a rejection. It is counted, never judged; the SBC
    that then connects for real gets the verdict."""
    async with serving(session_store, "--scenario", "expired-leaf") as server:
        await in_thread(_connect_and_close_blocking, server.port)
        closed = await server.next_event("closed", 0)
        await pause(0.5)
        before = [e for e in server.events if e["kind"] in ("verdict", "tls-failed")]
        status = await in_thread(_status_blocking, server.http_port)
        await in_thread(_handshake_then_close_blocking, server.port, sbc_context)
        verdict = await server.next_event("verdict", 0)
    assert before == [], before
    assert status["port_checks"] == 1 and status["outcomes"] == {}, status
    assert verdict["connection"] != closed["connection"]


def _scenario_expecting(folder: Path, expect: str) -> Path:
    folder.mkdir()
    (folder / "lab-unknown-ca.toml").write_text(
        f'era = "microsoft-2026"\nexpect = "{expect}"\n')
    return folder


@pytest_twisted.ensureDeferred
async def test_another_alert_than_the_expected_one_is_not_a_pass(
        session_store, sbc_files, anchors, tmp_path):
    """Issue 9: ``expect.alert`` could never cause anything but PASS. A scenario that
    expects ``reject:unknown_ca``, refused by an SBC that sends another alert (here
    bad_certificate: it trusts the chain but dials a name the leaf does not have), is
    "rejected, but for another reason": OTHER-REASON."""
    folder = _scenario_expecting(tmp_path / "mine", "reject:unknown_ca")
    client = ["-cert", str(sbc_files.cert), "-key", str(sbc_files.key), "-cert_chain",
              str(sbc_files.chain), "-CAfile", str(anchors["microsoft-2026"]),
              "-verify_hostname", "not-this-proxy.example", "-verify_return_error"]
    async with serving(session_store, "--scenario", "lab-unknown-ca", "--scenarios",
                       str(folder)) as server:
        result = await s_client(server.port, *client)
        failed = await server.next_event("tls-failed", 0)
        verdict = await server.next_event("verdict", 0)
    assert result.returncode != 0
    assert failed["failed_by"] == "sbc" and failed["alert"] not in (None, "unknown_ca"), failed
    assert verdict["outcome"] == "OTHER-REASON", verdict
    assert failed["alert"] in verdict["cause"] and "unknown_ca" in verdict["cause"], verdict


def _options_then_close_blocking(port: int, context: ssl.SSLContext) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="sip.pstnhub.microsoft.com") as tls:
        tls.sendall(OPTIONS)
        return tls.recv(65536)


@pytest_twisted.ensureDeferred
async def test_ctrl_c_on_the_console_prints_a_summary_per_sbc_session(session_store,
                                                                      sbc_context):
    """Issue 9 item 5: stopping serve (Ctrl-C) says, per SBC session, its verdict and
    its counts; connections that closed before TLS are counted as port checks."""
    lines: list[str] = []
    env = Environment(stdout=_Lines(lines.append),  # type: ignore[arg-type]
                      stderr=_Lines(lines.append),  # type: ignore[arg-type]
                      variables=dict(os.environ), cwd=Path.cwd())
    command = Command(["serve", "--listen", "127.0.0.1:0", "--certs", str(session_store),
                       "--no-http"], env)
    deadline = time.monotonic() + 60
    while not [line for line in lines if "listening for SIP over TLS on" in line]:
        assert time.monotonic() < deadline and not command.done.called, lines
        await pause(0.05)
    port = int(next(line for line in lines if "listening for SIP" in line).rpartition(":")[2])
    await in_thread(_connect_and_close_blocking, port)
    answer = await in_thread(_options_then_close_blocking, port, sbc_context)
    assert answer.startswith(b"SIP/2.0 200 OK")
    await pause(0.3)
    command.interrupt()
    await within(command.done, 15)
    summary = lines[lines.index("sessions:") + 1:]
    assert summary[0].startswith("PASS sbc.lab.example #2: "), lines
    assert summary[1] == "  1 connection, 1 OPTIONS received", summary
    assert "1 connection closed before TLS" in summary[2], summary


@pytest_twisted.ensureDeferred
async def test_a_refusal_on_a_name_is_judged_by_that_names_expectation(
        session_store, sbc_files, anchors, tmp_path):
    """The README's expired-on-sip2: sip2 serves an expired leaf and expects the SBC to
    refuse it. Before: the tls-failed record carried no SNI, so the refusal on sip2 was
    judged against the scenario's default name (accept): FAIL for a correct SBC."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "expired-on-sip2.toml").write_text(
        '# Mirrors: the README example\nera = "microsoft-2026"\n'
        '[names."sip2.pstnhub.microsoft.com"]\ndefects = ["expired-leaf"]\n'
        'expect = "reject:certificate_expired"\n'
        '[expect]\nreaction = "accept"\npurpose = "sip stays Active; sip2 must be refused."\n')
    async with serving(session_store, "--scenario", "expired-on-sip2", "--scenarios",
                       str(folder)) as server:
        mark = server.mark()
        await s_client(server.port, "-servername", "sip2.pstnhub.microsoft.com",
                       "-CAfile", str(anchors["microsoft-2026"]), "-verify_return_error",
                       "-cert", str(sbc_files.cert), "-key", str(sbc_files.key),
                       "-cert_chain", str(sbc_files.chain))
        failed = await server.next_event("tls-failed", mark)
        verdict = await server.next_event("verdict", mark)
    assert (failed["sni"], failed["alert"]) == ("sip2.pstnhub.microsoft.com",
                                                "certificate_expired")
    assert failed["served"]["name"] == "sip2.pstnhub.microsoft.com"
    assert failed["served"]["expectation"] == "reject:certificate_expired"
    assert verdict["outcome"] == "PASS", verdict


@pytest_twisted.ensureDeferred
async def test_an_sbc_without_sni_on_a_per_name_scenario_is_warned_about_once(
        session_store, sbc_files, anchors):
    """Before: nothing said that a per-name scenario tests nothing for an SBC that sends
    no SNI (Kamailio 5.6's dispatcher never does)."""
    client = ("-noservername", "-CAfile", str(anchors["microsoft-2026"]),
              "-cert", str(sbc_files.cert), "-key", str(sbc_files.key),
              "-cert_chain", str(sbc_files.chain))
    async with serving(session_store, "--scenario", "regional-rollout-2026") as server:
        for _ in range(2):
            mark = server.mark()
            await s_client(server.port, *client)
            await server.next_event("closed", mark)
        warned = [line for line in server.stderr if "sent no SNI" in line]
    assert len(warned) == 1, server.stderr
    assert warned[0].startswith("fakepeer: warning: 127.0.0.1 sent no SNI, so it gets the "
                                "default chain only; this scenario serves other chains to ")
    assert "sip2.pstnhub.microsoft.com" in warned[0]


@pytest_twisted.ensureDeferred
async def test_an_sbc_without_sni_on_a_one_chain_scenario_is_not_warned_about(
        session_store, sbc_files, anchors):
    async with serving(session_store, "--scenario", "baseline-microsoft-2026") as server:
        mark = server.mark()
        await s_client(server.port, "-noservername", "-CAfile", str(anchors["microsoft-2026"]),
                       "-cert", str(sbc_files.cert), "-key", str(sbc_files.key),
                       "-cert_chain", str(sbc_files.chain))
        await server.next_event("closed", mark)
        assert not [line for line in server.stderr if "sent no SNI" in line]
