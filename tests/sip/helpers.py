"""Feeding helpers (h11's ``tr``), the captured Teams exchange and the Hypothesis
profiles, shared by the sip tests."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from fakepeer.sip import (
    NEED_DATA,
    ConnectionClosed,
    Event,
    Limits,
    RemoteSipError,
    SipConnection,
)

DEFAULT = Limits()

#: Property tests run ``units x PROFILE.max_examples`` examples each, their units adding
#: up to UNITS_TOTAL: 10,000 examples under ``ci`` (the default), 100,000 under ``deep``.
#: Chosen with FAKEPEER_HYPOTHESIS_PROFILE (see tests/sip/test_properties.py). The
#: profiles are registered, not loaded, so Hypothesis tests elsewhere keep their own.
UNITS_TOTAL = 100
for _name, _unit in (("ci", 100), ("deep", 1000)):
    settings.register_profile(f"fakepeer-sip-{_name}", max_examples=_unit, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
PROFILE = settings.get_profile(
    "fakepeer-sip-" + os.environ.get("FAKEPEER_HYPOTHESIS_PROFILE", "ci"))


def weighted(units: int) -> settings:
    """The profile's settings with ``units`` times its example count."""
    return settings(PROFILE, max_examples=units * PROFILE.max_examples)

#: Bytes appended after a case: the start of another message that never completes.
TRAILING = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS trailing.example.com"

#: The SBC's OPTIONS behind the real 200 OK in real-peers.md §3: From, To, CSeq, Call-ID
#: and Via are the capture's; Max-Forwards and Contact are what such an SBC sends.
CAPTURED_OPTIONS = (
    b"OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls SIP/2.0\r\n"
    b"Via: SIP/2.0/TLS 54.174.72.99;branch=z9hG4bK1HQpp1BtBQ30N\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:teams.example.com:5061;transport=tls>;tag=SX7B39veap93c\r\n"
    b"To: <sip:sip.pstnhub.microsoft.com>\r\n"
    b"Call-ID: dfe4b29f-51cb-1239-3b99-06ce423ffcdb\r\n"
    b"CSeq: 23765299 OPTIONS\r\n"
    b"Contact: <sip:teams.example.com:5061;transport=tls>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

#: The real proxy's answer, byte for byte (real-peers.md §3).
CAPTURED_200_OK = (
    b"SIP/2.0 200 OK\r\n"
    b"FROM: <sip:teams.example.com:5061;transport=tls>;tag=SX7B39veap93c\r\n"
    b"TO: <sip:sip.pstnhub.microsoft.com>\r\n"
    b"CSEQ: 23765299 OPTIONS\r\n"
    b"CALL-ID: dfe4b29f-51cb-1239-3b99-06ce423ffcdb\r\n"
    b"VIA: SIP/2.0/TLS 54.174.72.99;branch=z9hG4bK1HQpp1BtBQ30N\r\n"
    b"CONTENT-LENGTH: 0\r\n"
    b"ALLOW: INVITE,ACK,OPTIONS,CANCEL,BYE,NOTIFY\r\n"
    b"SERVER: Microsoft.PSTNHub.SIPProxy v.2020.7.31.1 i.USWE2.3\r\n"
    b"\r\n"
)


def options(*headers: str, uri: str = "sip:sip.pstnhub.microsoft.com:5061;transport=tls",
            method: str = "OPTIONS", body: bytes = b"") -> bytes:
    """An SBC-style request with the usual identifiers, extra header lines after them."""
    lines = [
        f"{method} {uri} SIP/2.0",
        "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKabc",
        "From: <sip:sbc.example.com:5061;transport=tls>;tag=f1",
        "To: <sip:sip.pstnhub.microsoft.com>",
        "Call-ID: call-1@sbc.example.com",
        f"CSeq: 1 {method}",
        *headers,
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def drain(conn: SipConnection) -> list[Event]:
    """Every event ready now, stopping at NEED_DATA or ConnectionClosed."""
    events: list[Event] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, ConnectionClosed):
            return events


def feed_whole(data: bytes, limits: Limits = DEFAULT, eof: bool = False) -> list[Event]:
    """Events from ``data`` handed over in one read."""
    conn = SipConnection(limits)
    conn.receive_data(data)
    if eof:
        conn.receive_data(b"")
    return drain(conn)


def feed_bytewise(data: bytes, limits: Limits = DEFAULT, eof: bool = False) -> list[Event]:
    """Events from ``data`` handed over one byte per read, draining after each."""
    conn = SipConnection(limits)
    events: list[Event] = []
    for index in range(len(data)):
        conn.receive_data(data[index : index + 1])
        events.extend(drain(conn))
    if eof:
        conn.receive_data(b"")
        events.extend(drain(conn))
    return events


def check_events(data: bytes, expected: list[Event], limits: Limits = DEFAULT) -> None:
    """``data`` gives ``expected`` fed whole, byte by byte, and with trailing bytes."""
    assert feed_whole(data, limits) == expected
    assert feed_bytewise(data, limits) == expected
    assert feed_whole(data + TRAILING, limits) == expected
    assert feed_whole(data, limits, eof=True) == [*expected, ConnectionClosed()]


def first_error(data: bytes, limits: Limits = DEFAULT, *, bytewise: bool = False,
                eof: bool = False) -> RemoteSipError:
    """The first RemoteSipError ``data`` causes (fails the test if there is none)."""
    conn = SipConnection(limits)
    chunks = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    if eof:
        chunks.append(b"")
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
            drain(conn)
    except RemoteSipError as exc:
        return exc
    raise AssertionError(f"no RemoteSipError for {data[:60]!r}")
