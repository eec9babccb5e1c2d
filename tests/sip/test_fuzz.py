"""Property tests: any bytes, in any chunks, give events or RemoteSipError and stay bounded.

Example counts follow the profile chosen by FAKEPEER_HYPOTHESIS_PROFILE; see
tests/sip/test_properties.py.
"""

from __future__ import annotations

import string

from hypothesis import example, given
from hypothesis import strategies as st

from fakepeer.sip import (
    NEED_DATA,
    ConnectionClosed,
    ConnectionState,
    Headers,
    KeepAlive,
    Limits,
    RemoteSipError,
    Request,
    Response,
    SipConnection,
    to_bytes,
)
from tests.sip.helpers import CAPTURED_200_OK, CAPTURED_OPTIONS, options, weighted

#: Units of examples per test (see tests.sip.helpers.weighted).
UNITS = {"arbitrary": 1, "sip_looking": 1, "cut_and_padded": 1, "request_round_trip": 1,
         "response_round_trip": 1}

#: Small limits so random input reaches every limit quickly.
SMALL = Limits(max_message_size=400, max_header_count=6, max_line_length=80, max_buffered=300)

#: Fragments that make random input look like SIP often enough to get deep into the parser.
FRAGMENTS = [
    b"\r\n", b"\r\n\r\n", b"\r", b"\n", b" ", b"\t", b":", b",", b";", b"<", b">", b'"',
    b"OPTIONS sip:a.example.com SIP/2.0", b"SIP/2.0 200 OK", b"SIP/3.0", b"Via: x", b"i: y",
    b"Content-Length: 0", b"Content-Length: 5", b"l: 12", b"Content-Length: 99999", b"hello",
    b"\xff", b"\x00",
]
REAL = [CAPTURED_OPTIONS, CAPTURED_200_OK, options("Subject: a\r\n b", body=b"hello")]


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` cut into pieces of the given sizes (cycled), the rest as one last piece."""
    chunks: list[bytes] = []
    position = 0
    index = 0
    while position < len(data):
        size = sizes[index % len(sizes)] if sizes else len(data)
        chunks.append(data[position : position + size])
        position += size
        index += 1
    return chunks


def run(data: bytes, sizes: list[int], limits: Limits) -> list[object]:
    """Feed ``data`` in chunks then EOF; check every invariant; return the events."""
    conn = SipConnection(limits)
    events: list[object] = []
    for chunk in [*chunked(data, sizes), b""]:
        conn.receive_data(chunk)
        while True:
            try:
                event = conn.next_event()
            except RemoteSipError as exc:
                assert exc.status_hint in (400, 505, 513)
                if exc.recoverable:
                    assert conn.state is ConnectionState.OPEN
                    continue
                assert conn.state is ConnectionState.ERROR
                assert conn.buffered_bytes == 0
                try:
                    conn.next_event()
                except RemoteSipError:
                    return events
                raise AssertionError("next_event did not raise in the ERROR state") from None
            if event is NEED_DATA:
                assert conn.buffered_bytes <= limits.max_buffered
                assert conn.buffered_bytes <= limits.max_message_size
                break
            events.append(event)
            if isinstance(event, ConnectionClosed):
                assert conn.next_event() == ConnectionClosed()
                return events
            assert isinstance(event, Request | Response | KeepAlive)
    raise AssertionError("EOF gave neither ConnectionClosed nor an error")


sizes_strategy = st.lists(st.integers(min_value=1, max_value=64), max_size=8)


@weighted(UNITS["arbitrary"])
@given(data=st.binary(max_size=1500), sizes=sizes_strategy, small=st.booleans())
@example(data=b"\r\n\r", sizes=[1], small=False)
@example(data=b"OPTIONS sip:a SIP/2.0\r\nl: 0\r\n\r\n", sizes=[3], small=True)
def test_arbitrary_bytes(data, sizes, small):
    """Random bytes in random chunks only ever give events or RemoteSipError, within limits."""
    run(data, sizes, SMALL if small else Limits())


@weighted(UNITS["sip_looking"])
@given(parts=st.lists(st.sampled_from(FRAGMENTS), max_size=40), sizes=sizes_strategy,
       small=st.booleans())
def test_sip_looking_bytes(parts, sizes, small):
    """SIP-shaped fragments glued at random only give events or RemoteSipError, within limits."""
    run(b"".join(parts), sizes, SMALL if small else Limits())


@weighted(UNITS["cut_and_padded"])
@given(message=st.sampled_from(REAL), cut=st.integers(min_value=0, max_value=600),
       tail=st.binary(max_size=200), sizes=sizes_strategy)
def test_real_messages_cut_and_padded(message, cut, tail, sizes):
    """A real message cut anywhere and followed by random bytes never breaks the contract."""
    events = run(message[:cut] + tail, sizes, Limits())
    if cut >= len(message) and events:
        assert isinstance(events[0], Request | Response)


_TOKEN_CHARS = string.ascii_letters + string.digits + "-.!%*_+`'~"
_FORBIDDEN = "".join(chr(c) for c in (*range(0x09), *range(0x0A, 0x20), 0x7F))
_token = st.text(alphabet=_TOKEN_CHARS, min_size=1, max_size=12)
_value = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=_FORBIDDEN),
    max_size=30,
).map(lambda text: text.strip(" \t"))
_headers = st.lists(st.tuples(_token.filter(lambda n: n.lower() not in ("content-length", "l")),
                              _value), max_size=8)


@weighted(UNITS["request_round_trip"])
@given(method=_token, user=_token, headers=_headers, body=st.binary(max_size=100),
       sizes=sizes_strategy)
def test_request_round_trip(method, user, headers, body, sizes):
    """Any valid request, serialized and fed in random chunks, parses back equal."""
    request = Request(method, f"sip:{user}@example.com",
                      Headers([*headers, ("Content-Length", str(len(body)))]), body)
    assert run(to_bytes(request), sizes, Limits()) == [request, ConnectionClosed()]


@weighted(UNITS["response_round_trip"])
@given(status=st.integers(min_value=100, max_value=699), reason=_value, headers=_headers,
       body=st.binary(max_size=100))
def test_response_round_trip(status, reason, headers, body):
    """Any valid response serializes with Content-Length added and parses back equal."""
    response = Response(status, reason, Headers(headers), body)
    data = to_bytes(response, add_content_length=True)
    events = run(data, [], Limits())
    assert isinstance(events[0], Response)
    assert (events[0].status, events[0].reason, events[0].body) == (status, reason, body)
    assert tuple(events[0].headers)[:-1] == tuple(response.headers)
