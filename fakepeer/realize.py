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
from fakepeer.pki.catalogue import root_ids
from fakepeer.pki.chain import ServedChain
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.keys import KeySpec
from fakepeer.pki.model import CertificateId, LeafProfile, SanEntry, dns
from fakepeer.pki.situation import Route, Situation, build_situation, chain_route
from fakepeer.profiles import Profile, profile_named
from fakepeer.scenario.model import Expectation, NameOverride, Phase, Scenario
from fakepeer.tls import TlsPolicy
from fakepeer.tls.inspect import load_system_roots
from fakepeer.tls.policy import SYSTEM_BUNDLE, oversize_ca_list, public_bundle_ca_list

#: What a verifier accepts as a client certificate's purpose failure when a scenario
#: tolerates a missing clientAuth EKU (the late-2025 relaxation): X509_V_ERR_INVALID_PURPOSE.
_INVALID_PURPOSE = 26


@dataclass(frozen=True)
class NameServing:
    """What an SBC that sent one SNI name is served (``name`` ``None``: the default, for
    no SNI or a name without an override): the chain, the path it takes to which anchor
    (CA certificate id), the certificates on it revoked (``leaf`` for a revoked leaf,
    else certificate ids), and what a correctly configured SBC does against it."""

    name: str | None
    chain: ServedChain
    era: str
    path: str
    anchor: str
    revoked: tuple[str, ...]
    expectation: Expectation

    def expectation_for(self, setup: str | None = None) -> Expectation:
        """What an SBC set up as ``setup`` does (:func:`expectation_for_setup`)."""
        if setup is None:
            return self.expectation
        return expectation_for_setup(self.expectation, self.anchor, self.revoked, setup)


def expectation_for_setup(stated: Expectation, anchor: str, revoked: tuple[str, ...],
                          setup: str) -> Expectation:
    """What an SBC set up as ``setup`` (a :data:`fakepeer.vocabulary.SBC_SETUPS` name)
    does where a correctly configured one does ``stated``, given the chain's ``anchor``
    and its ``revoked`` certificates: an anchor it does not trust is refused with
    unknown_ca; a revoked certificate is refused by one that checks revocation and
    accepted by one that does not, if nothing else is wrong."""
    try:
        terms = vocabulary.SBC_SETUPS[setup]
    except KeyError:
        raise ScenarioError(f"unknown SBC set-up {setup!r}; known: "
                            f"{', '.join(vocabulary.SBC_SETUPS)}") from None
    root = CertificateId.parse(anchor).ca
    if terms.roots is not None and root not in terms.roots:
        return Expectation("reject", alert="unknown_ca", reason=(
            f"An SBC that {terms.summary} does not trust {mirrors.CAS[root].common_name} "
            f"[{anchor}], where this chain anchors: OpenSSL error 20 (unable to get local "
            "issuer certificate)."))
    if terms.checks_revocation and revoked and stated.reaction == "accept":
        return Expectation("reject", alert="certificate_revoked", reason=(
            f"{', '.join(revoked)} is revoked: an SBC that {terms.summary} refuses the "
            "chain (OpenSSL error 23)."))
    if terms.checks_revocation is False and stated.alert == "certificate_revoked":
        return Expectation("accept", reason=(
            f"An SBC that {terms.summary} does not see that {', '.join(revoked)} is "
            "revoked, and nothing else is wrong with the chain."))
    return stated


