"""Turns specs into certificates: the only module that uses ``x509.CertificateBuilder``.

As in trustme, one common builder sets subject, issuer, key, validity and serial; each role
then adds its extensions in the order the real certificate has them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from fakepeer.pki.keys import PrivateKey, hash_algorithm
from fakepeer.pki.model import CaSpec, LeafProfile, Name, SanEntry

#: Appended to every mirrored CA's common name unless real names are asked for, so that a
#: fake root is never mistaken for the real one in an SBC's trust-store screen. Parentheses,
#: not brackets: the real names are PrintableStrings, which have no brackets.
LAB_MARKER = " (fakepeer lab)"

#: Backdating, as mitmproxy does, for peers whose clocks run a little behind.
BACKDATE = timedelta(days=2)
DEFAULT_ROOT_LIFETIME = timedelta(days=20 * 365)
DEFAULT_CA_LIFETIME = timedelta(days=5 * 365)

_ATTRIBUTE_OIDS: dict[str, ObjectIdentifier] = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "jurisdictionC": NameOID.JURISDICTION_COUNTRY_NAME,
    "businessCategory": NameOID.BUSINESS_CATEGORY,
}
_EKU_OIDS = {"serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
             "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH}
_PRINTABLE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")
MS_CA_VERSION = ObjectIdentifier("1.3.6.1.4.1.311.21.1")
MS_TEMPLATE_NAME = ObjectIdentifier("1.3.6.1.4.1.311.20.2")
#: AD CS template name "SubCA" as a BMPString, as Microsoft's issuing CAs carry it [C].
_SUBCA_BMPSTRING = bytes.fromhex("1e0a00530075006200430041")


@dataclass(frozen=True, slots=True)
class IssueOptions:
    """Choices that shape every certificate of a store.

    ``real_names`` drops the lab marker; ``real_dates`` copies the real CAs' validity
    instead of making them valid at ``now``; ``http_base`` is where fakepeer's HTTP side
    serves the AIA, CRL and OCSP URLs embedded in certificates.
    """

    real_names: bool = False
    real_dates: bool = False
    http_base: str = "http://127.0.0.1:8080"
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("IssueOptions.now must be timezone-aware (UTC)")
        if not self.http_base.startswith(("http://", "https://")):
            raise ValueError(f"http_base {self.http_base!r} must start with http:// or https://")

    @property
    def variant(self) -> str:
        """The store folder for these options: certificates of different variants differ."""
        return ("real-names" if self.real_names else "lab") + (
            "-real-dates" if self.real_dates else ""
        )


def x509_name(name: Name, marker: str = "") -> x509.Name:
    """Build a DN in the real attribute order; PrintableString where the value allows it,
    as the real roots encode theirs."""
    attributes = []
    for attribute, value in name:
        text = value + marker if attribute == "CN" else value
        oid = _ATTRIBUTE_OIDS[attribute]
        if attribute in ("C", "jurisdictionC") or set(text) <= _PRINTABLE:
            attributes.append(x509.NameAttribute(oid, text, x509.name._ASN1Type.PrintableString))
        else:
            attributes.append(x509.NameAttribute(oid, text))
    return x509.Name(attributes)


def ca_subject(spec: CaSpec, options: IssueOptions) -> x509.Name:
    return x509_name(spec.subject, "" if options.real_names else LAB_MARKER)


@dataclass(frozen=True, slots=True)
class Issuer:
    """What signing needs from the issuing CA: its name, key and certificate id (for URLs)."""

    name: x509.Name
    key: PrivateKey
    certificate_id: str
    ca_id: str
    hash: str


def ca_validity(spec: CaSpec, options: IssueOptions) -> tuple[datetime, datetime]:
    if options.real_dates and spec.real_validity:
        start, end = spec.real_validity
        return (datetime(start.year, start.month, start.day, tzinfo=UTC),
                datetime(end.year, end.month, end.day, 23, 59, 59, tzinfo=UTC))
    not_before = options.now - BACKDATE
    if spec.real_validity:
        lifetime = spec.real_validity[1] - spec.real_validity[0]
    else:
        lifetime = DEFAULT_ROOT_LIFETIME if spec.is_root else DEFAULT_CA_LIFETIME
    return not_before, not_before + lifetime


def _key_usage(names: tuple[str, ...], key: PrivateKey) -> x509.KeyUsage:
    wanted = set(names)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        wanted.discard("key_encipherment")  # meaningless for EC keys
    return x509.KeyUsage(
        digital_signature="digital_signature" in wanted,
        content_commitment=False,
        key_encipherment="key_encipherment" in wanted,
        data_encipherment=False,
        key_agreement="key_agreement" in wanted,
        key_cert_sign="key_cert_sign" in wanted,
        crl_sign="crl_sign" in wanted,
        encipher_only=False,
        decipher_only=False,
    )


def _san(entries: tuple[SanEntry, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for entry in entries:
        if entry.kind == "dns":
            names.append(x509.DNSName(entry.value))
        else:
            names.append(x509.IPAddress(ipaddress.ip_address(entry.value)))
    return x509.SubjectAlternativeName(names)


def _policies(oids: tuple[str, ...]) -> x509.CertificatePolicies:
    return x509.CertificatePolicies(
        [x509.PolicyInformation(ObjectIdentifier(oid), None) for oid in oids]
    )


def _aia(issuer: Issuer, options: IssueOptions,
         methods: tuple[str, ...] = ("ocsp", "ca_issuers")) -> x509.AuthorityInformationAccess:
    base = options.http_base.rstrip("/")
    descriptions = []
    if "ocsp" in methods:
        descriptions.append(x509.AccessDescription(
            x509.oid.AuthorityInformationAccessOID.OCSP,
            x509.UniformResourceIdentifier(f"{base}/ocsp/{issuer.ca_id}")))
    if "ca_issuers" in methods:
        descriptions.append(x509.AccessDescription(
            x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier(f"{base}/aia/{issuer.certificate_id}.crt")))
    return x509.AuthorityInformationAccess(descriptions)


def _cdp(issuer: Issuer, options: IssueOptions) -> x509.CRLDistributionPoints:
    url = f"{options.http_base.rstrip('/')}/crl/{issuer.ca_id}.crl"
    return x509.CRLDistributionPoints([
        x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)
    ])


def _new_builder(subject: x509.Name, issuer_name: x509.Name, key: PrivateKey,
                 not_before: datetime, not_after: datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


@dataclass(frozen=True, slots=True)
class _Extensions:
    """What either role needs to write the extensions both kinds of certificate share."""

    key: PrivateKey
    signer_key: PrivateKey
    issuer: Issuer | None
    options: IssueOptions
    key_usage: tuple[str, ...]
    eku: tuple[str, ...]
    policies: tuple[str, ...]
    aia_methods: tuple[str, ...] = ("ocsp", "ca_issuers")

    def common(self, name: str) -> tuple[x509.ExtensionType, bool] | None:
        """The (extension, critical) for a shared name; None when absent or not shared."""
        if name == "ski":
            return x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), False
        if name == "aki":
            return (x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.signer_key.public_key()), False)
        if name == "ku" and self.key_usage:
            return _key_usage(self.key_usage, self.key), True
        if name == "eku" and self.eku:
            return x509.ExtendedKeyUsage([_EKU_OIDS[e] for e in self.eku]), False
        if name == "policies" and self.policies:
            return _policies(self.policies), False
        if name == "aia" and self.issuer:
            return _aia(self.issuer, self.options, self.aia_methods), False
        if name == "cdp" and self.issuer:
            return _cdp(self.issuer, self.options), False
        return None


def build_ca_certificate(
    spec: CaSpec,
    key: PrivateKey,
    issuer: Issuer | None,
    options: IssueOptions,
    validity: tuple[datetime, datetime] | None = None,
) -> x509.Certificate:
    """Sign ``spec``'s certificate: self-signed when ``issuer`` is None, else by ``issuer``."""
    subject = ca_subject(spec, options)
    signer_key = issuer.key if issuer else key
    not_before, not_after = validity or ca_validity(spec, options)
    builder = _new_builder(subject, issuer.name if issuer else subject, key, not_before, not_after)
    shared = _Extensions(key, signer_key, issuer, options, spec.key_usage, spec.eku,
                         spec.policies, spec.aia)
    for name in spec.extensions:
        extension = shared.common(name)
        if name == "bc":
            extension = x509.BasicConstraints(ca=True, path_length=spec.path_length), True
        elif name == "ms-ca-version":
            extension = x509.UnrecognizedExtension(MS_CA_VERSION, b"\x02\x01\x00"), False
        elif name == "ms-template":
            extension = x509.UnrecognizedExtension(MS_TEMPLATE_NAME, _SUBCA_BMPSTRING), False
        if extension is not None:
            builder = builder.add_extension(extension[0], critical=extension[1])
    # The signature hash belongs to the certificate (DigiCert G2 signs Azure 03 with
    # SHA-384 though its own self-signature is SHA-256), so it comes from ``spec``.
    return builder.sign(signer_key, hash_algorithm(spec.hash))


def build_leaf_certificate(
    profile: LeafProfile,
    key: PrivateKey,
    issuer: Issuer | None,
    options: IssueOptions,
    validity: tuple[datetime, datetime] | None = None,
    signature_hash: str | None = None,
) -> x509.Certificate:
    """Sign an end-entity certificate; self-signed when ``issuer`` is None (a defect)."""
    subject = x509_name(profile.subject)
    signer_key = issuer.key if issuer else key
    if validity is None:
        not_before = options.now - timedelta(days=1)
        validity = (not_before, not_before + timedelta(days=profile.days))
    builder = _new_builder(subject, issuer.name if issuer else subject, key, *validity)
    shared = _Extensions(key, signer_key, issuer, options, profile.key_usage, profile.eku,
                         profile.policies)
    for name in profile.extensions:
        extension = shared.common(name)
        if name == "san" and profile.sans:
            extension = _san(profile.sans), False
        elif name == "bc":
            extension = x509.BasicConstraints(ca=False, path_length=None), True
        if extension is not None:
            builder = builder.add_extension(extension[0], critical=extension[1])
    return builder.sign(signer_key, hash_algorithm(signature_hash or profile.hash))
