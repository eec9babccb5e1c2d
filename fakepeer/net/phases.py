"""A timeline of phases: which TLS creator and SIP settings new connections get, and
when to move on (after a duration, or after N connections), as the real cutovers did.
:func:`phase_runtimes` turns realised phases (:mod:`fakepeer.realize`) into them.

Connections keep the phase they started in; only new handshakes see a new chain, which
is how a real proxy fleet rolls over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twisted.internet.interfaces import (
    IDelayedCall,
    IOpenSSLServerConnectionCreator,
    IReactorTime,
)
from zope.interface import implementer

from fakepeer import sip
from fakepeer.errors import ConfigError
from fakepeer.net.sip_protocol import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    OptionsHook,
    ServeSettings,
    SipServerFactory,
)
from fakepeer.realize import RealizedScenario
from fakepeer.report.events import Event, Sink
from fakepeer.scenario.model import Phase
from fakepeer.tls import ServerConnectionCreator
from fakepeer.tls.keylog import KeyLog


@dataclass(frozen=True)
class PhaseRuntime:
    """One phase, ready to serve."""

    name: str
    creator: ServerConnectionCreator
    settings: ServeSettings
    duration: float | None = None
    until_connections: int | None = None
    description: str = ""


def phase_runtimes(name: str, timeline: Sequence[tuple[Phase, RealizedScenario]], *,
                   idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                   max_connections: int = DEFAULT_MAX_CONNECTIONS,
                   on_options_accepted: Sequence[OptionsHook | None] = (),
                   keylog: KeyLog | None = None,
                   connection_verdicts: bool = True) -> list[PhaseRuntime]:
    """What the listener runs for each realised phase of scenario ``name`` (as
    :func:`fakepeer.realize.realize_timeline` gives them): its TLS creator and SIP
    settings. ``on_options_accepted`` gives each phase its hook after a 200 OK to an
    OPTIONS (the dial-back), in phase order; without it no phase has one. ``keylog``
    gets the TLS secrets of every connection served (``--keylog``).
    ``connection_verdicts`` False: connections do not judge themselves (``serve`` judges
    per SBC session)."""
    hooks = list(on_options_accepted) or [None] * len(timeline)
    if len(hooks) != len(timeline):
        raise ValueError(f"{len(hooks)} hooks for {len(timeline)} phases")
    runtimes: list[PhaseRuntime] = []
    for (phase, realized), hook in zip(timeline, hooks, strict=True):
        try:
            creator = ServerConnectionCreator(realized.policy, realized.chain,
                                              realized.chains_by_sni(),
                                              client_trust=realized.client_trust,
                                              keylog=keylog)
        except ValueError as exc:
            raise ConfigError(f"scenario {name}: {exc}") from None
        label = name + (f"/{phase.name}" if len(timeline) > 1 else "")
        served = realized.scenario
        settings = ServeSettings(
            profile=realized.sip_profile, responder_policy=realized.responder_policy,
            tenant_domains=served.sip.tenant_domains, limits=sip.Limits(),
            idle_timeout=idle_timeout, max_connections=max_connections,
            options_delay=served.sip.options_delay,
            options_action=served.sip.options_action,
            expectation=realized.expectation, label=label, on_options_accepted=hook,
            connection_verdicts=connection_verdicts)
        runtimes.append(PhaseRuntime(phase.name, creator, settings, phase.duration,
                                     phase.until_connections,
                                     phase.description or realized.chain.label))
    return runtimes


@implementer(IOpenSSLServerConnectionCreator)
class PhaseSwitch:
    """Hands each new TLS connection to the current phase's creator and moves the
    timeline on. With one phase it is a plain pass-through."""

    def __init__(self, reactor: IReactorTime, phases: list[PhaseRuntime], factory: SipServerFactory,
                 sink: Sink, clock: Callable[[], datetime]) -> None:
        if not phases:
            raise ValueError("a timeline needs at least one phase")
        self.reactor = reactor
        self.phases = phases
        self.factory = factory
        self.sink = sink
        self.clock = clock
        self.index = -1
        self._connections_in_phase = 0
        self._timer: IDelayedCall | None = None

    @property
    def current(self) -> PhaseRuntime:
        return self.phases[max(self.index, 0)]

    def start(self) -> None:
        self._enter(0)

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()

    def load(self, phases: list[PhaseRuntime]) -> None:
        """Serve another timeline from its first phase (a scenario switch or a reload);
        connections already open keep what they had."""
        if not phases:
            raise ValueError("a timeline needs at least one phase")
        self.stop()
        self.phases = phases
        self._enter(0)

    def jump(self, index: int) -> None:
        """Move to phase ``index`` now (the control API's phase switch)."""
        if not 0 <= index < len(self.phases):
            raise IndexError(f"phase {index} does not exist (0-{len(self.phases) - 1})")
        self.stop()
        self._enter(index)

    def _enter(self, index: int) -> None:
        self.index = index
        self._connections_in_phase = 0
        phase = self.phases[index]
        self.factory.settings = phase.settings
        if len(self.phases) > 1:
            self.sink(Event("phase", 0, "-", f"phase {index + 1}/{len(self.phases)} "
                            f"'{phase.name}': {phase.description or phase.settings.label}",
                            {"index": index, "name": phase.name, "label": phase.settings.label},
                            self.clock()))
        if phase.duration is not None and index + 1 < len(self.phases):
            self._timer = self.reactor.callLater(phase.duration, self._enter, index + 1)

    def serverConnectionForTLS(self, tlsProtocol: object) -> Any:
        phase = self.current
        connection = phase.creator.serverConnectionForTLS(tlsProtocol)
        self._connections_in_phase += 1
        limit = phase.until_connections
        if limit is not None and self._connections_in_phase >= limit and \
                self.index + 1 < len(self.phases):
            self._enter(self.index + 1)
        return connection
