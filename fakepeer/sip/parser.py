# -*- test-case-name: tests.sip.test_connection -*-
"""Turn a complete message head into its parts, and head plus body into an event.

Pure functions over bytes that the connection has already framed: :func:`parse_head`
gets the head up to and including its empty line, :func:`build_message` gets the body
too. Errors are sorted by what they do to the stream:

* A missing, repeated or non-numeric Content-Length, a line or size over its limit,
  loses the framing: RFC 3261 §18.3 makes Content-Length mandatory on stream
  transports because nothing else marks where a body ends. Those raise an
  unrecoverable :class:`RemoteSipError` at once.
* Anything else (a bad start line, a header line without a colon, invalid UTF-8, a
  foreign SIP version) spoils only this message. :func:`parse_head` records the first
  such problem, the connection waits for the body so the whole message is consumed,
  and :func:`build_message` raises it as a recoverable error.

Every limit is checked before the work it bounds, and the work is linear in the
head's size: a regular head (what real peers send) is read in one pass, anything else
line by line with folded values joined once per field.

Lines are numbered from 1 = the start line, as in a capture. Line endings are CRLF
only (RFC 3261 §7); a bare CR or LF inside a line is an error, not a line break.
"""

from __future__ import annotations

import re
from itertools import repeat
from typing import NamedTuple

from fakepeer.sip.errors import LocalSipError, RemoteSipError
from fakepeer.sip.grammar import (
    CONTENT_LENGTH,
    FORBIDDEN_TEXT,
    SIP_VERSION,
    VERSION,
    field_key,
    is_token,
)
from fakepeer.sip.headers import Headers
from fakepeer.sip.limits import TOO_LARGE, Limits
from fakepeer.sip.message import PartialMessage, Request, Response, check_request_line
from fakepeer.sip.receivebuffer import too_large

_VERSION_NOT_SUPPORTED = 505  # RFC 3261 §21.5.7
_WSP = " \t"

#: Control bytes a head may hold only as the CR and LF of its line ends (HTAB is
#: whitespace): :data:`~fakepeer.sip.grammar.FORBIDDEN_TEXT` as bytes.
_CONTROL_BYTES = bytes([*range(0x09), *range(0x0A, 0x20), 0x7F])

#: Where one header field ends and the next begins: a line break not followed by
#: whitespace (a line break followed by whitespace folds the field onto the next line).
_FIELD_BREAK = re.compile(r"\r\n(?=[^ \t])")

_Fields = tuple[tuple[str, str], ...]
_Index = dict[str, tuple[str, ...]]


class StartLine(NamedTuple):
    """A parsed start line: a request's (method, URI) or a response's (status, reason).

    (Internal values made once per message: a NamedTuple is built in C, a frozen
    dataclass field by field.)
    """

    is_response: bool
    first: str  # method, or the status code digits
    second: str  # Request-URI, or the reason phrase


class ParsedHead(NamedTuple):
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
    """Parse ``head`` (ending in CRLF CRLF); raise if the stream can no longer be framed.

    The caller has checked the head against ``max_message_size`` (see
    :meth:`~fakepeer.sip.receivebuffer.ReceiveBuffer.find_head_end`); the line limits
    are checked here, before any line is read. A regular head is read in one pass
    (:func:`_read_regular`); anything else goes through :func:`_parse_lines`, which
    names the first problem exactly.
    """
    content = head[:-4]
    _check_line_limits(content, limits)
    problems: list[str] = []
    regular = _read_regular(content)
    if regular is not None:
        start_text: str | None = regular[0]
        headers = Headers.trusted(regular[1], regular[2])
    else:
        start_text, fields = _parse_lines(content.split(b"\r\n"), problems)
        headers = Headers.trusted(fields)

    status_hint = 400
    start: StartLine | None = None
    if start_text is not None:
        try:
            start = _parse_start_line(start_text)
        except LocalSipError as exc:
            problems.insert(0, exc.message)
            status_hint = exc.status_hint
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


def partial_message(prefix: bytes) -> PartialMessage | None:
    """What the complete lines of ``prefix`` (a head cut short) tell of its message.

    For answering a message refused for its size: the caller bounds ``prefix`` by
    ``max_message_size``, so this costs no more than parsing an acceptable head.
    """
    complete = prefix[: prefix.rfind(b"\r\n")]
    if not complete:
        return None
    start_text, fields = _parse_lines(complete.split(b"\r\n"), [])
    return PartialMessage(start_text or "", Headers.trusted(fields))


