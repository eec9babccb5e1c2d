"""``fakepeer serve --sbc`` end to end: one serve run rehearses both directions.

Kamailio plays the SBC twice over: it pings serve with mutual TLS (Contact
sbc.lab.example:5061) and listens for serve's own OPTIONS, which ``--sbc`` maps to its
loopback port. These tests run once ``serve`` has the dial-back options wired in (see
:func:`fakepeer.cli.outbound.dialback_for`); before that they are skipped.
"""

from __future__ import annotations

import argparse

import pytest
import pytest_twisted

from fakepeer.cli.main import build_parser
from fakepeer.pki import export
from fakepeer.pki.keys import private_key_pem
from tests.conftest import require
from tests.inprocess import kamailio_running
from tests.peers.kamailio import free_port
from tests.probe.conftest import SBC
from tests.serve.harness import serving


def _serve_has_dialback() -> bool:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return any("--sbc" in action.option_strings for action in sub.choices["serve"]._actions)


pytestmark = [
    pytest.mark.loopback,
    pytest.mark.skipif(not _serve_has_dialback(), reason="serve has no --sbc/--dialback yet"),
]


async def _rehearse(session_store, chains, folder, trusted: bytes | None):
    """Kamailio pings serve and serve dials it back; once serve has stopped return the
    dialback record, the verdicts of the inbound connection's session and the outbound
    connection's records."""
    require("kamailio")
    serve_port = free_port()
    async with kamailio_running(folder, export.pem(chains.good.sent),
                                private_key_pem(chains.good.key),
                                ping=f"127.0.0.1:{serve_port}", fqdn=SBC, ca_pem=trusted,
                                require_certificate=trusted is not None) as sbc:
        async with serving(session_store, "--listen", f"127.0.0.1:{serve_port}",
                           "--sbc", f"{SBC}=127.0.0.1:{sbc.port}",
                           "--dialback-timeout", "2") as server:
            dialback = await server.next_event("dialback", 0, timeout=20)
        inbound = [e for e in server.events if e["kind"] == "verdict"]
        closes = [i for i, e in enumerate(server.events) if e["kind"] == "closed"
                  and e.get("connection") == dialback["connection"]]
        # decided while Kamailio's connection was still open
        assert server.events.index(inbound[0]) < (closes or [len(server.events)])[0]
        outbound = server.events_of(dialback["outbound_connection"])
    return dialback, inbound, outbound


@pytest_twisted.ensureDeferred
async def test_serve_dials_the_contact_back_and_reports_outbound_active(session_store, chains,
                                                                       tmp_path):
    """After 200 OK to Kamailio's OPTIONS serve dials sbc.lab.example and gets 200 there."""
    dialback, inbound, outbound = await _rehearse(session_store, chains, tmp_path / "k", None)
    assert dialback.get("problem", "") == "", dialback
    assert outbound[0]["kind"] == "dial-started" and outbound[0]["sni"] == SBC
    assert [e for e in outbound if e["kind"] == "options-answered"][-1]["status"] == 200
    # both directions in one verdict, given while Kamailio's connection is open
    assert inbound[0]["outcome"] == "PASS", inbound
    assert inbound[0]["inbound"] == "PASS" and inbound[0]["outbound"] == "PASS", inbound[0]


@pytest_twisted.ensureDeferred
async def test_serve_dialling_an_sbc_that_refuses_the_2026_chain_reports_outbound_error(
        session_store, chains, tmp_path):
    """The SBC's listener trusts the 2023 root and checks clientAuth: outbound Error."""
    trusted = export.pem(chains.anchors["microsoft-2023"])
    _, inbound, outbound = await _rehearse(session_store, chains, tmp_path / "k", trusted)
    failed = [e for e in outbound if e["kind"] == "tls-failed"]
    assert failed and failed[0]["alert"] == "unsupported_certificate", outbound
    # a refused dial-back is a FAIL of the session, never a PASS (issue 9)
    assert inbound[0]["outcome"] == "FAIL", inbound
    assert inbound[0]["inbound"] == "PASS" and inbound[0]["outbound"] == "FAIL", inbound[0]
    assert "unsupported_certificate" in inbound[0]["cause"], inbound[0]
