"""What a peer *is*, declaratively: profile, certificates, TLS policy, SIP behaviour, a
timeline of phases, per-name chains, and what a correctly configured SBC should do.

Imports nothing else from fakepeer but its errors and :mod:`fakepeer.vocabulary`, whose
names (eras, chain paths, defects, alerts, TLS versions) it accepts, so scenario files can
be validated without building anything.

Every value validates itself when built, with :mod:`fakepeer.scenario.validate`'s checks,
and names the key that is wrong, relative to the value (``tls.min_version``,
``phases[1].path``); ``fakepeer.scenario.load`` adds the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from fakepeer import vocabulary
from fakepeer.addresses import is_ip_address
from fakepeer.scenario.validate import (
    ScenarioValueError,
    check_bool,
    check_choice,
    check_defects,
    check_dns_name,
    check_int,
    check_line,
    check_path,
    check_string,
    check_strings,
    key_part,
    kind_of,
    one_of,
)

#: What fakepeer does with an SBC's OPTIONS: answer it (``options_status``, after
#: ``options_delay``), never answer it (the SBC's transaction times out: 408 after Timer F,
#: 64*T1 = 32 s, RFC 3261 §17.1.2.2), or reset the TCP connection instead of answering.
OPTIONS_ACTIONS = ("answer", "ignore", "reset")

#: The outcomes a scenario can expect. ``accept``: TLS completes and OPTIONS get 200 (the
#: trunk is Active). ``reject``: the TLS handshake ends with an alert (``by`` says which
#: side sends it). ``mark-down``: TLS is up but the SIP exchange fails (403, 503, no
#: answer, a reset) and the SBC must take the trunk out of service and fail over.
REACTIONS = ("accept", "reject", "mark-down")
#: Who sends the alert of a ``reject``. ``either`` is for version mismatches: a TLS
#: 1.2-only SBC refuses the version fakepeer picks, one that offers 1.3 lets fakepeer refuse.
ALERT_SENDERS = ("sbc", "fakepeer", "either")

_ALERT_NAMES = tuple(vocabulary.ALERT_NAMES.values())

#: Longest ``options_delay``: past the SBC's 32 s transaction timeout a delay is a lost
#: answer, and past 3-5 minutes without a 200 Teams demotes the SBC (real-peers.md §3);
#: ten minutes leaves room to watch both.
MAX_OPTIONS_DELAY = 600.0
LEAF_KEYS = ("rsa1024", "rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384")
LEAF_HASHES = ("sha256", "sha384", "sha512")
LEAF_EKUS = ("serverAuth", "clientAuth")
#: ``expect.purpose`` is the one line ``fakepeer scenarios list`` shows.
MAX_PURPOSE_LENGTH = 100

_SCENARIO_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")


# --- the parts of a scenario ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TlsSpec:
    """Changes to the profile's TLS policy; ``None`` keeps the profile's own value."""

    min_version: str | None = None
    max_version: str | None = None
    #: OpenSSL cipher names for TLS 1.2 and older, one per item, in order of preference.
    ciphers: tuple[str, ...] | None = None
    #: OpenSSL group names for (EC)DHE (``secp384r1``, ``X25519``...).
    groups: tuple[str, ...] | None = None
    client_certificate: vocabulary.ClientCertificateMode | None = None
    #: The CertificateRequest's CA names (only sent when a client certificate is asked for).
    ca_list: str | None = None
    #: Accept a client certificate whose EKU lacks clientAuth (late-2025 relaxation).
    tolerate_missing_client_auth: bool = False
    #: OpenSSL ``@SECLEVEL=n`` on fakepeer's side. OpenSSL 3 refuses TLS 1.0/1.1 (their
    #: MD5+SHA-1 handshake signatures) at the default level 1, so serving them needs 0.
    insecure_security_level: int | None = None

    def __post_init__(self) -> None:
        versions = vocabulary.TLS_VERSIONS
        for name in ("min_version", "max_version"):
            check_choice(f"tls.{name}", getattr(self, name), versions, optional=True)
        if (self.min_version and self.max_version
                and versions.index(self.min_version) > versions.index(self.max_version)):
            raise ScenarioValueError("tls.min_version", f"{self.min_version} is above "
                                     f"max_version {self.max_version}")
        check_strings(self, "ciphers", "tls.ciphers", optional=True, allow_empty=False)
        check_strings(self, "groups", "tls.groups", optional=True, allow_empty=False)
        check_choice("tls.client_certificate", self.client_certificate,
                vocabulary.CLIENT_CERTIFICATE_MODES, optional=True)
        check_choice("tls.ca_list", self.ca_list, vocabulary.CA_LISTS, optional=True)
        check_bool("tls.tolerate_missing_client_auth", self.tolerate_missing_client_auth)
        check_int("tls.insecure_security_level", self.insecure_security_level, 0, 5, optional=True,
             what="an OpenSSL security level (0-5)")


@dataclass(frozen=True, slots=True)
class SipSpec:
    """How fakepeer answers: OPTIONS status, delay or silence, INVITE's final response,
    tenant domains, and whether it dials back."""

    options_status: int = 200
    #: The final response to any INVITE: 300-699 (a 2xx would open a dialog fakepeer
    #: cannot carry; fakepeer never places calls).
    invite_status: int = 503
    #: Domains the Contact FQDN must belong to; ``None`` accepts any the certificate proves.
    tenant_domains: tuple[str, ...] | None = None
    #: After a 200 to the SBC's OPTIONS, open a new TLS connection to the Contact FQDN and
    #: port as the client, present the chain, and send fakepeer's own OPTIONS (Teams does).
    dialback: bool = False
    #: Seconds to wait before answering an OPTIONS.
    options_delay: float = 0.0
    #: One of OPTIONS_ACTIONS.
    options_action: str = "answer"

    def __post_init__(self) -> None:
        check_int("sip.options_status", self.options_status, 200, 699,
             what="a final SIP status (200-699)")
        check_int("sip.invite_status", self.invite_status, 300, 699,
             what="a final SIP status fakepeer can send to an INVITE (300-699)")
        domains = check_strings(self, "tenant_domains", "sip.tenant_domains", optional=True,
                           allow_empty=False)
        if domains is not None:
            object.__setattr__(self, "tenant_domains", tuple(
                check_dns_name(f"sip.tenant_domains[{i}]", d) for i, d in enumerate(domains)))
        check_bool("sip.dialback", self.dialback)
        delay = self.options_delay
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise ScenarioValueError("sip.options_delay",
                                     f"expected a number of seconds, got {kind_of(delay)}")
        if not (math.isfinite(delay) and 0 <= delay <= MAX_OPTIONS_DELAY):
            raise ScenarioValueError("sip.options_delay",
                                     f"{delay} is not in 0-{MAX_OPTIONS_DELAY:g} seconds")
        object.__setattr__(self, "options_delay", float(delay))
        check_choice("sip.options_action", self.options_action, OPTIONS_ACTIONS)
        if self.options_delay and self.options_action != "answer":
            raise ScenarioValueError("sip.options_delay", "only applies when options_action "
                                     f"is 'answer' (it is {self.options_action!r})")


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a correctly configured SBC does, in a form a verdict can check.

    ``reaction`` is one of REACTIONS. For ``reject``, ``alert`` is the TLS alert that ends
    the handshake and ``by`` says who sends it: the SBC (it refuses fakepeer's chain or
    version), fakepeer (it refuses the SBC as the real peer would: no shared cipher, no
    or an untrusted client certificate), or ``either`` (a version mismatch, where it
    depends on what the SBC offers). For ``mark-down``, ``sip_status`` is the status
    the SBC sees (408 when it times out). ``purpose`` is the scenario's one-line summary;
    ``reason`` explains the expectation; ``setup`` says what to change on the SBC first.
    """

    reaction: str = "accept"
    alert: str | None = None
    by: str = "sbc"
    sip_status: int | None = None
    reason: str = ""
    purpose: str = ""
    setup: str = ""

    def __post_init__(self) -> None:
        check_choice("expect.reaction", self.reaction, REACTIONS)
        check_choice("expect.alert", self.alert, _ALERT_NAMES, optional=True)
        if self.alert is not None and self.reaction != "reject":
            raise ScenarioValueError("expect.alert", "only a 'reject' expects an alert "
                                     f"(reaction is {self.reaction!r})")
        check_choice("expect.by", self.by, ALERT_SENDERS)
        if self.by != "sbc" and self.reaction != "reject":
            raise ScenarioValueError("expect.by", "only a 'reject' has a side that refuses "
                                     f"(reaction is {self.reaction!r})")
        check_int("expect.sip_status", self.sip_status, 300, 699, optional=True,
             what="a failure status (300-699)")
        if self.sip_status is not None and self.reaction != "mark-down":
            raise ScenarioValueError("expect.sip_status", "only a 'mark-down' expects a SIP "
                                     f"status (reaction is {self.reaction!r})")
        check_string("expect.reason", self.reason)
        check_string("expect.setup", self.setup)
        check_line("expect.purpose", self.purpose, MAX_PURPOSE_LENGTH)

    @property
    def code(self) -> str:
        """The compact form kept in ``Scenario.expect``: ``accept``, ``reject:unknown_ca``,
        ``mark-down:503``."""
        if self.alert:
            return f"{self.reaction}:{self.alert}"
        if self.sip_status is not None:
            return f"{self.reaction}:{self.sip_status}"
        return self.reaction

    def summary(self) -> str:
        """A few words for a table: ``reject (unknown_ca)``, ``fakepeer refuses (...)``."""
        if self.reaction == "reject":
            who = {"sbc": "SBC rejects", "fakepeer": "fakepeer refuses"}.get(self.by, "rejected")
            return who + (f" ({self.alert})" if self.alert else "")
        if self.reaction == "mark-down":
            return "mark down" + (f" ({self.sip_status})" if self.sip_status else "")
        return "accept"

    @classmethod
    def parse(cls, text: str, key: str = "expect") -> Expectation:
        """``accept``, ``reject``, ``reject:ALERT``, ``mark-down`` or ``mark-down:STATUS``."""
        check_string(key, text)
        reaction, colon, detail = text.partition(":")
        if reaction not in REACTIONS or (colon and (not detail or reaction == "accept")):
            raise ScenarioValueError(key, f"{text!r} is not one of accept, reject, "
                                     "reject:ALERT, mark-down, mark-down:STATUS")
        if not colon:
            return cls(reaction)
        if reaction == "reject":
            if detail not in _ALERT_NAMES:
                raise ScenarioValueError(key, f"{text!r}: unknown alert {detail!r}; known: "
                                         f"{one_of(_ALERT_NAMES)}")
            return cls(reaction, alert=detail)
        if not detail.isdigit() or not 300 <= int(detail) <= 699:
            raise ScenarioValueError(key, f"{text!r}: {detail!r} is not a failure status "
                                     "(300-699)")
        return cls(reaction, sip_status=int(detail))


