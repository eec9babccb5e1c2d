# -*- test-case-name: tests.tls.test_tls_inspect -*-
"""Read certificates the way a report needs them, and check a client chain.

:func:`summarize_certificate` turns an ``x509.Certificate`` into the plain facts a
report prints. :func:`validate_client_chain` checks an SBC's client chain against one
era's rules and returns *every* problem as a value (a list of
:class:`CertificateProblem`), in the manner of service-identity's
``VerificationError.errors``, rather than stopping at the first. Path building uses
``cryptography.x509.verification``; dates, EKU, key size and signature hash are checked
separately so that each becomes its own problem.
:func:`load_system_roots` reads the real public roots from the system bundle.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

EkuRule = Literal["serverAuth+clientAuth", "clientAuth", "serverAuth", "any"]
"""Which extended key usages a client leaf must carry, per era of Microsoft's rules:
``serverAuth+clientAuth`` (2024-03), ``serverAuth`` (late-2025 relaxation of
clientAuth), ``clientAuth`` (what a plain TLS client check wants), ``any``."""

#: Microsoft requires SBC keys of at least 2048 bits (real-peers.md section 3).
MIN_RSA_BITS = 2048
#: The smallest EC curve the CA/Browser Forum allows.
MIN_EC_BITS = 256

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}
_EKU_REQUIRED: dict[EkuRule, tuple[str, ...]] = {
    "serverAuth+clientAuth": ("serverAuth", "clientAuth"),
    "clientAuth": ("clientAuth",),
    "serverAuth": ("serverAuth",),
    "any": (),
}


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    """The facts about one certificate that a fakepeer report shows."""

    subject: str
    issuer: str
    serial: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    extended_key_usages: tuple[str, ...] | None
    is_ca: bool
    self_issued: bool
    not_before: dt.datetime
    not_after: dt.datetime
    key_type: str
    key_bits: int
    signature_hash: str | None
    sha1: str
    sha256: str


def summarize_certificate(cert: x509.Certificate) -> CertificateSummary:
    """Summarize ``cert``; ``extended_key_usages`` is ``None`` when the extension is absent."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns, ips = (), ()
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = bc.ca
    except x509.ExtensionNotFound:
        is_ca = False
    key_type, bits = key_description(cert)
    digest = cert.signature_hash_algorithm
    return CertificateSummary(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=f"{cert.serial_number:X}",
        dns_names=dns,
        ip_addresses=ips,
        extended_key_usages=extended_key_usages(cert),
        is_ca=is_ca,
        self_issued=cert.subject == cert.issuer,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_bits=bits,
        signature_hash=digest.name if digest else None,
        sha1=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - a thumbprint, not a signature
        sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
    )


def extended_key_usages(cert: x509.Certificate) -> tuple[str, ...] | None:
    """EKU names (``serverAuth``, ``clientAuth`` ...; dotted OID if unnamed) or ``None``."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku)


def key_description(cert: x509.Certificate) -> tuple[str, int]:
    """``("RSA", 2048)``, ``("EC secp384r1", 384)``, ``("Ed25519", 256)`` ..."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, 0


@dataclass(frozen=True, slots=True)
class CertificateProblem:
    """One problem with a client chain. ``depth`` 0 is the leaf, 1.. the intermediates
    in the order given; chain-wide problems use depth -1."""

    subject: str
    depth: int

    @property
    def message(self) -> str:
        """One line for a report."""
        return f"{self.subject}: problem"


@dataclass(frozen=True, slots=True)
class Untrusted(CertificateProblem):
    """No path from the leaf to a trusted root (missing intermediate, foreign root, ...)."""

    detail: str

    @property
    def message(self) -> str:
        """One line for a report."""
        return f"{self.subject}: no path to a trusted root ({self.detail})"


@dataclass(frozen=True, slots=True)
class Expired(CertificateProblem):
    """A certificate's notAfter is before the validation time."""

    not_after: dt.datetime

    @property
    def message(self) -> str:
        """One line for a report."""
        return f"{self.subject}: expired {self.not_after:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True, slots=True)
class NotYetValid(CertificateProblem):
    """A certificate's notBefore is after the validation time."""

    not_before: dt.datetime

    @property
    def message(self) -> str:
        """One line for a report."""
        return f"{self.subject}: not valid before {self.not_before:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True, slots=True)
class MissingExtendedKeyUsage(CertificateProblem):
    """The leaf's EKU extension lacks a usage the era's rule requires."""

    missing: tuple[str, ...]
    present: tuple[str, ...]

    @property
    def message(self) -> str:
        """One line for a report."""
        have = ", ".join(self.present) or "nothing"
        return f"{self.subject}: EKU lacks {' and '.join(self.missing)} (has {have})"


@dataclass(frozen=True, slots=True)
class WeakKey(CertificateProblem):
    """A key below the minimum (RSA < 2048, EC < 256 bits)."""

    key_type: str
    bits: int
    minimum: int

    @property
    def message(self) -> str:
        """One line for a report."""
        return f"{self.subject}: {self.key_type} {self.bits}-bit key is below {self.minimum}"


