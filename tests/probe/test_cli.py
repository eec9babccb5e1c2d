"""``fakepeer probe`` as a script sees it: exit statuses, ``--json`` lines, the readable
verdict line, repeated attempts, option errors, and parsing of HOST[:PORT] and ``--sbc``."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

import pytest
import pytest_twisted

from fakepeer.addresses import SIP_TLS_PORT, parse_host_port
from fakepeer.cli.outbound import parse_sbc_mapping
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import ConfigError
from fakepeer.pki import export
from fakepeer.pki.keys import private_key_pem
from tests.conftest import require
from tests.peers.kamailio import free_port, kamailio
from tests.probe.conftest import SBC, TIMEOUT

OUTBOUND_KINDS = ["probe", "tcp-connected", "tls-established", "certificate-check",
                  "sip-request", "sip-response", "closed", "verdict"]


@pytest.fixture(scope="module")
def sbc(chains, tmp_path_factory):
    """A Kamailio SBC answering OPTIONS with 200 (one-way TLS)."""
    require("kamailio")
    with kamailio(tmp_path_factory.mktemp("kamailio-cli"), export.pem(chains.good.sent),
                  private_key_pem(chains.good.key)) as server:
        yield server


@pytest.mark.loopback
class TestAgainstAnSbc:
    @pytest_twisted.ensureDeferred
    async def test_json_lines_tell_the_whole_attempt_in_order(self, sbc, probe):
        """--json prints one JSON object per event, in the order the attempt ran, all on
        connection 1, ending with the verdict."""
        run = await probe(sbc.port, "--fqdn", SBC)
        assert run.status == ExitStatus.SUCCESS
        assert [e["kind"] for e in run.events] == OUTBOUND_KINDS
        assert {e["connection"] for e in run.events} == {1}
        assert run.verdict == {**run.verdict, "ok": True, "sbc_accepted_us": True,
                               "we_accepted_sbc": True, "tls": "Active"}

    @pytest_twisted.ensureDeferred
    async def test_json_lines_of_a_failure_end_with_a_failing_verdict(self, sbc, probe):
        """The failing twin: a name mismatch ends with ok false and no OPTIONS in the log."""
        run = await probe(sbc.port, "--fqdn", "other.lab.example")
        assert run.status == ExitStatus.PEER_FAILED
        assert "sip-request" not in [e["kind"] for e in run.events]
        assert run.verdict["ok"] is False and run.verdict["sbc_accepted_us"] is False

    @pytest_twisted.ensureDeferred
    async def test_readable_output_has_one_pass_verdict_line(self, sbc, probe):
        """Without --json each event is a line; the verdict line starts with PASS."""
        run = await probe(sbc.port, "--fqdn", SBC, json_output=False)
        verdicts = [line for line in run.out.splitlines() if " verdict " in line]
        assert len(verdicts) == 1
        assert "PASS: TLS Active; SBC certificate Accepted; OPTIONS Active (200 OK)" in verdicts[0]

    @pytest_twisted.ensureDeferred
    async def test_readable_output_of_a_failure_has_one_fail_verdict_line(self, sbc, probe):
        """The failing twin: the verdict line starts with FAIL and names the finding."""
        run = await probe(sbc.port, "--fqdn", "other.lab.example", json_output=False)
        verdicts = [line for line in run.out.splitlines() if " verdict " in line]
        assert len(verdicts) == 1 and "FAIL: " in verdicts[0]
        assert "does not name other.lab.example" in verdicts[0]

    @pytest_twisted.ensureDeferred
    async def test_count_and_interval_repeat_the_attempt_like_the_proxy_pings(self, sbc, probe):
        """--count 3 --interval 0.2 makes three attempts, connections 1-3, a verdict each."""
        run = await probe(sbc.port, "--fqdn", SBC, "--count", "3", "--interval", "0.2")
        assert run.status == ExitStatus.SUCCESS
        assert [e["connection"] for e in run.of("verdict")] == [1, 2, 3]
        starts = [e["time"] for e in run.of("probe")]
        assert starts == sorted(starts) and len(set(starts)) == 3

    @pytest_twisted.ensureDeferred
    async def test_events_file_gets_the_same_json_lines(self, sbc, probe, tmp_path):
        """--events FILE appends the same events as JSON lines."""
        log = tmp_path / "events.jsonl"
        run = await probe(sbc.port, "--fqdn", SBC, "--events", str(log), json_output=False)
        assert run.status == ExitStatus.SUCCESS
        kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
        assert kinds == OUTBOUND_KINDS


def _signalled_probe(store, cwd, port, stop: signal.Signals, *options: str) -> int:
    """Run ``fakepeer probe`` as a process, send it ``stop`` after its first verdict and
    return its exit status (bounded: 20 s for the verdict, 10 s to end)."""
    argv = [sys.executable, "-m", "fakepeer", "probe", f"127.0.0.1:{port}", "--json",
            "--certs", str(store), "--timeout", TIMEOUT, "--interval", "0.2", *options]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as process:
        try:
            seen = b""
            deadline = time.monotonic() + 20
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                while b'"kind": "verdict"' not in seen and time.monotonic() < deadline:
                    if selector.select(timeout=0.5):
                        chunk = os.read(process.stdout.fileno(), 65536)
                        assert chunk, f"probe ended before a verdict: {process.stderr.read()!r}"
                        seen += chunk
            assert b'"kind": "verdict"' in seen, "no verdict within 20 s"
            process.send_signal(stop)
            status = process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        assert b"Traceback" not in process.stderr.read()
        return status


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_failure_seen_is_exit_3_even_when_a_signal_ends_the_run(session_store, tmp_path,
                                                                   stop):
    """docs/exit-status.md: a failure seen beats an interruption, as in rehearse. The old
    probe exited 130 on SIGINT whatever it had seen, and SIGTERM killed it (-15)."""
    status = _signalled_probe(session_store, tmp_path, free_port(), stop, "--count", "0")
    assert status == ExitStatus.PEER_FAILED


@pytest.mark.loopback
def test_count_0_runs_until_a_signal_and_then_reports_its_passes(sbc, session_store,
                                                                  tmp_path):
    """--count 0 means "until interrupted": SIGTERM is its planned end, so every attempt
    passing is 0 (the old probe died of SIGTERM, and exited 130 on SIGINT)."""
    status = _signalled_probe(session_store, tmp_path, sbc.port, signal.SIGTERM,
                              "--fqdn", SBC, "--count", "0")
    assert status == ExitStatus.SUCCESS


@pytest.mark.loopback
def test_a_count_cut_short_by_a_signal_is_130(sbc, session_store, tmp_path):
    """--count N stopped before its N attempts, with no failure: interrupted, 130."""
    status = _signalled_probe(session_store, tmp_path, sbc.port, signal.SIGINT,
                              "--fqdn", SBC, "--count", "1000")
    assert status == ExitStatus.ERROR_CTRL_C


@pytest_twisted.ensureDeferred
async def test_a_closed_port_is_a_tcp_failure_and_exit_3(probe):
    """Nothing listening: a tcp-failed event, a failing verdict, PEER_FAILED."""
    run = await probe(free_port(), "--fqdn", SBC)
    assert run.status == ExitStatus.PEER_FAILED
    assert [e["kind"] for e in run.events] == ["probe", "tcp-failed", "verdict"]
    assert "TCP connect failed" in run.verdict["tls_reason"]


@pytest_twisted.ensureDeferred
async def test_a_peer_silent_after_the_client_hello_times_out_in_the_handshake(probe):
    """A TCP peer that never answers the ClientHello costs one timeout, then tls-failed."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        run = await probe(silent.getsockname()[1], "--fqdn", SBC)
    assert run.status == ExitStatus.PEER_FAILED
    failed = run.of("tls-failed")[0]
    assert "did not complete the TLS handshake within 1 s" in failed["summary"]
    assert run.of("closed")[0]["data"]["by"] == "fakepeer"


