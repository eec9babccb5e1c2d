"""SipConnection: framing, keep-alives, header forms, errors and connection states."""

from __future__ import annotations

import re

import pytest

from fakepeer.sip import (
    NEED_DATA,
    ConnectionClosed,
    ConnectionState,
    Headers,
    KeepAlive,
    LocalSipError,
    RemoteSipError,
    Request,
    Response,
    SipConnection,
    SipProtocolError,
)
from tests.sip.helpers import check_events, drain, first_error, options

MINIMAL = b"OPTIONS sip:sip.example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n"
MINIMAL_EVENT = Request("OPTIONS", "sip:sip.example.com", Headers([("Content-Length", "0")]))
OK = b"SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
OK_EVENT = Response(200, "OK", Headers([("CSeq", "1 OPTIONS"), ("Content-Length", "0")]))


def _request(*headers: tuple[str, str], body: bytes = b"", method: str = "OPTIONS") -> Request:
    return Request(method, "sip:sip.example.com", Headers(headers), body)


CASES = [
    pytest.param(MINIMAL, [MINIMAL_EVENT], id="minimal-request"),
    pytest.param(OK, [OK_EVENT], id="response"),
    pytest.param(
        b"SIP/2.0 481 Call/Transaction Does Not Exist\r\nl: 0\r\n\r\n",
        [Response(481, "Call/Transaction Does Not Exist", Headers([("l", "0")]))],
        id="reason-with-spaces",
    ),
    pytest.param(
        b"SIP/2.0 200 \r\nl: 0\r\n\r\n", [Response(200, "", Headers([("l", "0")]))],
        id="empty-reason",
    ),
    pytest.param(
        b"SIP/2.0 200\r\nl: 0\r\n\r\n", [Response(200, "", Headers([("l", "0")]))],
        id="no-reason-no-space",
    ),
    pytest.param(
        b"sip/2.0 200 OK\r\nl: 0\r\n\r\n", [Response(200, "OK", Headers([("l", "0")]))],
        id="version-any-case",
    ),
    pytest.param(
        b"MESSAGE sip:sip.example.com SIP/2.0\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 5\r\n\r\nhello",
        [_request(("Content-Type", "text/plain"), ("Content-Length", "5"), body=b"hello",
                  method="MESSAGE")],
        id="body",
    ),
    pytest.param(
        b"INFO sip:sip.example.com SIP/2.0\r\nContent-Length: 8\r\n\r\n\r\n\r\nab\r\n",
        [_request(("Content-Length", "8"), body=b"\r\n\r\nab\r\n", method="INFO")],
        id="body-holding-crlfcrlf",
    ),
    pytest.param(
        b"OPTIONS sip:sip.example.com SIP/2.0\r\nv: SIP/2.0/TLS h.example.com;branch=z9hG4bK1"
        b"\r\nf: <sip:a.example.com>;tag=1\r\nt: <sip:b.example.com>\r\ni: abc\r\n"
        b"m: <sip:c.example.com>\r\nl: 0\r\n\r\n",
        [_request(("v", "SIP/2.0/TLS h.example.com;branch=z9hG4bK1"),
                  ("f", "<sip:a.example.com>;tag=1"), ("t", "<sip:b.example.com>"),
                  ("i", "abc"), ("m", "<sip:c.example.com>"), ("l", "0"))],
        id="compact-forms-kept-as-received",
    ),
    pytest.param(
        b"OPTIONS sip:sip.example.com SIP/2.0\r\nSubject: I know\r\n you're\r\n\t  there\r\n"
        b"Content-Length: 0\r\n\r\n",
        [_request(("Subject", "I know you're there"), ("Content-Length", "0"))],
        id="folded-header",
    ),
    pytest.param(
        b"OPTIONS sip:sip.example.com SIP/2.0\r\nSubject:\r\n  folded-onto-empty\r\n"
        b"Content-Length: 0\r\n\r\n",
        [_request(("Subject", "folded-onto-empty"), ("Content-Length", "0"))],
        id="folded-onto-empty-value",
    ),
    pytest.param(
        b"OPTIONS sip:sip.example.com SIP/2.0\r\nVia :SIP/2.0/TLS h.example.com\r\n"
        b"Subject:\r\ncOnTeNt-LeNgTh:\t0 \r\n\r\n",
        [_request(("Via", "SIP/2.0/TLS h.example.com"), ("Subject", ""),
                  ("cOnTeNt-LeNgTh", "0"))],
        id="whitespace-around-colon-and-odd-case",
    ),
    pytest.param(
        'OPTIONS sip:sip.example.com SIP/2.0\r\nFrom: "Zoë" <sip:z@example.com>\r\nl: 0\r\n\r\n'
        .encode(),
        [_request(("From", '"Zoë" <sip:z@example.com>'), ("l", "0"))],
        id="utf8-display-name",
    ),
    pytest.param(b"\r\n\r\n", [KeepAlive()], id="keepalive"),
    pytest.param(b"\r\n\r\n\r\n\r\n", [KeepAlive(), KeepAlive()], id="two-keepalives"),
    pytest.param(b"\r\n\r\n\r\n", [KeepAlive()], id="keepalive-then-stray-crlf"),
    pytest.param(b"\r\n" + MINIMAL, [MINIMAL_EVENT], id="single-crlf-pong-ignored"),
    pytest.param(b"\r\n\r\n" + MINIMAL, [KeepAlive(), MINIMAL_EVENT], id="ping-then-message"),
    pytest.param(
        MINIMAL + b"\r\n\r\n" + OK + MINIMAL,
        [MINIMAL_EVENT, KeepAlive(), OK_EVENT, MINIMAL_EVENT],
        id="pipelined",
    ),
]


