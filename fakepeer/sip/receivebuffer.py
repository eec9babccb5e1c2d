# -*- test-case-name: tests.sip.test_limits -*-
"""The receive buffer, and finding the end of a message head in O(n).

A peer controls how bytes are split into reads. If every read made us search the
whole buffer again, a head trickled one byte at a time would cost O(n²) work: a cheap
denial of service (h11's ``_receivebuffer.py`` makes the same point). So every search
remembers where it stopped and only ever looks at new bytes, re-checking the last three
for an empty line split across reads.

Two scans share that rule. The end of the head (the first CRLF CRLF) is found with one
``bytes.find``, so a whole message in one read costs a single C-speed pass; its size is
checked against ``max_message_size`` before anything is parsed. While the head is still
incomplete, its complete lines are checked as they arrive (``max_line_length``,
``max_header_count``), so a peer cannot make us hold an over-long line or head just
because it never ends it. A complete head gets the same line checks in the parser's
single pass.

Removing consumed bytes with ``del data[:n]`` is cheap: CPython's ``bytearray`` moves
its start pointer instead of copying what remains.
"""

from __future__ import annotations

from fakepeer.sip.errors import RemoteSipError
from fakepeer.sip.limits import TOO_LARGE, Limits

_CRLF = b"\r\n"
_EMPTY_LINE = b"\r\n\r\n"
_SP_HTAB = (0x20, 0x09)


class ReceiveBuffer:
    """Bytes received and not yet turned into events, plus where the head scans stand."""

    __slots__ = (
        "_data",
        "_end_search_from",
        "_header_count",
        "_line_number",
        "_line_start",
        "_search_from",
    )

    def __init__(self) -> None:
        self._data = bytearray()
        self._reset_scan()

    def _reset_scan(self) -> None:
        self._end_search_from = 0  # where the next search for CRLF CRLF begins
        self._search_from = 0  # where the next CRLF search of the line scan begins
        self._line_start = 0  # start of the physical line being scanned
        self._line_number = 0  # complete lines seen (1 = start line)
        self._header_count = 0  # header fields seen (continuations excluded)

    def __len__(self) -> int:
        return len(self._data)

    def append(self, data: bytes) -> None:
        """Add bytes that just arrived."""
        self._data += data

    def startswith(self, prefix: bytes) -> bool:
        """Whether the unconsumed bytes begin with ``prefix``."""
        return self._data.startswith(prefix)

    def is_prefix_of(self, whole: bytes) -> bool:
        """Whether the unconsumed bytes are a proper beginning of ``whole``."""
        return len(self._data) < len(whole) and whole.startswith(self._data)

    def peek(self, count: int) -> bytes:
        """The first ``count`` bytes, left in place."""
        return bytes(self._data[:count])

    def consume(self, count: int) -> bytes:
        """Remove and return the first ``count`` bytes; the next scan starts afresh."""
        taken = bytes(self._data[:count])
        del self._data[:count]
        self._reset_scan()
        return taken

    def clear(self) -> None:
        """Drop everything (after a fatal error nothing buffered will ever be read)."""
        self.consume(len(self._data))

    def find_head_end(self, limits: Limits) -> int | None:
        """Offset just past the empty line that ends the head, or ``None`` if not there yet.

        The buffer must not begin with CRLF (the connection strips those first), so the
        first CRLF CRLF is where the head ends. Raises an unrecoverable
        :class:`RemoteSipError` (513) when a complete head is longer than
        ``max_message_size``, or, for an incomplete one, as soon as a line, the header
        count or the head itself is over its limit.
        """
        data = self._data
        end = data.find(_EMPTY_LINE, self._end_search_from)
        if end >= 0:
            head_end = end + 4
            if head_end > limits.max_message_size:
                raise too_large(
                    f"message head of {head_end} bytes exceeds max_message_size "
                    f"{limits.max_message_size}"
                )
            return head_end
        self._end_search_from = max(len(data) - 3, 0)
        self._scan_lines(limits)
        return None

    def _scan_lines(self, limits: Limits) -> None:
        """Apply the line and head limits to the lines of an incomplete head, new ones only."""
        data = self._data
        while True:
            crlf = data.find(_CRLF, self._search_from)
            if crlf < 0:
                break
            length = crlf - self._line_start
            line_number = self._line_number + 1
            if length > limits.max_line_length:
                raise too_large(
                    f"line {line_number} is {length} bytes, over max_line_length "
                    f"{limits.max_line_length}"
                )
            self._line_number = line_number
            if line_number > 1 and data[self._line_start] not in _SP_HTAB:
                self._header_count += 1
                if self._header_count > limits.max_header_count:
                    raise too_large(
                        f"header line {line_number} is header number {self._header_count}, "
                        f"over max_header_count {limits.max_header_count}"
                    )
            self._line_start = self._search_from = crlf + 2
        pending = len(data) - self._line_start - (1 if data.endswith(b"\r") else 0)
        if pending > limits.max_line_length:
            raise too_large(
                f"line {self._line_number + 1} is already {pending} bytes without a CRLF, "
                f"over max_line_length {limits.max_line_length}"
            )
        if len(data) > limits.max_message_size:
            raise too_large(
                f"message head is already {len(data)} bytes without its closing empty "
                f"line, over max_message_size {limits.max_message_size}"
            )
        self._search_from = max(self._line_start, len(data) - 1)


def too_large(message: str) -> RemoteSipError:
    """The unrecoverable 513 every exceeded limit raises."""
    return RemoteSipError(message, TOO_LARGE, recoverable=False)