#: The default Expectation of a Scenario built without one: taken from ``expect``.
_FROM_EXPECT = Expectation(purpose="(taken from expect)")


@dataclass(frozen=True, slots=True)
class NameOverride:
    """Serve another chain to an SBC that asks for ``name`` in SNI (the staged rollout
    served different chains on sip, sip2 and sip3), and expect another reaction there
    (an expired leaf on sip2 is refused while sip stays Active). ``None`` keeps the
    scenario's value; setting ``era`` without ``path`` means that era's default path.
    Values are checked against the era when the override sits in a Scenario."""

    name: str
    era: str | None = None
    path: str | None = None
    defects: tuple[str, ...] | None = None
    expectation: Expectation | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", check_dns_name("name", self.name))
        check_choice("era", self.era, tuple(vocabulary.ERAS), optional=True)
        check_string("path", self.path, optional=True)
        check_strings(self, "defects", "defects", optional=True)
        if self.expectation is not None and not isinstance(self.expectation, Expectation):
            raise ScenarioValueError("expect", "expected an Expectation, got "
                                     f"{kind_of(self.expectation)}")

    def apply(self, base: Scenario) -> Scenario:
        """``base`` as served to this name (without per-name overrides)."""
        era = self.era or base.era
        path = self.path if self.path is not None else (None if self.era else base.path)
        defects = self.defects if self.defects is not None else base.defects
        return replace(base, era=era, path=path, defects=defects, names=(), phases=(),
                       expectation=self.expectation or base.expectation, expect="accept")


