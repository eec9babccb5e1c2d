# -*- test-case-name: tests.sip.test_connection -*-
"""Turn a complete message head into its parts, and head plus body into an event.

Pure functions over bytes that the connection has already framed: :func:`parse_head`
gets the head up to and including its empty line, :func:`build_message` gets the body
too. Errors are sorted by what they do to the stream:

* A missing, repeated or non-numeric Content-Length, or a size over
  ``max_message_size``, loses the framing: RFC 3261 §18.3 makes Content-Length
  mandatory on stream transports because nothing else marks where a body ends. Those
  raise an unrecoverable :class:`RemoteSipError` at once.
* Anything else (a bad start line, a header line without a colon, invalid UTF-8, a
  foreign SIP version) spoils only this message. :func:`parse_head` records the first
  such problem, the connection waits for the body so the whole message is consumed,
  and :func:`build_message` raises it as a recoverable error.

Lines are numbered from 1 = the start line, as in a capture. Line endings are CRLF
only (RFC 3261 §7); a bare CR or LF inside a line is an error, not a line break.
"""

from __future__ import annotations

from dataclasses import dataclass

from fakepeer.sip.errors import LocalSipError, RemoteSipError
from fakepeer.sip.grammar import CONTENT_LENGTH, FORBIDDEN_TEXT, SIP_VERSION, VERSION, is_token
from fakepeer.sip.headers import Headers
from fakepeer.sip.limits import TOO_LARGE, Limits
from fakepeer.sip.message import PartialMessage, Request, Response

_VERSION_NOT_SUPPORTED = 505  # RFC 3261 §21.5.7
_WSP = " \t"


@dataclass(frozen=True, slots=True)
class StartLine:
    """A parsed start line: a request's (method, URI) or a response's (status, reason)."""

    is_response: bool
    first: str  # method, or the status code digits
    second: str  # Request-URI, or the reason phrase


@dataclass(frozen=True, slots=True)
class ParsedHead:
    """A framed head: its length, the body length it announces, and what it holds.

    ``problem`` is the first recoverable error found; ``start`` is ``None`` when the
    start line itself was the problem.
    """

    head_length: int
    content_length: int
    partial: PartialMessage
    start: StartLine | None
    problem: RemoteSipError | None


def parse_head(head: bytes, limits: Limits) -> ParsedHead:
    """Parse ``head`` (ending in CRLF CRLF); raise if the stream can no longer be framed."""
    lines = head[:-4].split(b"\r\n")
    problems: list[str] = []
    status_hint = 400

    start_text = _decode(lines[0], 1, problems)
    start: StartLine | None = None
    if start_text is not None:
        try:
            start = _parse_start_line(start_text)
        except LocalSipError as exc:
            problems.append(exc.message)
            status_hint = exc.status_hint
    headers = Headers(_parse_header_lines(lines[1:], problems))
    partial = PartialMessage(start_text or "", headers)

    first_problem = problems[0] if problems else None
    content_length = _content_length(headers, first_problem, partial)
    total = len(head) + content_length
    if total > limits.max_message_size:
        if content_length > limits.max_message_size:
            text = f"Content-Length {content_length} exceeds max_message_size"
        else:
            text = (
                f"message of {total} bytes (head {len(head)} + Content-Length "
                f"{content_length}) exceeds max_message_size"
            )
        raise RemoteSipError(f"{text} {limits.max_message_size}", TOO_LARGE, partial=partial)
    problem = None
    if first_problem is not None:
        problem = RemoteSipError(first_problem, status_hint, recoverable=True, partial=partial)
    return ParsedHead(len(head), content_length, partial, start, problem)


def build_message(parsed: ParsedHead, body: bytes) -> Request | Response:
    """The event for a fully received message, or its recoverable error."""
    if parsed.problem is not None:
        raise parsed.problem
    start = parsed.start
    assert start is not None  # no problem means the start line parsed
    try:
        if start.is_response:
            return Response(int(start.first), start.second, parsed.partial.headers, body)
        return Request(start.first, start.second, parsed.partial.headers, body)
    except LocalSipError as exc:  # the peer's value, checked by our constructor
        raise RemoteSipError(
            exc.message, exc.status_hint, recoverable=True, partial=parsed.partial
        ) from None


