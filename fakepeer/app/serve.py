# -*- test-case-name: tests.serve -*-
"""``fakepeer serve`` as a service tree: what runs while fakepeer stands in for a peer.

:class:`ServeApplication` is a ``MultiService`` that owns the SIP listeners (one TLS
factory on every address, as endpoint strings), the HTTP side (roots, AIA, CRL, OCSP,
status page and control API) and the dial-back of each served phase; it switches,
reloads and jumps the scenario it serves, and hands every record to its consumers (the
console or JSON lines on the output, the status board, the ``--events`` file) and to the
:class:`~fakepeer.report.sessions.SessionJudge`, whose verdicts per SBC session go to the
same consumers as soon as they are known (its windows end on a one-second tick). The
network edge still reports untyped events; :class:`~fakepeer.report.upgrade.
LegacyUpgrade`, in front of the consumers, turns them into typed records. It is
built from a :class:`ServeConfig` before anything runs (so a bad scenario or store fails
at once, with one line), takes the reactor as a parameter and never runs it:
:func:`fakepeer.app.runner.run` does (``serve_job`` makes the job it runs), and a test
starts it on its own reactor.
"""

from __future__ import annotations

import contextlib
import resource
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from twisted.application.service import MultiService
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, FirstError, gatherResults
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from fakepeer.app.outbound import DialbackSettings
from fakepeer.app.runner import ServiceJob
from fakepeer.errors import FakepeerError, ScenarioError
from fakepeer.net.endpoints import server_endpoint
from fakepeer.net.http import ControlActions, build_site
from fakepeer.net.phases import PhaseRuntime, phase_runtimes
from fakepeer.net.reactors import IRunReactor
from fakepeer.net.service import EndpointService, SipListeners
from fakepeer.net.sip_protocol import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS
from fakepeer.pki.hierarchy import Pki
from fakepeer.realize import NameServing, RealizedScenario, realize_timeline
from fakepeer.report.board import StatusBoard
from fakepeer.report.events import (
    Fanout,
    Listening,
    ReloadRefused,
    Served,
    Serving,
    ServingCause,
    SessionVerdict,
    TlsEstablished,
    TlsFailed,
    utc_now,
)
from fakepeer.report.jsonl import ConsoleSink, JsonLinesSink
from fakepeer.report.sessions import DEFAULT_JUDGEMENT_WINDOW, SessionJudge
from fakepeer.report.upgrade import LegacyUpgrade
from fakepeer.scenario.load import Catalogue
from fakepeer.scenario.model import Phase, Scenario
from fakepeer.tls.keylog import KeyLog

Timeline = tuple[tuple[Phase, RealizedScenario], ...]


@dataclass(frozen=True)
class ServeConfig:
    """Everything ``serve`` was asked to do, as values (the CLI parses them).

    ``catalogue`` reads the scenario catalogue afresh (a switch or a reload sees files
    changed since the start); ``output`` gets one line per event, readable or JSON.
    """

    scenario: Scenario
    pki: Pki
    listen: Sequence[tuple[str, int]]
    output: TextIO
    #: Where fakepeer's own problems go (a sink that fails, records lost).
    errors: TextIO = field(default_factory=lambda: sys.stderr)
    http: tuple[str, int] | None = None
    http_token: str | None = None
    json: bool = False
    events: Path | None = None
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    dialback: DialbackSettings = field(default_factory=DialbackSettings)
    catalogue: Callable[[], Catalogue] = field(default=Catalogue)
    #: Where every served connection's TLS secrets go (``--keylog``); the dial-back's
    #: come from ``dialback.outbound.keylog``.
    keylog: KeyLog | None = None
    #: How long after its handshake a connection without SIP is judged (seconds).
    judgement_window: float = DEFAULT_JUDGEMENT_WINDOW


#: How often the session judge is told the time, so judgement windows end on time.
JUDGE_TICK = 1.0
#: fakepeer's own problems the status page keeps (the latest; all went to stderr).
PROBLEMS_KEPT = 20


