"""What ``serve`` tells the engineer before an SBC is pointed at it: the scenario, the
chain and the roots to trust, the TLS policy, what a correct SBC does, the timeline."""

from __future__ import annotations

from collections.abc import Sequence

from fakepeer.net.phases import PhaseRuntime
from fakepeer.pki import export, mirrors
from fakepeer.realize import RealizedScenario
from fakepeer.scenario.model import Scenario


def briefing(realized: RealizedScenario, listen: list[str]) -> list[str]:
    """What the engineer needs before pointing the SBC here, in reading order; ``listen``
    are the bound ``HOST:PORT`` addresses (the first one's port is the one to dial)."""
    scenario, chain = realized.scenario, realized.chain
    era = mirrors.ERAS[scenario.era]
    lines = [f"fakepeer serves scenario '{scenario.name}': {scenario.purpose or era.title}",
             f"  listening on {', '.join(listen)}; chain {chain.label}", ""]
    lines += ["  " + line for line in export.s_client_chain(chain.sent)]
    names = [n for n in chain.names if not n.startswith("*.")] or list(chain.names)
    port = listen[0].rsplit(":", 1)[-1] if listen else "5061"
    lines += ["", "  Dial one of (map it to this host in DNS or /etc/hosts): "
              + ", ".join(f"{n}:{port}" for n in names)]
    lines.append("  Roots the SBC must trust:")
    for anchor in chain.trust_anchors:
        lines.append(f"    {export.openssl_oneline(anchor.subject)}")
        lines.append(f"      SHA-1 {export.colon_thumbprint(anchor)}")
    lines.append(f"    export them: {realized.roots_command}")
    policy = realized.policy
    lines.append(f"  TLS: {policy.min_version}..{policy.max_version}, ciphers "
                 f"{':'.join(policy.ciphers)}; client certificate {policy.client_certificate}")
    expectation = realized.expectation
    if expectation.reaction == "accept":
        lines.append("  A correctly configured SBC completes TLS, sends OPTIONS with its "
                     "FQDN in Contact and gets 200 OK.")
    elif expectation.reaction == "reject" and expectation.by == "fakepeer":
        lines.append("  fakepeer refuses the SBC here, as the real peer would"
                     + (f" (alert {expectation.alert})." if expectation.alert else "."))
    elif expectation.reaction == "reject":
        lines.append("  A correctly configured SBC refuses this chain"
                     + (f" (it should send alert {expectation.alert})."
                        if expectation.alert else "."))
    else:
        status = f" {expectation.sip_status}" if expectation.sip_status else ""
        lines.append(f"  fakepeer answers{status or ' nothing'}: a correctly configured SBC "
                     "marks this proxy down and uses another.")
    for extra in (expectation.reason, expectation.setup):
        if extra:
            lines.append("  " + extra.strip().replace("\n", "\n  "))
    for name, variant in realized.chains_by_name.items():
        lines.append(f"  SNI {name} gets a different chain: {variant.label}")
    if realized.chains_by_name:
        lines.append(f"  Note: an SBC that sends no SNI (Kamailio's dispatcher never does) "
                     f"always gets the default chain {chain.label}; to rehearse a name's "
                     "chain with it, point that name at another fakepeer serving the "
                     "name's path (--path), or use an SBC that sends SNI")
    return lines


def timeline_lines(scenario: Scenario, phases: Sequence[PhaseRuntime]) -> list[str]:
    """The phases of a timeline, one line each (nothing for a single phase)."""
    if len(phases) <= 1:
        return []
    lines = ["  Timeline:"]
    for number, (phase, runtime) in enumerate(zip(scenario.phases, phases, strict=True),
                                              start=1):
        lines.append(f"    {number}. {phase.name}: {runtime.description} (ends {phase.ends})")
    return lines
