# -*- test-case-name: tests.tls.test_identity -*-
"""Which host names a certificate proves, and whether a host is one of them.

Matching is service-identity's (RFC 6125 as its hazmat API applies it: exact names
case-blind, a wildcard only as the whole left-most label with at least two labels after
it, none on an IDNA ``xn--`` label, non-ASCII hosts compared in their IDNA form). What
fakepeer adds is Microsoft's rule of which names count: Teams matches the SBC's FQDN
against the CN *or* a SAN of its certificate (real-peers.md section 3), while
service-identity, like browsers, reads subjectAltName only; so the subject's CN values
are added as DNS patterns. A trailing root dot is dropped on both sides first (DNS names
are absolute either way) and the host is lower-cased before its IDNA encoding.

:mod:`fakepeer.sip` must stay free of OpenSSL, which service-identity imports, so it
gets this matching injected (:func:`matches_certificate_name` as its
``PeerContext.name_matcher``); :mod:`fakepeer.probe.validation` calls it directly.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import extract_patterns
from service_identity.hazmat import (
    DNS_ID,
    CertificatePattern,
    DNSPattern,
    verify_service_identity,
)

from fakepeer.addresses import is_ip_address as is_ip_literal
from fakepeer.tls.inspect import read_extensions


def certificate_names(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(DNS names, IP addresses) a certificate claims: SAN entries first, then CN values.

    A CN that parses as an IP address counts as an address, not a name. A
    subjectAltName that cannot be parsed (or is duplicated) counts as none, a subject
    that cannot be parsed has no CN: the names of a crafted certificate are what can
    be read of them, never an exception (issue 12 item 1).
    """
    san = read_extensions(cert).value(x509.SubjectAlternativeName)
    dns = list(san.get_values_for_type(x509.DNSName)) if san is not None else []
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] if san else []
    for value in _common_names(cert):
        target = ips if is_ip_literal(value) else dns
        if value not in target:
            target.append(value)
    return tuple(dns), tuple(ips)


def _common_names(cert: x509.Certificate) -> list[str]:
    """The subject's CN values; none when the subject cannot be parsed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a CN over 64 characters is still its name
            attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return []
    return [str(attribute.value) for attribute in attributes]


def dns_patterns(names: Iterable[str]) -> tuple[DNSPattern, ...]:
    """service-identity's patterns for ``names``; a name it refuses as a pattern (empty,
    an IP address, ``*.com``, two wildcards) is left out: it can match nothing."""
    patterns: list[DNSPattern] = []
    for name in names:
        with contextlib.suppress(CertificateError, UnicodeError):
            patterns.append(DNSPattern.from_bytes(_absolute(name).encode("utf-8")))
    return tuple(patterns)


def certificate_patterns(cert: x509.Certificate) -> tuple[CertificatePattern, ...]:
    """The patterns service-identity extracts from the SAN, plus the CN values (the
    Microsoft fallback).

    When service-identity refuses the SAN as a whole (one entry it cannot take as a
    pattern), the SAN's DNS names are taken one by one, so one bad entry does not hide
    the good ones.
    """
    dns, _ = certificate_names(cert)
    try:
        san: tuple[CertificatePattern, ...] = tuple(extract_patterns(cert))
    except (CertificateError, ValueError, x509.DuplicateExtension):
        return dns_patterns(dns)
    common_names = _common_names(cert)
    return (*san, *dns_patterns(name for name in common_names if not is_ip_literal(name)))


def matches_host(patterns: Sequence[CertificatePattern], host: str) -> bool:
    """Whether ``host`` (a DNS name) is one of ``patterns``, by service-identity's rules."""
    if not patterns:
        return False
    try:
        # Lower case first, as UTS 46 maps it before IDNA encoding ("BÜCHER" is "bücher");
        # service-identity lower-cases ASCII only, and IDNA 2008 refuses upper case.
        service_id = DNS_ID(_absolute(host).lower())
        verify_service_identity(cert_patterns=patterns, obligatory_ids=[service_id],
                                optional_ids=[])
    except (VerificationError, CertificateError, ValueError, UnicodeError):
        return False  # ValueError/UnicodeError: ``host`` is no valid DNS-ID at all
    return True


def matches_certificate_name(host: str, names: Sequence[str]) -> bool:
    """Whether ``host`` is one of a certificate's DNS ``names``, exactly or by wildcard.

    The :class:`fakepeer.sip.admission.NameMatcher` fakepeer gives its SIP layer.
    """
    return matches_host(dns_patterns(names), host)


def certificate_matches(cert: x509.Certificate, host: str) -> bool:
    """Whether ``cert`` proves ``host``, through its SAN or (Microsoft's rule) its CN."""
    return matches_host(certificate_patterns(cert), host)


def _absolute(name: str) -> str:
    """``name`` without the trailing root dot, which service-identity would compare."""
    return name.strip()[:-1] if name.strip().endswith(".") else name.strip()
