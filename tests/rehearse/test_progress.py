"""What the terminal shows while a rehearsal step waits for the SBC."""

from __future__ import annotations

import io

from twisted.internet.task import Clock

from fakepeer.cli.commands.rehearse import QUIET_AFTER, _Progress
from fakepeer.cli.environment import Environment
from fakepeer.rehearse.plan import Plan, PlanStep
from fakepeer.report.events import Event

PLAN = Plan("lab", (PlanStep("baseline-microsoft-2026", until_connections=1),))


def _progress() -> tuple[_Progress, Clock, io.StringIO]:
    out, clock = io.StringIO(), Clock()
    env = Environment(stdout=out, stderr=io.StringIO(), variables={})
    return _Progress(env, PLAN, None, clock), clock, out


def _waiting(out: io.StringIO) -> list[str]:
    return [line for line in out.getvalue().splitlines() if "waiting" in line]


def test_a_silent_step_says_what_it_waits_for():
    """Before: a step waiting for its connection printed nothing at all."""
    progress, clock, out = _progress()
    progress(1, Event("listening", 0, "127.0.0.1:5061", "listening for SIP over TLS"))
    clock.advance(QUIET_AFTER)
    clock.advance(QUIET_AFTER)
    assert _waiting(out) == [
        f"[1] waiting: nothing from the SBC for {QUIET_AFTER:g} s; this step runs until 1 "
        "judged connection (Ctrl-C ends the rehearsal with a report)",
        f"[1] waiting: nothing from the SBC for {QUIET_AFTER * 2:g} s; this step runs until 1 "
        "judged connection (Ctrl-C ends the rehearsal with a report)"]


def test_activity_resets_the_count_and_the_end_stops_it():
    progress, clock, out = _progress()
    progress(1, Event("listening", 0, "127.0.0.1:5061", "listening"))
    clock.advance(QUIET_AFTER - 1)
    progress(1, Event("tcp-accepted", 1, "192.0.2.20:40000", "accepted"))
    clock.advance(QUIET_AFTER - 1)
    assert _waiting(out) == []
    clock.advance(1)
    assert len(_waiting(out)) == 1 and f"for {QUIET_AFTER:g} s" in _waiting(out)[0]
    progress.stop()
    clock.advance(QUIET_AFTER * 5)
    assert len(_waiting(out)) == 1
    assert clock.getDelayedCalls() == []
