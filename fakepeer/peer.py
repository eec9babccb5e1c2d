"""A scenario made real: the chain to serve, the TLS policy, the SIP settings, and the
briefing an engineer reads before pointing an SBC at fakepeer.

This is where the data flow joins: scenario -> certificates and TLS policy -> (listener).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography import x509

from fakepeer import sip, vocabulary
from fakepeer.errors import ScenarioError
from fakepeer.pki import export, mirrors
from fakepeer.pki.chain import ServedChain
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.keys import KeySpec
from fakepeer.pki.model import LeafProfile, SanEntry, dns
from fakepeer.pki.situation import Situation, build_situation
from fakepeer.scenario.model import Expectation, Scenario
from fakepeer.tls import GENESYS, MICROSOFT, TlsPolicy
from fakepeer.tls.inspect import load_system_roots
from fakepeer.tls.policy import oversize_ca_list, public_bundle_ca_list

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

@dataclass(frozen=True)
class RealizedPeer:
    """One scenario (at one phase) made real: what fakepeer serves and how it answers."""

    scenario: Scenario
    chain: ServedChain
    policy: TlsPolicy
    client_trust: tuple[x509.Certificate, ...]
    sip_profile: sip.SipProfile
    responder_policy: sip.ResponderPolicy
    #: Other chains by SNI name (the staged rollout), beside ``chain`` as the default.
    by_name: dict[str, ServedChain] = field(default_factory=dict)

    @property
    def expectation(self) -> Expectation:
        """What a correctly configured SBC does. A scenario built from command-line
        options says only "accept"; its defects then decide (an expired leaf must be
        refused)."""
        stated = self.scenario.expectation
        if self.scenario.source is not None or stated.reaction != "accept":
            return stated
        for use in map(vocabulary.parse_defect, self.scenario.defects):
            defect = use.defect
            if defect.refused_by_correct_sbc and defect.verify_error is not None:
                alert = vocabulary.ALERT_NAMES[vocabulary.openssl_alert_for(defect.verify_error)]
                return Expectation("reject", alert=alert, reason=defect.summary)
        return stated

    @property
    def expected(self) -> str:
        """The expectation in its compact form: accept, reject:ALERT, mark-down:STATUS."""
        return self.expectation.code


def _policy(scenario: Scenario, pki: Pki) -> TlsPolicy:
    policy = MICROSOFT if scenario.profile == "microsoft" else GENESYS
    spec = scenario.tls
    try:
        if spec.min_version or spec.max_version:
            policy = policy.with_versions(spec.min_version or policy.min_version,
                                          spec.max_version or spec.min_version
                                          or policy.max_version)
        if spec.ciphers:
            policy = policy.with_ciphers(*spec.ciphers)
        if spec.groups:
            policy = policy.with_groups(*spec.groups)
        if spec.client_certificate:
            policy = policy.with_client_certificate(spec.client_certificate)
        if spec.ca_list:
            policy = policy.with_ca_list(_ca_list(spec.ca_list, pki))
        if spec.tolerate_missing_client_auth:
            policy = policy.tolerating(26)
        defects = [*scenario.defects,
                   *(d for override in scenario.names for d in override.defects or ())]
        if spec.insecure_security_level is not None:
            policy = policy.with_insecure_security_level(spec.insecure_security_level)
        elif vocabulary.needs_security_level_0(defects, policy.min_version):
            # SHA-1, RSA-1024 and TLS 1.0/1.1 handshakes are refused by OpenSSL 3 at its
            # default level: serving them on purpose needs level 0.
            policy = policy.with_insecure_security_level(0)
    except ValueError as exc:
        raise ScenarioError(f"scenario {scenario.name}: {exc}") from None
    return policy


def _ca_list(choice: str, pki: Pki) -> tuple[x509.Name, ...]:
    if choice == "empty":
        return ()
    seven = tuple(c.certificate.subject for c in pki.certificates(vocabulary.SEVEN_ROOTS))
    if choice == "seven-roots":
        return seven
    bundle = public_bundle_ca_list(SYSTEM_BUNDLE)
    if choice == "public-bundle":
        return seven + bundle
    return oversize_ca_list(base=seven + bundle)


def client_trust(pki: Pki) -> tuple[x509.Certificate, ...]:
    """What the cloud trusts for SBC certificates: the real public roots of the system
    bundle plus fakepeer's mirrored public roots (which issue lab SBC certificates).
    fakepeer's own untrusted lab root is deliberately absent."""
    mirrored = tuple(c.certificate for c in pki.certificates([r.id for r in mirrors.ROOTS]))
    try:
        system = load_system_roots(SYSTEM_BUNDLE).roots
    except FileNotFoundError:
        system = ()
    return mirrored + tuple(system)


