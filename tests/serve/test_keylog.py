"""``serve --keylog``: a loopback capture of a rehearsal opens decrypted in tshark, and
shows the SBC's OPTIONS and fakepeer's 200 OK (issue 14 item 2)."""

from __future__ import annotations

import stat
import subprocess
import time
from pathlib import Path

import pytest
import pytest_twisted

from tests.conftest import require
from tests.inprocess import in_thread, pause
from tests.serve.harness import s_client_exchange, serving
from tests.serve.test_catalogue_e2e import options

pytestmark = pytest.mark.loopback


def _start_capture(port: int, capture: Path) -> subprocess.Popen[bytes]:
    """dumpcap on lo for this port only; returns once it says it is capturing."""
    process = subprocess.Popen([require("dumpcap"), "-i", "lo", "-f", f"tcp port {port}",
                                "-w", str(capture)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    assert process.stderr is not None
    deadline = time.monotonic() + 15
    seen = b""
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen += line
        if b"Capturing on" in line:
            return process
        if not line and process.poll() is not None:
            break
    process.kill()
    pytest.fail(f"dumpcap could not capture on lo (it needs root or CAP_NET_RAW): {seen!r}")


def _stop_capture(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    if process.stderr is not None:
        process.stderr.close()


def _sip_seen(capture: Path, port: int, keylog: Path | None) -> list[str]:
    """What tshark decodes as SIP in the capture: request and status lines. (The port is
    ephemeral, not 5061: tshark is told it carries TLS, and the TLS carries SIP.)"""
    command = [require("tshark"), "-r", str(capture), "-d", f"tcp.port=={port},tls",
               "-d", f"tls.port=={port},sip", "-Y", "sip", "-T", "fields",
               "-e", "sip.Request-Line", "-e", "sip.Status-Line"]
    if keylog is not None:
        command[3:3] = ["-o", f"tls.keylog_file:{keylog}"]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return [line.strip() for line in done.stdout.decode().splitlines() if line.strip()]


@pytest_twisted.ensureDeferred
async def test_tshark_decrypts_a_capture_with_the_key_log(session_store, sbc_files, tmp_path):
    keys, capture = tmp_path / "fakepeer.keys", tmp_path / "capture.pcapng"
    async with serving(session_store, "--keylog", str(keys)) as server:
        dumpcap = await in_thread(_start_capture, server.port, capture)
        try:
            result = await s_client_exchange(
                server.port, "-servername", "sip.pstnhub.microsoft.com", "-tls1_2",
                "-cert", str(sbc_files.cert), "-key", str(sbc_files.key),
                "-cert_chain", str(sbc_files.chain), request=options())
            await pause(0.5)  # the last segments reach the capture
        finally:
            await in_thread(_stop_capture, dumpcap)
        announced = [line for line in server.stderr if "key log" in line]
    assert "SIP/2.0 200 OK" in result.output
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert announced and str(keys) in announced[0] and "decrypt" in announced[0]
    decrypted = await in_thread(_sip_seen, capture, server.port, keys)
    assert any(line.startswith("OPTIONS sip:sip.pstnhub.microsoft.com") for line in decrypted), \
        decrypted
    assert any("SIP/2.0 200 OK" in line for line in decrypted), decrypted
    # negative twin: without the key log the same capture shows no SIP at all
    assert await in_thread(_sip_seen, capture, server.port, None) == []