def _check_line_limits(content: bytes, limits: Limits) -> None:
    """Raise 513 naming the first line of the head that is over a line limit."""
    continuations = content.count(b"\r\n ") + content.count(b"\r\n\t")
    header_count = content.count(b"\r\n") - continuations
    if header_count <= limits.max_header_count and (
        len(content) <= limits.max_line_length
        or max(map(len, content.split(b"\r\n"))) <= limits.max_line_length
    ):
        return
    lines = content.split(b"\r\n")
    header_count = 0
    for line_number, line in enumerate(lines, start=1):
        if len(line) > limits.max_line_length:
            error = too_large(
                f"line {line_number} is {len(line)} bytes, over max_line_length "
                f"{limits.max_line_length}"
            )
        elif line_number > 1 and line[:1] not in (b" ", b"\t"):
            header_count += 1
            if header_count <= limits.max_header_count:
                continue
            error = too_large(
                f"header line {line_number} is header number {header_count}, "
                f"over max_header_count {limits.max_header_count}"
            )
        else:
            continue
        error.partial = partial_message(b"\r\n".join(lines[: line_number - 1]) + b"\r\n")
        raise error
    raise AssertionError("a line limit was exceeded but no line exceeds it")  # pragma: no cover


def _read_regular(content: bytes) -> tuple[str, _Fields, _Index] | None:
    """Start line, fields and lookup index of a regular head; ``None`` to read it slowly.

    Regular means what real peers send: valid UTF-8, no control character but the CRLF
    line ends, every header line a ``name: value`` with a token name, continuation
    lines only after one. Then the fields are exactly what :func:`_parse_lines` would
    find, with no problem to report, and the index :class:`Headers` would build is
    built in the same pass. Folded fields are unfolded with C-speed splits and joins,
    so however many continuation lines a head has, the cost stays linear.
    """
    controls = len(content) - len(content.translate(None, _CONTROL_BYTES))
    if controls != 2 * content.count(b"\r\n"):
        return None  # a bare CR or LF, or another control character
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    folded = "\r\n " in text or "\r\n\t" in text
    chunks = _FIELD_BREAK.split(text) if folded else text.split("\r\n")
    start_line = chunks[0]
    if folded and "\r\n" in start_line:
        return None  # line 2 is a continuation line with no header to continue
    fields: list[tuple[str, str]] = []
    index: _Index = {}
    for position in range(1, len(chunks)):
        line = chunks[position]
        rest = ""
        if folded:
            line, _, rest = line.partition("\r\n")
        name, colon, value = line.partition(":")
        name = name.rstrip(_WSP)  # HCOLON allows whitespace before the colon
        key = field_key(name)
        if not colon or key is None:
            return None
        value = value.strip(_WSP)
        if rest:  # RFC 3261 §7.3.1: each line break plus its whitespace is one SP
            parts = map(str.strip, rest.split("\r\n"), repeat(_WSP))
            value = " ".join(filter(None, (value, *parts)))
        fields.append((name, value))
        index[key] = (*index[key], value) if key in index else (value,)
    return start_line, tuple(fields), index


def build_message(parsed: ParsedHead, body: bytes) -> Request | Response:
    """The event for a fully received message, or its recoverable error."""
    if parsed.problem is not None:
        raise parsed.problem
    start = parsed.start
    assert start is not None  # no problem means the start line parsed
    try:
        if start.is_response:
            return Response(int(start.first), start.second, parsed.partial.headers, body)
        check_request_line(start.first, start.second)
    except LocalSipError as exc:  # the peer's value, checked by our constructor
        raise RemoteSipError(
            exc.message, exc.status_hint, recoverable=True, partial=parsed.partial
        ) from None
    # Headers and Content-Length were checked by parse_head, method and URI just now.
    return Request.trusted(start.first, start.second, parsed.partial.headers, body)


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
    if version == SIP_VERSION:  # what every peer sends; the rest is for the others
        return
    if VERSION.fullmatch(version) is None:
        raise LocalSipError(f"start line has no SIP version: {line[:80]!r}")
    if version.upper() != SIP_VERSION:
        raise LocalSipError(
            f"SIP version {version} is not supported, only {SIP_VERSION}",
            _VERSION_NOT_SUPPORTED,
        )


def _parse_lines(lines: list[bytes], problems: list[str]) -> tuple[str | None, _Fields]:
    """The start line's text and the header fields that parse, a problem for each that not.

    The exact, slower reading of a head: every line decoded on its own, so that a
    problem names its line. Folded values are joined once per field (linear in the
    head's size, however many continuation lines it has).
    """
    start_text = _decode(lines[0], 1, problems)
    fields: list[tuple[str, str]] = []
    current: tuple[int, str, list[str]] | None = None  # line number, name, value parts
    for line_number, raw in enumerate(lines[1:], start=2):
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
                part = text.strip(_WSP)
                if part:
                    current[2].append(part)
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
            value = value.strip(_WSP)
            current = (line_number, name, [value] if value else [])
    _finish(current, fields, problems)
    return start_text, tuple(fields)


def _finish(
    current: tuple[int, str, list[str]] | None,
    fields: list[tuple[str, str]],
    problems: list[str],
) -> None:
    """Keep a complete header field, unless its unfolded value holds a control character."""
    if current is None:
        return
    line_number, name, parts = current
    value = " ".join(parts)
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