@dataclass(frozen=True, slots=True)
class Phase:
    """One step of a timeline. It lasts ``duration`` seconds or ``until_connections``
    inbound connections (the last phase may set neither: it lasts until fakepeer stops).
    Every other field overrides the scenario's while the phase runs; ``None`` keeps it.
    Setting ``era`` without ``path`` means that era's default path; ``tls``/``sip`` replace
    the scenario's whole spec (scenario files write only the keys that change, and the
    loader merges them); ``names`` replaces the scenario's per-name overrides (``()``
    clears them)."""

    name: str = ""
    duration: float | None = None
    until_connections: int | None = None
    description: str = ""
    era: str | None = None
    path: str | None = None
    defects: tuple[str, ...] | None = None
    tls: TlsSpec | None = None
    sip: SipSpec | None = None
    names: tuple[NameOverride, ...] | None = None
    expectation: Expectation | None = None

    def __post_init__(self) -> None:
        check_line("name", self.name, 60)
        check_string("description", self.description)
        if self.duration is not None:
            if isinstance(self.duration, bool) or not isinstance(self.duration, int | float):
                raise ScenarioValueError("duration", "expected a number of seconds, got "
                                         f"{kind_of(self.duration)}")
            if not (math.isfinite(self.duration) and self.duration > 0):
                raise ScenarioValueError("duration", f"{self.duration} is not a positive "
                                         "number of seconds")
            object.__setattr__(self, "duration", float(self.duration))
        check_int("until_connections", self.until_connections, 1, 1_000_000, optional=True,
             what="a number of connections (1 or more)")
        if self.duration is not None and self.until_connections is not None:
            raise ScenarioValueError("until_connections", "give duration or "
                                     "until_connections, not both")
        check_choice("era", self.era, tuple(vocabulary.ERAS), optional=True)
        check_string("path", self.path, optional=True)
        check_strings(self, "defects", "defects", optional=True)
        for key, value, kind in (("tls", self.tls, TlsSpec), ("sip", self.sip, SipSpec),
                                 ("expect", self.expectation, Expectation)):
            if value is not None and not isinstance(value, kind):
                raise ScenarioValueError(key, f"expected a {kind.__name__}, got {kind_of(value)}")
        if self.names is not None:
            object.__setattr__(self, "names", _name_overrides(self.names, "names"))

    @property
    def ends(self) -> str:
        """When the phase ends, in words."""
        if self.duration is not None:
            return f"after {_seconds(self.duration)}"
        if self.until_connections is not None:
            plural = "s" if self.until_connections != 1 else ""
            return f"after {self.until_connections} connection{plural}"
        return "when fakepeer stops"


