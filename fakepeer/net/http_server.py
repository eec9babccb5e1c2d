# -*- test-case-name: tests.net.test_http -*-
"""The HTTP side's ``twisted.web`` server, with the limits Twisted leaves to us.

Twisted reads a request body of any size (spooling bodies over 100 KB to a temporary
file) before any resource sees it: a 200 MB POST fills the disk first. Here the body is
capped: a ``Content-Length`` over the cap is refused as soon as the headers end (no
``100 Continue``, nothing read), and a chunked body is refused the moment it passes the
cap; both get 413 and the connection is closed.
"""

from __future__ import annotations

import io
import json
from typing import Any

from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from fakepeer.report.events import Event, Sink

#: The largest request body read. The biggest body anyone sends the HTTP side is an
#: OCSP request (RFC 6960 §A.1: a few hundred bytes) or a control object (tens of bytes);
#: 64 KiB leaves room for every real client while bounding memory per connection.
MAX_REQUEST_BODY = 64 * 1024


class HttpLog:
    """One line per refused or failed request, as an event for ``sink`` (none: silent)."""

    def __init__(self, sink: Sink | None = None) -> None:
        self.sink = sink

    def answered(self, status: int, peer: str, what: str) -> None:
        """A request answered ``status`` (4xx: refused, 5xx: failed) for ``what``."""
        kind = "http-error" if status >= 500 else "http-refused"
        self._emit(kind, peer, f"HTTP {status}: {what}", {"status": status, "what": what})

    def problem(self, what: str) -> None:
        """Something the HTTP side could not do, not tied to one request."""
        self._emit("http-error", "-", f"HTTP side: {what}", {"what": what})

    def _emit(self, kind: str, peer: str, summary: str, data: dict[str, Any]) -> None:
        if self.sink is not None:
            self.sink(Event(kind, 0, peer, summary, {**data, "service": "http"}))


def peer_of(address: Any) -> str:
    """``host:port`` of an address object, or its text for anything else."""
    host, port = getattr(address, "host", None), getattr(address, "port", None)
    return f"{host}:{port}" if host is not None else str(address)


def printable(text: str, limit: int = 120) -> str:
    """``text`` safe for a log line or a reply: control characters escaped, long text
    cut (a 5,000-character path must not become a 5,000-character log line)."""
    shown = text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
    return shown.encode("unicode_escape", "backslashreplace").decode("ascii")


class BoundedRequest(Request):
    """A request whose body is held in memory and never grows past the site's cap."""

    received = 0

    def gotLength(self, length: int | None) -> None:
        # Never a temporary file: a body that would need one is refused first.
        self.content = io.BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        channel = self.channel
        if not isinstance(channel, BoundedChannel) or channel.refused:
            return
        self.received += len(data)
        if self.received > channel.max_body:
            channel.refuse_body(f"the chunked body passed {channel.max_body} bytes")
            return
        super().handleContentChunk(data)  # type: ignore[no-untyped-call]


class BoundedChannel(HTTPChannel):
    """An HTTP/1.1 connection that refuses bodies over ``max_body`` with 413."""

    site: BoundedSite
    refused = False

    @property
    def max_body(self) -> int:
        return self.site.max_body

    def allHeadersReceived(self) -> None:
        if self.length is not None and self.length > self.max_body:
            self.refuse_body(f"Content-Length {self.length} is over {self.max_body} bytes")
            return
        super().allHeadersReceived()  # type: ignore[no-untyped-call]

    def rawDataReceived(self, data: bytes) -> None:
        if not self.refused:
            super().rawDataReceived(data)

    def allContentReceived(self) -> None:
        if not self.refused:
            super().allContentReceived()  # type: ignore[no-untyped-call]

    def refuse_body(self, why: str) -> None:
        """Answer 413 at once, stop reading and close: the rest of the body is never
        buffered."""
        self.refused = True
        # The request line, as HTTPChannel kept it (the Request has no uri before its
        # body is complete).
        method = getattr(self, "_command", b"?").decode("latin-1")
        path = printable(getattr(self, "_path", b"?").decode("latin-1"))
        message = (f"request body too large: {why}; the HTTP side reads at most "
                   f"{self.max_body} bytes (control objects and OCSP requests are far "
                   "smaller)")
        body = (json.dumps({"error": message}) + "\n").encode()
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 413 Content Too Large\r\ncontent-type: application/json\r\n"
            b"cache-control: no-store\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.site.http_log.answered(413, peer_of(self.transport.getPeer()),
                                    f"{method} {path}: {message}")
        self.loseConnection()  # type: ignore[no-untyped-call]


class BoundedSite(Site):
    """A ``Site`` of bounded requests that logs what it refuses to ``http_log``."""

    protocol = BoundedChannel  # type: ignore[assignment]
    displayTracebacks = False

    def __init__(self, resource: Resource, *, log: HttpLog,
                 max_body: int = MAX_REQUEST_BODY) -> None:
        super().__init__(resource, requestFactory=BoundedRequest)  # type: ignore[no-untyped-call]
        self.http_log = log  # not ``log``: Site.log is the access log method
        self.max_body = max_body
