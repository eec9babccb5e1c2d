# -*- test-case-name: tests.sip.test_grammar -*-
"""What can come out of a SIP byte stream: the events, each validating itself.

As in h11's ``_events.py`` every event is a frozen, slotted dataclass that checks its
input when built, so an invalid message never exists: the parser builds events through
these same constructors, and the serializer can write any event without re-checking.

Keep-alives (RFC 5626 §3.5.1): a double CRLF ("ping") is a :class:`KeepAlive` event,
answered with a single CRLF ("pong", :data:`fakepeer.sip.serialize.PONG`). A single CRLF
that arrives between messages is *ignored*, not reported: RFC 3261 §7.5 says CRLFs
before a start line must be ignored, and a sans-IO parser cannot tell a pong from the
first half of a ping without a clock. A client waiting for pongs needs its own timer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar

from fakepeer.sip.errors import LocalSipError
from fakepeer.sip.grammar import (
    CONTENT_LENGTH,
    FORBIDDEN_TEXT,
    STATUS_RANGE,
    is_request_uri,
    is_token,
)
from fakepeer.sip.headers import Headers


@dataclass(frozen=True, slots=True)
class Request:
    """A SIP request: method, Request-URI, headers as received, body bytes."""

    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self) -> None:
        check_request_line(self.method, self.uri)
        _normalise(self)

    @classmethod
    def trusted(cls, method: str, uri: str, headers: Headers, body: bytes) -> Request:
        """A request from values already checked, without checking them again.

        For the parser, which has validated every part (the start line with
        :func:`check_request_line`, the headers and Content-Length while framing).
        """
        return _unchecked(cls, method, uri, headers, body)


@dataclass(frozen=True, slots=True)
class Response:
    """A SIP response: status 100-699, reason phrase, headers as received, body bytes."""

    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self) -> None:
        if type(self.status) is not int or self.status not in STATUS_RANGE:
            raise LocalSipError(f"status {self.status!r} is not an integer from 100 to 699")
        if not isinstance(self.reason, str) or FORBIDDEN_TEXT.search(self.reason):
            raise LocalSipError(f"reason phrase {self.reason!r} has a control character")
        if self.reason != self.reason.strip(" \t"):
            raise LocalSipError(f"reason phrase {self.reason!r} has surrounding whitespace")
        _normalise(self)

    @classmethod
    def trusted(cls, status: int, reason: str, headers: Headers, body: bytes = b"") -> Response:
        """A response from values already checked, without checking them again.

        For the responder, whose statuses and reason phrases are its own constants and
        whose headers are copies of validated ones plus checked extras.
        """
        return _unchecked(cls, status, reason, headers, body)


_M = TypeVar("_M", Request, Response)


def _unchecked(cls: type[_M], *values: object) -> _M:
    """An instance of a frozen, slotted message class with its fields set, unchecked."""
    message = object.__new__(cls)
    for name, value in zip(cls.__slots__, values, strict=True):
        object.__setattr__(message, name, value)  # frozen: as the dataclass __init__ does
    return message


def check_request_line(method: str, uri: str) -> None:
    """Raise :class:`LocalSipError` unless ``method`` and ``uri`` can start a request."""
    if not isinstance(method, str) or not is_token(method):
        raise LocalSipError(f"method {method!r} is not a token (RFC 3261 §25.1)")
    if not isinstance(uri, str) or not is_request_uri(uri):
        raise LocalSipError(f"Request-URI {uri!r} is not scheme:visible-ASCII (RFC 3261 §25.1)")


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """A double-CRLF keep-alive ping (RFC 5626 §3.5.1); answer it with a single CRLF."""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed its sending side and every complete message was delivered."""


@dataclass(frozen=True, slots=True)
class PartialMessage:
    """What could be read of a message that failed to parse, for addressing a 400.

    ``headers`` holds the header lines that parsed; lines that did not are left out.
    """

    start_line: str
    headers: Headers = field(default_factory=Headers)

    @property
    def is_response(self) -> bool:
        """Whether the start line looks like a status line (``SIP/...``)."""
        return self.start_line[:4].upper() == "SIP/"

    @property
    def method(self) -> str | None:
        """The request method if the start line begins with one, else ``None``."""
        if self.is_response:
            return None
        word = self.start_line.split(" ", 1)[0]
        return word if is_token(word) else None


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA`, a sentinel rather than an event."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by ``next_event`` when no event is complete yet: feed more bytes.
NEED_DATA: Final = NeedData.NEED_DATA

Message = Request | Response
Event = Request | Response | KeepAlive | ConnectionClosed
NextEvent = Event | Literal[NeedData.NEED_DATA]


def _normalise(message: Request | Response) -> None:
    """Coerce headers and body to their immutable types and check Content-Length."""
    headers = message.headers
    if not isinstance(headers, Headers):
        headers = Headers(headers)
        object.__setattr__(message, "headers", headers)
    body = message.body
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
        object.__setattr__(message, "body", body)
    if not isinstance(body, bytes):
        raise LocalSipError(f"body must be bytes, not {type(body).__name__}")
    lengths = headers.get_all("Content-Length")
    if len(lengths) > 1:
        raise LocalSipError(f"{len(lengths)} Content-Length headers; a message has one")
    if lengths and (not CONTENT_LENGTH.fullmatch(lengths[0]) or int(lengths[0]) != len(body)):
        raise LocalSipError(
            f"Content-Length {lengths[0]!r} does not match the {len(body)}-byte body"
        )
