"""Reading serve's ``--events`` file as it grows: records counted per connection.

:func:`parse_line` is the one place that knows the line format: format 2 of
:mod:`fakepeer.report.jsonl` (``"v": 2``; a record's fields at the top level). One
``sip-request`` record is a request and fakepeer's answer to it (``status``); the soak
counts an answered one as a ``sip-response`` too, so its expectations still say
"sent" and "answered". Verdicts are per SBC session (written when they change), so a
connection's ``closed`` is what says it has been judged; fakepeer's own notices
(refusals over the cap) are not records but lines on serve's stderr.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar


@dataclass(frozen=True)
class Line:
    """One record: its kind, its connection id (0: not a connection's) and the peer's
    port (0: none), and its fields."""

    kind: str
    connection: int
    port: int
    fields: dict[str, Any]


#: What every format-2 line has; the rest are the record's own fields.
_ENVELOPE = ("v", "kind", "time", "connection", "peer")


def parse_line(text: str) -> Line:
    """One line of the events file (format 2; a ``listening`` record's port is its
    ``address``'s)."""
    record = json.loads(text)
    peer = str(record.get("peer") or record.get("address") or "")
    port = peer.rsplit(":", 1)[1] if ":" in peer else ""
    fields = {k: v for k, v in record.items() if k not in _ENVELOPE}
    connection = int(record.get("connection", 0)) if record["kind"] != "verdict" else 0
    return Line(record["kind"], connection, int(port) if port.isdigit() else 0, fields)


@dataclass
class ConnectionRecords:
    """What the file holds about one of serve's connections."""

    port: int
    kinds: Counter[str] = field(default_factory=Counter)
    limits: list[str] = field(default_factory=list)
    #: CRLF pings its keep-alive records account for (a record per ping, or counts).
    pings: int = 0


class EventsFile:
    """Follows the file from where it was last read (it can grow to hundreds of MB when
    keep-alives are logged one by one, so it is never read twice)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connections: dict[int, ConnectionRecords] = {}
        self.kinds: Counter[str] = Counter()
        self.listening_port = 0
        self.bytes_read = 0
        self._partial = b""

    def update(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as stream:
            stream.seek(self.bytes_read)
            chunk = stream.read()
        self.bytes_read += len(chunk)
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        for raw in complete:
            if raw.strip():
                self._add(parse_line(raw.decode()))

    def _add(self, line: Line) -> None:
        self.kinds[line.kind] += 1
        if line.kind == "listening" and line.fields.get("service", "sip") == "sip":
            self.listening_port = self.listening_port or line.port
        if line.connection == 0:
            return
        records = self.connections.setdefault(line.connection, ConnectionRecords(line.port))
        records.kinds[line.kind] += 1
        if line.kind == "limit":
            records.limits.append(str(line.fields.get("limit", "")))
        elif line.kind == "keepalives":
            records.pings += int(line.fields.get("count", 1))
        elif line.kind == "sip-request" and line.fields.get("status"):
            records.kinds["sip-response"] += 1  # answered (see the module docstring)


class Claim(Protocol):
    """A connection the test made: its local port, and a number that orders it."""

    port: int
    order: int


C = TypeVar("C", bound=Claim)


def match(connections: dict[int, ConnectionRecords], claims: Iterable[C]
          ) -> list[tuple[C, ConnectionRecords | None]]:
    """Each claim with serve's records of it, found by the peer port. A port can come
    back after its connection closed: on one port, serve's ids go up in the order
    the test's connections were made. Refusals are left out on both sides (a
    connection refused over the cap has no records of its own since issue 12 #2, and
    had one ``tcp-refused`` before): the caller passes only claims that expect
    records, and counts refusals with :attr:`EventsFile.refused`."""
    by_port: dict[int, list[int]] = defaultdict(list)
    for connection in sorted(connections):
        records = connections[connection]
        if set(records.kinds) != {"tcp-refused"}:
            by_port[records.port].append(connection)
    mine: dict[int, list[C]] = defaultdict(list)
    for claim in claims:
        mine[claim.port].append(claim)
    pairs: list[tuple[C, ConnectionRecords | None]] = []
    for port, claimed in mine.items():
        ids = by_port.get(port, []) if port else []
        for index, claim in enumerate(sorted(claimed, key=lambda c: c.order)):
            pairs.append((claim, connections[ids[index]] if index < len(ids) else None))
    return pairs
