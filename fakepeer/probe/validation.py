# -*- test-case-name: tests.probe.test_validation -*-
"""The cloud's check of an SBC's *server* certificate, as pure functions over certificates.

When the Teams proxy (or a Genesys BYOC edge) dials an SBC it is the TLS client, and it
judges the certificate the SBC sends the way ``real-peers.md`` sections 2 and 3 describe:
a chain to the publicly trusted roots (plus, in a lab, fakepeer's mirrored roots); the
FQDN it dialled in the CN or a SAN, exactly or by a one-label wildcard (service-identity's
rules, through :mod:`fakepeer.tls.identity`); never an IP
address (Genesys says so explicitly, and Microsoft refuses IP addresses in Contact); the
whole chain in the Certificate message (Microsoft "will reset the connection" when an
intermediate is missing; Genesys requires the full chain); valid dates; keys of at least
2048 bits; the extended key usages of the era.

:func:`check_sbc_certificate` collects *every* problem, as service-identity's
``VerificationError.errors`` does, so a lab engineer fixes them all in one round. The
dates, key, signature and path checks are :func:`fakepeer.tls.inspect.validate_client_chain`'s
(the path check does not look at EKU or names); names, IP addresses, chain completeness
and the expiry warning are added here. Nothing in this module does I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509

from fakepeer.addresses import is_ip_address as is_ip_literal
from fakepeer.tls.identity import certificate_matches, certificate_names
from fakepeer.tls.inspect import (
    CertificateProblem,
    EkuRule,
    issuer_text,
    subject_text,
    validate_client_chain,
)

Profile = Literal["microsoft", "genesys"]

#: The Teams dashboard flags SBC certificates that end within 30 days as "CertExpiring"
#: (real-peers.md section 3); a warning, not a refusal.
EXPIRING_WINDOW = dt.timedelta(days=30)

#: What each era demands of the EKU of an SBC's certificate (real-peers.md section 3):
#: before 2024-03 only what any TLS client checks of a server (serverAuth); from 2024-03
#: Microsoft wants serverAuth and clientAuth [V]; the clientAuth half was relaxed in late
#: 2025 [S], so the 2026 era asks serverAuth only. Genesys checks a server as any TLS
#: client does [?]. A value, not a rule baked into code: ``fakepeer probe --sbc-eku``
#: overrides it.
SBC_EKU_RULES: dict[str, EkuRule] = {
    "microsoft-2020": "serverAuth",
    "microsoft-2023": "serverAuth+clientAuth",
    "microsoft-2026": "serverAuth",
    "genesys": "serverAuth",
}
DEFAULT_SBC_EKU_RULE: EkuRule = "serverAuth"


def sbc_eku_rule(era: str) -> EkuRule:
    """The EKU rule an era applies to SBC certificates (``serverAuth`` if unknown)."""
    return SBC_EKU_RULES.get(era, DEFAULT_SBC_EKU_RULE)


_WHO = {"microsoft": "the Teams proxy", "genesys": "Genesys Cloud"}


@dataclass(frozen=True, slots=True)
class NoCertificate(CertificateProblem):
    """The SBC sent no certificate at all (anonymous TLS is never acceptable)."""

    @property
    def message(self) -> str:
        """One line for a report."""
        return "the SBC sent no certificate"


@dataclass(frozen=True, slots=True)
class NoHostName(CertificateProblem):
    """The SBC was dialled by IP address and no FQDN was given to check its certificate
    against; the cloud always dials a name."""

    dialled: str
    profile: str

    @property
    def message(self) -> str:
        """One line for a report."""
        who = _WHO.get(self.profile, self.profile)
        return (f"dialled {self.dialled} without an FQDN: {who} always dials the SBC by "
                "name and checks the certificate against that name (an IP address is not "
                "acceptable); give the SBC's FQDN with --fqdn")


@dataclass(frozen=True, slots=True)
class NameMismatch(CertificateProblem):
    """The FQDN dialled is neither the CN nor a SAN DNS name (one-label wildcards allowed)."""

    expected: str
    names: tuple[str, ...]

    @property
    def message(self) -> str:
        """One line for a report."""
        names = ", ".join(self.names) or "no names at all"
        return (f"{self.subject}: does not name {self.expected} (it names {names}); the "
                "FQDN must be the CN or a SAN, exactly or by a one-label wildcard")


@dataclass(frozen=True, slots=True)
class IpAddressName(CertificateProblem):
    """The certificate identifies the SBC by IP address only, which the cloud never accepts."""

    addresses: tuple[str, ...]
    profile: str

    @property
    def message(self) -> str:
        """One line for a report."""
        who = _WHO.get(self.profile, self.profile)
        return (f"{self.subject}: names only the IP address {', '.join(self.addresses)}; "
                f"{who} validates the SBC by host name and does not accept an IP address")


@dataclass(frozen=True, slots=True)
class IncompleteChain(CertificateProblem):
    """The SBC sent its own certificate without the intermediate CA that issued it."""

    missing_issuer: str

    @property
    def message(self) -> str:
        """One line for a report."""
        return (f"{self.subject}: sent without its issuing CA ({self.missing_issuer}); the "
                "SBC must send its full chain (the cloud does not fetch intermediates and "
                "resets the connection)")


@dataclass(frozen=True, slots=True)
class ExpiringSoon(CertificateProblem):
    """The leaf ends within :data:`EXPIRING_WINDOW`: acceptable, but the dashboard warns."""

    not_after: dt.datetime

    @property
    def message(self) -> str:
        """One line for a report."""
        return (f"{self.subject}: expires {self.not_after:%Y-%m-%d %H:%M} UTC, within "
                f"{EXPIRING_WINDOW.days} days (the dashboard shows CertExpiring)")


#: Problems that are reported but do not make the cloud refuse the certificate.
WARNINGS: tuple[type[CertificateProblem], ...] = (ExpiringSoon,)


def is_blocking(problem: CertificateProblem) -> bool:
    """Whether ``problem`` makes the cloud refuse the certificate (warnings do not)."""
    return not isinstance(problem, WARNINGS)


def problem_kind(problem: CertificateProblem) -> str:
    """A stable machine name for a problem (``name-mismatch``, ``expired`` ...), for JSON."""
    name = type(problem).__name__
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


@dataclass(frozen=True, slots=True)
class CertificateCheck:
    """The cloud's check of one certificate chain: every problem, and the result."""

    problems: tuple[CertificateProblem, ...]

    @property
    def blocking(self) -> tuple[CertificateProblem, ...]:
        """The problems that refuse the certificate."""
        return tuple(f for f in self.problems if is_blocking(f))

    @property
    def warnings(self) -> tuple[CertificateProblem, ...]:
        """The problems that only warn."""
        return tuple(f for f in self.problems if not is_blocking(f))

    @property
    def accepted(self) -> bool:
        """True when nothing refuses the certificate."""
        return not self.blocking

    def to_json(self) -> list[dict[str, object]]:
        """Each problem as ``{"kind", "blocking", "depth", "message"}``."""
        return [{"kind": problem_kind(f), "blocking": is_blocking(f), "depth": f.depth,
                 "message": f.message} for f in self.problems]


