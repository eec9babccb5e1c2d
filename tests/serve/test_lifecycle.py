"""Starting and stopping ``fakepeer serve``: signals, ports in use, bad options."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.serve.harness import serving


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly(session_store, signum):
    """SIGINT and SIGTERM stop the server within a second, logging that it stopped."""
    with serving(session_store) as server:
        started = time.monotonic()
        server.process.send_signal(signum)
        server.process.wait(timeout=10)
        elapsed = time.monotonic() - started
        server.next_event("stopped", 0, timeout=2)
    assert server.process.returncode == 0
    assert elapsed < 3


def test_port_in_use_is_a_clear_error(session_store):
    """A second server on a busy port exits 1 with a message naming the problem."""
    with serving(session_store) as server:
        done = subprocess.run(
            [sys.executable, "-m", "fakepeer", "serve", "--listen", f"127.0.0.1:{server.port}",
             "--certs", str(session_store)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "cannot listen" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("options", "message"), [
    (["--listen", "localhost"], "expected HOST:PORT"),
    (["--defect", "nonsense"], "unknown defect 'nonsense'"),
    (["--tls-min", "TLSv9"], "tls.min_version"),
])
def test_bad_options_name_the_problem(session_store, options, message):
    """Invalid options end with one clear line, not a traceback."""
    done = subprocess.run([sys.executable, "-m", "fakepeer", "serve", "--certs",
                           str(session_store), *options],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
