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
    """Kamailio pings serve and serve dials it back; once serve has stopped (closing the
    inbound connection, which gives its verdict) return the dialback event, the inbound
    connection's verdict and the outbound connection's events."""
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
        inbound = [e for e in server.events_of(dialback["connection"]) if e["kind"] == "verdict"]
        outbound = server.events_of(dialback["data"]["outbound_connection"])
    return dialback, inbound, outbound


@pytest_twisted.ensureDeferred
async def test_serve_dials_the_contact_back_and_reports_outbound_active(session_store, chains,
                                                                       tmp_path):
    """After 200 OK to Kamailio's OPTIONS serve dials sbc.lab.example and gets 200 there."""
    dialback, inbound, outbound = await _rehearse(session_store, chains, tmp_path / "k", None)
    assert dialback["summary"].startswith("Active"), dialback
    assert outbound[0]["kind"] == "probe" and outbound[0]["data"]["server_name"] == SBC
    assert outbound[-1]["kind"] == "verdict" and outbound[-1]["data"]["ok"]
    assert "outbound Active" in inbound[0]["summary"]


@pytest_twisted.ensureDeferred
async def test_serve_dialling_an_sbc_that_refuses_the_2026_chain_reports_outbound_error(
        session_store, chains, tmp_path):
    """The SBC's listener trusts the 2023 root and checks clientAuth: outbound Error."""
    trusted = export.pem(chains.anchors["microsoft-2023"])
    dialback, inbound, outbound = await _rehearse(session_store, chains, tmp_path / "k", trusted)
    assert dialback["summary"].startswith("Error"), dialback
    assert "unsupported_certificate" in dialback["summary"]
    assert outbound[-1]["data"]["ok"] is False
    assert "OPTIONS Active; outbound Error" in inbound[0]["summary"]
