# -*- test-case-name: tests.sip.test_grammar -*-
"""The pieces of the SIP grammar fakepeer needs, with the RFC section each comes from.

Like h11's ``_abnf.py`` this module holds rules and small pure helpers only: no state,
no events. Everything here works on ``str`` already decoded from UTF-8 (RFC 3261 §7.3.1
allows UTF-8 in header values; names, methods and URIs are ASCII).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

#: RFC 3261 §25.1: ``token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" /
#: "`" / "'" / "~")``. Methods and header names are tokens.
TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")

#: RFC 3261 §7.1: ``SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT``; "case-insensitive,
#: but implementations MUST send upper-case".
SIP_VERSION = "SIP/2.0"
VERSION = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)

#: RFC 3261 §25.1 ``Request-URI = SIP-URI / SIPS-URI / absoluteURI``, simplified to what
#: matters for framing and safety: a scheme, a colon, then visible ASCII only (no space,
#: no control character, nothing a serializer could not write back unchanged).
REQUEST_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[\x21-\x7e]+")

#: Characters never allowed in a header value or reason phrase once unfolded: C0
#: controls except HTAB, and DEL (RFC 3261 §25.1 ``TEXT-UTF8char`` and ``LWS``).
FORBIDDEN_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

#: RFC 3261 §20.14 ``Content-Length = ( "Content-Length" / "l" ) HCOLON 1*DIGIT``; ten
#: digits is far past any limit and keeps ``int()`` away from huge digit strings.
CONTENT_LENGTH = re.compile(r"[0-9]{1,10}")

#: RFC 3261 §25.1 ``Status-Code = 3DIGIT``; §7.2: 100-699 are the classes SIP defines.
STATUS_RANGE = range(100, 700)

#: Compact header forms, letter -> full name. RFC 3261 §7.3.3 and §20 (i m f t v l c k
#: s e), RFC 6665 §8.2.1 (o Event, u Allow-Events), RFC 3515 (r Refer-To), RFC 3892
#: (b Referred-By), RFC 4028 (x Session-Expires), RFC 3841 (a Accept-Contact,
#: j Reject-Contact, d Request-Disposition), RFC 4474 (y Identity, n Identity-Info).
COMPACT_FORMS: Mapping[str, str] = MappingProxyType(
    {
        "i": "Call-ID",
        "m": "Contact",
        "f": "From",
        "t": "To",
        "v": "Via",
        "l": "Content-Length",
        "c": "Content-Type",
        "k": "Supported",
        "s": "Subject",
        "e": "Content-Encoding",
        "o": "Event",
        "r": "Refer-To",
        "b": "Referred-By",
        "u": "Allow-Events",
        "x": "Session-Expires",
        "a": "Accept-Contact",
        "j": "Reject-Contact",
        "d": "Request-Disposition",
        "y": "Identity",
        "n": "Identity-Info",
    }
)

#: Methods some RFC defines (RFC 3261 §27.4 registry as of RFC 3261, 3262, 3265/6665,
#: 3311, 3428, 3515, 3903, 6086). A method outside this set is "unknown" (501); one in
#: it that a profile does not allow is "known but not allowed" (405).
KNOWN_METHODS = frozenset(
    {
        "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
        "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
    }
)

#: RFC 3261 §21 reason phrases (plus 422 from RFC 4028 and 489 from RFC 6665).
REASON_PHRASES: Mapping[int, str] = MappingProxyType(
    {
        100: "Trying", 180: "Ringing", 183: "Session Progress",
        200: "OK", 202: "Accepted",
        400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
        405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout",
        410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
        415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
        421: "Extension Required", 422: "Session Interval Too Small",
        480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
        482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete",
        486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
        489: "Bad Event",
        500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
        503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
        513: "Message Too Large",
        600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
        606: "Not Acceptable",
    }
)

#: RFC 3261 §7.2: what each first digit means, for codes with no registered phrase.
_CLASS_NAMES = {1: "Provisional", 2: "Success", 3: "Redirection", 4: "Client Error",
                5: "Server Error", 6: "Global Failure"}


def reason_phrase(status: int) -> str:
    """The RFC reason phrase for ``status``, or the class name when none is registered."""
    if status in REASON_PHRASES:
        return REASON_PHRASES[status]
    return _CLASS_NAMES.get(status // 100, "Unknown")


@functools.lru_cache(maxsize=1024)
def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 3261 token (a method or a header name)."""
    # Cached like canonical_key: the same methods and names come in every message.
    return TOKEN.fullmatch(text) is not None


@functools.lru_cache(maxsize=1024)
def canonical_key(name: str) -> str:
    """The lookup key of a header name: lower case, compact form expanded (``i`` -> ``call-id``).

    Header names are case-insensitive (RFC 3261 §7.3.1) and a compact form is the same
    header as its long form (§7.3.3), so both spellings must find the same values.
    """
    # Cached: every lookup calls this for every header, and names repeat endlessly
    # (bounded by maxsize, so a peer inventing names cannot grow it).
    lowered = name.lower()
    return COMPACT_FORMS.get(lowered, lowered).lower()