@dataclass(frozen=True)
class RealizedScenario:
    """One scenario at one phase, made real: everything a fake peer needs.

    ``chain`` is served to an SBC whose SNI names no override, ``chains_by_name`` to the
    others (:meth:`chain_for` picks); ``serving`` and ``serving_by_name`` say the same
    with the path, anchor and expectation of each (:meth:`serving_for`), so a verdict
    can judge each name by its own expectation. ``dialback_chain`` is the client
    certificate the peer presents when it dials the SBC back (the chain it serves, leaf
    changes and defects included: the proxy dials back with its own certificate),
    ``None`` for a profile that presents none; ``dialback_policy`` the TLS policy it
    dials with.
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
    serving: NameServing
    chains_by_name: Mapping[str, ServedChain] = field(
        default_factory=lambda: MappingProxyType({}))
    serving_by_name: Mapping[str, NameServing] = field(
        default_factory=lambda: MappingProxyType({}))
    #: The one command that exports every root the whole scenario (all phases and SNI
    #: names) can anchor at: what ``serve`` and ``scenarios show`` both print.
    roots_command: str = ""

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

    def serving_for(self, server_name: str | None) -> NameServing:
        """What an SBC that sent ``server_name`` in SNI is served, and what it should do."""
        wanted = (server_name or "").lower().rstrip(".")
        return self.serving_by_name.get(wanted, self.serving)

    def expectation_for(self, server_name: str | None,
                        setup: str | None = None) -> Expectation:
        """What an SBC (set up as ``setup``, see :meth:`NameServing.expectation_for`)
        that sent ``server_name`` in SNI does."""
        return self.serving_for(server_name).expectation_for(setup)

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
    expectation = expectation_of(served)
    if server_name is not None:
        wanted = server_name.lower().rstrip(".")
        override = next((o for o in served.names if o.name == wanted), None)
        expectation = name_expectation(override, served) if override else \
            expectation_of(served.for_name(server_name))
        served = served.for_name(server_name)
    profile = profile_named(served.profile)
    default = _serving(None, served, expectation, pki)
    by_name = {override.name: _serving(override.name, override.apply(served),
                                       name_expectation(override, served), pki)
               for override in served.names}
    chain = default.chain
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
        dialback_policy=dial_policy, expectation=default.expectation, serving=default,
        chains_by_name=MappingProxyType({name: s.chain for name, s in by_name.items()}),
        serving_by_name=MappingProxyType(by_name), roots_command=roots_export_command(scenario),
    )


def realize_timeline(scenario: Scenario, pki: Pki
                     ) -> tuple[tuple[Phase, RealizedScenario], ...]:
    """Each phase of the timeline with what it serves (one open-ended phase when the
    scenario has none)."""
    return tuple((phase, realize(scenario, pki, phase=index if scenario.phases else None))
                 for index, (phase, _) in enumerate(scenario.timeline()))


def _serving(name: str | None, served: Scenario, expectation: Expectation,
             pki: Pki) -> NameServing:
    """The chain ``served`` serves, built, with where it leads and what is expected."""
    chain = build_situation(pki, Situation(served.era, served.path, served.defects,
                                           _leaf_profile(served)))
    route = chain_route(served.era, served.path, served.defects)
    return NameServing(name, chain, route.era.id, route.path_name, route.path.anchor,
                       revoked_on(served), expectation)


def revoked_on(served: Scenario) -> tuple[str, ...]:
    """What is revoked on the chain ``served`` serves: ``leaf`` when a defect revokes the
    leaf, and the ids of its CA certificates revoked in reality."""
    route = chain_route(served.era, served.path, served.defects)
    leaf = any(vocabulary.parse_defect(d).defect.changes == "revocation"
               for d in served.defects)
    return (*(("leaf",) if leaf else ()), *(fact.certificate for fact in route.revocations))


def routes_of(scenario: Scenario) -> tuple[tuple[str, str | None, Route], ...]:
    """(phase name, SNI name or ``None`` for the default, chain route) for every phase
    and SNI name of the scenario, without building anything."""
    routes = []
    for phase, effective in scenario.timeline():
        variants = [(None, effective), *((o.name, o.apply(effective)) for o in effective.names)]
        routes += [(phase.name, name, chain_route(v.era, v.path, v.defects))
                   for name, v in variants]
    return tuple(routes)


def anchors_of(scenario: Scenario) -> tuple[str, ...]:
    """Every root (CA certificate id) the scenario can anchor at, in any phase, for any
    SNI name, in the order they first appear."""
    return tuple(dict.fromkeys(route.path.anchor for _, _, route in routes_of(scenario)))


def roots_export_command(scenario: Scenario) -> str:
    """One ``certs export --roots`` command that covers every root the scenario can
    anchor at: the root sets of the eras whose chains it serves, then the ids of the
    anchors those sets leave out."""
    eras = list(dict.fromkeys(route.era.id for _, _, route in routes_of(scenario)))
    covered = set(root_ids(eras))
    extra = [anchor for anchor in anchors_of(scenario) if anchor not in covered]
    return f"fakepeer certs export --roots {' '.join([*eras, *extra])} --out roots/"


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


def name_expectation(override: NameOverride, base: Scenario) -> Expectation:
    """What a correct SBC does against an SNI name: the name's own ``expect``; else,
    when the name adds defects to a scenario that expects acceptance, what those defects
    make a correct SBC do (an expired leaf on sip2 is refused there); else the
    scenario's."""
    served = override.apply(base)
    if override.expectation is not None:
        return override.expectation
    if override.defects is not None and override.defects != base.defects:
        return expectation_of(served, from_defects=True)
    return expectation_of(served)


def expectation_of(scenario: Scenario, *, from_defects: bool = False) -> Expectation:
    """What a correctly configured SBC does. A scenario built from command-line options
    says only "accept"; its defects then decide (an expired leaf must be refused)."""
    stated = scenario.expectation
    if (scenario.source is not None and not from_defects) or stated.reaction != "accept":
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