@pytest.mark.parametrize(("options", "message"), [
    (("--count", "-1"), "--count -1"),
    (("--interval", "0", "--count", "2"), "--interval 0"),
    (("--timeout", "0"), "--timeout 0"),
    (("--profile", "genesys", "--defect", "expired-leaf"), "Genesys presents none"),
    (("--defect", "no-such-defect"), "unknown defect"),
    (("--trust", "/nonexistent/roots.pem"), "--trust /nonexistent/roots.pem"),
])
@pytest_twisted.ensureDeferred
async def test_bad_options_are_errors_named_on_stderr(probe, options, message):
    """Impossible options exit 1 (ERROR) with one line naming the option; nothing is dialled."""
    run = await probe(free_port(), *options)
    assert run.status == ExitStatus.ERROR
    assert message in run.err
    assert run.out == ""


@pytest_twisted.ensureDeferred
async def test_a_malformed_port_is_an_error(probe):
    """HOST:PORT with a port out of range exits 1 before anything is dialled."""
    run = await probe(70000)
    assert run.status == ExitStatus.ERROR
    assert "port must be 1-65535" in run.err


@pytest.mark.parametrize(("text", "expected"), [
    ("sbc.lab.example", ("sbc.lab.example", 5061)),
    ("sbc.lab.example:5067", ("sbc.lab.example", 5067)),
    ("127.0.0.1:5061", ("127.0.0.1", 5061)),
    ("[::1]:5062", ("::1", 5062)),
    ("::1", ("::1", 5061)),
])
def test_targets_parse_with_port_5061_by_default(text, expected):
    """HOST[:PORT] accepts names, IPv4, bracketed and bare IPv6; the port defaults to 5061."""
    assert parse_host_port(text, default_port=SIP_TLS_PORT) == expected


def test_sbc_mappings_need_an_ip_address():
    """--sbc FQDN=ADDRESS:PORT maps a lower-cased FQDN; a name as the address is refused."""
    assert parse_sbc_mapping(["SBC.Lab.Example.=127.0.0.1:5099"]) == {
        "sbc.lab.example": ("127.0.0.1", 5099)}
    with pytest.raises(ConfigError, match="not an IP address"):
        parse_sbc_mapping(["sbc.lab.example=sbc2.lab.example:5061"])
