# -*- test-case-name: tests.rehearse.test_runner,tests.rehearse.test_loopback -*-
"""Run a plan's steps one after another in one reactor run.

Each step is one scenario served by :class:`~fakepeer.net.service.SipListeners`, exactly
as ``serve`` serves it: listen, collect every event, end after the step's duration or
its Nth judged connection, stop listening, let the open connections close, then listen
again on the same address with the next scenario. A port given as 0 is bound once and
kept, so the SBC dials one target for the whole rehearsal.

Nothing here touches sockets directly; the reactor and the listener class are
parameters, so the step logic is tested with a memory reactor and a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, FirstError, succeed
from twisted.internet.interfaces import IListeningPort, IReactorTime

from fakepeer.net.phases import PhaseRuntime, phase_runtimes
from fakepeer.net.reactors import IListenReactor
from fakepeer.net.service import SipListeners
from fakepeer.net.sip_protocol import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS
from fakepeer.pki.hierarchy import Pki
from fakepeer.realize import realize_timeline
from fakepeer.rehearse.plan import Plan, PlanStep
from fakepeer.report.events import Clock, Event, Sink, utc_now
from fakepeer.scenario.model import Scenario
from fakepeer.tls.keylog import KeyLog

#: After a step stops listening, its open connections get this long to close after
#: fakepeer's close_notify; then they are aborted, so one SBC that never answers the
#: close cannot hold up the rehearsal (the verdicts of aborted connections still count).
DRAIN_TIMEOUT = 5.0
#: How long aborted connections get to report their verdicts before the step ends anyway.
ABORT_GRACE = 1.0

#: Why a step ended.
ENDED_BY = ("duration", "connections", "interrupted", "listen-failed")

#: Receives each event with the number (1-based) of the step it belongs to; connection
#: ids start again at 1 in every step, so the step number is part of a connection's name.
StepSink = Callable[[int, Event], None]
ListenersFactory = Callable[[IListenReactor, list[PhaseRuntime], Sink, list[tuple[str, int]]],
                            SipListeners]


@dataclass(frozen=True, slots=True)
class PhaseInfo:
    """What a step's scenario serves in one phase of its own timeline, for the report."""

    name: str
    description: str
    ends: str
    expect: str


@dataclass(frozen=True, slots=True)
class PreparedStep:
    """A plan step with its scenario realised (certificates built) before anything listens,
    so a broken step fails the rehearsal before the SBC sees the first one."""

    step: PlanStep
    scenario: Scenario
    phases: tuple[PhaseRuntime, ...]
    phase_info: tuple[PhaseInfo, ...]


def prepare_steps(plan: Plan, scenarios: Mapping[str, Scenario], pki: Pki, *,
                  idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                  max_connections: int = DEFAULT_MAX_CONNECTIONS,
                  keylog: KeyLog | None = None) -> list[PreparedStep]:
    """Every step's phases, realised (:func:`~fakepeer.realize.realize_timeline`) and
    ready for the listener (:func:`~fakepeer.net.phases.phase_runtimes`)."""
    prepared = []
    for step in plan.steps:
        scenario = scenarios[step.scenario]
        timeline = realize_timeline(scenario, pki)
        phases = phase_runtimes(scenario.name, timeline, idle_timeout=idle_timeout,
                                max_connections=max_connections, keylog=keylog)
        info = tuple(PhaseInfo(phase.name, runtime.description, phase.ends,
                               realized.scenario.expectation.summary())
                     for (phase, realized), runtime in zip(timeline, phases, strict=True))
        prepared.append(PreparedStep(step, scenario, tuple(phases), info))
    return prepared


@dataclass
class StepRecord:
    """What happened during one step: when, why it ended, where it listened, every event."""

    number: int
    prepared: PreparedStep
    started: datetime
    ended: datetime | None = None
    ended_by: str = ""
    listening: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


@dataclass
class RunRecord:
    """A whole rehearsal as it ran; partial when interrupted or when a listen failed."""

    started: datetime | None = None
    ended: datetime | None = None
    steps: list[StepRecord] = field(default_factory=list)
    interrupted: bool = False
    error: str | None = None


class _StepLog:
    """The sink of one step's listeners: records events, counts open and judged
    connections, and says when the step's connection quota is reached or it drained."""

    def __init__(self, record: StepRecord, forward: StepSink, reactor: IReactorTime,
                 limit: int | None) -> None:
        self.record = record
        self.forward = forward
        self.reactor = reactor
        self.limit = limit
        self.open = 0
        self.judged = 0
        self.quota_reached: Deferred[str] = Deferred()
        self.forward_errors: list[str] = []
        self._drained: list[Deferred[None]] = []

    def __call__(self, event: Event) -> None:
        self.record.events.append(event)
        if event.kind == "tcp-accepted":
            self.open += 1
        elif event.kind == "verdict":
            self.open = max(self.open - 1, 0)
            self.judged += 1
            if self.limit is not None and self.judged >= self.limit:
                # Not from inside connectionLost: end the step on the next turn.
                self.reactor.callLater(0, _fire, self.quota_reached, "connections")
            if self.open == 0:
                waiting, self._drained = self._drained, []
                for waiter in waiting:
                    self.reactor.callLater(0, _fire, waiter, None)
        try:
            self.forward(self.record.number, event)
        except Exception as exc:  # a broken terminal or log must not stop the rehearsal
            self.forward_errors.append(f"{event.kind}: {exc}")

    def drained(self) -> Deferred[None]:
        if self.open == 0:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._drained.append(waiter)
        return waiter