def check_sbc_certificate(
    sent: Sequence[x509.Certificate],
    *,
    expected_name: str | None,
    dialled: str,
    trust_roots: Sequence[x509.Certificate],
    now: dt.datetime,
    profile: Profile = "microsoft",
    eku_rule: EkuRule = DEFAULT_SBC_EKU_RULE,
) -> CertificateCheck:
    """Every problem the cloud finds with the chain an SBC sent (leaf first).

    ``expected_name`` is the FQDN dialled (the Contact FQDN, or ``--fqdn``); ``None``
    means the SBC was dialled by IP address with no name to check, which is itself a
    problem. ``dialled`` is what was dialled, for messages.
    """
    if not sent:
        return CertificateCheck((NoCertificate("", -1),))
    leaf, intermediates = sent[0], list(sent[1:])
    subject = subject_text(leaf)
    problems: list[CertificateProblem] = []
    problems.extend(_name_problems(leaf, subject, expected_name, dialled, profile))
    missing = _missing_issuer(leaf, intermediates, trust_roots)
    if missing is not None:
        problems.append(IncompleteChain(subject, 0, missing))
    problems.extend(validate_client_chain(leaf, intermediates, trust_roots, now, eku_rule))
    end = leaf.not_valid_after_utc
    if now <= end < now + EXPIRING_WINDOW:
        problems.append(ExpiringSoon(subject, 0, end))
    return CertificateCheck(tuple(problems))


def _name_problems(leaf: x509.Certificate, subject: str, expected: str | None,
                   dialled: str, profile: str) -> list[CertificateProblem]:
    dns, ips = certificate_names(leaf)
    found: list[CertificateProblem] = []
    if ips and not dns:
        found.append(IpAddressName(subject, 0, ips, profile))
    if expected is None or is_ip_literal(expected):
        found.append(NoHostName(subject, 0, expected or dialled, profile))
    elif not certificate_matches(leaf, expected):
        found.append(NameMismatch(subject, 0, expected, dns + ips))
    return found


def _missing_issuer(leaf: x509.Certificate, intermediates: Sequence[x509.Certificate],
                    roots: Sequence[x509.Certificate]) -> str | None:
    """The leaf's issuer when the SBC sent the leaf alone and its issuer is not a root.

    Only the leaf-alone case is certain to be a missing intermediate: when something was
    sent after the leaf, an unknown issuer further up may as well be an untrusted root,
    which the path check reports.
    """
    try:
        if intermediates or leaf.issuer == leaf.subject:
            return None
        if any(root.subject == leaf.issuer for root in roots):
            return None
    except ValueError:  # a name cryptography cannot parse: already an Unreadable problem
        return None
    return issuer_text(leaf)

