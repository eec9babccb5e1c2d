# -*- test-case-name: tests.net.test_http_access -*-
"""Who may drive the HTTP side's control API, decided from the request's facts alone.

The control endpoints switch what every SBC is served, so a web page open in the lab
engineer's browser must not reach them: not by a cross-site form post (``Origin`` names
another site; a form cannot send ``application/json``), and not by DNS rebinding (the
page's own name, resolved to 127.0.0.1, arrives as ``Host``). Pure functions, no Twisted:
the resources in :mod:`fakepeer.net.http` gather the facts and answer with the refusal.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

#: The one body type the control endpoints read; browsers cannot send it cross-site
#: without a CORS preflight, which fakepeer never approves.
CONTROL_CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: the HTTP status and a sentence with the fix."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """What the access decision looks at, as the request carried it (headers may be
    absent: ``None``)."""

    client: str  # the peer's IP address as the socket reports it
    local: str  # the address the connection arrived on
    host: str | None = None  # the Host header
    origin: str | None = None
    content_type: str | None = None
    authorization: str | None = None


def ip_literal(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``text`` as an IP address, IPv4-mapped IPv6 (``::ffff:127.0.0.1``, how a dual-stack
    ``[::]`` socket reports IPv4 clients) as the IPv4 address it carries."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback_address(text: str) -> bool:
    """Is ``text`` a loopback IP address (127.0.0.0/8, ::1, or either IPv4-mapped)?"""
    address = ip_literal(text)
    return address is not None and address.is_loopback


def is_loopback_name(host: str) -> bool:
    """A name or literal that can only mean this machine: a loopback address,
    ``localhost`` or a name under ``.localhost`` (RFC 6761 §6.3; browsers resolve those
    to loopback themselves, so no DNS rebinding can reach them)."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost") or is_loopback_address(name)


def _same_host(one: str, other: str) -> bool:
    left, right = ip_literal(one), ip_literal(other)
    if left is not None or right is not None:
        return left == right
    return one.lower().rstrip(".") == other.lower().rstrip(".")


def host_of_authority(authority: str) -> str | None:
    """The host of a ``Host`` header value (``name``, ``name:port``, ``[v6]:port``)."""
    try:
        return urlsplit("//" + authority.strip()).hostname or None
    except ValueError:
        return None


def host_of_url(url: str) -> str | None:
    try:
        return urlsplit(url.strip()).hostname or None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class ControlAccess:
    """The control API's rules.

    ``token``: when set (``--http-token``), every caller must send it, loopback included;
    when not, only loopback clients may call. ``public_host``: the host of ``--http-url``
    (``FAKEPEER_HTTP_URL``), the name SBCs and people use to reach the HTTP side.
    """

    token: str | None = None
    public_host: str | None = None

    def _known_host(self, host: str, local: str) -> bool:
        """Does ``host`` name this service: its own address, loopback, or the public URL's
        host?"""
        return (is_loopback_name(host) or _same_host(host, local)
                or (self.public_host is not None and _same_host(host, self.public_host)))

    def _ours(self) -> str:
        public = self.public_host
        if public is None or is_loopback_name(public):
            return "127.0.0.1, localhost or the address it listens on"
        return f"{public} (the --http-url host), 127.0.0.1, localhost or the address it listens on"

    def refusal(self, request: ControlRequest) -> Refusal | None:
        """None when ``request`` may drive the control API, else why not. A request
        without ``Host`` or ``Origin`` (HTTP/1.0 tools, curl) cannot come from a browser,
        which always sends Host and sends Origin on every cross-site POST."""
        if request.host is not None:
            host = host_of_authority(request.host)
            if host is None or not self._known_host(host, request.local):
                return Refusal(403, (
                    f"Host {request.host!r} does not name fakepeer's HTTP side (a page "
                    f"re-pointing its own name here, DNS rebinding?); call it by "
                    f"{self._ours()}, or set --http-url (FAKEPEER_HTTP_URL) to the name "
                    "you use"))
        if request.origin is not None:
            host = host_of_url(request.origin)
            if host is None or not self._known_host(host, request.local):
                return Refusal(403, (
                    f"Origin {request.origin!r}: a web page from another site may not "
                    "drive fakepeer; call the control API from curl or a script (no "
                    f"Origin), or from a page served by {self._ours()}"))
        refused = self._credentials(request)
        if refused is not None:
            return refused
        media_type = (request.content_type or "").split(";", 1)[0].strip().lower()
        if media_type != CONTROL_CONTENT_TYPE:
            got = f"Content-Type {request.content_type!r}" if request.content_type else \
                "no Content-Type"
            return Refusal(415, (
                f"control requests must be JSON, sent with Content-Type: "
                f"{CONTROL_CONTENT_TYPE} ({got}); e.g. curl -H 'Content-Type: "
                f"{CONTROL_CONTENT_TYPE}' -d '{{\"name\": \"expired-leaf\"}}'"))
        return None

    def _credentials(self, request: ControlRequest) -> Refusal | None:
        if self.token:
            given = request.authorization or ""
            scheme, _, value = given.partition(" ")
            if not given:
                return Refusal(403, (
                    "control needs the token: send 'Authorization: Bearer <token>' with "
                    "the value serve was given as --http-token (FAKEPEER_HTTP_TOKEN)"))
            # Headers arrive as latin-1 text (their raw bytes); the token is UTF-8.
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    value.strip().encode("latin-1", "replace"), self.token.encode()):
                return Refusal(403, (
                    "the token does not match: send 'Authorization: Bearer <token>' with "
                    "exactly the value of --http-token (FAKEPEER_HTTP_TOKEN)"))
            return None
        if not is_loopback_address(request.client):
            return Refusal(403, (
                f"control from {request.client} is refused: without --http-token "
                "(FAKEPEER_HTTP_TOKEN) only loopback clients may call it; start serve "
                "with a token and send 'Authorization: Bearer <token>'"))
        return None
