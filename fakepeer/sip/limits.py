# -*- test-case-name: tests.sip.test_limits -*-
"""How much a peer may make one connection read and hold, for how long, and why each number.

Every limit is checked while bytes arrive, not after a message is complete, so a peer
that never finishes a message cannot make fakepeer buffer more than these numbers
allow. Exceeding any of them is a :class:`~fakepeer.sip.errors.RemoteSipError` with
``status_hint=513`` (Message Too Large, RFC 3261 §21.5.14; SIP has no 431) and
``recoverable=False``: once a message is cut short the stream cannot be re-framed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: RFC 3261 §18.1.1 sets no maximum for stream transports; 64 KiB is the receive buffer
#: of Kamailio and OpenSIPS (``BUF_SIZE`` 65535), so no SBC can expect a real proxy to
#: take more. A Teams OPTIONS is under 1 KiB; an INVITE with SDP a few KiB.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024

#: An OPTIONS carries about ten headers and a large INVITE behind several proxies forty;
#: 128 leaves room for both while bounding the work one message can cause.
DEFAULT_MAX_HEADER_COUNT = 128

#: One physical line (start line or header line, without CRLF). Long Via, Route or
#: Identity lines stay well under 8 KiB, the same ceiling Apache uses for a header
#: field (``LimitRequestFieldSize`` 8190).
DEFAULT_MAX_LINE_LENGTH = 8 * 1024

#: Bytes held for an event that is not complete yet (h11's
#: ``max_incomplete_event_size``): a complete message that arrives in one read is
#: judged by ``max_message_size`` alone, a trickled one also by this.
DEFAULT_MAX_BUFFERED = 64 * 1024

#: How long one message head may take to arrive, from its first byte to its empty line.
#: A real SBC writes a whole OPTIONS in one TLS record; a head still incomplete after
#: 20 s is a stalled or hostile peer (Apache's mod_reqtimeout allows a header 20 s by
#: default). Distinct from the idle timeout, which any byte resets: without this a peer
#: sending one byte a second holds a connection for ever.
DEFAULT_HEAD_DEADLINE = 20.0

#: How long the Content-Length body may take once the head is complete. Head plus body
#: stay under 32 s, RFC 3261 Timer B/F (64*T1): the SBC's own transaction is dead by
#: then, so nothing answered later could still reach it.
DEFAULT_BODY_DEADLINE = 10.0

#: 513 Message Too Large (RFC 3261 §21.5.14), the hint for every limit here.
TOO_LARGE = 513


@dataclass(frozen=True, slots=True)
class Limits:
    """The per-connection limits; all positive byte or header counts.

    ``max_message_size``: start line + headers + body of one message, checked as soon as
    the head's length or the Content-Length shows it would be exceeded.
    ``max_header_count``: header fields in one message (folded continuation lines belong
    to their header and do not count).
    ``max_line_length``: bytes of one physical line, without its CRLF.
    ``max_buffered``: bytes the connection may hold when ``next_event`` has to return
    ``NEED_DATA``; :attr:`SipConnection.buffered_bytes` never exceeds it at that point.
    """

    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_header_count: int = DEFAULT_MAX_HEADER_COUNT
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH
    max_buffered: int = DEFAULT_MAX_BUFFERED

    def __post_init__(self) -> None:
        for limit in fields(self):
            value = getattr(self, limit.name)
            if type(value) is not int or value < 1:
                raise ValueError(f"Limits.{limit.name} must be a positive int, not {value!r}")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Seconds a message may take to arrive, per part; both positive.

    The sans-IO connection has no clock: it reports its
    :attr:`~fakepeer.sip.connection.SipConnection.phase`, and the caller (the Twisted
    edge) arms a timer for ``head`` when a message begins and for ``body`` when its
    head is complete, and closes the connection when one runs out.
    """

    head: float = DEFAULT_HEAD_DEADLINE
    body: float = DEFAULT_BODY_DEADLINE

    def __post_init__(self) -> None:
        for deadline in fields(self):
            value = getattr(self, deadline.name)
            if type(value) not in (int, float) or not value > 0:
                raise ValueError(
                    f"Deadlines.{deadline.name} must be a positive number of seconds, "
                    f"not {value!r}"
                )


DEFAULT_DEADLINES = Deadlines()
