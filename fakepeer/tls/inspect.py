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

import contextlib
import datetime as dt
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from fakepeer.tls import der

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
    """The facts about one certificate that a fakepeer report shows.

    ``problems`` names each part that could not be read (one line each, e.g.
    ``unparseable extension subjectAltName (2.5.29.17): ...``); the fields of those
    parts hold a neutral value (no names, no EKU list, key type ``unreadable``).
    """

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
    problems: tuple[str, ...] = ()


#: Longer subject or issuer texts are cut in reports (a crafted name can be tens of KB).
MAX_NAME_TEXT = 512
#: RFC 5280 section 4.1.2.2: serial numbers are positive and at most 20 octets.
MAX_SERIAL_OCTETS = 20
_ExtensionT = TypeVar("_ExtensionT", bound=x509.ExtensionType)


@dataclass(frozen=True, slots=True)
class CertificateExtensions:
    """A certificate's extensions, each parsed on its own, and what could not be."""

    parsed: Mapping[x509.ObjectIdentifier, x509.Extension[x509.ExtensionType]]
    problems: tuple[str, ...] = ()

    def value(self, kind: type[_ExtensionT]) -> _ExtensionT | None:
        """The parsed value of extension class ``kind``, or ``None`` (absent, broken or
        duplicated)."""
        found = self.parsed.get(kind.oid)
        return found.value if found is not None and isinstance(found.value, kind) else None


def read_extensions(cert: x509.Certificate) -> CertificateExtensions:
    """Every extension of ``cert`` that can be parsed, and one problem per other one.

    cryptography parses the extensions all at once; when that fails (a malformed value,
    a duplicate), each is parsed alone so that one bad extension hides nothing else. A
    duplicated extension is a problem and neither copy is used: a reader cannot know
    which one the issuer meant.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the problems below say what is wrong
        try:
            return CertificateExtensions({e.oid: e for e in cert.extensions})
        except (ValueError, x509.DuplicateExtension) as whole:
            return _extensions_one_by_one(cert, whole)


def _extensions_one_by_one(cert: x509.Certificate, whole: Exception) -> CertificateExtensions:
    data = cert.public_bytes(serialization.Encoding.DER)
    try:
        raw = der.raw_extensions(data)
    except der.DerError as exc:
        return CertificateExtensions({}, (f"unparseable extensions ({exc}): {_short(whole)}",))
    counts = Counter(item.oid for item in raw)
    parsed: dict[x509.ObjectIdentifier, x509.Extension[x509.ExtensionType]] = {}
    problems = []
    for oid in (o for o, n in counts.items() if n > 1):
        problems.append(f"duplicate extension {_extension_label(oid)}: {counts[oid]} copies, "
                        "none of them is used")
    for item in raw:
        if counts[item.oid] > 1:
            continue
        try:
            [extension] = x509.load_der_x509_certificate(
                der.with_extensions(data, [item.encoded])).extensions
        except ValueError as exc:
            problems.append(f"unparseable extension {_extension_label(item.oid)}: "
                            f"{_short(exc)}")
            continue
        parsed[extension.oid] = extension
    return CertificateExtensions(parsed, tuple(problems))


def _unknown_critical(extensions: CertificateExtensions) -> list[str]:
    """RFC 5280 section 4.2: a certificate with a critical extension the reader does not
    know must be rejected; a report says which."""
    return [f"unknown critical extension {_extension_label(e.oid.dotted_string)}"
            for e in extensions.parsed.values()
            if e.critical and isinstance(e.value, x509.UnrecognizedExtension)]


def _extension_label(dotted: str) -> str:
    """``subjectAltName (2.5.29.17)``; the bare OID when cryptography has no name for it."""
    try:
        name = x509.ObjectIdentifier(dotted)._name
    except ValueError:
        return dotted
    return dotted if name == "Unknown OID" else f"{name} ({dotted})"


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _shortened(text: str) -> str:
    if len(text) <= MAX_NAME_TEXT:
        return text
    return f"{text[:MAX_NAME_TEXT]}... ({len(text)} characters)"


def _name(cert: x509.Certificate, part: Literal["subject", "issuer"]
          ) -> tuple[str, x509.Name | None, str | None]:
    """The name's text for reports, the parsed name (``None`` if unparseable) and the
    problem with it, if any."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a CN over 64 characters: said below
            name = cert.subject if part == "subject" else cert.issuer
            text = name.rfc4514_string()
    except ValueError as exc:
        raw = _raw_name_text(cert.public_bytes(serialization.Encoding.DER), part)
        return raw, None, f"unparseable {part} ({_short(exc)}); shown as read raw"
    if len(text) > MAX_NAME_TEXT:
        return _shortened(text), name, f"{part} is {len(text)} characters long"
    return text, name, None