def _seconds(value: float) -> str:
    whole = int(value)
    if value != whole:
        return f"{value:g} s"
    for unit, size in (("h", 3600), ("min", 60)):
        if whole >= size and whole % size == 0:
            return f"{whole // size} {unit} ({whole} s)"
    return f"{whole} s"


def _name_overrides(value: object, key: str) -> tuple[NameOverride, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ScenarioValueError(key, f"expected NameOverride values, got {kind_of(value)}")
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, NameOverride):
            raise ScenarioValueError(key, f"expected NameOverride values, got {kind_of(item)}")
        if item.name in seen:
            raise ScenarioValueError(f"{key}.{key_part(item.name)}", "given twice")
        seen.add(item.name)
    return tuple(value)


@dataclass(frozen=True, slots=True)
class LeafSpec:
    """Changes to the era's leaf certificate (the proxy's or the Genesys edge's); ``None``
    keeps the era's value. The reference leaf's SANs and key are not published, so a lab
    that knows better sets them here."""

    common_name: str | None = None
    #: Replaces the leaf's DNS names (wildcards allowed: ``*.pstnhub.microsoft.com``).
    dns_names: tuple[str, ...] | None = None
    #: IP addresses added to the SAN (an IP-only leaf is the ``ip-only-san`` defect).
    ip_addresses: tuple[str, ...] | None = None
    key: str | None = None
    hash: str | None = None
    days: int | None = None
    eku: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_string("leaf.common_name", self.common_name, optional=True)
        check_strings(self, "dns_names", "leaf.dns_names", optional=True, allow_empty=False)
        if self.ip_addresses is not None:
            if isinstance(self.ip_addresses, str) or not isinstance(self.ip_addresses,
                                                                    list | tuple):
                raise ScenarioValueError("leaf.ip_addresses", "expected an array of strings, "
                                         f"got {kind_of(self.ip_addresses)}")
            for index, item in enumerate(self.ip_addresses):
                if not isinstance(item, str) or item.startswith("[") or \
                        not is_ip_address(item):
                    raise ScenarioValueError(f"leaf.ip_addresses[{index}]",
                                             f"{item!r} is not an IP address")
            object.__setattr__(self, "ip_addresses", tuple(self.ip_addresses))
        check_choice("leaf.key", self.key, LEAF_KEYS, optional=True)
        check_choice("leaf.hash", self.hash, LEAF_HASHES, optional=True)
        check_int("leaf.days", self.days, 1, 3650, optional=True, what="a number of days (1-3650)")
        check_strings(self, "eku", "leaf.eku", optional=True, allow_empty=False)
        for index, name in enumerate(self.eku or ()):
            check_choice(f"leaf.eku[{index}]", name, LEAF_EKUS)

    @property
    def changes_anything(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


@dataclass(frozen=True, slots=True)
class Scenario:
    """One certificate-and-protocol situation to serve, and its expected outcome.

    ``expect`` is the compact form (``accept``, ``reject:unknown_ca``, ``mark-down:503``)
    and ``expectation`` the full one; give either, the other is filled in. ``phases`` is a
    timeline (empty: the scenario as written, for as long as fakepeer runs); ``names``
    serves other chains by SNI name. ``source`` is the file it was loaded from.
    """

    name: str
    description: str = ""
    profile: str = "microsoft"
    era: str = vocabulary.DEFAULT_ERA
    path: str | None = None
    defects: tuple[str, ...] = ()
    tls: TlsSpec = field(default_factory=TlsSpec)
    sip: SipSpec = field(default_factory=SipSpec)
    #: "accept", "reject" (optionally with the alert a correct SBC sends, e.g.
    #: "reject:unknown_ca"), or "mark-down" (optionally with the SIP status it sees).
    expect: str = "accept"
    expectation: Expectation = _FROM_EXPECT
    phases: tuple[Phase, ...] = ()
    names: tuple[NameOverride, ...] = ()
    #: Overrides of the era's leaf certificate (every phase and name keeps them).
    leaf: LeafSpec = field(default_factory=LeafSpec)
    source: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_string("name", self.name)
        if not _SCENARIO_NAME.match(self.name):
            raise ScenarioValueError("name", f"{self.name!r} is not a scenario name (lower-case "
                                     "letters, digits, '.', '_' and '-', as in a file name)")
        check_string("description", self.description)
        check_choice("profile", self.profile, vocabulary.PROFILE_NAMES)
        check_choice("era", self.era, tuple(vocabulary.ERAS))
        check_string("path", self.path, optional=True)
        check_path(self.path, self.era)
        check_strings(self, "defects", "defects")
        check_defects(self.defects, self.era)
        for key, value, kind in (("tls", self.tls, TlsSpec), ("sip", self.sip, SipSpec),
                                 ("leaf", self.leaf, LeafSpec)):
            if not isinstance(value, kind):
                raise ScenarioValueError(key, f"expected a {kind.__name__}, got {kind_of(value)}")
        self._settle_expectation()
        object.__setattr__(self, "names", _name_overrides(self.names, "names"))
        self._check_names(self.names, self.era, self.path, self.defects, "names")
        self._check_ca_list(self.tls, "tls")
        self._check_phases()

    def _settle_expectation(self) -> None:
        if self.expectation is _FROM_EXPECT:
            object.__setattr__(self, "expectation", Expectation.parse(self.expect))
            return
        if not isinstance(self.expectation, Expectation):
            raise ScenarioValueError("expect", f"expected an Expectation, got "
                                     f"{kind_of(self.expectation)}")
        if self.expect not in ("accept", self.expectation.code):
            raise ScenarioValueError("expect", f"{self.expect!r} disagrees with the "
                                     f"expectation {self.expectation.code!r}")
        object.__setattr__(self, "expect", self.expectation.code)

    def _check_ca_list(self, tls: TlsSpec, key: str) -> None:
        mode = tls.client_certificate or vocabulary.PROFILES[self.profile].client_certificate
        if tls.ca_list is not None and mode == "off":
            raise ScenarioValueError(f"{key}.ca_list", "is only sent in a CertificateRequest, "
                                     "and no client certificate is asked for (set "
                                     "client_certificate to required or optional)")

    @staticmethod
    def _check_names(names: tuple[NameOverride, ...], era: str, path: str | None,
                     defects: tuple[str, ...], key: str) -> None:
        for override in names:
            where = f"{key}.{key_part(override.name)}"
            name_era = override.era or era
            name_path = override.path if override.path is not None else (
                None if override.era else path)
            check_path(name_path, name_era, f"{where}.path")
            check_defects(override.defects if override.defects is not None else defects,
                          name_era, f"{where}.defects")

    def _check_phases(self) -> None:
        if isinstance(self.phases, str) or not isinstance(self.phases, list | tuple):
            raise ScenarioValueError("phases", f"expected Phase values, got {kind_of(self.phases)}")
        named: list[Phase] = []
        seen: set[str] = set()
        for index, phase in enumerate(self.phases):
            where = f"phases[{index}]"
            if not isinstance(phase, Phase):
                raise ScenarioValueError(where, f"expected a Phase, got {kind_of(phase)}")
            if not phase.name:
                phase = replace(phase, name=f"phase-{index + 1}")
            if phase.name in seen:
                raise ScenarioValueError(f"{where}.name", f"{phase.name!r} is used by an "
                                         "earlier phase")
            seen.add(phase.name)
            last = index == len(self.phases) - 1
            if not last and phase.duration is None and phase.until_connections is None:
                raise ScenarioValueError(where, "only the last phase may run until fakepeer "
                                         "stops; give duration or until_connections")
            try:  # what the phase serves must itself be a valid scenario
                self._apply(phase)
            except ScenarioValueError as exc:
                raise exc.within(where) from None
            named.append(phase)
        object.__setattr__(self, "phases", tuple(named))

    def _apply(self, phase: Phase) -> Scenario:
        era = phase.era or self.era
        path = phase.path if phase.path is not None else (None if phase.era else self.path)
        return replace(
            self, era=era, path=path,
            defects=phase.defects if phase.defects is not None else self.defects,
            tls=phase.tls or self.tls, sip=phase.sip or self.sip,
            names=phase.names if phase.names is not None else self.names,
            expectation=phase.expectation or self.expectation, expect="accept",
            description=phase.description or self.description, phases=(),
        )

    # --- what serve and the verdicts use -------------------------------------------------

    @property
    def purpose(self) -> str:
        """One line: the expectation's purpose, else the description's first line."""
        return self.expectation.purpose or self.description.strip().split("\n", 1)[0]

    def at_phase(self, index: int) -> Scenario:
        """The scenario as served during phase ``index``: overrides applied, no phases."""
        return self._apply(self.phases[index])

    def timeline(self) -> tuple[tuple[Phase, Scenario], ...]:
        """Each phase with the scenario it serves; one open-ended phase when none given."""
        if not self.phases:
            return ((Phase(name="always"), replace(self, phases=())),)
        return tuple((phase, self.at_phase(i)) for i, phase in enumerate(self.phases))

    def for_name(self, server_name: str | None) -> Scenario:
        """What is served to an SBC that sent ``server_name`` in SNI (``None``: no SNI).
        With phases, call it on the phase's scenario (``at_phase``), whose names count."""
        wanted = (server_name or "").lower().rstrip(".")
        for override in self.names:
            if override.name == wanted:
                return override.apply(self)
        return replace(self, names=(), phases=()) if (self.names or self.phases) else self
