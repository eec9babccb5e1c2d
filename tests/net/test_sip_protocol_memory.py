"""The SIP edge in memory: StringTransport and a fake clock, no sockets, no TLS."""

from __future__ import annotations

from datetime import UTC, datetime

from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport

from fakepeer import sip
from fakepeer.net.sip_protocol import ServeSettings, SipServerFactory, SipTlsProtocol
from fakepeer.report.events import Event

OPTIONS = (
    b"OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls SIP/2.0\r\n"
    b"Via: SIP/2.0/TLS sbc.lab.example:5061;branch=z9hG4bKmem1\r\n"
    b"From: <sip:sbc.lab.example:5061;transport=tls>;tag=m1\r\n"
    b"To: <sip:sip.pstnhub.microsoft.com>\r\nCall-ID: mem-1\r\nCSeq: 1 OPTIONS\r\n"
    b"Contact: <sip:sbc.lab.example:5061;transport=tls>\r\nContent-Length: 0\r\n\r\n"
)


def _connect(**settings: object) -> tuple[SipTlsProtocol, StringTransport, list[Event],
                                          MemoryReactorClock]:
    events: list[Event] = []
    reactor = MemoryReactorClock()
    factory = SipServerFactory(
        ServeSettings(profile=sip.MICROSOFT, responder_policy=sip.ResponderPolicy(),
                      **settings),  # type: ignore[arg-type]
        events.append, reactor, lambda: datetime(2026, 11, 22, tzinfo=UTC))
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    assert isinstance(protocol, SipTlsProtocol)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, events, reactor


def test_options_gets_the_microsoft_200():
    """OPTIONS in, the upper-case Microsoft 200 OK out, both reported."""
    protocol, transport, events, _ = _connect()
    protocol.dataReceived(OPTIONS)
    assert transport.value().startswith(b"SIP/2.0 200 OK\r\nFROM: ")
    assert [e.kind for e in events] == ["tcp-accepted", "sip-request", "sip-response"]


def test_request_split_byte_by_byte_is_answered_once():
    """A request arriving one byte at a time is answered exactly once."""
    protocol, transport, _, _ = _connect()
    for index in range(len(OPTIONS)):
        protocol.dataReceived(OPTIONS[index:index + 1])
    assert transport.value().count(b"SIP/2.0 200 OK") == 1


def test_keepalive_is_answered_with_crlf():
    """RFC 5626 double-CRLF ping gets a single CRLF pong."""
    protocol, transport, events, _ = _connect()
    protocol.dataReceived(b"\r\n\r\n")
    assert transport.value() == b"\r\n"
    assert events[-1].kind == "sip-keepalive"


def test_malformed_message_gets_400_and_the_connection_goes_on():
    """A recoverable error (header line without colon) gets 400 with a Warning."""
    protocol, transport, _, _ = _connect()
    broken = OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 0\r\nNoColonHere")
    protocol.dataReceived(broken)
    assert transport.value().startswith(b"SIP/2.0 400")
    assert b"WARNING: 399 FAKEPEER" in transport.value().upper()
    transport.clear()
    protocol.dataReceived(OPTIONS)
    assert transport.value().startswith(b"SIP/2.0 200 OK")


def test_oversize_message_is_refused_and_closed():
    """Past max_message_size the peer gets 513 (when addressable) and is disconnected."""
    protocol, transport, events, _ = _connect(limits=sip.Limits(max_message_size=1024))
    protocol.dataReceived(OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 5000"))
    assert transport.disconnecting
    assert any(e.kind == "sip-error" and e.data["status"] == 513 for e in events)


def test_idle_connection_is_closed_after_the_timeout():
    """Nothing for idle_timeout seconds: a limit event and an abort."""
    _, transport, events, reactor = _connect(idle_timeout=5.0)
    reactor.advance(4.9)
    assert not transport.disconnected
    reactor.advance(0.2)
    assert any(e.kind == "limit" and e.data["limit"] == "idle_timeout" for e in events)


def test_options_delay_holds_the_answer():
    """options_delay answers only after the delay has passed."""
    protocol, transport, _, reactor = _connect(options_delay=3.0)
    protocol.dataReceived(OPTIONS)
    assert transport.value() == b""
    reactor.advance(3.0)
    assert transport.value().startswith(b"SIP/2.0 200 OK")


def test_options_ignore_never_answers():
    """options_action 'ignore' reads the OPTIONS and writes nothing."""
    protocol, transport, events, reactor = _connect(options_action="ignore")
    protocol.dataReceived(OPTIONS)
    reactor.advance(60)
    assert b"SIP/2.0" not in transport.value()
    assert any(e.data.get("finding") == "ignored" for e in events)


def test_connection_cap_refuses_the_next_connection():
    """Past max_connections a new connection is refused and reported."""
    events: list[Event] = []
    factory = SipServerFactory(
        ServeSettings(profile=sip.MICROSOFT, responder_policy=sip.ResponderPolicy(),
                      max_connections=1),
        events.append, MemoryReactorClock(), lambda: datetime(2026, 11, 22, tzinfo=UTC))
    first = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    first.makeConnection(StringTransport())
    assert factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 2)) is None
    assert events[-1].kind == "tcp-refused"


def test_lost_connection_gets_a_verdict():
    """Every connection ends with a verdict event in dashboard words."""
    protocol, _, events, _ = _connect()
    protocol.dataReceived(OPTIONS)
    protocol.connectionLost(None)
    assert events[-1].kind == "verdict"
    assert "OPTIONS Active" in events[-1].summary
