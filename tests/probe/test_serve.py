"""``fakepeer probe`` against ``fakepeer serve``: the proxy dialling the proxy.

serve's Microsoft profile requires a client certificate with clientAuth (the 2024-03
rule), and the 2026 proxy leaf fakepeer presents is serverAuth-only. That is exactly the
2026 story: a peer that checks the TLS client purpose refuses Microsoft's new chain.
serve refuses it the way .NET SslStream would (bad_certificate); once serve tolerates the
missing clientAuth (the late-2025 relaxation) both directions pass.
"""

from __future__ import annotations

import pytest
import pytest_twisted

from fakepeer.cli.status import ExitStatus
from tests.serve.harness import serving

pytestmark = pytest.mark.loopback

PROXY = "sip.pstnhub.microsoft.com"


@pytest_twisted.ensureDeferred
async def test_serve_refuses_the_serverauth_only_2026_client_chain(session_store, probe):
    """serve requires clientAuth: the probe's 2026 chain gets bad_certificate, exit 3."""
    async with serving(session_store) as server:
        run = await probe(server.port, "--fqdn", PROXY)
        refused = await server.next_event("tls-failed", 0)
    assert run.status == ExitStatus.PEER_FAILED
    assert run.of("tls-failed")[0]["data"]["alert"] == "bad_certificate"
    assert run.verdict["certificate"] == "Accepted"  # serve's own chain is fine
    assert refused["reason"] == "client-certificate-wrong-eku"
    assert "26 INVALID_PURPOSE" in refused["detail"]


@pytest_twisted.ensureDeferred
async def test_serve_tolerating_missing_client_auth_accepts_the_2026_chain(session_store, probe):
    """With the late-2025 relaxation serve completes TLS and answers the probe's OPTIONS
    (Contact sip-du-a-us.pstnhub.microsoft.com matches *.pstnhub.microsoft.com) with 200."""
    async with serving(session_store, "--tolerate-missing-client-auth") as server:
        run = await probe(server.port, "--fqdn", PROXY)
        request = await server.next_event("sip-request", 0)
    assert run.status == ExitStatus.SUCCESS, run.out
    assert run.verdict["ok"]
    assert request["status"] == 200
    assert request["method"] == "OPTIONS"


@pytest_twisted.ensureDeferred
async def test_serve_answering_options_with_503_fails_the_sip_side(session_store, probe):
    """TLS passes both ways but a 503 to OPTIONS is OPTIONS Error: the SBC did not accept
    us, exit 3."""
    async with serving(session_store, "--tolerate-missing-client-auth",
                       "--options-status", "503") as server:
        run = await probe(server.port, "--fqdn", PROXY)
    assert run.status == ExitStatus.PEER_FAILED
    assert (run.verdict["tls"], run.verdict["certificate"]) == ("Active", "Accepted")
    assert run.verdict["options"] == "Error"
    assert run.verdict["options_reason"] == "503 Service Unavailable"


@pytest_twisted.ensureDeferred
async def test_probe_and_serve_key_logs_hold_the_same_secrets(session_store, probe, tmp_path):
    """--keylog on both ends (probe dials, serve answers): each writes the connection's
    TLS 1.2 secret, the same CLIENT_RANDOM line, so either file decrypts a capture."""
    served, dialled = tmp_path / "serve.keys", tmp_path / "probe.keys"
    async with serving(session_store, "--tolerate-missing-client-auth",
                       "--keylog", str(served)) as server:
        run = await probe(server.port, "--fqdn", PROXY, "--keylog", str(dialled))
    assert run.status == ExitStatus.SUCCESS, run.out
    lines = dialled.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CLIENT_RANDOM ")
    assert served.read_text().splitlines() == lines
