# -*- test-case-name: tests.sip.test_connection -*-
"""One SIP stream (TCP or TLS), sans I/O: bytes in, events out.

The contract is h11's: the caller owns the socket, hands every read to
:meth:`SipConnection.receive_data` (``b""`` for EOF) and calls
:meth:`SipConnection.next_event` until it returns :data:`NEED_DATA`. The same class
reads requests and responses, so it serves both the listener (the SBC dials us) and
fakepeer's own OPTIONS towards an SBC.

States: OPEN (reading), CLOSED (EOF seen and every complete message delivered;
``next_event`` keeps returning :class:`ConnectionClosed`) and ERROR (an unrecoverable
:class:`RemoteSipError` was raised; framing is lost, later data is dropped and every
``next_event`` raises again). A recoverable error leaves the connection OPEN.

Within OPEN, :attr:`SipConnection.phase` says what the stream is in the middle of:
between messages, inside a head or inside a body. There is no clock here; the caller
arms its own timers from the phase (the head and body deadlines of
:class:`~fakepeer.sip.limits.Deadlines`), the way h11 leaves timeouts to its caller.
"""

from __future__ import annotations

import enum

from fakepeer.sip.errors import LocalSipError, RemoteSipError
from fakepeer.sip.limits import DEFAULT_LIMITS, TOO_LARGE, Limits
from fakepeer.sip.message import (
    NEED_DATA,
    ConnectionClosed,
    KeepAlive,
    NextEvent,
    PartialMessage,
)
from fakepeer.sip.parser import ParsedHead, build_message, parse_head, partial_message
from fakepeer.sip.receivebuffer import ReceiveBuffer

#: RFC 5626 §3.5.1 keep-alive ping; the pong is a single CRLF.
_PING = b"\r\n\r\n"
_CRLF = b"\r\n"


class ConnectionState(enum.Enum):
    """Where a :class:`SipConnection` stands (see the module docstring)."""

    OPEN = "OPEN"
    CLOSED = "CLOSED"
    ERROR = "ERROR"


class ReadPhase(enum.Enum):
    """What an OPEN :class:`SipConnection` waits for once ``next_event`` returned NEED_DATA.

    ``BETWEEN_MESSAGES``: nothing of a message yet (or half of a keep-alive ping);
    ``IN_HEAD``: the start line or headers have begun, the empty line has not come;
    ``IN_BODY``: the head is complete, the Content-Length body is not.
    """

    BETWEEN_MESSAGES = "between-messages"
    IN_HEAD = "in-head"
    IN_BODY = "in-body"


class SipConnection:
    """Frames a SIP byte stream into :class:`Request`, :class:`Response` and keep-alives."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._buffer = ReceiveBuffer()
        self._head: ParsedHead | None = None  # a framed head waiting for its body
        self._eof = False
        self._state = ConnectionState.OPEN
        self._error: RemoteSipError | None = None

    @property
    def limits(self) -> Limits:
        """The limits this connection enforces."""
        return self._limits

    @property
    def state(self) -> ConnectionState:
        """OPEN, CLOSED or ERROR."""
        return self._state

    @property
    def phase(self) -> ReadPhase:
        """Where the stream stands, as of the last ``next_event`` (see :class:`ReadPhase`).

        Always ``BETWEEN_MESSAGES`` outside the OPEN state.
        """
        if self._head is not None:
            return ReadPhase.IN_BODY
        buffer = self._buffer
        if not buffer or buffer.is_prefix_of(_PING):
            return ReadPhase.BETWEEN_MESSAGES
        return ReadPhase.IN_HEAD

    @property
    def buffered_bytes(self) -> int:
        """Bytes received and not yet turned into events (0 after a fatal error)."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """Hand over bytes read from the stream; ``b""`` means the peer closed it.

        Raises :class:`LocalSipError` for data after EOF, which is the caller's mistake.
        In the ERROR state data is dropped: nothing could ever be read from it.
        """
        if self._state is ConnectionState.ERROR:
            return
        if not data:
            self._eof = True
            return
        if self._eof:
            raise LocalSipError("received data after EOF (receive_data(b'') was called)")
        self._buffer.append(data)

    def next_event(self) -> NextEvent:
        """The next event, or :data:`NEED_DATA`; raises :class:`RemoteSipError` on bad input."""
        if self._state is ConnectionState.ERROR:
            assert self._error is not None
            raise RemoteSipError(
                f"connection is in ERROR state after: {self._error.message}",
                self._error.status_hint,
                recoverable=False,
            )
        if self._state is ConnectionState.CLOSED:
            return ConnectionClosed()
        try:
            event = self._read()
            if event is NEED_DATA and len(self._buffer) > self._limits.max_buffered:
                raise RemoteSipError(
                    f"incomplete message of {len(self._buffer)} bytes exceeds max_buffered "
                    f"{self._limits.max_buffered}",
                    TOO_LARGE,
                )
        except RemoteSipError as exc:
            if not exc.recoverable:
                if exc.partial is None and exc.status_hint == TOO_LARGE:
                    exc.partial = self._partial_head()
                self._state = ConnectionState.ERROR
                self._error = exc
                self._head = None
                self._buffer.clear()
            raise
        return event

    def _partial_head(self) -> PartialMessage | None:
        """What can be read of a message refused for a limit, so a 513 can be addressed.

        Bounded by ``max_message_size``: refusing a huge head costs no more than
        parsing an acceptable one.
        """
        if self._head is not None:
            return self._head.partial
        size = min(len(self._buffer), self._limits.max_message_size)
        return partial_message(self._buffer.peek(size))

    def _read(self) -> NextEvent:
        """One step of framing: keep-alives, then head, then body."""
        buffer = self._buffer
        if self._head is None:
            # RFC 3261 §7.5: CRLFs before a start line are ignored, except that a
            # double CRLF is an RFC 5626 ping, reported so the caller can pong.
            while buffer.startswith(_CRLF):
                if buffer.startswith(_PING):
                    buffer.consume(len(_PING))
                    return KeepAlive()
                if buffer.is_prefix_of(_PING):
                    break  # "\r\n" or "\r\n\r": a ping may still be arriving
                buffer.consume(len(_CRLF))
            if not buffer or (buffer.startswith(b"\r") and buffer.is_prefix_of(_PING)):
                if self._eof:
                    buffer.clear()  # a stray CR/CRLF before EOF means nothing
                    self._state = ConnectionState.CLOSED
                    return ConnectionClosed()
                return NEED_DATA
            head_end = buffer.find_head_end(self._limits)
            if head_end is None:
                return self._incomplete()
            self._head = parse_head(buffer.peek(head_end), self._limits)
        head = self._head
        total = head.head_length + head.content_length
        if len(buffer) < total:
            return self._incomplete()
        raw = buffer.consume(total)
        self._head = None
        return build_message(head, raw[head.head_length :])

    def _incomplete(self) -> NextEvent:
        """``NEED_DATA``, unless the peer already closed: then the message is cut short."""
        if self._eof:
            raise RemoteSipError(
                f"peer closed the connection in the middle of a message "
                f"({len(self._buffer)} bytes received)",
                400,
                recoverable=False,
                partial=self._head.partial if self._head is not None else None,
            )
        return NEED_DATA
