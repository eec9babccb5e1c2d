# -*- test-case-name: tests.tls.test_tls_policy -*-
"""What a fakepeer TLS endpoint accepts and asks for, as one frozen value.

A :class:`TlsPolicy` is pure data: versions, cipher suites, key-exchange groups, whether
a client certificate is required, which CA names go into the CertificateRequest and how
a refused client certificate is announced. :mod:`fakepeer.tls.context` turns it into an
``SSL.Context``; nothing here touches OpenSSL. The two real peers are the constants
:data:`MICROSOFT` and :data:`GENESYS` (facts from ``real-peers.md`` sections 2 and 3;
the ones tagged [?] there are marked below and are only defaults).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from cryptography import x509
from cryptography.x509.oid import NameOID

from fakepeer import vocabulary
from fakepeer.pki import mirrors
from fakepeer.pki.authority import x509_name
from fakepeer.tls.inspect import load_system_roots
from fakepeer.vocabulary import ClientCertificateMode

RefusalStyle = Literal["openssl", "sslstream"]
"""How a refused client certificate is announced (see :class:`TlsPolicy`)."""

CaEntry = x509.Name | x509.Certificate
CaList = Literal["empty", "trust"] | tuple[CaEntry, ...]
"""The CertificateRequest ``certificate_authorities``: ``"empty"`` sends none,
``"trust"`` lists the subjects of the roots used to verify client certificates, a tuple
lists exactly those names (a certificate stands for its subject), in order."""

#: Windows Schannel caps the issuer list it sends at 16 KB (support.microsoft.com/help/
#: 2880390); SBCs built on Schannel-like stacks may choke on longer lists.
SCHANNEL_ISSUER_LIST_LIMIT = 16 * 1024

#: Debian's public root bundle (``ca-certificates``); real-peers.md: 144 roots, ~14.8 KB
#: of names.
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class TlsVersion(StrEnum):
    """A TLS protocol version, spelled the way OpenSSL names it on a connection."""

    TLS1_0 = "TLSv1"
    TLS1_1 = "TLSv1.1"
    TLS1_2 = "TLSv1.2"
    TLS1_3 = "TLSv1.3"

    @property
    def wire(self) -> int:
        """The version number on the wire (0x0301 ... 0x0304), which orders versions."""
        return _WIRE[self]

    @classmethod
    def parse(cls, value: str | TlsVersion, field_name: str = "version") -> TlsVersion:
        """Accept ``TLSv1.2``, ``TLSv1.0``, ``1.2`` or ``TLS1.2``; name the field on error."""
        if isinstance(value, TlsVersion):
            return value
        text = str(value).strip()
        key = text.upper().replace("TLSV", "").replace("TLS", "").replace("_", ".")
        found = _ALIASES.get(key)
        if found is None:
            known = ", ".join(v.value for v in cls)
            raise ValueError(f"{field_name}: unknown TLS version {text!r}; expected one of {known}")
        return found


if tuple(v.value for v in TlsVersion) != vocabulary.TLS_VERSIONS:
    raise ValueError(f"TlsVersion {[v.value for v in TlsVersion]} differs from the "
                     f"vocabulary's TLS versions {list(vocabulary.TLS_VERSIONS)}")

_WIRE = {
    TlsVersion.TLS1_0: 0x0301,
    TlsVersion.TLS1_1: 0x0302,
    TlsVersion.TLS1_2: 0x0303,
    TlsVersion.TLS1_3: 0x0304,
}
_ALIASES = {
    "1": TlsVersion.TLS1_0,
    "1.0": TlsVersion.TLS1_0,
    "1.1": TlsVersion.TLS1_1,
    "1.2": TlsVersion.TLS1_2,
    "1.3": TlsVersion.TLS1_3,
}

#: IANA cipher suite name -> OpenSSL name, for the suites the real peers publish.
IANA_TO_OPENSSL: dict[str, str] = {
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA256": "AES256-SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384": "ECDHE-RSA-AES256-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
}


def openssl_cipher_names(iana_names: Iterable[str]) -> tuple[str, ...]:
    """Translate IANA suite names (as vendors publish them) to OpenSSL names, in order."""
    out = []
    for name in iana_names:
        try:
            out.append(IANA_TO_OPENSSL[name])
        except KeyError:
            raise ValueError(f"ciphers: no OpenSSL name known for {name!r}") from None
    return tuple(out)


_TLS13_DEFAULT = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_CHACHA20_POLY1305_SHA256",
)


@dataclass(frozen=True, slots=True)
class TlsPolicy:
    """The TLS behaviour of one fakepeer endpoint, validated when built.

    ``ciphers`` are OpenSSL names (or OpenSSL cipher-string keywords such as ``DEFAULT``)
    for TLS 1.2 and older; ``tls13_ciphersuites`` are the separate TLS 1.3 suites.
    ``groups`` are OpenSSL group names for (EC)DHE (``None``: OpenSSL's defaults).

    ``client_certificate_refusal`` decides which alert a refused client certificate
    gets under ``required``:

    * ``"openssl"``: OpenSSL decides. No certificate -> handshake_failure(40) in TLS 1.2,
      certificate_required(116) in TLS 1.3; a bad one stops verification at the first
      intolerable verify error and OpenSSL maps that error (unknown_ca(48) for an
      untrusted chain, unsupported_certificate(43) for a wrong EKU, ...).
    * ``"sslstream"``: fakepeer decides after OpenSSL has seen everything and writes the
      alert .NET SslStream would send: certificate_unknown(46) for no certificate,
      unknown_ca(48) for an untrusted chain, bad_certificate(42) for a wrong EKU (see
      :func:`fakepeer.tls.alerts.sslstream_alert_for`). fakepeer writes that alert in
      clear text in place of its own ChangeCipherSpec and Finished, which only works
      before encryption starts, so this style needs ``max_version`` TLS 1.2 or lower.

    ``tolerated_verify_errors`` are verify error codes that do not refuse a client
    certificate (e.g. ``{26}`` for the late-2025 relaxation of clientAuth). They are
    still recorded. ``insecure_security_level`` lowers OpenSSL's security level
    (``@SECLEVEL=n``), needed to serve SHA-1 or RSA-1024 defect chains.
    """

    min_version: TlsVersion = TlsVersion.TLS1_2
    max_version: TlsVersion = TlsVersion.TLS1_3
    ciphers: tuple[str, ...] = ("DEFAULT",)
    tls13_ciphersuites: tuple[str, ...] = _TLS13_DEFAULT
    groups: tuple[str, ...] | None = None
    client_certificate: ClientCertificateMode = "off"
    ca_list: CaList = "empty"
    client_certificate_refusal: RefusalStyle = "openssl"
    tolerated_verify_errors: frozenset[int] = field(default_factory=frozenset)
    server_cipher_preference: bool = True
    insecure_security_level: int | None = None
    label: str = ""

    def __post_init__(self) -> None:
        """Coerce friendly inputs and refuse impossible combinations, naming the field."""
        set_ = object.__setattr__
        set_(self, "min_version", TlsVersion.parse(self.min_version, "min_version"))
        set_(self, "max_version", TlsVersion.parse(self.max_version, "max_version"))
        if self.min_version.wire > self.max_version.wire:
            raise ValueError(
                f"min_version: {self.min_version} is above max_version {self.max_version}"
            )
        set_(self, "ciphers", _names("ciphers", self.ciphers))
        set_(self, "tls13_ciphersuites", _names("tls13_ciphersuites", self.tls13_ciphersuites))
        if self.groups is not None:
            set_(self, "groups", _names("groups", self.groups))
        if self.client_certificate not in ("required", "optional", "off"):
            raise ValueError(
                f"client_certificate: {self.client_certificate!r} is not one of "
                "'required', 'optional', 'off'"
            )
        if self.client_certificate_refusal not in ("openssl", "sslstream"):
            raise ValueError(
                f"client_certificate_refusal: {self.client_certificate_refusal!r} is not "
                "'openssl' or 'sslstream'"
            )
        if (
            self.client_certificate == "required"
            and self.client_certificate_refusal == "sslstream"
            and self.max_version.wire > TlsVersion.TLS1_2.wire
        ):
            raise ValueError(
                "client_certificate_refusal: 'sslstream' needs max_version TLSv1.2 or lower "
                "(fakepeer writes that alert before its Finished, which TLS 1.3 encrypts); "
                "use 'openssl' to allow TLS 1.3"
            )
        set_(self, "ca_list", _ca_list(self.ca_list))
        set_(self, "tolerated_verify_errors", frozenset(self.tolerated_verify_errors))
        if any(not isinstance(c, int) or c < 0 for c in self.tolerated_verify_errors):
            raise ValueError("tolerated_verify_errors: codes must be non-negative integers")
        level = self.insecure_security_level
        if level is not None and (not isinstance(level, int) or not 0 <= level <= 5):
            raise ValueError(f"insecure_security_level: {level!r} is not an integer 0-5")

    @property
    def versions(self) -> tuple[TlsVersion, ...]:
        """Every version this policy allows, lowest first."""
        return tuple(
            v for v in TlsVersion if self.min_version.wire <= v.wire <= self.max_version.wire
        )

    def with_versions(
        self, min_version: str | TlsVersion, max_version: str | TlsVersion | None = None
    ) -> Self:
        """A copy allowing ``min_version`` .. ``max_version`` (default: just ``min_version``)."""
        low = TlsVersion.parse(min_version, "min_version")
        high = TlsVersion.parse(max_version, "max_version") if max_version else low
        return dataclasses.replace(self, min_version=low, max_version=high)

    def with_version_bounds(self, low: str | TlsVersion | None = None,
                            high: str | TlsVersion | None = None) -> Self:
        """A copy with the bounds given replaced and the others kept: ``TLSv1`` alone
        lowers the minimum and keeps the maximum. Only when a kept bound would leave no
        version at all does it move to the given one (``TLSv1.3`` alone on a TLS 1.2-only
        policy allows TLS 1.3 only)."""
        low_version = TlsVersion.parse(low, "min_version") if low else self.min_version
        high_version = TlsVersion.parse(high, "max_version") if high else self.max_version
        if low_version.wire > high_version.wire:
            if not low:
                low_version = high_version
            elif not high:
                high_version = low_version
        return dataclasses.replace(self, min_version=low_version, max_version=high_version)

    def with_ciphers(self, *ciphers: str) -> Self:
        """A copy offering exactly these TLS ≤ 1.2 ciphers, in this order of preference."""
        return dataclasses.replace(self, ciphers=ciphers)

    def with_tls13_ciphersuites(self, *suites: str) -> Self:
        """A copy offering exactly these TLS 1.3 suites."""
        return dataclasses.replace(self, tls13_ciphersuites=suites)

    def with_groups(self, *groups: str) -> Self:
        """A copy limited to these key-exchange groups; no argument restores the defaults."""
        return dataclasses.replace(self, groups=groups or None)

    def with_client_certificate(
        self, mode: ClientCertificateMode, *, refusal: RefusalStyle | None = None
    ) -> Self:
        """A copy with another client-certificate mode (and, optionally, refusal style)."""
        return dataclasses.replace(
            self,
            client_certificate=mode,
            client_certificate_refusal=refusal or self.client_certificate_refusal,
        )

    def with_ca_list(self, ca_list: CaList | Iterable[CaEntry]) -> Self:
        """A copy advertising another CertificateRequest CA list."""
        return dataclasses.replace(self, ca_list=ca_list)  # type: ignore[arg-type]

    def tolerating(self, *verify_errors: int) -> Self:
        """A copy that still records but no longer refuses these verify error codes."""
        return dataclasses.replace(
            self, tolerated_verify_errors=self.tolerated_verify_errors | set(verify_errors)
        )

    def with_insecure_security_level(self, level: int | None) -> Self:
        """A copy at OpenSSL security level ``level`` (0 lets SHA-1 and RSA-1024 through)."""
        return dataclasses.replace(self, insecure_security_level=level)


def _names(field_name: str, values: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = values.split(":")
    out = tuple(values)
    if not out:
        raise ValueError(f"{field_name}: must not be empty")
    for value in out:
        if not isinstance(value, str) or not value.strip() or ":" in value:
            raise ValueError(f"{field_name}: {value!r} is not a single OpenSSL name")
    return out


def _ca_list(value: object) -> CaList:
    if value == "empty" or value == "trust":
        return value
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"ca_list: {value!r} is not 'empty', 'trust' or a tuple of names")
    entries = tuple(value)
    for entry in entries:
        if not isinstance(entry, x509.Name | x509.Certificate):
            raise ValueError(f"ca_list: {entry!r} is neither an x509.Name nor an x509.Certificate")
    return entries


def _name(**attributes: str) -> x509.Name:
    oids = {
        "C": NameOID.COUNTRY_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "CN": NameOID.COMMON_NAME,
    }
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attributes.items()])


#: The seven roots Microsoft asks Direct Routing SBCs to trust from 2026, by their exact
#: real subject DNs (the mirrors' subjects without the lab marker, real-peers.md section 1).
SEVEN_ROOTS: tuple[x509.Name, ...] = tuple(
    x509_name(mirrors.CAS[root].subject) for root in vocabulary.SEVEN_ROOTS
)


def seven_roots_ca_list() -> tuple[x509.Name, ...]:
    """The CA list naming the seven roots of Microsoft's 2026 guidance."""
    return SEVEN_ROOTS


def public_bundle_ca_list(path: Path = SYSTEM_BUNDLE) -> tuple[x509.Name, ...]:
    """The subjects of every parsable root in a PEM bundle (Debian's public roots)."""
    return tuple(cert.subject for cert in load_system_roots(path).roots)


def ca_list_wire_size(entries: Iterable[CaEntry]) -> int:
    """Bytes the names take in ``certificate_authorities``: each DER name plus 2 length bytes."""
    return sum(2 + len(_subject(e).public_bytes()) for e in entries)


def oversize_ca_list(
    min_bytes: int = SCHANNEL_ISSUER_LIST_LIMIT + 1, base: Iterable[CaEntry] = ()
) -> tuple[x509.Name, ...]:
    """``base`` (e.g. the public bundle) padded with filler CA names past ``min_bytes``.

    The filler names are obviously fake (``O=[fakepeer lab]``) so an SBC log that prints
    them is not mistaken for a real issuer list.
    """
    names = [_subject(e) for e in base]
    size = ca_list_wire_size(names)
    n = 0
    while size < min_bytes:
        n += 1
        filler = _name(O="[fakepeer lab]", OU="oversize CA list filler", CN=f"Filler CA {n:05d}")
        names.append(filler)
        size += 2 + len(filler.public_bytes())
    return tuple(names)


def _subject(entry: CaEntry) -> x509.Name:
    return entry.subject if isinstance(entry, x509.Certificate) else entry


#: Microsoft Teams Direct Routing SIP proxy (real-peers.md section 3): TLS 1.2 only,
#: exactly four ECDHE-RSA suites (since 2022-04-03), mutual TLS. [?] defaults: groups
#: (OpenSSL's), an empty CertificateRequest CA list (Schannel sends none by default since
#: Windows Server 2012) and SslStream-style refusal alerts (certificate_unknown for a
#: missing certificate matches the [S] report). clientAuth is required (2024-03 rule);
#: ``MICROSOFT.tolerating(26)`` models the late-2025 relaxation.
MICROSOFT = TlsPolicy(
    min_version=TlsVersion.TLS1_2,
    max_version=TlsVersion.TLS1_2,
    ciphers=(
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-SHA384",
        "ECDHE-RSA-AES128-SHA256",
    ),
    client_certificate="required",
    ca_list="empty",
    client_certificate_refusal="sslstream",
    label="microsoft",
)

#: The Genesys Cloud BYOC suite list as published (IANA names), in published order.
GENESYS_IANA_CIPHERS = (
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
)

#: Genesys Cloud BYOC (real-peers.md section 2): TLS 1.2 only, the published suites,
#: ECDHE on secp384r1 only, never mutual TLS. [?] The client's preference decides: the
#: published list starts with plain-RSA CBC suites, and honouring it as a server
#: preference would pick TLS_RSA_WITH_AES_256_CBC_SHA for every modern client.
GENESYS = TlsPolicy(
    min_version=TlsVersion.TLS1_2,
    max_version=TlsVersion.TLS1_2,
    ciphers=openssl_cipher_names(GENESYS_IANA_CIPHERS),
    groups=("secp384r1",),
    client_certificate="off",
    server_cipher_preference=False,
    label="genesys",
)