@pytest.mark.parametrize(("data", "expected"), CASES)
def test_framing_table(data, expected):
    """Each input gives the same events whole, byte by byte, with trailing bytes and at EOF."""
    check_events(data, expected)


def test_lookup_is_case_blind_and_expands_compact_forms():
    """Headers received in compact or odd-case form are found by their full names."""
    conn = SipConnection()
    conn.receive_data(
        b"OPTIONS sip:sip.example.com SIP/2.0\r\ni: abc\r\nCALL-id: def\r\nm: <sip:a.b>\r\n"
        b"k: replaces\r\nL: 0\r\n\r\n"
    )
    request = conn.next_event()
    assert isinstance(request, Request)
    assert request.headers.get("call-id") == "abc"
    assert request.headers.get_all("Call-ID") == ("abc", "def")
    assert request.headers.get("CONTACT") == "<sip:a.b>"
    assert request.headers.get("Supported") == "replaces"
    assert request.headers.get("content-length") == "0"
    assert [name for name, _ in request.headers] == ["i", "CALL-id", "m", "k", "L"]


def test_request_and_response_are_told_apart():
    """A start line beginning with SIP/ is a response; anything else a request."""
    conn = SipConnection()
    conn.receive_data(OK + MINIMAL)
    assert isinstance(conn.next_event(), Response)
    assert isinstance(conn.next_event(), Request)
    assert conn.next_event() is NEED_DATA


def test_keepalive_split_across_reads_waits():
    """Half a ping is held until the rest arrives, then reported once."""
    conn = SipConnection()
    conn.receive_data(b"\r\n")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"\r")
    assert conn.next_event() is NEED_DATA
    assert conn.buffered_bytes == 3
    conn.receive_data(b"\n")
    assert conn.next_event() == KeepAlive()
    assert conn.buffered_bytes == 0


