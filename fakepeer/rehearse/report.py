# -*- test-case-name: tests.rehearse.test_report -*-
"""A rehearsal's report as data: what every step served, when, and how each connection
was judged, with its JSON form. :mod:`fakepeer.rehearse.render` writes it for the
terminal and as an HTML page.

Pure: a plan and a run record in, a :class:`RehearsalReport` out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fakepeer import __version__
from fakepeer.rehearse.plan import Plan, PlanStep
from fakepeer.rehearse.runner import PhaseInfo, RunRecord, StepRecord
from fakepeer.report.events import Event

#: A connection's outcome, from :mod:`fakepeer.report.judge`. CHECK counts as a pass
#: (fakepeer did its part; the mark-down is confirmed on the SBC) but is listed.
OUTCOMES = ("PASS", "CHECK", "FAIL", "INCOMPLETE")
CONCLUSIVE = ("PASS", "CHECK", "FAIL")
#: The whole rehearsal's result. INCOMPLETE: a step judged no connection conclusively
#: (it did not run, nothing came, or every connection was cut short), so the rehearsal
#: proves nothing about it.
RESULTS = ("PASS", "FAIL", "INCOMPLETE", "NO CONNECTIONS")

def iso_time(when: datetime | None) -> str | None:
    """``when`` as ISO 8601 to the millisecond (``None`` stays ``None``)."""
    return when.isoformat(timespec="milliseconds") if when is not None else None


# --- the report as data ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """One SBC connection: who, what it offered, the dashboard verdict and the judgement."""

    step: int
    connection: int
    peer: str
    phase: str
    started: datetime | None
    ended: datetime
    sni: str | None
    client_subject: str | None
    tls: str
    requests: tuple[str, ...]
    verdict: str
    outcome: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "connection": self.connection, "peer": self.peer,
                "phase": self.phase, "started": iso_time(self.started),
                "ended": iso_time(self.ended),
                "sni": self.sni, "client_subject": self.client_subject, "tls": self.tls,
                "requests": list(self.requests), "verdict": self.verdict,
                "outcome": self.outcome, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class PhaseReport:
    """One phase of a step's scenario: what it served and when it was entered and left
    (``entered`` None: the step ended before the timeline reached it)."""

    name: str
    description: str
    ends: str
    expect: str
    entered: datetime | None
    left: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "ends": self.ends,
                "expect": self.expect, "entered": iso_time(self.entered),
                "left": iso_time(self.left)}


def _counts(connections: Iterable[ConnectionReport]) -> dict[str, int]:
    counted = Counter(c.outcome for c in connections)
    return {outcome: counted.get(outcome, 0) for outcome in OUTCOMES} | {
        other: n for other, n in counted.items() if other not in OUTCOMES}


@dataclass(frozen=True, slots=True)
class StepReport:
    """One plan step: its scenario, rule and note, when it ran, its phases and connections
    (``started`` None: the rehearsal ended before it)."""

    number: int
    scenario: str
    purpose: str
    expect: str
    note: str
    rule: str
    started: datetime | None
    ended: datetime | None
    ended_by: str
    listening: tuple[str, ...]
    phases: tuple[PhaseReport, ...]
    connections: tuple[ConnectionReport, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def exercised(self) -> bool:
        """At least one connection was judged PASS, CHECK or FAIL in this step."""
        return any(c.outcome in CONCLUSIVE for c in self.connections)

    def to_json(self) -> dict[str, Any]:
        return {"step": self.number, "scenario": self.scenario, "purpose": self.purpose,
                "expect": self.expect, "note": self.note, "rule": self.rule,
                "started": iso_time(self.started), "ended": iso_time(self.ended),
                "ended_by": self.ended_by, "listening": list(self.listening),
                "exercised": self.exercised, "counts": self.counts,
                "phases": [p.to_json() for p in self.phases],
                "connections": [c.to_json() for c in self.connections]}


@dataclass(frozen=True, slots=True)
class RehearsalReport:
    """The whole rehearsal: the result, why, the counts, and every step."""

    title: str
    plan: str
    started: datetime | None
    ended: datetime | None
    interrupted: bool
    error: str | None
    steps: tuple[StepReport, ...]
    counts: dict[str, int]
    result: str
    problems: tuple[str, ...]
    version: str = __version__

    @property
    def connections(self) -> tuple[ConnectionReport, ...]:
        return tuple(c for step in self.steps for c in step.connections)

    def to_json(self) -> dict[str, Any]:
        return {"fakepeer": self.version, "title": self.title, "plan": self.plan,
                "started": iso_time(self.started), "ended": iso_time(self.ended),
                "interrupted": self.interrupted, "error": self.error, "result": self.result,
                "problems": list(self.problems), "counts": self.counts,
                "connections": len(self.connections),
                "steps": [s.to_json() for s in self.steps]}


def _connection(step: int, verdict: Event, events: Sequence[Event]) -> ConnectionReport:
    mine = [e for e in events if e.connection == verdict.connection]
    accepted = next((e for e in mine if e.kind == "tcp-accepted"), None)
    established = next((e for e in mine if e.kind == "tls-established"), None)
    failed = next((e for e in mine if e.kind == "tls-failed"), None)
    tls_data = (established or failed or verdict).data
    client = tls_data.get("client_certificate") or {}
    data = verdict.data
    dashboard = f"TLS {data.get('tls', '?')}" + (
        f" ({data['tls_reason']})" if data.get("tls_reason") else "") + \
        f"; OPTIONS {data.get('options', '?')}" + (
        f" ({data['options_reason']})" if data.get("options_reason") else "")
    label = str(data.get("scenario", ""))
    return ConnectionReport(
        step=step, connection=verdict.connection, peer=verdict.peer,
        phase=label.split("/", 1)[1] if "/" in label else "",
        started=accepted.time if accepted else None, ended=verdict.time,
        sni=established.data.get("sni") if established else None,
        client_subject=client.get("subject"),
        tls=established.summary if established else (failed.summary if failed else ""),
        requests=tuple(str(e.summary) for e in mine if e.kind == "sip-request"),
        verdict=dashboard, outcome=str(data.get("outcome", "INCOMPLETE")),
        reason=str(data.get("outcome_reason", "no expectation to judge against")))


def _phases(info: Sequence[PhaseInfo], record: StepRecord) -> tuple[PhaseReport, ...]:
    entered: dict[int, datetime] = {}
    for event in record.events:
        if event.kind == "phase":
            entered.setdefault(int(event.data.get("index", 0)), event.time)
    if len(info) == 1:  # a one-phase timeline announces nothing: it is the whole step
        entered[0] = record.started
    out = []
    for index, phase in enumerate(info):
        start = entered.get(index)
        following = [t for i, t in entered.items() if i > index]
        left = min(following) if following else record.ended
        out.append(PhaseReport(phase.name, phase.description, phase.ends, phase.expect,
                               start, left if start is not None else None))
    return tuple(out)


def _step(number: int, step: PlanStep, record: StepRecord | None) -> StepReport:
    if record is None:
        return StepReport(number, step.scenario, "", "", step.note, step.rule(), None, None,
                          "not run", (), (), (), _counts(()))
    scenario = record.prepared.scenario
    connections = tuple(_connection(number, e, record.events)
                        for e in record.events if e.kind == "verdict")
    return StepReport(number, scenario.name, scenario.purpose,
                      scenario.expectation.summary(), step.note, step.rule(),
                      record.started, record.ended, record.ended_by or "still running",
                      tuple(record.listening), _phases(record.prepared.phase_info, record),
                      connections, _counts(connections))


def build_report(plan: Plan, run: RunRecord) -> RehearsalReport:
    """The report of ``run``; steps that never ran are listed as such."""
    records = {r.number: r for r in run.steps}
    steps = tuple(_step(n, s, records.get(n)) for n, s in enumerate(plan.steps, start=1))
    connections = [c for s in steps for c in s.connections]
    counts = _counts(connections)
    problems = []
    if run.error:
        problems.append(run.error)
    if run.interrupted:
        problems.append("the rehearsal was interrupted before its plan ended")
    if not connections:
        listening = sorted({a for s in steps for a in s.listening})
        where = f" on {', '.join(listening)}" if listening else ""
        problems.append(f"no SBC connected during the rehearsal{where}: check that the SBC "
                        "routes to this host and port (DNS or hosts entry for the proxy "
                        "name) and that no firewall is in the way")
    else:
        problems += [f"step {s.number} ({s.scenario}) judged no connection as PASS, CHECK or "
                     f"FAIL ({s.ended_by}): it proves nothing about the SBC"
                     for s in steps if not s.exercised]
    if counts.get("FAIL"):
        result = "FAIL"
    elif not connections:
        result = "NO CONNECTIONS"
    elif problems:
        result = "INCOMPLETE"
    else:
        result = "PASS"
    source = str(plan.source) if plan.source is not None else ""
    return RehearsalReport(plan.title, source, run.started, run.ended, run.interrupted,
                           run.error, steps, counts, result, tuple(problems))


def event_line(step: int, event: Event) -> dict[str, Any]:
    """An event as one JSON-lines record of the rehearsal log, with its step number."""
    return {"step": step, **event.to_json()}
