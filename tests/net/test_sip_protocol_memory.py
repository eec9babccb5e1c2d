"""The SIP edge in memory: StringTransport and a fake clock, no sockets, no TLS."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport

from fakepeer import sip
from fakepeer.net.keepalives import KEEPALIVE_REPORT_INTERVAL
from fakepeer.net.sip_protocol import (
    REFUSAL_REPORT_INTERVAL,
    ServeSettings,
    SipServerFactory,
    SipTlsProtocol,
)
from fakepeer.report.events import Event
from tests.net.conftest import responses

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


def test_keepalive_is_answered_with_crlf_and_counted():
    """RFC 5626 double-CRLF ping gets a single CRLF pong; the ping is counted and
    reported once the report interval has passed (issue 12 item 4)."""
    protocol, transport, events, reactor = _connect()
    protocol.dataReceived(b"\r\n\r\n")
    assert transport.value() == b"\r\n"
    assert events[-1].kind == "tcp-accepted"  # not one record per ping
    reactor.advance(KEEPALIVE_REPORT_INTERVAL)
    assert (events[-1].kind, events[-1].data) == ("sip-keepalive", {"count": 1})


def test_a_keepalive_flood_is_one_line_before_the_next_record():
    """100,000 pings in one read: 100,000 pongs, and one record with the count, before
    the OPTIONS that follows them (issue 12 item 4: one event and line per ping)."""
    protocol, transport, events, _ = _connect()
    protocol.dataReceived(b"\r\n\r\n" * 100_000 + OPTIONS)
    assert transport.value().startswith(b"\r\n" * 100_000 + b"SIP/2.0 200 OK")
    assert [(e.kind, e.data.get("count")) for e in events[:3]] == [
        ("tcp-accepted", None), ("sip-keepalive", 100_000), ("sip-request", None)]
    protocol.dataReceived(b"\r\n\r\n" * 3)
    protocol.connectionLost(None)
    assert [e.data["count"] for e in events if e.kind == "sip-keepalive"] == [100_000, 3]


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


def test_options_ignore_never_responses():
    """options_action 'ignore' reads the OPTIONS and writes nothing."""
    protocol, transport, events, reactor = _connect(options_action="ignore")
    protocol.dataReceived(OPTIONS)
    reactor.advance(60)
    assert b"SIP/2.0" not in transport.value()
    assert any(e.data.get("finding") == "ignored" for e in events)


def test_connection_cap_refuses_at_accept_and_reports_a_burst_once():
    """Past max_connections a connection is not admitted (the port closes it before any
    TLS); a burst of refusals is one line with the count, per interval (issue 12 #2)."""
    events: list[Event] = []
    reactor = MemoryReactorClock()
    factory = SipServerFactory(
        ServeSettings(profile=sip.MICROSOFT, responder_policy=sip.ResponderPolicy(),
                      max_connections=1),
        events.append, reactor, lambda: datetime(2026, 11, 22, tzinfo=UTC))
    assert factory.admit(IPv4Address("TCP", "127.0.0.1", 1))
    first = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    first.makeConnection(StringTransport())
    assert not any(factory.admit(IPv4Address("TCP", "127.0.0.1", 2 + n)) for n in range(50))
    assert [e.kind for e in events] == ["tcp-accepted"]  # nothing per refusal
    reactor.advance(REFUSAL_REPORT_INTERVAL)
    (refused,) = [e for e in events if e.kind == "tcp-refused"]
    assert refused.data == {"limit": "max_connections", "value": 1, "count": 50}
    assert refused.summary.startswith("refused 50 connections at accept")
    reactor.advance(REFUSAL_REPORT_INTERVAL * 5)  # a quiet interval ends the burst
    assert not factory.admit(IPv4Address("TCP", "127.0.0.1", 99))
    reactor.advance(REFUSAL_REPORT_INTERVAL)
    assert [e.data["count"] for e in events if e.kind == "tcp-refused"] == [50, 1]


def test_lost_connection_gets_a_verdict():
    """Every connection ends with a verdict event in dashboard words."""
    protocol, _, events, _ = _connect()
    protocol.dataReceived(OPTIONS)
    protocol.connectionLost(None)
    assert events[-1].kind == "verdict"
    assert "OPTIONS Active" in events[-1].summary


def test_a_persistent_connection_keeps_no_history():
    """Issue 11 item 1: every record used to be kept in the connection for its lifetime
    (about 1,100 bytes per OPTIONS, never returned). 10,000 pings later the connection
    holds what its verdict reads, and the verdict is the same."""
    protocol, transport, events, _ = _connect()
    protocol.dataReceived(OPTIONS.replace(b"CSeq: 1 ", b"CSeq: 0 "))
    kept = len(protocol.events)
    for cseq in range(1, 10_001):
        protocol.dataReceived(OPTIONS.replace(b"CSeq: 1 ", f"CSeq: {cseq} ".encode()))
    assert transport.value().count(b"SIP/2.0 200 OK") == 10_001
    assert len(protocol.events) == kept
    assert sum(e.kind == "sip-response" for e in events) == 10_001  # every one reported
    protocol.connectionLost(None)
    assert "OPTIONS Active" in events[-1].summary


def test_a_change_of_answer_is_kept_for_the_verdict():
    """Folding keeps every distinct answer in order: 200s, then a 503, is Error."""
    protocol, _, events, _ = _connect()
    protocol.dataReceived(OPTIONS)
    protocol.dataReceived(OPTIONS.replace(b"CSeq: 1 ", b"CSeq: 2 "))
    protocol.settings = dataclasses.replace(protocol.settings, responder_policy=sip.ResponderPolicy(
        options_status=503))
    protocol.dataReceived(OPTIONS.replace(b"CSeq: 1 ", b"CSeq: 3 "))
    statuses = [e.data["status"] for e in protocol.events if e.kind == "sip-response"]
    assert statuses == [200, 503]
    protocol.connectionLost(None)
    assert "OPTIONS Error" in events[-1].summary


# -- issue 12: hostile input at the edge ---------------------------------------------------

def malformed(number: int) -> bytes:
    """An addressable request with a header line lacking its colon: recoverable, 400."""
    return (f"OPTIONS sip:sip.pstnhub.microsoft.com SIP/2.0\r\n"
            f"Via: SIP/2.0/TLS sbc.lab.example:5061;branch=z9hG4bKbad{number}\r\n"
            f"Call-ID: bad-{number}\r\nCSeq: {number} OPTIONS\r\n"
            f"no colon here\r\nContent-Length: 0\r\n\r\n").encode()


def test_hundreds_of_pipelined_malformed_requests_each_get_a_400_in_order():
    """546 malformed requests in one read (one 16 KB TLS record of them and more) are each
    answered 400, in order, and the connection stays open (issue 12 item 3)."""
    protocol, transport, events, _ = _connect()
    protocol.dataReceived(b"".join(malformed(n) for n in range(546)) + OPTIONS)
    got = responses(transport.value())
    assert [r.status for r in got] == [400] * 546 + [200]
    assert [r.headers.get("Call-ID") for r in got[:546]] == [f"bad-{n}" for n in range(546)]
    assert not transport.disconnecting
    assert sum(e.kind == "sip-error" for e in events) == 546


def test_a_fatal_error_is_logged_once_and_the_connection_closed_within_the_grace():
    """After an unrecoverable error: the 513 answer, close_notify, one log line however
    much more the peer sends, and an abort when it has not finished after close_grace
    (issue 12 item 6)."""
    protocol, transport, events, reactor = _connect(close_grace=2.0, idle_timeout=10.0)
    head = OPTIONS.split(b"Content-Length")[0] + b"X-Huge: "
    protocol.dataReceived(head + b"a" * 16_000)
    assert responses(transport.value())[0].status == 513
    assert transport.disconnecting and not transport.disconnected
    for _ in range(640):  # the rest of a 10 MB header, 16 KB per TLS record
        protocol.dataReceived(b"a" * 16_000)
        reactor.advance(0.001)
    assert sum(e.kind == "sip-error" for e in events) == 1
    reactor.advance(2.0)
    assert transport.disconnected  # aborted: the peer never answered close_notify
    protocol.connectionLost(None)
    closed = next(e for e in events if e.kind == "closed")
    assert "did not finish closing within 2 s" in closed.summary


def test_a_head_trickled_one_byte_at_a_time_is_closed_at_the_head_deadline():
    """Every byte resets the idle timer, not the head deadline: a peer sending one byte a
    second is closed when the head is late, logged once (issue 12 item 5)."""
    protocol, transport, events, reactor = _connect(
        deadlines=sip.Deadlines(head=5.0, body=5.0), idle_timeout=30.0)
    for index in range(20):
        if transport.disconnecting:
            break
        protocol.dataReceived(OPTIONS[index:index + 1])
        reactor.advance(1.0)
    assert transport.disconnecting
    limits = [e for e in events if e.kind == "limit"]
    assert [e.data["limit"] for e in limits] == ["head_deadline"]
    assert reactor.seconds() == pytest.approx(5.0)
    assert "message head not complete within 5 s (5 bytes of it received)" in limits[0].summary


def test_a_body_trickled_after_its_head_is_closed_at_the_body_deadline():
    """A complete head starts the body deadline; a body still short after it closes."""
    protocol, transport, events, reactor = _connect(
        deadlines=sip.Deadlines(head=5.0, body=3.0), idle_timeout=30.0)
    message = OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 10")
    protocol.dataReceived(message)
    for _ in range(4):
        reactor.advance(1.0)
        if not transport.disconnecting:
            protocol.dataReceived(b"x")
    assert transport.disconnecting
    assert [e.data["limit"] for e in events if e.kind == "limit"] == ["body_deadline"]


def test_whole_messages_sent_slowly_never_meet_a_deadline():
    """An SBC pinging every 4 s with whole messages (and a head split in two reads a
    second apart) is answered every time and never closed by the 5 s deadlines."""
    protocol, transport, events, reactor = _connect(
        deadlines=sip.Deadlines(head=5.0, body=5.0), idle_timeout=30.0)
    for _ in range(10):
        protocol.dataReceived(OPTIONS[:40])
        reactor.advance(1.0)
        protocol.dataReceived(OPTIONS[40:] + b"\r\n\r\n")
        reactor.advance(3.0)
    assert not transport.disconnecting
    assert [r.status for r in responses(transport.value())] == [200] * 10  # pongs are skipped
    assert not [e for e in events if e.kind == "limit"]


def test_a_new_message_in_the_same_read_gets_its_own_head_deadline():
    """A read that completes one message and starts the next re-arms the deadline from
    that read: the second head is not blamed for the first one's time."""
    protocol, transport, _, reactor = _connect(
        deadlines=sip.Deadlines(head=5.0, body=5.0), idle_timeout=30.0)
    protocol.dataReceived(OPTIONS[:40])
    reactor.advance(4.0)
    protocol.dataReceived(OPTIONS[40:] + OPTIONS[:40])
    reactor.advance(4.0)
    assert not transport.disconnecting
    reactor.advance(1.5)
    assert transport.disconnecting