def leaf_profile(scenario: Scenario) -> LeafProfile | None:
    """The era's leaf with the scenario's ``[leaf]`` changes, or None when it has none."""
    spec = scenario.leaf
    if not spec.changes_anything:
        return None
    profile = mirrors.ERAS[scenario.era].leaf
    changes: dict[str, object] = {}
    if spec.common_name is not None:
        changes["subject"] = tuple((k, spec.common_name if k == "CN" else v)
                                   for k, v in profile.subject)
    if spec.dns_names is not None or spec.ip_addresses is not None:
        names = spec.dns_names if spec.dns_names is not None else profile.names
        changes["sans"] = (*dns(*names),
                           *(SanEntry("ip", address) for address in spec.ip_addresses or ()))
    if spec.key is not None:
        changes["key"] = KeySpec.parse(spec.key)
    if spec.hash is not None:
        changes["hash"] = spec.hash
    if spec.days is not None:
        changes["days"] = spec.days
    if spec.eku is not None:
        changes["eku"] = spec.eku
    return profile.but(**changes)


def realize(scenario: Scenario, pki: Pki) -> RealizedPeer:
    """Build what ``scenario`` (without phases: use ``Scenario.at_phase``) serves."""
    chain = build_situation(pki, Situation(scenario.era, scenario.path, scenario.defects,
                                           leaf_profile(scenario)))
    by_name = {}
    for override in scenario.names:
        variant = override.apply(scenario)
        by_name[override.name] = build_situation(
            pki, Situation(variant.era, variant.path, variant.defects,
                           leaf_profile(replace(variant, leaf=scenario.leaf))))
    profile = sip.MICROSOFT if scenario.profile == "microsoft" else sip.GENESYS
    responder = sip.ResponderPolicy(options_status=scenario.sip.options_status,
                                    invite_status=scenario.sip.invite_status)
    return RealizedPeer(scenario, chain, _policy(scenario, pki), client_trust(pki), profile,
                        responder, by_name)


def briefing(peer: RealizedPeer, listen: list[str]) -> list[str]:
    """What the engineer needs before pointing the SBC here, in reading order."""
    scenario, chain = peer.scenario, peer.chain
    era = mirrors.ERAS[scenario.era]
    lines = [f"fakepeer serves scenario '{scenario.name}': {scenario.description or era.title}",
             f"  listening on {', '.join(listen)}; chain {chain.label}", ""]
    lines += ["  " + line for line in export.s_client_chain(chain.sent)]
    names = [n for n in chain.names if not n.startswith("*.")] or list(chain.names)
    lines += ["", "  Dial one of (map it to this host in DNS or /etc/hosts): "
              + ", ".join(f"{n}:5061" for n in names)]
    lines.append("  Roots the SBC must trust:")
    for anchor in chain.trust_anchors:
        lines.append(f"    {export.openssl_oneline(anchor.subject)}")
        lines.append(f"      SHA-1 {export.colon_thumbprint(anchor)}")
    lines.append(f"    export them: fakepeer certs export --roots {scenario.era} --out roots/")
    policy = peer.policy
    lines.append(f"  TLS: {policy.min_version}..{policy.max_version}, ciphers "
                 f"{':'.join(policy.ciphers)}; client certificate {policy.client_certificate}")
    expectation = peer.expectation
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
    for name, variant in peer.by_name.items():
        lines.append(f"  SNI {name} gets a different chain: {variant.label}")
    return lines

