"""Real SIP clients from Debian's packages against a real ``fakepeer serve``:
sipsak (GnuTLS, one-way TLS) and Kamailio as an SBC pinging with mutual TLS."""

from __future__ import annotations

import pytest
import pytest_twisted

from fakepeer.pki import export
from fakepeer.pki.keys import private_key_pem
from fakepeer.pki.situation import Situation, build_situation, sbc_chain
from tests.conftest import make_pki, require
from tests.inprocess import kamailio_running, pause, run_process
from tests.serve.harness import serving


async def _sipsak(port: int, uri: str) -> str:
    require("sipsak")
    done = await run_process(["sipsak", "-E", "tls", "-p", f"127.0.0.1:{port}", "-s", uri,
                              "-vv"], capture_output=True, text=True, timeout=30)
    return done.stdout + done.stderr


@pytest_twisted.ensureDeferred
async def test_sipsak_gets_200_from_the_genesys_profile(session_store):
    """sipsak's OPTIONS over TLS gets 200 OK from the Genesys-style peer."""
    async with serving(session_store, "--profile", "genesys") as server:
        output = await _sipsak(server.port, "sip:lb01.byoc.usw2.pure.cloud")
        assert "SIP/2.0 200 OK" in output
        assert "Server: Genesys Cloud Edge" in output
        verdict = await server.next_event("verdict", 0)
    assert verdict["options"] == "Active"


@pytest_twisted.ensureDeferred
async def test_sipsak_with_an_ip_contact_gets_403_from_microsoft(session_store):
    """sipsak puts an IP address in Contact: the Microsoft proxy answers 403 Forbidden."""
    async with serving(session_store, "--client-cert", "off") as server:
        output = await _sipsak(server.port, "sip:sip.pstnhub.microsoft.com")
        assert "SIP/2.0 403 Forbidden" in output
        request = await server.next_event("sip-request", 0)
    assert request["status"] == 403 and request["answer_reason"] == "contact-ip", request


@pytest.fixture(scope="module")
def sbc_material(session_store):
    pki = make_pki(session_store)
    sbc = sbc_chain(pki, ("sbc.lab.example",))
    anchors = {era: build_situation(pki, Situation(era=era)).trust_anchors
               for era in ("microsoft-2020", "microsoft-2026")}
    return sbc, anchors


@pytest_twisted.ensureDeferred
async def test_kamailio_sbc_with_mutual_tls_gets_200(session_store, sbc_material, tmp_path):
    """Kamailio as an SBC (client certificate, Contact FQDN) keeps getting 200 OK."""
    require("kamailio")
    sbc, anchors = sbc_material
    async with serving(session_store) as server, kamailio_running(
            tmp_path / "kamailio", export.pem(sbc.sent), private_key_pem(sbc.key),
            ping=f"127.0.0.1:{server.port}",
            server_ca_pem=export.pem(anchors["microsoft-2026"])):
        established = await server.next_event("tls-established", 0, timeout=20)
        request = await server.next_event("sip-request", 0, timeout=20)
    assert "sbc.lab.example" in established["certificate"]["subject"]
    assert request["method"] == "OPTIONS" and request["status"] == 200


@pytest_twisted.ensureDeferred
async def test_kamailio_sbc_trusting_only_2020_rejects_the_2026_chain(session_store,
                                                                     sbc_material,
                                                                     tmp_path):
    """An SBC whose trust store has only Baltimore refuses fakepeer; the alert is logged."""
    require("kamailio")
    sbc, anchors = sbc_material
    async with serving(session_store) as server, kamailio_running(
            tmp_path / "kamailio", export.pem(sbc.sent), private_key_pem(sbc.key),
            ping=f"127.0.0.1:{server.port}",
            server_ca_pem=export.pem(anchors["microsoft-2020"])):
        failed = await server.next_event("tls-failed", 0, timeout=20)
        await pause(0.2)
        assert "sip-request" not in server.kinds()
    assert failed["failed_by"] == "sbc"
    assert failed["alert"] == "unknown_ca"
