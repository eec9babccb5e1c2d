# -*- test-case-name: tests.report.test_board -*-
"""A live summary of a running server for the HTTP status page and ``GET /status``.

A sink like any other: it keeps the last events and verdicts (bounded, so a long lab
run cannot grow it) and counts outcomes. Given a :class:`~fakepeer.report.sessions.
SessionJudge` it shows the open SBC sessions too (identity, connections, last OPTIONS,
verdict and why, the dial-back), and counts outcomes per session from it, so a failed
dial-back counts as the FAIL it is. It reads today's untyped events and the typed
records alike until the wiring task switches the producers.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from fakepeer.report.events import (
    Event,
    Listening,
    Record,
    Serving,
    SessionVerdict,
    TcpAccepted,
)
from fakepeer.report.jsonl import to_json, value_to_json
from fakepeer.report.sessions import SessionJudge

#: Enough for a screen of recent history; older events are in the JSON-lines log.
RECENT_EVENTS = 200
RECENT_VERDICTS = 100


class StatusBoard:
    def __init__(self, judge: SessionJudge | None = None) -> None:
        self.judge = judge
        self.scenario = ""
        self.phase = ""
        self.events: deque[Event | Record] = deque(maxlen=RECENT_EVENTS)
        self.verdicts: deque[Event | Record] = deque(maxlen=RECENT_VERDICTS)
        self.outcomes: Counter[str] = Counter()
        self.open_connections: set[int] = set()
        self.total_connections = 0
        self.listening: list[str] = []
        #: What the engineer must know about fakepeer itself (a sink that fails).
        self.problems: list[str] = []

    def __call__(self, event: Event | Record) -> None:
        self.events.append(event)
        if isinstance(event, Record):
            self._record(event)
            return
        if event.kind == "tcp-accepted":
            self.total_connections += 1
            self.open_connections.add(event.connection)
        elif event.kind == "verdict":
            self.open_connections.discard(event.connection)
            self.verdicts.append(event)
            self.outcomes[str(event.data.get("outcome", "n/a"))] += 1
        elif event.kind == "phase":
            self.phase = str(event.data.get("label") or event.data.get("name", ""))
        elif event.kind == "listening":
            self.listening.append(event.peer)

    def _record(self, record: Record) -> None:
        if isinstance(record, TcpAccepted):
            self.total_connections += 1
        elif isinstance(record, SessionVerdict):
            self.verdicts.append(record)
        elif isinstance(record, Serving):
            self.phase = record.label
        elif isinstance(record, Listening):
            self.listening.append(record.address)

    def snapshot(self) -> dict[str, Any]:
        judge = self.judge
        snap: dict[str, Any] = {
            "scenario": self.scenario,
            "phase": self.phase,
            "listening": self.listening,
            "connections": {"open": len(self.open_connections),
                            "total": self.total_connections},
            "outcomes": dict(self.outcomes),
            "problems": list(self.problems),
            "verdicts": [_json(e) for e in self.verdicts],
            "recent_events": [_json(e) for e in list(self.events)[-50:]],
        }
        if judge is not None:
            sessions = judge.sessions()
            snap["outcomes"] = judge.counts()
            snap["connections"]["open"] = (sum(len(s.open) for s in sessions)
                                           + len(judge.pending()))
            snap["sessions"] = [value_to_json(s) for s in sessions]
            snap["pending"] = [value_to_json(c) for c in judge.pending()]
            snap["port_checks"] = judge.port_checks
        return snap


def _json(event: Event | Record) -> dict[str, Any]:
    return to_json(event) if isinstance(event, Record) else event.to_json()
