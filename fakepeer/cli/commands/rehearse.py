"""``fakepeer rehearse PLAN``: serve a plan's scenarios in order and report every verdict.

The exit status says whether the SBC passed the whole rehearsal: 0 when every judged
connection passed (CHECK counts, and is listed) and every step saw at least one;
:attr:`ExitStatus.PEER_FAILED` when any connection FAILed; :attr:`ExitStatus.ERROR`
with a message when no SBC connected at all, a step proved nothing, or fakepeer could not
listen (:attr:`ExitStatus.ERROR_CTRL_C` when SIGINT or SIGTERM cut it short). The reports
are written in every case, so an aborted rehearsal is documented too.

It runs as a job on the reactor :func:`fakepeer.app.runner.run` drives; Ctrl-C (or
SIGTERM) ends the current step, skips the rest and still writes the reports.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import IO, TYPE_CHECKING

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from fakepeer.cli.environment import Environment
from fakepeer.cli.keylog import add_keylog_option, open_keylog, with_keylog
from fakepeer.cli.options import (
    add_scenarios_option,
    add_store_options,
    listen_addresses,
    open_catalogue,
    open_pki,
    say_generation,
)
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import ConfigError
from fakepeer.net.sip_protocol import DEFAULT_IDLE_TIMEOUT
from fakepeer.rehearse.plan import Plan, find_plan, load_plan
from fakepeer.report.events import Event
from fakepeer.scenario.load import Catalogue

if TYPE_CHECKING:
    from fakepeer.app.runner import Job
    from fakepeer.net.reactors import IRunReactor
    from fakepeer.rehearse.runner import RunRecord


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "rehearse", help="serve a plan of scenarios in order and report PASS/FAIL",
        description="Run a rehearsal plan: serve each step's catalogue scenario on the same "
                    "address for its duration or until N connections were judged, then "
                    "write a report (terminal table, JSON, self-contained HTML for a change "
                    "ticket). Exit 0 only if every judged connection passed.")
    parser.add_argument("plan", metavar="PLAN",
                        help="a plan file (TOML; see plans/migration-2026.toml), or the name "
                             "of a shipped plan")
    parser.add_argument("--listen", action="append", metavar="HOST:PORT",
                        help="address to listen on for every step, instead of the plan's "
                             "(repeatable; port 0 picks one free port for the whole run)")
    parser.add_argument("--json-out", type=Path, default=None, metavar="FILE",
                        help="write the report as JSON to FILE")
    parser.add_argument("--html-out", type=Path, default=None, metavar="FILE",
                        help="write the report as a self-contained HTML page to FILE")
    parser.add_argument("--events", type=Path, default=None, metavar="FILE",
                        help="append every event as a JSON line (with its step) to FILE")
    parser.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT,
                        help=f"close connections idle this many seconds (default "
                             f"{DEFAULT_IDLE_TIMEOUT:g})")
    parser.add_argument("--check", action="store_true",
                        help="load the plan and build every step's certificates, print the "
                             "steps, and exit without listening")
    add_scenarios_option(parser)
    add_store_options(parser)
    add_keylog_option(parser)
    parser.set_defaults(launcher=_launch)


def _resolve(path: Path, env: Environment) -> Path:
    return path if path.is_absolute() else env.cwd / path


def _plan(args: argparse.Namespace, env: Environment) -> tuple[Plan, Catalogue]:
    catalogue = open_catalogue(args, env)
    plan = load_plan(find_plan(args.plan, env.cwd), catalogue)
    for note in plan.notes:
        env.warn(f"note: {note}")
    return plan, catalogue


#: Seconds of silence in a step after which the terminal says the rehearsal is waiting.
QUIET_AFTER = 30.0


class _Progress:
    """The terminal during the run: a banner when a step starts, then its events, each
    with control characters neutralised (they quote what the SBC sent), and a line every
    :data:`QUIET_AFTER` seconds of silence saying what the step waits for."""

    def __init__(self, env: Environment, plan: Plan, log: IO[str] | None,
                 clock: IReactorTime | None = None, quiet_after: float = QUIET_AFTER) -> None:
        self.env = env
        self.plan = plan
        self.log = log
        self.step = 0
        self.clock = clock
        self.quiet_after = quiet_after
        self._quiet: IDelayedCall | None = None
        self._silent_for = 0.0

    def _still_waiting(self) -> None:
        self._silent_for += self.quiet_after
        planned = self.plan.steps[self.step - 1]
        self.env.say(f"[{self.step}] waiting: nothing from the SBC for "
                     f"{self._silent_for:g} s; this step runs {planned.rule()} "
                     "(Ctrl-C ends the rehearsal with a report)")
        self._arm()

    def _arm(self) -> None:
        if self.clock is not None:
            self._quiet = self.clock.callLater(self.quiet_after, self._still_waiting)

    def stop(self) -> None:
        """No more waiting lines (the rehearsal ended)."""
        if self._quiet is not None and self._quiet.active():
            self._quiet.cancel()
        self._quiet = None

    def __call__(self, step: int, event: Event) -> None:
        from fakepeer.rehearse.render import printable
        from fakepeer.rehearse.report import event_line

        self.stop()
        self._silent_for = 0.0
        if event.kind != "stopped":
            self._arm()
        if step != self.step:
            self.step = step
            planned = self.plan.steps[step - 1]
            note = f" - {planned.note}" if planned.note else ""
            self.env.say(f"== step {step}/{len(self.plan.steps)}: {planned.scenario}, "
                         f"{planned.rule()}{printable(note)}")
        self.env.say(f"[{step}] " + printable(event.console_line()))
        if self.log is not None:
            self.log.write(json.dumps(event_line(step, event), default=str) + "\n")
            self.log.flush()


def _launch(args: argparse.Namespace, env: Environment, reactor: IRunReactor
            ) -> Job | ExitStatus:
    from fakepeer.app.runner import Work
    from fakepeer.rehearse.runner import Rehearsal, prepare_steps

    if args.idle_timeout <= 0:
        raise ConfigError(f"--idle-timeout {args.idle_timeout:g}: must be positive")
    plan, catalogue = _plan(args, env)
    addresses = listen_addresses(args.listen) if args.listen else plan.addresses()
    outputs = [_resolve(p, env) for p in (args.json_out, args.html_out) if p is not None]
    for output in outputs:  # fail now, not after an hour of rehearsal
        if not output.parent.is_dir():
            raise ConfigError(f"{output}: folder {output.parent} does not exist")
    pki = say_generation(open_pki(args, env.variables, env.cwd), env)
    keylog = None if args.check else open_keylog(args, env)  # --check makes no connection
    prepared = prepare_steps(plan, catalogue, pki, idle_timeout=args.idle_timeout,
                             keylog=keylog)
    steps = f"{len(plan.steps)} step" + ("s" if len(plan.steps) != 1 else "")
    env.say(f"Rehearsal: {plan.title} ({steps}) on "
            + ", ".join(f"{host}:{port}" for host, port in addresses))
    for number, step in enumerate(prepared, start=1):
        env.say(f"  {number}. {step.step.scenario}: {step.step.rule()}; expect "
                f"{step.scenario.expectation.summary()} - {step.scenario.purpose}")
        if any(effective.sip.dialback for _, effective in step.scenario.timeline()):
            env.warn(f"note: step {number} ({step.step.scenario}) asks for a dial-back; "
                     "rehearse serves it without dialling back (use `fakepeer serve` for that)")
    if args.check:
        env.say("Plan and certificates are ready (--check: not listening).")
        return ExitStatus.SUCCESS
    log = None
    if args.events:
        events_path = _resolve(args.events, env)
        events_path.parent.mkdir(parents=True, exist_ok=True)
        log = events_path.open("a", encoding="utf-8")
    progress = _Progress(env, plan, log, reactor)
    rehearsal = Rehearsal(reactor, prepared, addresses, progress)

    async def work() -> int:
        try:
            run = await rehearsal.run()
        finally:
            progress.stop()
            if log is not None:
                log.close()
        return _finish(args, env, plan, run)

    return with_keylog(Work(work, on_interrupt=rehearsal.interrupt), keylog, env)


def _finish(args: argparse.Namespace, env: Environment, plan: Plan, run: RunRecord
            ) -> ExitStatus:
    """Print the table, write the reports, and say how the rehearsal ended."""
    from fakepeer.rehearse.render import render_html, render_table
    from fakepeer.rehearse.report import build_report

    report = build_report(plan, run)
    env.say()
    env.say(render_table(report).rstrip("\n"))
    if args.json_out:
        _write(_resolve(args.json_out, env),
               json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    if args.html_out:
        _write(_resolve(args.html_out, env), render_html(report))
    if report.result == "FAIL":
        return ExitStatus.PEER_FAILED
    if report.result == "PASS":
        return ExitStatus.SUCCESS
    for problem in report.problems:  # NO CONNECTIONS or INCOMPLETE: say why, on stderr
        env.warn(f"fakepeer: {problem}")
    return ExitStatus.ERROR_CTRL_C if run.interrupted else ExitStatus.ERROR


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the report: {exc.strerror or exc}") from None
