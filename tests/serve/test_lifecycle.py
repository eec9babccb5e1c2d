"""Starting and stopping ``fakepeer serve``: signals, ports in use, bad options. Signals
need a real process; the rest runs in this one."""

from __future__ import annotations

import io
import signal
import time

import pytest
import pytest_twisted

from fakepeer.cli.environment import Environment
from fakepeer.cli.main import main
from tests.inprocess import run_command
from tests.serve.harness import serving, serving_process


def _environment() -> Environment:
    return Environment(stdout=io.StringIO(), stderr=io.StringIO(), variables={})


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly(session_store, signum):
    """SIGINT and SIGTERM stop the server within a second, logging that it stopped."""
    with serving_process(session_store) as server:
        assert server.process is not None
        started = time.monotonic()
        server.process.send_signal(signum)
        server.process.wait(timeout=10)
        elapsed = time.monotonic() - started
        server.next_event("stopped", 0, timeout=2)
    assert server.process.returncode == 0
    assert elapsed < 3


@pytest_twisted.ensureDeferred
async def test_port_in_use_is_a_clear_error(session_store):
    """A second server on a busy port exits 1 with a message naming the problem."""
    async with serving(session_store) as server:
        env = _environment()
        status = await run_command(["serve", "--listen", f"127.0.0.1:{server.port}",
                                    "--http", "127.0.0.1:0", "--certs", str(session_store)],
                                   env)
    stderr = env.stderr.getvalue()
    assert status == 1
    assert "cannot listen" in stderr
    assert "Traceback" not in stderr
    # before: the whole briefing, "listening on ..." included, came before the failure
    assert "fakepeer serves scenario" not in env.stdout.getvalue() + stderr


@pytest_twisted.ensureDeferred
async def test_the_briefing_names_the_default_scenario_and_the_real_port(session_store):
    """Before: "scenario 'command-line'" (while `scenarios list` names the default
    baseline-microsoft-2026) and "Dial one of ...:5061" whatever --listen said."""
    async with serving(session_store, "--json") as server:
        briefing = "\n".join(server.stderr)  # --json: the briefing goes to stderr
    assert "fakepeer serves scenario 'baseline-microsoft-2026': " in briefing
    assert f"listening on 127.0.0.1:{server.port};" in briefing
    assert f"sip.pstnhub.microsoft.com:{server.port}," in briefing
    assert ":5061" not in briefing


@pytest.mark.parametrize(("options", "message"), [
    (["--listen", "localhost"], "expected HOST:PORT"),
    (["--defect", "nonsense"], "unknown defect 'nonsense'"),
    (["--tls-min", "TLSv9"], "tls.min_version"),
])
def test_bad_options_name_the_problem(session_store, options, message):
    """Invalid options end with one clear line, not a traceback."""
    env = _environment()
    status = main(["serve", "--certs", str(session_store), *options], env)
    stderr = env.stderr.getvalue()
    assert status == 1, stderr
    assert message in stderr
    assert "Traceback" not in stderr


@pytest_twisted.ensureDeferred
async def test_a_first_start_says_it_is_making_keys(tmp_path):
    """Before: the first start generated for seconds without a word."""
    async with serving(tmp_path / "fresh-store", "--no-http") as server:
        said = [line for line in server.stderr if "generating" in line]
    assert said and said[0].startswith(f"fakepeer: {tmp_path / 'fresh-store'}: generating ")
    assert "made once: later starts reuse them" in said[0]


@pytest_twisted.ensureDeferred
async def test_a_per_name_scenario_warns_that_an_sbc_without_sni_gets_the_default(
        session_store):
    """Before: nothing said that a per-name scenario tests nothing for an SBC that sends
    no SNI (Kamailio 5.6 never does on dispatcher pings)."""
    async with serving(session_store, "--scenario", "regional-rollout-2026", "--json",
                       "--no-http") as server:
        briefing = "\n".join(server.stderr)
    assert "SNI sip2.pstnhub.microsoft.com gets a different chain" in briefing
    assert "an SBC that sends no SNI (Kamailio's dispatcher never does) always gets the " \
           "default chain" in briefing