class ServeApplication(MultiService):
    """The running ``serve`` (see the module docstring)."""

    def __init__(self, reactor: IRunReactor, config: ServeConfig, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # MultiService is not annotated
        self.reactor = reactor
        self.config = config
        self.clock = clock
        self.scenario = config.scenario
        self.judge = SessionJudge(self._verdict, window=config.judgement_window)
        self.board = StatusBoard(judge=self.judge)
        self.board.scenario = self.scenario.name
        sinks: list[Any] = [JsonLinesSink(config.output) if config.json
                            else ConsoleSink(config.output), self.board]
        self.log = JsonLinesSink.open(config.events) if config.events else None
        if self.log is not None:
            sinks.append(self.log)
        # The judge last: a verdict a record decides is written after that record.
        self._without_sni: set[str] = set()
        self.records = Fanout(*sinks, self._sni_notice, self.judge,
                              on_failure=self._sink_failed)
        self.sink = LegacyUpgrade(self.records, on_notice=self._problem)
        self.ticking = LoopingCall(self._tick)
        self.ticking.clock = reactor
        self.timeline, self.phases = self._realize(self.scenario)
        self.listeners = SipListeners(reactor, self.phases, self.sink, list(config.listen),
                                      clock)
        self._attach(self.phases)
        self.addService(self.listeners)  # type: ignore[no-untyped-call]  # not annotated
        self.http: EndpointService | None = None
        if config.http is not None:
            host, port = config.http
            site = build_site(config.pki, self.board, ControlActions(self.switch, self.jump),
                              config.http_token, sink=self.sink)
            self.http = EndpointService(server_endpoint(reactor, host, port), site,
                                        self._http_listening)
            self.addService(self.http)  # type: ignore[no-untyped-call]  # not annotated

    # -- the phases served -------------------------------------------------------------
    def _realize(self, scenario: Scenario, *, announce: bool = True
                 ) -> tuple[Timeline, list[PhaseRuntime]]:
        timeline = realize_timeline(scenario, self.config.pki)
        hooks = self.config.dialback.dialbacks(self.reactor,
                                               [realized for _, realized in timeline])
        phases = phase_runtimes(scenario.name, timeline,
                                idle_timeout=self.config.idle_timeout,
                                max_connections=self.config.max_connections,
                                on_options_accepted=hooks, keylog=self.config.keylog,
                                connection_verdicts=False)
        for (phase, realized), runtime in zip(timeline, phases, strict=True):
            self.sink.know(*_served(scenario, phase, realized, runtime, len(phases),
                                    self.clock()))
        if announce and len(phases) == 1:  # a timeline announces its phases itself
            self._serving(phases[0].settings.label, "start")
        return timeline, phases

    def _serving(self, label: str, cause: ServingCause) -> None:
        serving = self.sink.serving(label, self.clock(), cause)
        if serving is not None:
            self.sink(serving)

    def _attach(self, phases: Sequence[PhaseRuntime]) -> None:
        """Let each phase's dial-back report through the listener (its events join the
        inbound connection's, its connections take ids from the listener's counter)."""
        for runtime in phases:
            hook: Any = runtime.settings.on_options_accepted
            if hook is not None:
                hook.attach(self.listeners.sip_factory)

    def switch(self, name: str, *, reload: bool = False) -> str:
        """Serve another catalogue scenario (or re-read the current one's file) from its
        first phase; connections already open keep what they had."""
        catalogue = self.config.catalogue()
        chosen = catalogue.get_scenario(name)  # unknown, or a broken file's own error
        timeline, phases = self._realize(chosen, announce=False)
        self._attach(phases)
        self.listeners.timeline.load(phases)
        self.timeline, self.phases, self.scenario = timeline, phases, chosen
        self.board.scenario = chosen.name
        verb = "reloaded" if reload else "now serving"
        self._serving(phases[0].settings.label, "reload" if reload else "switch")
        return f"{verb} scenario {chosen.name}"

    def jump(self, index: int) -> str:
        """Move the current scenario's timeline to phase ``index`` now."""
        try:
            self.listeners.timeline.jump(index)
        except IndexError as exc:
            raise ScenarioError(str(exc)) from None
        return f"phase {index} of {self.scenario.name}"

    def reload(self) -> None:
        """SIGHUP: re-read the served scenario's file; a bad file keeps the running one."""
        name = self.scenario.name
        if self.scenario.source is None:
            self.sink(ReloadRefused(time=self.clock(), scenario=name, problem=(
                "SIGHUP: the scenario comes from command-line options; nothing to reload")))
            return
        try:
            self.switch(name, reload=True)
        except FakepeerError as exc:
            self.sink(ReloadRefused(time=self.clock(), scenario=name,
                                    problem=f"SIGHUP reload failed, still serving {name}: {exc}"))

    # -- running -----------------------------------------------------------------------
    def startService(self) -> None:
        raise_fd_limit()
        super().startService()  # type: ignore[no-untyped-call]  # MultiService is not annotated
        self.ticking.start(JUDGE_TICK, now=False)

    # -- judging -----------------------------------------------------------------------
    def _tick(self) -> None:
        self.judge.tick(self.clock())

    def _verdict(self, verdict: SessionVerdict) -> None:
        """A session's verdict, to the same consumers as the records it judges."""
        self.records(verdict)

    def ready(self) -> Deferred[object]:
        """Fires once every SIP address and the HTTP side listen; fails with a
        :class:`~fakepeer.errors.FakepeerError` ("cannot listen: ...") if one cannot."""
        waiting: list[Deferred[Any]] = []
        if self.listeners.listening is not None:
            waiting.append(self.listeners.listening)
        if self.http is not None and self.http.listening is not None:
            waiting.append(self.http.listening)
        ready: Deferred[Any] = gatherResults(waiting, consumeErrors=True)
        return ready.addErrback(_cannot_listen)

    def sip_addresses(self) -> list[tuple[str, int]]:
        """Where the SIP listeners are bound (the real ports, once :meth:`ready` fired)."""
        bound = [port.getHost() for port in self.listeners.ports]
        return [(a.host, a.port) for a in bound if isinstance(a, IPv4Address | IPv6Address)]

    def _http_listening(self, port: IListeningPort) -> None:
        bound = port.getHost()
        assert isinstance(bound, IPv4Address | IPv6Address)  # a TCP port's address
        self.sink(Listening(time=self.clock(), address=f"{bound.host}:{bound.port}",
                            service="http"))

    def stopService(self) -> Deferred[Any]:
        stopping: Deferred[Any] = super().stopService()  # type: ignore[no-untyped-call]
        return stopping.addBoth(self._stop_judging).addBoth(self._close_log)

    def _stop_judging(self, result: object) -> object:
        """After the last connection's records: no more ticks, and (on the console) one
        block per SBC session: its verdict and its counts (issue 9 item 5)."""
        if self.ticking.running:
            self.ticking.stop()
        lines = [] if self.config.json else self.judge.summary_lines()
        if lines:
            with contextlib.suppress(OSError, ValueError):  # the console may be gone
                print("\n".join(["sessions:", *lines]), file=self.config.output,
                      flush=True)
        return result

    def _close_log(self, result: object) -> object:
        if self.log is not None:
            self.log.close()
        for line in self.records.loss_lines():
            self._problem(line)
        return result

    # -- fakepeer's own problems ---------------------------------------------------------
    def _sink_failed(self, name: str, error: Exception) -> None:
        """A sink failed for the first time: say so once, loudly; serving goes on and
        what it misses is counted (see :class:`~fakepeer.report.events.Fanout`)."""
        self._problem(f"cannot write to {name}: {error}; its records are being lost "
                      "(serving goes on; the count comes at exit)")

    def _sni_notice(self, record: object) -> None:
        """Say once per SBC address that it sent no SNI while the scenario serves chains
        by name: such an SBC (Kamailio's dispatcher never sends SNI) meets the default
        chain only, so the per-name part of the scenario tests nothing for it."""
        if not isinstance(record, TlsEstablished | TlsFailed) or record.sni is not None \
                or record.direction != "inbound":
            return
        names = sorted({name for _, realized in self.timeline
                        for name in realized.chains_by_name})
        host = record.peer.rsplit(":", 1)[0]
        if not names or host in self._without_sni:
            return
        self._without_sni.add(host)
        self._problem(f"warning: {host} sent no SNI, so it gets the default chain only; "
                      f"this scenario serves other chains to {', '.join(names)} (an SBC "
                      "must send SNI for those)")

    def _problem(self, line: str) -> None:
        self.board.problems.append(line)
        del self.board.problems[:-PROBLEMS_KEPT]  # refusals repeat for as long as a flood
        with contextlib.suppress(OSError):  # stderr gone: the status page still shows it
            print(f"fakepeer: {line}", file=self.config.errors, flush=True)


def _served(scenario: Scenario, phase: Phase, realized: RealizedScenario,
            runtime: PhaseRuntime, count: int, now: datetime
            ) -> tuple[dict[str | None, Served], Serving]:
    """What one phase serves, as the records say it: per SNI name (``None``: the
    default) the chain, its path and anchor and what a correct SBC does against it; and
    the phase with its full expectation (the judge takes the scenario's hints from it)."""
    settings = runtime.settings
    dialback = settings.on_options_accepted is not None

    def one(serving: NameServing) -> Served:
        return Served(label=settings.label, name=serving.name, chain=serving.chain.label,
                      era=serving.era, path=serving.path, anchor=serving.anchor,
                      expectation=serving.expectation.code, by=serving.expectation.by,
                      dialback=dialback)

    served: dict[str | None, Served] = {None: one(realized.serving)}
    served.update((name, one(serving)) for name, serving in realized.serving_by_name.items())
    index = next((i for i, (p, _) in enumerate(scenario.timeline()) if p is phase), 0)
    serving = Serving(time=now, label=settings.label, scenario=scenario.name,
                      phase=phase.name if count > 1 else "", phase_index=index,
                      phase_count=count, description=runtime.description,
                      expectation=realized.expectation, dialback=dialback)
    return served, serving


def serve_job(application: ServeApplication,
              on_ready: Callable[[], object] | None = None) -> ServiceJob:
    """The job :func:`fakepeer.app.runner.run` runs for ``serve``: start the tree, fail
    if an address cannot be bound, reload on SIGHUP, stop cleanly on SIGINT/SIGTERM.
    ``on_ready`` runs once everything listens (the briefing, with the real ports: never
    before a listen that fails)."""
    def ready() -> Deferred[object]:
        listening = application.ready()
        if on_ready is not None:
            listening.addCallback(lambda result: (on_ready(), result)[1])
        return listening

    return ServiceJob(application, ready=ready, on_reload=application.reload)


def _cannot_listen(reason: Failure) -> Failure:
    """The first failure inside the gathered ones, as the one line the user reads."""
    while isinstance(reason.value, FirstError):
        reason = reason.value.subFailure
    return Failure(FakepeerError(f"cannot listen: {reason.getErrorMessage()}"))


def raise_fd_limit() -> None:
    """Each SBC connection is a file descriptor; the usual soft limit of 1024 is too low
    for a lab rehearsing many SBCs, so lift it to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 16
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