def subject_text(cert: x509.Certificate) -> str:
    """The subject for a report line: RFC 4514 text, read raw when cryptography cannot
    parse it, cut at :data:`MAX_NAME_TEXT` characters. Never raises."""
    return _name(cert, "subject")[0]


def issuer_text(cert: x509.Certificate) -> str:
    """The issuer as :func:`subject_text` shows a subject."""
    return _name(cert, "issuer")[0]


def load_peer_certificate(data: bytes) -> x509.Certificate:
    """A DER certificate that a peer sent (OpenSSL has parsed it), as cryptography's.

    Raises ``ValueError`` with cryptography's reason when it refuses the certificate as
    a whole (a version 4, a date it cannot read, a PrintableString with ``@``). Its
    deprecation warnings (a negative serial, a CN over 64 characters) are silenced, and
    the parts it parses lazily are read once while they are, so that later reads stay
    silent too; :func:`summarize_certificate` names those problems instead.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cert = x509.load_der_x509_certificate(data)
        except x509.InvalidVersion as exc:  # not a ValueError
            raise ValueError(str(exc)) from None
        for part in ("subject", "issuer", "extensions"):
            with contextlib.suppress(ValueError, x509.DuplicateExtension):
                getattr(cert, part)
    return cert


def raw_subject_text(data: bytes) -> str:
    """The subject of a DER certificate, read raw (for one cryptography cannot load)."""
    return _raw_name_text(data, "subject")


def _raw_name_text(data: bytes, part: Literal["subject", "issuer"]) -> str:
    try:
        return _shortened(der.name_text(der.name_der(data, part)))
    except der.DerError:
        return "?"


def summarize_certificate(cert: x509.Certificate) -> CertificateSummary:
    """Summarize ``cert``; ``extended_key_usages`` is ``None`` when the extension is absent.

    Never raises, whatever the certificate an SBC sent: each part is read on its own and
    each one that cannot be read is named in ``problems`` (issue 12 item 1: one crafted
    client certificate made reporting raise and locked a listener).
    """
    problems: list[str] = []
    extensions = read_extensions(cert)
    problems.extend(extensions.problems)
    problems.extend(_unknown_critical(extensions))
    san = extensions.value(x509.SubjectAlternativeName)
    dns = tuple(san.get_values_for_type(x509.DNSName)) if san is not None else ()
    ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress)) if san else ()
    constraints = extensions.value(x509.BasicConstraints)
    subject, subject_name, subject_problem = _name(cert, "subject")
    issuer, issuer_name, issuer_problem = _name(cert, "issuer")
    problems.extend(p for p in (subject_problem, issuer_problem) if p is not None)
    serial, serial_problem = _serial(cert)
    key_type, bits, key_problem = _key(cert)
    digest, digest_problem = _signature_hash(cert)
    problems.extend(p for p in (serial_problem, key_problem, digest_problem) if p is not None)
    self_issued = (subject_name == issuer_name if subject_name is not None
                   and issuer_name is not None else subject == issuer)
    return CertificateSummary(
        subject=subject,
        issuer=issuer,
        serial=serial,
        dns_names=dns,
        ip_addresses=ips,
        extended_key_usages=_eku_names(extensions),
        is_ca=constraints.ca if constraints is not None else False,
        self_issued=self_issued,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_bits=bits,
        signature_hash=digest,
        sha1=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - a thumbprint, not a signature
        sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
        problems=tuple(problems),
    )


def _serial(cert: x509.Certificate) -> tuple[str, str | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a non-positive serial: said below
        number = cert.serial_number
    text = f"{number:X}"
    if number <= 0:
        return text, f"serial number {text} is not positive (RFC 5280 section 4.1.2.2)"
    octets = (number.bit_length() + 8) // 8
    if octets > MAX_SERIAL_OCTETS:
        return _shortened(text), (f"serial number is {octets} octets long; RFC 5280 "
                                  f"allows {MAX_SERIAL_OCTETS}")
    return text, None


def _key(cert: x509.Certificate) -> tuple[str, int, str | None]:
    try:
        key_type, bits = key_description(cert)
    except (ValueError, UnsupportedAlgorithm) as exc:
        return "unreadable", 0, f"unreadable public key: {_short(exc)}"
    return key_type, bits, None


def _signature_hash(cert: x509.Certificate) -> tuple[str | None, str | None]:
    try:
        digest = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None, (f"unknown signature algorithm "
                      f"{cert.signature_algorithm_oid.dotted_string}")
    return (digest.name if digest else None), None


def _eku_names(extensions: CertificateExtensions) -> tuple[str, ...] | None:
    eku = extensions.value(x509.ExtendedKeyUsage)
    if eku is None:
        return None
    return tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku)


def extended_key_usages(cert: x509.Certificate) -> tuple[str, ...] | None:
    """EKU names (``serverAuth``, ``clientAuth`` ...; dotted OID if unnamed) or ``None``
    when the extension is absent, or present but unreadable (see :func:`read_extensions`)."""
    return _eku_names(read_extensions(cert))


def key_description(cert: x509.Certificate) -> tuple[str, int]:
    """``("RSA", 2048)``, ``("EC secp384r1", 384)``, ``("Ed25519", 256)`` ...

    Raises ``ValueError`` or ``UnsupportedAlgorithm`` for a key cryptography cannot load
    (a 1-bit RSA modulus, an unknown algorithm); :func:`summarize_certificate` does not.
    """
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
class Unreadable(CertificateProblem):
    """A part of a certificate that cannot be read (see :class:`CertificateSummary`'s
    ``problems``): the certificate cannot be judged on it, so it is not acceptable."""

    detail: str

    @property
    def message(self) -> str:
        """One line for a report."""
        return f"{self.subject}: {self.detail}"


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
    summaries = [summarize_certificate(cert) for cert in chain]
    problems: list[CertificateProblem] = []
    for depth, summary in enumerate(summaries):
        name = summary.subject
        problems.extend(Unreadable(name, depth, problem) for problem in summary.problems)
        if summary.not_after < now:
            problems.append(Expired(name, depth, summary.not_after))
        if summary.not_before > now:
            problems.append(NotYetValid(name, depth, summary.not_before))
        key_type, bits = summary.key_type, summary.key_bits
        minimum = MIN_RSA_BITS if key_type in ("RSA", "DSA") else MIN_EC_BITS
        if key_type.startswith(("RSA", "DSA", "EC ")) and bits < minimum:
            problems.append(WeakKey(name, depth, key_type, bits, minimum))
        if summary.signature_hash in ("sha1", "md5"):
            problems.append(WeakSignature(name, depth, summary.signature_hash))

    required = _EKU_REQUIRED[eku_rule]
    present = summaries[0].extended_key_usages
    if present is not None and "anyExtendedKeyUsage" not in present:
        missing = tuple(u for u in required if u not in present)
        if missing:
            problems.append(MissingExtendedKeyUsage(summaries[0].subject, 0, missing, present))

    detail = _path_problem(leaf, list(intermediates), list(trust_roots), _path_time(chain, now))
    if detail is not None:
        problems.append(Untrusted(summaries[0].subject, -1, detail))
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
    except (VerificationError, ValueError) as exc:  # ValueError: a part it cannot parse
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
    """RFC 4514 subjects, for compact reports and assertions (as :func:`subject_text`)."""
    return tuple(subject_text(c) for c in certs)