@dataclass(frozen=True, slots=True)
class WeakSignature(CertificateProblem):
    """A certificate below the root signed with SHA-1 or MD5."""

    algorithm: str

    @property
    def message(self) -> str:
        """One line for a report."""
        return f"{self.subject}: signed with {self.algorithm}"


def validate_client_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
    now: dt.datetime,
    eku_rule: EkuRule = "serverAuth+clientAuth",
) -> list[CertificateProblem]:
    """Every problem with a client chain at time ``now``; an empty list means acceptable.

    A leaf without an EKU extension is unrestricted (RFC 5280 section 4.2.1.12) and so
    satisfies every rule. The path check runs at a time when every given certificate is
    valid, if there is one, so that an expiry is reported as :class:`Expired` and not a
    second time as :class:`Untrusted`. No revocation checking.
    """
    if now.tzinfo is None:
        raise ValueError("now: must be timezone-aware (UTC)")
    if eku_rule not in _EKU_REQUIRED:
        raise ValueError(f"eku_rule: {eku_rule!r} is not one of {', '.join(_EKU_REQUIRED)}")
    chain = [leaf, *intermediates]
    problems: list[CertificateProblem] = []
    for depth, cert in enumerate(chain):
        name = cert.subject.rfc4514_string()
        if cert.not_valid_after_utc < now:
            problems.append(Expired(name, depth, cert.not_valid_after_utc))
        if cert.not_valid_before_utc > now:
            problems.append(NotYetValid(name, depth, cert.not_valid_before_utc))
        key_type, bits = key_description(cert)
        minimum = MIN_RSA_BITS if key_type in ("RSA", "DSA") else MIN_EC_BITS
        if key_type.startswith(("RSA", "DSA", "EC ")) and bits < minimum:
            problems.append(WeakKey(name, depth, key_type, bits, minimum))
        digest = cert.signature_hash_algorithm
        if digest is not None and digest.name in ("sha1", "md5"):
            problems.append(WeakSignature(name, depth, digest.name))

    required = _EKU_REQUIRED[eku_rule]
    present = extended_key_usages(leaf)
    if present is not None and "anyExtendedKeyUsage" not in present:
        missing = tuple(u for u in required if u not in present)
        if missing:
            problems.append(
                MissingExtendedKeyUsage(leaf.subject.rfc4514_string(), 0, missing, present)
            )

    detail = _path_problem(leaf, list(intermediates), list(trust_roots), _path_time(chain, now))
    if detail is not None:
        problems.append(Untrusted(leaf.subject.rfc4514_string(), -1, detail))
    return problems


def _path_time(chain: Sequence[x509.Certificate], now: dt.datetime) -> dt.datetime:
    start = max(c.not_valid_before_utc for c in chain)
    end = min(c.not_valid_after_utc for c in chain)
    if start <= now <= end or start > end:
        return now
    return start + (end - start) / 2


def _path_problem(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    roots: list[x509.Certificate],
    when: dt.datetime,
) -> str | None:
    if not roots:
        return "no trust roots given"
    # EKU is judged above per era; here only the path, signatures and CA constraints.
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None
    )
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None
    )
    verifier = (
        PolicyBuilder()
        .store(Store(roots))
        .time(when)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        return str(exc)
    return None


@dataclass(frozen=True, slots=True)
class SkippedCertificate:
    """A PEM block in a bundle that could not be used, and why."""

    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class SystemRoots:
    """The parsable roots of a bundle plus the blocks skipped, so nothing vanishes silently.

    ``warnings`` are problems cryptography tolerates today but announces it will refuse
    (e.g. a real root with a non-positive serial number), one line per block.
    """

    path: Path
    roots: tuple[x509.Certificate, ...]
    skipped: tuple[SkippedCertificate, ...]
    warnings: tuple[str, ...] = ()


_PEM_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)


def load_system_roots(path: Path = Path("/etc/ssl/certs/ca-certificates.crt")) -> SystemRoots:
    """Every certificate in a PEM bundle; blocks that do not parse are skipped with a reason."""
    return parse_pem_bundle(path.read_bytes(), path)


def parse_pem_bundle(data: bytes, path: Path = Path("<memory>")) -> SystemRoots:
    """The pure half of :func:`load_system_roots`, for bundles already in memory."""
    roots: list[x509.Certificate] = []
    skipped: list[SkippedCertificate] = []
    notes: list[str] = []
    for index, match in enumerate(_PEM_BLOCK.finditer(data)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                roots.append(x509.load_pem_x509_certificate(match.group(0)))
            except ValueError as exc:
                skipped.append(SkippedCertificate(index, str(exc) or type(exc).__name__))
        notes.extend(f"block {index}: {w.message}" for w in caught)
    return SystemRoots(path, tuple(roots), tuple(skipped), tuple(notes))


def subjects(certs: Iterable[x509.Certificate]) -> tuple[str, ...]:
    """RFC 4514 subjects, for compact reports and assertions."""
    return tuple(c.subject.rfc4514_string() for c in certs)
