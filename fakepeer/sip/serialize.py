# -*- test-case-name: tests.sip.test_serialize -*-
"""Events back to bytes, writing header names and order exactly as given.

Nothing is re-cased, re-ordered or merged: the Teams proxy's upper-case ``FROM:`` ...
``SERVER:`` layout only survives if the serializer is a plain writer. The message
constructors already guarantee that every value can be written and read back.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from fakepeer.sip.grammar import SIP_VERSION
from fakepeer.sip.headers import Headers
from fakepeer.sip.message import KeepAlive, Request, Response

#: RFC 5626 §3.5.1: the answer to a double-CRLF ping is one CRLF.
PONG: Final = b"\r\n"

#: RFC 5626 §3.5.1: the ping itself.
PING: Final = b"\r\n\r\n"


def to_bytes(
    message: Request | Response | KeepAlive, *, add_content_length: bool = False
) -> bytes:
    """The wire form of ``message``.

    With ``add_content_length`` a ``Content-Length`` header computed from the body is
    appended when the message has none; stream transports require one (RFC 3261
    §18.3), and a message built with the header already has the right value (its
    constructor checked it).
    """
    if isinstance(message, KeepAlive):
        return PING
    if add_content_length and not message.headers.has("Content-Length"):
        headers = Headers((*message.headers, ("Content-Length", str(len(message.body)))))
        message = replace(message, headers=headers)
    if isinstance(message, Request):
        start = f"{message.method} {message.uri} {SIP_VERSION}"
    else:
        start = f"{SIP_VERSION} {message.status} {message.reason}"
    lines = [start]
    lines.extend(f"{name}: {value}" if value else f"{name}:" for name, value in message.headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + message.body
