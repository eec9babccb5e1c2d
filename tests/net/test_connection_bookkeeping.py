"""The listener's bookkeeping does not depend on reporting (issue 12 item 1).

When reporting a closed connection raised (a crafted certificate's summary, an event
file on a full disk), the connection never left the factory's active set: with
``--max-connections 5``, five of them locked every SBC out for good.
"""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from fakepeer import sip
from fakepeer.net.sip_protocol import (
    REFUSAL_REPORT_INTERVAL,
    ServeSettings,
    SipServerFactory,
    SipTlsProtocol,
)
from fakepeer.report.jsonl import JsonLinesSink


def test_a_report_that_fails_still_frees_the_connections_place():
    """The event file fills up while connections are open: every one that closes still
    leaves the active set and cancels its timers, so the cap keeps admitting SBCs."""
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full (a device that is always full)")
    sink = JsonLinesSink(io.StringIO())
    reactor = MemoryReactorClock()
    factory = SipServerFactory(
        ServeSettings(profile=sip.MICROSOFT, responder_policy=sip.ResponderPolicy(),
                      max_connections=2),
        sink, reactor, lambda: datetime(2026, 11, 22, tzinfo=UTC))
    protocols = []
    for port in (40000, 40001):
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", port))
        assert isinstance(protocol, SipTlsProtocol)
        protocol.makeConnection(StringTransport())
        protocols.append(protocol)
    assert not factory.admit(IPv4Address("TCP", "127.0.0.1", 40002))  # the cap
    full = Path("/dev/full").open("w", encoding="utf-8")  # noqa: SIM115 - closed below
    sink.stream = full
    for protocol in protocols:
        with pytest.raises(OSError, match="No space left"):
            protocol.connectionLost(Failure(ConnectionDone()))
    sink.stream = io.StringIO()
    with contextlib.suppress(OSError):  # what is still buffered cannot be written either
        full.close()
    assert factory.active == set()
    # The refusal of 40002 is reported once its interval ends, and that timer stops; a
    # connection's timers (idle, deadlines, close grace) are all longer than this.
    reactor.pump([REFUSAL_REPORT_INTERVAL] * 2)
    assert not [call for call in reactor.getDelayedCalls() if call.active()]
    assert factory.admit(IPv4Address("TCP", "127.0.0.1", 40003))
