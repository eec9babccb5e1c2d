"""to_bytes: exact spelling and order, Content-Length on request, and parse round trips."""

from __future__ import annotations

from fakepeer.sip import (
    PING,
    PONG,
    Headers,
    KeepAlive,
    Request,
    Response,
    SipConnection,
    to_bytes,
)


def parse_one(data: bytes) -> object:
    conn = SipConnection()
    conn.receive_data(data)
    return conn.next_event()


def test_names_and_order_are_written_as_given():
    """Header names keep their spelling and order, compact forms included."""
    response = Response(
        200, "OK", Headers([("FROM", "<sip:a.example.com>"), ("i", "x"), ("cseq", "1 OPTIONS"),
                            ("l", "0")])
    )
    assert to_bytes(response) == (
        b"SIP/2.0 200 OK\r\nFROM: <sip:a.example.com>\r\ni: x\r\ncseq: 1 OPTIONS\r\nl: 0\r\n\r\n"
    )


def test_content_length_added_when_asked():
    """add_content_length appends one computed from the body, only if none is present."""
    request = Request("MESSAGE", "sip:a.example.com", Headers([("Via", "v")]), b"hello")
    assert to_bytes(request) == b"MESSAGE sip:a.example.com SIP/2.0\r\nVia: v\r\n\r\nhello"
    assert to_bytes(request, add_content_length=True) == (
        b"MESSAGE sip:a.example.com SIP/2.0\r\nVia: v\r\nContent-Length: 5\r\n\r\nhello"
    )
    already = Request("MESSAGE", "sip:a.example.com", Headers([("l", "5")]), b"hello")
    assert to_bytes(already, add_content_length=True) == to_bytes(already)


def test_empty_value_and_empty_reason():
    """An empty header value is written as 'Name:' and an empty reason keeps its SP."""
    response = Response(200, "", Headers([("Subject", ""), ("Content-Length", "0")]))
    data = to_bytes(response)
    assert data == b"SIP/2.0 200 \r\nSubject:\r\nContent-Length: 0\r\n\r\n"
    assert parse_one(data) == response


def test_round_trip_with_utf8():
    """What the serializer writes parses back to the same event, UTF-8 text included."""
    headers = Headers([("From", '"Zoë" <sip:z@example.com>;tag=1'), ("Content-Length", "3")])
    request = Request("MESSAGE", "sip:b.example.com", headers, b"\x00\xff!")
    assert parse_one(to_bytes(request)) == request


def test_keepalive_bytes():
    """A KeepAlive serializes to the double-CRLF ping; the pong is one CRLF."""
    assert to_bytes(KeepAlive()) == PING == b"\r\n\r\n"
    assert PONG == b"\r\n"
