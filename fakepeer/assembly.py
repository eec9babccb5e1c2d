"""Where the data flow meets the network: a scenario's timeline realised into what the
listener runs (per phase: the TLS creator and the SIP settings).

``serve`` and ``rehearse`` both start here.
"""

from __future__ import annotations

from fakepeer import sip
from fakepeer.errors import ConfigError
from fakepeer.net.phases import PhaseRuntime
from fakepeer.net.sip_protocol import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, ServeSettings
from fakepeer.peer import RealizedPeer, realize
from fakepeer.pki.hierarchy import Pki
from fakepeer.scenario.model import Scenario
from fakepeer.tls import ServerConnectionCreator


def build_phases(scenario: Scenario, pki: Pki, *, idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS
                 ) -> tuple[list[PhaseRuntime], RealizedPeer]:
    """Each phase of the timeline realised, and the first phase's peer (for the briefing)."""
    runtimes: list[PhaseRuntime] = []
    first: RealizedPeer | None = None
    for phase, effective in scenario.timeline():
        peer = realize(effective, pki)
        first = first or peer
        by_name = {name: peer.chain for name in peer.chain.names}
        by_name.update(peer.by_name)
        try:
            creator = ServerConnectionCreator(peer.policy, peer.chain, by_name,
                                              client_trust=peer.client_trust)
        except ValueError as exc:
            raise ConfigError(f"scenario {scenario.name}: {exc}") from None
        label = scenario.name + (f"/{phase.name}" if len(scenario.phases) > 1 else "")
        settings = ServeSettings(
            profile=peer.sip_profile, responder_policy=peer.responder_policy,
            tenant_domains=effective.sip.tenant_domains, limits=sip.Limits(),
            idle_timeout=idle_timeout, max_connections=max_connections,
            options_delay=effective.sip.options_delay,
            options_action=effective.sip.options_action,
            expectation=peer.expectation, label=label)
        runtimes.append(PhaseRuntime(phase.name, creator, settings, phase.duration,
                                     phase.until_connections,
                                     phase.description or peer.chain.label))
    assert first is not None  # timeline() always has at least one phase
    return runtimes, first
