"""A live summary of a running server for the HTTP status page and ``GET /status``.

A sink like any other: it keeps the last events and verdicts (bounded, so a long lab
run cannot grow it) and counts outcomes.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from fakepeer.report.events import Event

#: Enough for a screen of recent history; older events are in the JSON-lines log.
RECENT_EVENTS = 200
RECENT_VERDICTS = 100


class StatusBoard:
    def __init__(self) -> None:
        self.scenario = ""
        self.phase = ""
        self.events: deque[Event] = deque(maxlen=RECENT_EVENTS)
        self.verdicts: deque[Event] = deque(maxlen=RECENT_VERDICTS)
        self.outcomes: Counter[str] = Counter()
        self.open_connections: set[int] = set()
        self.total_connections = 0
        self.listening: list[str] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)
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

    def snapshot(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "phase": self.phase,
            "listening": self.listening,
            "connections": {"open": len(self.open_connections),
                            "total": self.total_connections},
            "outcomes": dict(self.outcomes),
            "verdicts": [e.to_json() for e in self.verdicts],
            "recent_events": [e.to_json() for e in list(self.events)[-50:]],
        }
