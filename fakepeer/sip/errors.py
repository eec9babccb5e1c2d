# -*- test-case-name: tests.sip.test_connection -*-
"""Whose fault a SIP error is, and which status code answers it.

The shape is h11's (``h11/_util.py``): an abstract base that refuses to be raised
directly, one branch for "we broke the protocol" and one for "the peer did", and a
``status_hint`` so the caller can answer a bad message without guessing (400 by
default, 513 Message Too Large for the size limits, 505 for a foreign SIP version).

These are not :class:`fakepeer.errors.FakepeerError`: a peer that sends a bad message is
an event to record and judge, not a mistake the user of fakepeer has to fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fakepeer.sip.message import PartialMessage


class SipProtocolError(Exception):
    """A SIP message or byte stream broke the protocol; abstract, raise a subclass."""

    message: str
    status_hint: int

    def __init__(self, message: str, status_hint: int = 400) -> None:
        if type(self) is SipProtocolError:
            raise TypeError("SipProtocolError is abstract: raise LocalSipError or RemoteSipError")
        super().__init__(message)
        self.message = message
        self.status_hint = status_hint


class LocalSipError(SipProtocolError):
    """Our side asked for something invalid: a bad message value or a misused connection.

    Message constructors raise it, so an invalid message can never exist. The parser
    reuses those constructors and turns this error into a :class:`RemoteSipError`,
    because there the bad value came from the peer.
    """


class RemoteSipError(SipProtocolError):
    """The peer sent bytes that are not acceptable SIP.

    ``recoverable`` says whether the stream is still framed: ``True`` when the whole bad
    message (head and Content-Length body) was consumed and the next message can be
    read; ``False`` when framing is lost (no usable Content-Length, a limit exceeded,
    EOF mid-message) and the connection is now in its ERROR state. ``partial`` holds
    what could be read of the bad message (start line and the header lines that
    parsed), which :func:`fakepeer.sip.error_response` needs to address a reply.
    """

    recoverable: bool
    partial: PartialMessage | None

    def __init__(
        self,
        message: str,
        status_hint: int = 400,
        recoverable: bool = False,
        partial: PartialMessage | None = None,
    ) -> None:
        super().__init__(message, status_hint)
        self.recoverable = recoverable
        self.partial = partial

    def __repr__(self) -> str:
        return (
            f"RemoteSipError({self.message!r}, status_hint={self.status_hint}, "
            f"recoverable={self.recoverable})"
        )
