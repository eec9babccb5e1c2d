"""Crafted client certificates against a live ``fakepeer serve --max-connections 5``.

Issue 12 item 1: five handshakes with a malformed subjectAltName locked every SBC out of
such a server for good (reporting raised in ``connectionLost``, so the connections never
left the active set), printed 11 tracebacks and gave no verdict. Here every certificate
of :func:`tests.crafted.crafted_certificates` is presented by a real TLS client, with the
client certificate required and optional; each connection is reported with what could
not be read, stderr stays clean, and a correct SBC still gets its 200 OK afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from tests.crafted import Crafted, crafted_certificates, key_pem, swapped_certificate_handshake
from tests.inprocess import in_thread
from tests.serve.harness import Server, s_client, s_client_exchange, serving
from tests.serve.test_tls_refusals import OPTIONS

pytestmark = pytest.mark.loopback
TABLE = crafted_certificates()


@pytest.fixture(scope="module")
def crafted_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("crafted")
    (folder / "key.pem").write_bytes(key_pem())
    files = {"key": folder / "key.pem"}
    for crafted in TABLE:
        files[crafted.name] = folder / f"{crafted.name}.pem"
        files[crafted.name].write_bytes(crafted.pem)
    return files


async def _present(server: Server, crafted: Crafted, files: dict[str, Path]) -> None:
    if crafted.owns_key:
        await s_client(server.port, "-cert", str(files[crafted.name]), "-key",
                       str(files["key"]), timeout=10)
    else:
        await in_thread(swapped_certificate_handshake, server.port, crafted.der)


async def _report_of(server: Server, since: int
                     ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The close of the first connection accepted after ``since``, and its records (a
    verdict is per SBC session, written when it changes: not one per connection)."""
    accepted = await server.next_event("tcp-accepted", since)
    connection = accepted["connection"]
    closed = await server.wait_for(
        lambda e: e["kind"] == "closed" and e.get("connection") == connection, 15, since)
    return closed, server.events_of(connection)


@pytest.mark.parametrize("mode", ["required", "optional"])
@pytest_twisted.ensureDeferred
async def test_no_crafted_certificate_takes_the_listener_down(session_store, sbc_files, anchors,
                                                        crafted_files, mode):
    """Every crafted certificate gets its connection judged and its problem named; then
    a correct SBC is still served, and nothing went to stderr."""
    async with serving(session_store, "--no-http", "--max-connections", "5", "--client-cert",
                       mode, "--idle-timeout", "10") as server:
        missing = []
        for crafted in TABLE:
            mark = server.mark()
            await _present(server, crafted, crafted_files)
            _, events = await _report_of(server, mark)
            tls = [e for e in events if e["kind"] in ("tls-established", "tls-failed")]
            problems = tls[0].get("certificate_problems", []) if tls else []
            if not any(crafted.reported in problem for problem in problems):
                missing.append((crafted.name, [e["kind"] for e in events], problems))
            assert tls, (crafted.name, events)  # judged, not counted as a port check
            if mode == "required" and not crafted.loads:  # SslStream-style refusal
                assert tls[0]["alert"] == "bad_certificate", tls[0]
        assert not missing, missing
        mark = server.mark()
        result = await s_client_exchange(
            server.port, "-cert", str(sbc_files.cert), "-key", str(sbc_files.key),
            "-cert_chain", str(sbc_files.chain), "-CAfile", str(anchors["microsoft-2026"]),
            "-servername", "sip.pstnhub.microsoft.com", request=OPTIONS)
        assert "SIP/2.0 200 OK" in result.output, result.output
        assert (await server.next_event("verdict", mark))["options"] == "Active"
    noise = [line for line in server.stderr if "Traceback" in line or "Warning" in line
             or "Unhandled" in line]
    assert not noise, "\n".join(server.stderr)