def _decode(raw: bytes, line_number: int, problems: list[str]) -> str | None:
    """A line as text, or ``None`` with a problem recorded."""
    if b"\r" in raw or b"\n" in raw:
        problems.append(f"line {line_number} contains a bare CR or LF: {_show(raw)}")
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"line {line_number} is not valid UTF-8 (byte {exc.start}): {_show(raw)}")
        return None


def _parse_start_line(line: str) -> StartLine:
    """RFC 3261 §7.1 Request-Line or §7.2 Status-Line; raises :class:`LocalSipError`."""
    if line[:4].upper() == "SIP/":
        version, _, rest = line.partition(" ")
        _check_version(version, line)
        status, _, reason = rest.partition(" ")
        if len(status) != 3 or not status.isascii() or not status.isdigit():
            raise LocalSipError(f"status line has no 3-digit status code: {line[:80]!r}")
        return StartLine(True, status, reason.strip(_WSP))
    parts = line.split(" ")
    if len(parts) != 3:
        raise LocalSipError(
            f"request line has {len(parts)} space-separated parts, expected 3 "
            f"(method, Request-URI, SIP/2.0): {line[:80]!r}"
        )
    method, uri, version = parts
    _check_version(version, line)
    return StartLine(False, method, uri)


def _check_version(version: str, line: str) -> None:
    if VERSION.fullmatch(version) is None:
        raise LocalSipError(f"start line has no SIP version: {line[:80]!r}")
    if version.upper() != SIP_VERSION:
        raise LocalSipError(
            f"SIP version {version} is not supported, only {SIP_VERSION}",
            _VERSION_NOT_SUPPORTED,
        )


def _parse_header_lines(lines: list[bytes], problems: list[str]) -> list[tuple[str, str]]:
    """The header fields that parse, unfolded; a problem recorded for each that does not."""
    fields: list[tuple[str, str]] = []
    current: tuple[int, str, str] | None = None  # line number, name, value so far
    for line_number, raw in enumerate(lines, start=2):
        text = _decode(raw, line_number, problems)
        if text is None:
            current = None  # a broken line breaks any header it continued
            continue
        if text[:1] in (" ", "\t"):
            # RFC 3261 §7.3.1: a line starting with whitespace continues the previous
            # header; the line break and the whitespace count as one SP.
            if current is None:
                problems.append(f"line {line_number} is a continuation line with no header")
            else:
                first, name, value = current
                current = (first, name, f"{value} {text.strip(_WSP)}".strip(_WSP))
            continue
        _finish(current, fields, problems)
        name, colon, value = text.partition(":")
        name = name.rstrip(_WSP)  # HCOLON allows whitespace before the colon
        if not colon:
            problems.append(f"header line {line_number} has no colon: {text[:80]!r}")
            current = None
        elif not is_token(name):
            problems.append(f"header line {line_number} has an invalid name {name[:80]!r}")
            current = None
        else:
            current = (line_number, name, value.strip(_WSP))
    _finish(current, fields, problems)
    return fields


def _finish(
    current: tuple[int, str, str] | None,
    fields: list[tuple[str, str]],
    problems: list[str],
) -> None:
    """Keep a complete header field, unless its unfolded value holds a control character."""
    if current is None:
        return
    line_number, name, value = current
    if FORBIDDEN_TEXT.search(value):
        problems.append(f"header line {line_number} ({name}) has a control character")
    else:
        fields.append((name, value))


def _content_length(headers: Headers, problem: str | None, partial: PartialMessage) -> int:
    """The body length, or an unrecoverable error: without it the stream is unframed."""
    values = headers.get_all("Content-Length")
    if len(values) == 1 and CONTENT_LENGTH.fullmatch(values[0]):
        return int(values[0])
    if not values:
        reason = (
            "no Content-Length header; it is mandatory on stream transports "
            "(RFC 3261 §18.3), so the end of the message is unknown"
        )
    elif len(values) > 1:
        reason = f"{len(values)} Content-Length headers ({', '.join(map(repr, values))})"
    else:
        reason = f"Content-Length {values[0][:40]!r} is not a number"
    if problem is not None:
        reason = f"{problem}; and {reason}"
    raise RemoteSipError(
        f"{reason}; the stream cannot be re-framed", 400, recoverable=False, partial=partial
    )


def _show(raw: bytes) -> str:
    return repr(raw[:80])
