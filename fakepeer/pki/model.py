"""The vocabulary of mirrored hierarchies: what a CA, a leaf profile and an era are.

These are specifications, not certificates: ``mirrors.py`` fills them with facts about the
real peers and ``authority.py`` turns them into certificates.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from fakepeer import vocabulary
from fakepeer.pki.keys import KeySpec

#: Extensions a spec can ask for, by the short names used in ``CaSpec.extensions``.
EXTENSION_NAMES = frozenset(
    {"ski", "aki", "bc", "ku", "eku", "policies", "aia", "cdp", "san", "ms-ca-version",
     "ms-template"}
)
KEY_USAGES = frozenset(
    {"digital_signature", "key_encipherment", "key_agreement", "key_cert_sign", "crl_sign"}
)
EKUS = frozenset({"serverAuth", "clientAuth"})
DN_ATTRIBUTES = (
    "C", "ST", "L", "O", "OU", "CN", "serialNumber", "jurisdictionC", "businessCategory",
)

Name = tuple[tuple[str, str], ...]
#: The reference default for the SIP proxy leaf: the Microsoft suites are ECDHE-RSA only.
DEFAULT_LEAF_KEY = KeySpec("RSA", 2048)


def _check_name(owner: str, name: Name) -> None:
    for attribute, value in name:
        if attribute not in DN_ATTRIBUTES:
            raise ValueError(f"{owner}: unknown DN attribute {attribute!r} (use {DN_ATTRIBUTES})")
        if not value:
            raise ValueError(f"{owner}: DN attribute {attribute} is empty")


@dataclass(frozen=True, slots=True)
class CaSpec:
    """One certificate authority as the real one looks, minus its key and its dates.

    ``issuers`` lists who signs this CA's certificates: empty for a self-signed root; the
    first entry is the primary path, the others are cross-signatures (the same subject and
    key, another issuer). ``extensions`` gives both which extensions appear and their order,
    copied from the real certificate.
    """

    id: str
    subject: Name
    key: KeySpec
    hash: str
    extensions: tuple[str, ...]
    issuers: tuple[str, ...] = ()
    path_length: int | None = None
    key_usage: tuple[str, ...] = ("digital_signature", "key_cert_sign", "crl_sign")
    eku: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    aia: tuple[str, ...] = ("ocsp", "ca_issuers")  # which access methods the AIA lists
    real_validity: tuple[date, date] | None = None
    real_hash: str | None = None  # when the real one differs from ``hash`` (SHA-1 roots)
    system_file: str | None = None  # the real root's file in /etc/ssl/certs, for comparison
    source: str = ""

    def __post_init__(self) -> None:
        _check_name(self.id, self.subject)
        unknown = set(self.extensions) - EXTENSION_NAMES
        if unknown:
            raise ValueError(f"{self.id}: unknown extensions {sorted(unknown)}")
        if set(self.key_usage) - KEY_USAGES or set(self.eku) - EKUS:
            raise ValueError(f"{self.id}: unknown key usage or EKU")
        if self.eku and "eku" not in self.extensions:
            raise ValueError(f"{self.id}: eku given but 'eku' not in extensions")

    @property
    def is_root(self) -> bool:
        return not self.issuers

    @property
    def common_name(self) -> str:
        return dict(self.subject)["CN"]


@dataclass(frozen=True, slots=True)
class SanEntry:
    """One subjectAltName entry, typed, so that deliberately odd names can be written out."""

    kind: str  # "dns" or "ip"
    value: str

    def __post_init__(self) -> None:
        if self.kind not in ("dns", "ip"):
            raise ValueError(f"SAN kind {self.kind!r} is not dns or ip")

    def __str__(self) -> str:
        return f"{'DNS' if self.kind == 'dns' else 'IP Address'}:{self.value}"


def dns(*names: str) -> tuple[SanEntry, ...]:
    return tuple(SanEntry("dns", n) for n in names)


@dataclass(frozen=True, slots=True)
class LeafProfile:
    """An end-entity certificate: the SIP proxy's, a Genesys edge's, or a lab SBC's."""

    id: str
    subject: Name
    sans: tuple[SanEntry, ...]
    key: KeySpec = DEFAULT_LEAF_KEY
    hash: str = "sha384"
    days: int = 199
    eku: tuple[str, ...] = ("serverAuth", "clientAuth")
    key_usage: tuple[str, ...] = ("digital_signature", "key_encipherment")
    policies: tuple[str, ...] = ("2.23.140.1.2.2",)
    extensions: tuple[str, ...] = ("ku", "eku", "san", "policies", "aki", "ski", "aia", "cdp", "bc")
    source: str = ""

    def __post_init__(self) -> None:
        _check_name(self.id, self.subject)
        if set(self.eku) - EKUS:
            raise ValueError(f"{self.id}: unknown EKU in {self.eku}")
        if self.days < 1:
            raise ValueError(f"{self.id}: days must be at least 1, not {self.days}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.value for s in self.sans if s.kind == "dns")

    def but(self, **changes: object) -> LeafProfile:
        """A copy with some attributes overridden (``replace`` with a readable name)."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ChainPath:
    """How a leaf issued by ``certificates[0]`` reaches ``anchor``.

    ``certificates`` are certificate ids, issuing CA first, anchor excluded. A certificate id
    is a CA id (its primary certificate) or ``ca@issuer`` for a cross-signed one.
    """

    certificates: tuple[str, ...]
    anchor: str
    note: str = ""
    #: How sure we are that the real peer serves this path: [V], [C], [S] or [?].
    source: str = ""


#: RFC 5280 CRLReason values by the names ``cryptography.x509.ReasonFlags`` gives them.
REVOCATION_REASONS = frozenset({
    "unspecified", "key_compromise", "ca_compromise", "affiliation_changed", "superseded",
    "cessation_of_operation", "certificate_hold", "privilege_withdrawn", "aa_compromise",
})


@dataclass(frozen=True, slots=True)
class CaRevocation:
    """A CA certificate its issuer revoked in reality: fakepeer's CRL and OCSP answers of
    that issuer list it (with this date and reason) once the certificate exists."""

    certificate: str  # a certificate id: ``ca`` or ``ca@issuer``
    date: date
    reason: str
    source: str = ""

    def __post_init__(self) -> None:
        CertificateId.parse(self.certificate)
        if self.reason not in REVOCATION_REASONS:
            raise ValueError(f"{self.certificate}: unknown revocation reason {self.reason!r} "
                             f"(use one of {sorted(REVOCATION_REASONS)})")


@dataclass(frozen=True, slots=True)
class Era:
    """One state of a cloud peer's PKI: which leaf it serves and through which paths.

    ``id`` and the path names are the vocabulary's (:data:`fakepeer.vocabulary.ERAS`),
    which also says whose era it is and which path is the default.
    """

    id: str
    title: str
    leaf: LeafProfile
    paths: dict[str, ChainPath]
    #: Issuing CAs that exist in reality beside the default one; made on request only.
    sibling_issuers: tuple[str, ...] = ()
    #: Roots a correctly configured SBC must trust for this era (ids), beyond the anchor.
    recommended_roots: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def terms(self) -> vocabulary.EraTerms:
        return vocabulary.ERAS[self.id]

    @property
    def default_path(self) -> str:
        return self.terms.default_path

    def path(self, name: str | None = None) -> ChainPath:
        name = name or self.default_path
        try:
            return self.paths[name]
        except KeyError:
            raise KeyError(
                f"era {self.id} has no chain path {name!r} (known: {', '.join(self.paths)})"
            ) from None


@dataclass(frozen=True, slots=True)
class CertificateId:
    """``ca[@issuer][!expired]``: which CA, signed by whom, and whether re-issued expired.

    A bare CA id means its primary certificate (its first issuer, or self-signed for a
    root); ``@issuer`` names a cross-signed one; ``!expired`` is the same CA and key
    re-issued with dates in the past (the expired-intermediate defect).
    """

    ca: str
    issuer: str | None = None
    expired: bool = False

    @classmethod
    def parse(cls, text: str) -> CertificateId:
        body, bang, flag = text.partition("!")
        if bang and flag != "expired":
            raise ValueError(f"certificate id {text!r}: unknown flag !{flag}")
        ca, _, issuer = body.partition("@")
        if not ca:
            raise ValueError(f"certificate id {text!r} names no CA")
        return cls(ca, issuer or None, bool(bang))

    def canonical(self, primary_issuer: str | None) -> CertificateId:
        """The one name of this certificate, given who signs the CA's primary one
        (``None`` for a root): ``ca@primary`` is ``ca``, and so is a root's ``ca@ca``."""
        if self.issuer is not None and self.issuer == (primary_issuer or self.ca):
            return CertificateId(self.ca, None, self.expired)
        return self

    def __str__(self) -> str:
        issuer = f"@{self.issuer}" if self.issuer else ""
        return self.ca + issuer + ("!expired" if self.expired else "")