def _fire(deferred: Deferred[Any], value: object) -> None:
    if not deferred.called:
        deferred.callback(value)


class CannotListen(Exception):  # noqa: N818 - reads as the sentence it reports
    """A step's address could not be bound (in use, not a local address...)."""


class Rehearsal:
    """Serve prepared steps in order on ``addresses``; ``run()`` fires with the record.

    ``interrupt()`` (Ctrl-C, SIGTERM) ends the current step at once, skips the rest and
    fires when the step's connections are closed, so the report still gets their
    verdicts.
    """

    def __init__(self, reactor: IListenReactor, steps: Sequence[PreparedStep],
                 addresses: Sequence[tuple[str, int]], sink: StepSink, *,
                 clock: Clock = utc_now, drain_timeout: float = DRAIN_TIMEOUT,
                 listeners_factory: ListenersFactory = SipListeners) -> None:
        if not steps:
            raise ValueError("a rehearsal needs at least one step")
        if not addresses:
            raise ValueError("a rehearsal needs at least one address to listen on")
        self.reactor = reactor
        self.steps = list(steps)
        self.addresses = list(addresses)
        self.sink = sink
        self.clock = clock
        self.drain_timeout = drain_timeout
        self.listeners_factory = listeners_factory
        self.record = RunRecord()
        self._ending: Deferred[str] | None = None
        self._finished = False
        self._waiting: list[Deferred[None]] = []

    def run(self) -> Deferred[RunRecord]:
        coroutine: Coroutine[Deferred[Any], Any, RunRecord] = self._run()
        return Deferred.fromCoroutine(coroutine)

    def interrupt(self) -> Deferred[None]:
        """End the current step now and run no more; fires once everything is closed."""
        if self._finished:
            return succeed(None)
        self.record.interrupted = True
        waiter: Deferred[None] = Deferred()
        self._waiting.append(waiter)  # first: the step may end within the _fire below
        if self._ending is not None:
            _fire(self._ending, "interrupted")
        return waiter

    async def _run(self) -> RunRecord:
        self.record.started = self.clock()
        addresses = list(self.addresses)
        try:
            for number, prepared in enumerate(self.steps, start=1):
                if self.record.interrupted:
                    break
                record = StepRecord(number, prepared, self.clock())
                self.record.steps.append(record)
                try:
                    addresses = await self._serve(record, addresses)
                except CannotListen as exc:
                    record.ended, record.ended_by = self.clock(), "listen-failed"
                    self.record.error = f"step {number} ({prepared.step.scenario}): {exc}"
                    break
        finally:
            self.record.ended = self.clock()
            self._finished = True
            waiting, self._waiting = self._waiting, []
            for waiter in waiting:
                waiter.callback(None)
        return self.record

    async def _serve(self, record: StepRecord,
                     addresses: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """One step on the network; returns the addresses actually bound (port 0 resolved)
        for the next step to listen on."""
        step = record.prepared.step
        log = _StepLog(record, self.sink, self.reactor, step.until_connections)
        listeners = self.listeners_factory(self.reactor, list(record.prepared.phases), log,
                                           addresses)
        try:
            ports = await listeners.listen()
        except FirstError as exc:
            await self._stop(listeners, log)
            host, port = addresses[exc.index]
            raise CannotListen(f"cannot listen on {host}:{port}: "
                               f"{exc.subFailure.getErrorMessage()}") from None
        bound = [(host, _port_number(port)) for (host, _), port in zip(addresses, ports,
                                                                         strict=True)]
        record.listening = [f"{host}:{port}" for host, port in bound]
        self._ending = log.quota_reached
        timer = None
        if step.duration is not None:
            timer = self.reactor.callLater(step.duration, _fire, log.quota_reached,
                                           "duration")
        if self.record.interrupted:
            _fire(log.quota_reached, "interrupted")
        record.ended_by = await log.quota_reached
        self._ending = None
        if timer is not None and timer.active():
            timer.cancel()
        await self._stop(listeners, log)
        record.ended = self.clock()
        return bound

    async def _stop(self, listeners: SipListeners, log: _StepLog) -> None:
        """Stop listening and close the step's connections (politely, then by force)."""
        await listeners.stopService()
        if await _within(self.reactor, log.drained(), self.drain_timeout):
            return
        for protocol in list(listeners.sip_factory.active):
            protocol.closing_reason = "fakepeer aborted the connection at the end of the step"
            protocol.transport.abortConnection()
        await _within(self.reactor, log.drained(), ABORT_GRACE)


def _port_number(port: IListeningPort) -> int:
    address = port.getHost()
    assert isinstance(address, IPv4Address | IPv6Address)  # a TCP port's address
    return address.port


async def _within(reactor: IReactorTime, deferred: Deferred[None], seconds: float) -> bool:
    """Whether ``deferred`` fired within ``seconds`` (it is cancelled if not)."""
    if deferred.called:
        return True
    deferred.addTimeout(seconds, reactor)
    try:
        await deferred
    except Exception:  # the timeout's TimeoutError, or the cancellation it caused
        return False
    return True
