# -*- test-case-name: tests.test_realize -*-
"""The one place a scenario is made real: certificates, TLS policy, SIP answers, the
client certificate of the dial-back and what a correct SBC does, as one frozen value.

``serve`` and ``rehearse`` listen with it, ``probe`` and the dial-back dial with it,
``scenarios show`` describes it and ``certs generate`` stocks the store with it, so what
is shown, served and presented cannot differ. Data flows one way: scenario (at a phase,
for an SNI name) + the PKI -> :class:`RealizedScenario`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cryptography import x509

from fakepeer import sip, vocabulary
from fakepeer.errors import ScenarioError
from fakepeer.pki import mirrors
from fakepeer.pki.chain import ServedChain
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.keys import KeySpec
from fakepeer.pki.model import LeafProfile, SanEntry, dns
from fakepeer.pki.situation import Situation, build_situation
from fakepeer.profiles import Profile, profile_named
from fakepeer.scenario.model import Expectation, Phase, Scenario
from fakepeer.tls import TlsPolicy
from fakepeer.tls.inspect import load_system_roots
from fakepeer.tls.policy import SYSTEM_BUNDLE, oversize_ca_list, public_bundle_ca_list

#: What a verifier accepts as a client certificate's purpose failure when a scenario
#: tolerates a missing clientAuth EKU (the late-2025 relaxation): X509_V_ERR_INVALID_PURPOSE.
_INVALID_PURPOSE = 26


@dataclass(frozen=True)
class RealizedScenario:
    """One scenario at one phase, made real: everything a fake peer needs.

    ``chain`` is served to an SBC whose SNI names no override, ``chains_by_name`` to the
    others (:meth:`chain_for` picks). ``dialback_chain`` is the client certificate the
    peer presents when it dials the SBC back (the chain it serves, leaf changes and
    defects included: the proxy dials back with its own certificate), ``None`` for a
    profile that presents none; ``dialback_policy`` the TLS policy it dials with.
    """

    scenario: Scenario
    profile: Profile
    chain: ServedChain
    policy: TlsPolicy
    client_trust: tuple[x509.Certificate, ...]
    responder_policy: sip.ResponderPolicy
    dialback_chain: ServedChain | None
    dialback_policy: TlsPolicy
    expectation: Expectation
    chains_by_name: Mapping[str, ServedChain] = field(
        default_factory=lambda: MappingProxyType({}))

    @property
    def sip_profile(self) -> sip.SipProfile:
        return self.profile.sip

    @property
    def expected(self) -> str:
        """The expectation in its compact form: accept, reject:ALERT, mark-down:STATUS."""
        return self.expectation.code

    def chain_for(self, server_name: str | None) -> ServedChain:
        """What an SBC that sent ``server_name`` in SNI (``None``: no SNI) is served."""
        wanted = (server_name or "").lower().rstrip(".")
        return self.chains_by_name.get(wanted, self.chain)

    def chains_by_sni(self) -> dict[str, ServedChain]:
        """Every SNI name a TLS creator should recognise: the default chain's own names,
        then the overrides."""
        return {**{name: self.chain for name in self.chain.names}, **self.chains_by_name}


def realize(scenario: Scenario, pki: Pki, *, phase: int | None = None,
            server_name: str | None = None) -> RealizedScenario:
    """Make ``scenario`` real as served during ``phase`` (default: the first, for a
    scenario with a timeline) and, with ``server_name``, as served to that SNI name."""
    served = scenario.at_phase(phase if phase is not None else 0) if scenario.phases \
        else scenario
    if server_name is not None:
        served = served.for_name(server_name)
    profile = profile_named(served.profile)
    chain = _chain(served, pki)
    by_name = {override.name: _chain(override.apply(served), pki) for override in served.names}
    policy = _server_policy(served, pki)
    dial_policy = profile.client_policy
    if vocabulary.needs_security_level_0(served.defects):
        # The dial-back presents the served chain, which OpenSSL refuses to load at its
        # default level when it carries SHA-1 or RSA-1024 on purpose.
        dial_policy = dial_policy.with_insecure_security_level(0)
    return RealizedScenario(
        scenario=served, profile=profile, chain=chain, policy=policy,
        client_trust=client_trust(pki),
        responder_policy=sip.ResponderPolicy(options_status=served.sip.options_status,
                                             invite_status=served.sip.invite_status),
        dialback_chain=chain if profile.presents_client_certificate else None,
        dialback_policy=dial_policy, expectation=_expectation(served),
        chains_by_name=MappingProxyType(by_name),
    )


def realize_timeline(scenario: Scenario, pki: Pki
                     ) -> tuple[tuple[Phase, RealizedScenario], ...]:
    """Each phase of the timeline with what it serves (one open-ended phase when the
    scenario has none)."""
    return tuple((phase, realize(scenario, pki, phase=index if scenario.phases else None))
                 for index, (phase, _) in enumerate(scenario.timeline()))


def _chain(served: Scenario, pki: Pki) -> ServedChain:
    return build_situation(pki, Situation(served.era, served.path, served.defects,
                                          _leaf_profile(served)))


def _leaf_profile(scenario: Scenario) -> LeafProfile | None:
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


def _expectation(scenario: Scenario) -> Expectation:
    """What a correctly configured SBC does. A scenario built from command-line options
    says only "accept"; its defects then decide (an expired leaf must be refused)."""
    stated = scenario.expectation
    if scenario.source is not None or stated.reaction != "accept":
        return stated
    for use in map(vocabulary.parse_defect, scenario.defects):
        defect = use.defect
        if defect.refused_by_correct_sbc and defect.verify_error is not None:
            alert = vocabulary.ALERT_NAMES[vocabulary.openssl_alert_for(defect.verify_error)]
            return Expectation("reject", alert=alert, reason=defect.summary)
    return stated


def _server_policy(scenario: Scenario, pki: Pki) -> TlsPolicy:
    """The profile's TLS policy with the scenario's ``[tls]`` changes."""
    policy = profile_named(scenario.profile).server_policy
    spec = scenario.tls
    try:
        if spec.min_version or spec.max_version:
            policy = policy.with_version_bounds(spec.min_version, spec.max_version)
        if spec.ciphers:
            policy = policy.with_ciphers(*spec.ciphers)
        if spec.groups:
            policy = policy.with_groups(*spec.groups)
        if spec.client_certificate:
            policy = policy.with_client_certificate(spec.client_certificate)
        if spec.ca_list:
            policy = policy.with_ca_list(_ca_list(spec.ca_list, pki))
        if spec.tolerate_missing_client_auth:
            policy = policy.tolerating(_INVALID_PURPOSE)
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
    return mirrored + _system_roots(SYSTEM_BUNDLE)


@functools.cache
def _system_roots(bundle: Path) -> tuple[x509.Certificate, ...]:
    """The system's public roots, read once per process (every phase and dial needs
    them, and the bundle holds some 150 certificates)."""
    try:
        return tuple(load_system_roots(bundle).roots)
    except FileNotFoundError:
        return ()