@pytest.mark.parametrize(
    ("data", "match", "hint"),
    [
        pytest.param(
            b"OPTIONS sip:a.example.com SIP/2.0\r\nVia: x\r\nBroken line\r\nl: 0\r\n\r\n",
            "header line 3 has no colon", 400, id="no-colon",
        ),
        pytest.param(
            b"OPTIONS sip:a.example.com SIP/2.0\r\nBad Name: x\r\nl: 0\r\n\r\n",
            "header line 2 has an invalid name 'Bad Name'", 400, id="bad-name",
        ),
        pytest.param(
            b"OPTIONS sip:a.example.com\r\nl: 0\r\n\r\n",
            "request line has 2 space-separated parts", 400, id="short-request-line",
        ),
        pytest.param(
            b"OPTIONS  sip:a.example.com SIP/2.0\r\nl: 0\r\n\r\n",
            "request line has 4 space-separated parts", 400, id="double-space",
        ),
        pytest.param(
            b"OPTIONS sip:a.example.com SIP/3.0\r\nl: 0\r\n\r\n",
            "SIP version SIP/3.0 is not supported", 505, id="foreign-version",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
            "start line has no SIP version", 400, id="http",
        ),
        pytest.param(
            b"SIP/2.0 2000 OK\r\nl: 0\r\n\r\n", "no 3-digit status code", 400, id="status-4-digits",
        ),
        pytest.param(
            b"SIP/2.0 700 Odd\r\nl: 0\r\n\r\n", "status 700 is not an integer from 100 to 699",
            400, id="status-700",
        ),
        pytest.param(
            b"OPT@ONS sip:a.example.com SIP/2.0\r\nl: 0\r\n\r\n", "method 'OPT@ONS' is not a token",
            400, id="bad-method",
        ),
        pytest.param(
            b"OPTIONS a.example.com SIP/2.0\r\nl: 0\r\n\r\n", "Request-URI 'a.example.com'", 400,
            id="uri-without-scheme",
        ),
        pytest.param(
            b"OPTIONS sip:a.example.com SIP/2.0\r\nSubject: \xff\xfe\r\nl: 0\r\n\r\n",
            "line 2 is not valid UTF-8", 400, id="invalid-utf8",
        ),
        pytest.param(
            b"OPTIONS sip:a.example.com SIP/2.0\r\nSubject: a\nb\r\nl: 0\r\n\r\n",
            "line 2 contains a bare CR or LF", 400, id="bare-lf",
        ),
        pytest.param(
            b"OPTIONS sip:a.example.com SIP/2.0\r\n continued\r\nl: 0\r\n\r\n",
            "line 2 is a continuation line with no header", 400, id="orphan-continuation",
        ),
        pytest.param(
            b"OPTIONS sip:a.example.com SIP/2.0\r\nSubject: a\x00b\r\nl: 0\r\n\r\n",
            r"header line 2 \(Subject\) has a control character", 400, id="nul-in-value",
        ),
    ],
)
def test_recoverable_errors(data, match, hint):
    """A malformed but framed message raises a recoverable error naming the fact, then reads on."""
    for bytewise in (False, True):
        conn = SipConnection()
        chunks = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
        error = None
        for chunk in chunks:
            conn.receive_data(chunk)
            try:
                assert drain(conn) == []
            except RemoteSipError as exc:
                error = exc
        assert error is not None
        assert error.recoverable
        assert error.status_hint == hint
        assert error.partial is not None
        assert re.search(match, error.message), error.message
        assert conn.state is ConnectionState.OPEN
        conn.receive_data(MINIMAL)
        assert drain(conn) == [MINIMAL_EVENT]


def test_recoverable_error_consumes_its_body():
    """A bad message's body is skipped by its Content-Length, so the next message parses."""
    bad = b"OPTIONS sip:a.example.com SIP/2.0\r\nno colon\r\nContent-Length: 7\r\n\r\nOPTIONS"
    conn = SipConnection()
    conn.receive_data(bad + MINIMAL)
    with pytest.raises(RemoteSipError, match="no colon"):
        conn.next_event()
    assert conn.next_event() == MINIMAL_EVENT


