"""Listening and dialling endpoints come from Twisted's own parsers; IPv6 is escaped."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import protocol, reactor
from twisted.internet.testing import MemoryReactor

from fakepeer.net.endpoints import client_endpoint, server_description, server_endpoint


def test_descriptions_escape_ipv6_interfaces():
    """An IPv6 interface has its colons escaped; the backlog is passed on when given."""
    assert server_description("0.0.0.0", 5061) == "tcp:port=5061:interface=0.0.0.0"
    assert server_description("::1", 0, backlog=1024) == \
        "tcp:port=0:interface=\\:\\:1:backlog=1024"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_the_listener_binds_what_was_asked(host):
    """serverFromString's endpoint asks the reactor for the very port, backlog and
    interface, IPv4 or IPv6 alike."""
    memory = MemoryReactor()
    server_endpoint(memory, host, 5061, backlog=1024).listen(protocol.Factory())
    assert [(p, b, i) for p, _, b, i in memory.tcpServers] == [(5061, 1024, host)]


@pytest_twisted.ensureDeferred
async def test_a_dial_reaches_a_real_listener_on_loopback():
    """client_endpoint connects to an address literal (no DNS) on a real loopback port."""
    port = await server_endpoint(reactor, "127.0.0.1", 0).listen(
        protocol.Factory.forProtocol(protocol.Protocol))
    try:
        connected = await client_endpoint(reactor, "127.0.0.1", port.getHost().port,
                                          timeout=2).connect(
            protocol.Factory.forProtocol(protocol.Protocol))
        assert connected.transport.getPeer().port == port.getHost().port
        connected.transport.loseConnection()
    finally:
        await port.stopListening()
