"""Dial-back inside ``serve``, in-process: Kamailio plays the SBC in both directions (it
pings fakepeer with mutual TLS and listens for fakepeer's own OPTIONS), and the inbound
connection's verdict carries the outbound result."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor, task
from twisted.internet.defer import fail
from twisted.internet.error import DNSLookupError

from fakepeer.net.phases import PhaseRuntime
from fakepeer.net.service import SipListeners
from fakepeer.net.sip_protocol import ServeSettings
from fakepeer.pki import export
from fakepeer.pki.keys import private_key_pem
from fakepeer.probe.caller import build_caller
from fakepeer.probe.dialback import DialBack
from fakepeer.realize import realize
from fakepeer.scenario.model import Scenario
from fakepeer.tls import ServerConnectionCreator
from tests.conftest import make_pki, require
from tests.peers.kamailio import kamailio
from tests.probe.conftest import SBC

pytestmark = pytest.mark.loopback


class Lab:
    """fakepeer serve's listener in this process, with a DialBack wired as serve will."""

    def __init__(self, session_store: Any, **dialback: Any) -> None:
        pki = make_pki(session_store)
        peer = realize(Scenario(name="dialback-test"), pki)
        self.events: list[Any] = []
        self.dialback = DialBack(reactor, build_caller(peer), self.events.append, timeout=2.0,
                                 **dialback)
        settings = ServeSettings(profile=peer.sip_profile,
                                 responder_policy=peer.responder_policy,
                                 on_options_accepted=self.dialback)
        creator = ServerConnectionCreator.from_chains(peer.policy, [peer.chain],
                                                      client_trust=peer.client_trust)
        self.listeners = SipListeners(reactor, [PhaseRuntime("dialback-test", creator, settings)],
                                      self.events.append, [("127.0.0.1", 0)])
        self.dialback.attach(self.listeners.sip_factory)

    async def start(self) -> int:
        await self.listeners.listen()
        return int(self.listeners.ports[0].getHost().port)

    async def wait_for(self, predicate: Any, timeout: float = 15.0) -> Any:
        for _ in range(int(timeout / 0.05)):
            found = [e for e in self.events if predicate(e)]
            if found:
                return found[0]
            await task.deferLater(reactor, 0.05, lambda: None)
        raise AssertionError("no such event; got:\n" + "\n".join(
            e.console_line() for e in self.events))


def _kamailio(chains, folder, port: int, trusted: bytes | None = None):
    """Kamailio as the SBC: pings 127.0.0.1:port with Contact sbc.lab.example:5061 and
    listens for the dial-back (requiring a client certificate when ``trusted`` is given)."""
    require("kamailio")
    return kamailio(folder, export.pem(chains.good.sent), private_key_pem(chains.good.key),
                    ping=f"127.0.0.1:{port}", fqdn=SBC, ca_pem=trusted,
                    require_certificate=trusted is not None)


async def _both_directions(lab: Lab, chains, folder, trusted: bytes | None = None):
    """Run until the dial-back is reported, stop the SBC, return (dialback, verdict)."""
    port = await lab.start()
    try:
        with _kamailio(chains, folder, port, trusted) as sbc:
            lab.dialback.sbc_map[SBC] = ("127.0.0.1", sbc.port)
            dialback = await lab.wait_for(lambda e: e.kind == "dialback")
        verdict = await lab.wait_for(
            lambda e: e.kind == "verdict" and e.connection == dialback.connection)
    finally:
        await lab.listeners.stopService()
    return dialback, verdict


@pytest_twisted.ensureDeferred
async def test_dialback_reaches_the_sbc_and_the_verdict_says_outbound_active(
        session_store, chains, tmp_path):
    """After 200 OK to the SBC's OPTIONS fakepeer dials sbc.lab.example (mapped to the
    SBC's listener), gets 200 there too, and the inbound verdict ends "outbound Active"."""
    lab = Lab(session_store)
    dialback, verdict = await _both_directions(lab, chains, tmp_path / "kamailio")
    assert dialback.summary.startswith("Active (sbc.lab.example:"), dialback.summary
    assert dialback.data["status"] == "Active"
    assert verdict.data["dialback"].startswith("Active")
    assert "outbound Active" in verdict.summary
    outbound = dialback.data["outbound_connection"]
    assert outbound != dialback.connection
    kinds = [e.kind for e in lab.events if e.connection == outbound]
    assert kinds[0] == "probe" and kinds[-1] == "verdict"
    assert [r.ok for r in lab.dialback.results] == [True]  # one dial for many pings


@pytest_twisted.ensureDeferred
async def test_dialback_to_an_sbc_refusing_the_2026_chain_says_outbound_error(
        session_store, chains, tmp_path):
    """The failing twin: the SBC's listener trusts the 2023 root and checks clientAuth, so
    the dial-back fails with unsupported_certificate and the verdict says "outbound Error"."""
    lab = Lab(session_store)
    trusted = export.pem(chains.anchors["microsoft-2023"])
    dialback, verdict = await _both_directions(lab, chains, tmp_path / "kamailio", trusted)
    assert dialback.data["status"] == "Error"
    assert "unsupported_certificate" in dialback.summary
    assert "outbound Error" in verdict.summary
    assert verdict.data["options"] == "Active"  # the inbound direction itself was fine


@pytest_twisted.ensureDeferred
async def test_an_unresolvable_contact_is_an_outbound_error_naming_the_fix(session_store):
    """Without DNS or an --sbc mapping the dial-back reports it cannot resolve the FQDN."""

    def no_dns(host: str) -> Any:
        return fail(DNSLookupError(host))

    lab = Lab(session_store, resolve=no_dns)
    lab.dialback(7, "sbc.nowhere.example", 5061)
    event = await lab.wait_for(lambda e: e.kind == "dialback")
    assert event.connection == 7
    assert "cannot resolve sbc.nowhere.example" in event.summary
    assert "--sbc FQDN=ADDRESS:PORT" in event.summary
    assert lab.dialback.results == []


@pytest_twisted.ensureDeferred
async def test_each_inbound_connection_is_dialled_back_once(session_store):
    """Repeated OPTIONS on one connection cause one dial-back; another connection its own."""
    asked: list[str] = []

    def no_dns(host: str) -> Any:
        asked.append(host)
        return fail(DNSLookupError(host))

    lab = Lab(session_store, resolve=no_dns)
    for connection in (7, 7, 7, 8):
        lab.dialback(connection, "sbc.nowhere.example", 5061)
    await lab.wait_for(lambda e: e.kind == "dialback" and e.connection == 8)
    assert [e.connection for e in lab.events if e.kind == "dialback"] == [7, 8]
    assert asked == ["sbc.nowhere.example"] * 2