def test_error_partial_holds_parsed_headers():
    """The error of a bad message carries its start line and the header lines that parsed."""
    error = first_error(options("Broken"))
    assert error.partial is not None
    assert error.partial.method == "OPTIONS"
    assert error.partial.headers.get("Call-ID") == "call-1@sbc.example.com"
    assert error.partial.headers.get("Broken") is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        pytest.param(b"OPTIONS sip:a.example.com SIP/2.0\r\nVia: x\r\n\r\n",
                     r"no Content-Length header; it is mandatory on stream transports "
                     r"\(RFC 3261 §18.3\)", id="missing"),
        pytest.param(b"OPTIONS sip:a.example.com SIP/2.0\r\nl: 0\r\nContent-Length: 0\r\n\r\n",
                     "2 Content-Length headers", id="twice"),
        pytest.param(b"OPTIONS sip:a.example.com SIP/2.0\r\nContent-Length: -1\r\n\r\n",
                     "Content-Length '-1' is not a number", id="negative"),
        pytest.param(b"OPTIONS sip:a.example.com SIP/2.0\r\nContent-Length: 0x10\r\n\r\n",
                     "Content-Length '0x10' is not a number", id="hex"),
        pytest.param(b"OPTIONS sip:a.example.com SIP/2.0\r\nContent-Length 0\r\n\r\n",
                     "header line 2 has no colon: 'Content-Length 0'; and no Content-Length",
                     id="broken-line"),
    ],
)
def test_unusable_content_length_is_fatal(data, match):
    """Without one valid Content-Length the stream cannot be framed: ERROR state, 400."""
    conn = SipConnection()
    conn.receive_data(data + MINIMAL)
    with pytest.raises(RemoteSipError, match=match) as caught:
        conn.next_event()
    assert not caught.value.recoverable
    assert caught.value.status_hint == 400
    assert caught.value.partial is not None
    assert conn.state is ConnectionState.ERROR
    assert conn.buffered_bytes == 0


def test_error_state_raises_and_drops_data():
    """After a fatal error every next_event raises again and new data is dropped."""
    conn = SipConnection()
    conn.receive_data(b"OPTIONS sip:a.example.com SIP/2.0\r\n\r\n")
    with pytest.raises(RemoteSipError):
        conn.next_event()
    conn.receive_data(MINIMAL)
    assert conn.buffered_bytes == 0
    for _ in range(2):
        with pytest.raises(RemoteSipError, match="connection is in ERROR state after: no Content"):
            conn.next_event()


@pytest.mark.parametrize(
    "data",
    [MINIMAL[:10], MINIMAL + b"OPT", options(body=b"hello")[:-2]],
    ids=["in-head", "after-a-message", "in-body"],
)
def test_eof_mid_message_is_fatal(data):
    """EOF before a message is complete is an unrecoverable 400 saying how much arrived."""
    for bytewise in (False, True):
        error = first_error(data, bytewise=bytewise, eof=True)
        assert not error.recoverable
        assert error.status_hint == 400
        assert "peer closed the connection in the middle of a message" in error.message


@pytest.mark.parametrize("tail", [b"", b"\r", b"\r\n", b"\r\n\r"])
def test_eof_between_messages_closes(tail):
    """EOF after complete messages (and stray CRLF bytes) gives ConnectionClosed, repeatedly."""
    conn = SipConnection()
    conn.receive_data(MINIMAL + tail)
    conn.receive_data(b"")
    assert drain(conn) == [MINIMAL_EVENT, ConnectionClosed()]
    assert conn.next_event() == ConnectionClosed()
    assert conn.state is ConnectionState.CLOSED


def test_data_after_eof_is_a_local_error():
    """Handing over bytes after EOF is the caller's mistake: LocalSipError."""
    conn = SipConnection()
    conn.receive_data(b"")
    conn.receive_data(b"")  # a second EOF is harmless
    with pytest.raises(LocalSipError, match="after EOF"):
        conn.receive_data(MINIMAL)


def test_protocol_error_base_is_abstract():
    """SipProtocolError cannot be raised directly; its branches carry a status hint."""
    with pytest.raises(TypeError, match="abstract"):
        SipProtocolError("x")
    assert LocalSipError("x").status_hint == 400
    error = RemoteSipError("too big", 513)
    assert (error.status_hint, error.recoverable, error.partial) == (513, False, None)
    assert "513" in repr(error)


def test_head_scan_resumes_where_it_stopped():
    """Each read is scanned once: the CRLF search restarts at the last unscanned byte."""
    conn = SipConnection()
    head = b"OPTIONS sip:a.example.com SIP/2.0\r\nSubject: " + b"x" * 500
    for index in range(len(head)):
        conn.receive_data(head[index : index + 1])
        assert conn.next_event() is NEED_DATA
        # only the newest byte (half of a possible CRLF) is ever searched again
        assert index <= conn._buffer._search_from <= index + 1
    conn.receive_data(b"\r\nl: 0\r\n\r\n")
    assert isinstance(conn.next_event(), Request)
