"""build_options: the OPTIONS fakepeer sends to an SBC, and reading the SBC's answer."""

from __future__ import annotations

import re

import pytest

from fakepeer.sip import (
    GENESYS,
    MICROSOFT,
    PeerContext,
    Request,
    Response,
    SipConnection,
    build_options,
    respond,
    to_bytes,
)

TARGET = "sip:sbc.example.com:5061;transport=tls"


def test_request_shape():
    """The OPTIONS has every RFC 3261 §8.1.1 header, in order, spelled the profile's way."""
    request = build_options(
        MICROSOFT, TARGET, via_host="sip-du-a-us.pstnhub.microsoft.com", call_id="c-1",
        from_tag="t1", branch="b1", cseq=7,
    )
    assert to_bytes(request) == (
        b"OPTIONS sip:sbc.example.com:5061;transport=tls SIP/2.0\r\n"
        b"VIA: SIP/2.0/TLS sip-du-a-us.pstnhub.microsoft.com:5061;branch=z9hG4bKb1\r\n"
        b"MAX-FORWARDS: 70\r\n"
        b"FROM: <sip:sip-du-a-us.pstnhub.microsoft.com:5061;transport=tls>;tag=t1\r\n"
        b"TO: <sip:sbc.example.com:5061;transport=tls>\r\n"
        b"CALL-ID: c-1\r\n"
        b"CSEQ: 7 OPTIONS\r\n"
        b"CONTACT: <sip:sip-du-a-us.pstnhub.microsoft.com:5061;transport=tls>\r\n"
        b"USER-AGENT: Microsoft.PSTNHub.SIPProxy v.2020.7.31.1 i.USWE2.3\r\n"
        b"CONTENT-LENGTH: 0\r\n"
        b"\r\n"
    )


def test_random_identifiers_are_fresh():
    """Without given values, branch, tag and Call-ID are random and the branch is RFC 3261's."""
    first = build_options(GENESYS, TARGET, via_host="edge.example.com")
    second = build_options(GENESYS, TARGET, via_host="edge.example.com")
    via = first.headers.get("Via") or ""
    assert re.fullmatch(r"SIP/2\.0/TLS edge\.example\.com:5061;branch=z9hG4bK[0-9a-f]{16}", via)
    for name in ("Via", "From", "Call-ID"):
        assert first.headers.get(name) != second.headers.get(name)
    assert [n for n, _ in first.headers][:2] == ["Via", "Max-Forwards"]


def test_port_is_checked():
    """A port outside 1-65535 is refused before anything is built."""
    with pytest.raises(ValueError, match="port"):
        build_options(MICROSOFT, TARGET, via_host="h.example.com", port=0)


def test_exchange_through_the_same_connection_class():
    """Our OPTIONS parses as a request, the SBC's answer parses as a response, one class."""
    request = build_options(MICROSOFT, TARGET, via_host="sip-du-a-us.pstnhub.microsoft.com")
    sbc_side = SipConnection()
    sbc_side.receive_data(to_bytes(request))
    received = sbc_side.next_event()
    assert received == request
    assert isinstance(received, Request)
    # an SBC following Genesys' conventions answers; our client side reads the reply
    answer = respond(received, GENESYS, PeerContext()).response
    assert answer is not None
    our_side = SipConnection()
    our_side.receive_data(to_bytes(answer) + b"\r\n")
    reply = our_side.next_event()
    assert isinstance(reply, Response) and reply.status == 200
    assert reply.headers.get("Call-ID") == request.headers.get("Call-ID")