@functools.lru_cache(maxsize=1024)
def field_key(name: str) -> str | None:
    """:func:`canonical_key` of a header name that is a token, else ``None``.

    The parser's one question per header line, asked once per distinct name (cached
    like the two functions it combines).
    """
    return canonical_key(name) if TOKEN.fullmatch(name) is not None else None


@functools.lru_cache(maxsize=256)
def is_request_uri(uri: str) -> bool:
    """Whether ``uri`` matches :data:`REQUEST_URI` (cached: an SBC sends one URI)."""
    return REQUEST_URI.fullmatch(uri) is not None


def quoted_string(text: str) -> str:
    """``text`` as an RFC 3261 §25.1 quoted-string (``"`` and ``\\`` escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas in quotes and ``<...>``.

    RFC 3261 §7.3.1: several values of one header may share a line, separated by
    commas; a display name (quoted) or a URI in angle brackets may contain commas.
    """
    if "," not in value:  # one value, as nearly every Contact is
        value = value.strip()
        return [value] if value else []
    parts: list[str] = []
    start = 0
    in_quotes = in_angle = escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif in_quotes:
            if char == "\\":
                escaped = True
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
        elif char == "<":
            in_angle = True
        elif char == ">":
            in_angle = False
        elif char == "," and not in_angle:
            parts.append(value[start:index].strip())
            start = index + 1
    parts.append(value[start:].strip())
    return [part for part in parts if part]


def _split_address(value: str) -> tuple[str, str]:
    """(URI, header parameters) of a name-addr or addr-spec (RFC 3261 §20.10, §25.1)."""
    index = 0
    text = value.strip()
    if text.startswith('"'):  # skip a quoted display name, which may hold "<" or ";"
        index = 1
        while index < len(text) and text[index] != '"':
            index += 2 if text[index] == "\\" else 1
        index += 1
    open_at = text.find("<", index)
    if open_at >= 0:
        close_at = text.find(">", open_at)
        if close_at < 0:
            return text[open_at + 1 :].strip(), ""
        return text[open_at + 1 : close_at].strip(), text[close_at + 1 :]
    # addr-spec form: parameters after the URI belong to the header (§20.10).
    uri, _, params = text.partition(";")
    return uri.strip(), ";" + params if params else ""


def address_uri(value: str) -> str:
    """The URI inside one Contact/From/To/Record-Route value (``<...>`` or bare)."""
    return _split_address(value)[0]


def header_params(value: str) -> dict[str, str]:
    """The header parameters of an address value, names lower-cased (``tag``, ``expires``)."""
    params: dict[str, str] = {}
    for item in _split_address(value)[1].split(";"):
        name, _, param_value = item.strip().partition("=")
        if name:
            params[name.lower()] = param_value.strip()
    return params


@dataclass(frozen=True, slots=True)
class SipUri:
    """The parts of a ``sip:``/``sips:`` URI that admission checks need (RFC 3261 §19.1)."""

    scheme: str
    host: str
    port: int | None


def parse_sip_uri(uri: str) -> SipUri | None:
    """Scheme (lower case), host and port of a SIP or SIPS URI; ``None`` if it is neither.

    An IPv6 reference keeps no brackets in ``host``. Userinfo is skipped.
    """
    scheme, colon, rest = uri.strip().partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        return None
    hostport = re.split(r"[;?]", rest, maxsplit=1)[0]
    hostport = hostport.rpartition("@")[2]
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            return None
        host, after = hostport[1:close], hostport[close + 1 :]
    else:
        host, _, port_text = hostport.partition(":")
        after = ":" + port_text if port_text else ""
    port: int | None = None
    if after:
        if not after.startswith(":") or not after[1:].isdigit():
            return None
        port = int(after[1:])
    if not host:
        return None
    return SipUri(scheme.lower(), host, port)


#: RFC 3261 §25.1: ``hostname = *( domainlabel "." ) toplabel [ "." ]``; a toplabel starts
#: with a letter, which is what tells ``10.0.0.1`` from a name.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_TOPLABEL = r"[A-Za-z](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
FQDN = re.compile(rf"(?:{_LABEL}\.)+{_TOPLABEL}\.?")


def is_fqdn(host: str) -> bool:
    """Whether ``host`` is a fully qualified domain name: two labels or more, letter TLD."""
    return len(host) <= 254 and FQDN.fullmatch(host) is not None


def normalise_host(host: str) -> str:
    """A DNS name for comparison: lower case, no trailing dot (DNS names are case-blind)."""
    return host.lower().rstrip(".")
