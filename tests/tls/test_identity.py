"""Host names a certificate proves: service-identity's matching rules plus Microsoft's CN
fallback, as serve's admission and probe's validation use them."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fakepeer.tls.identity import (
    certificate_matches,
    certificate_names,
    certificate_patterns,
    matches_certificate_name,
)

KEY = ec.generate_private_key(ec.SECP256R1())


def certificate(common_name: str | None, *san: x509.GeneralName) -> x509.Certificate:
    """A self-signed certificate with this CN (or none) and these SAN entries (or none)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
                        if common_name else [])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(KEY.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
    return builder.sign(KEY, hashes.SHA256())


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [("sbc.example.com", "SBC.example.com.", True), ("*.example.com", "sbc.example.com", True),
     ("*.example.com", "a.b.example.com", False), ("*.example.com", "example.com", False),
     ("*.com", "example.com", False), ("s*.example.com", "sbc.example.com", False),
     ("*.*.example.com", "a.b.example.com", False)],
)
def test_certificate_name_matching(pattern, host, matches):
    """Exact names match case-blind; a wildcard covers exactly one left-most label."""
    assert matches_certificate_name(host, (pattern,)) is matches


@pytest.mark.parametrize("pattern", ["*bc.example.com", "sb*.example.com", "s*c.example.com",
                                     "sbc*.example.com"])
def test_no_partial_label_wildcards(pattern):
    """A wildcard that is only part of a label matches nothing but its own spelling."""
    assert not matches_certificate_name("sbc.example.com", (pattern,))


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [("xn--bcher-kva.example.com", "bücher.example.com", True),
     ("xn--bcher-kva.example.com", "BÜCHER.example.com", True),
     ("xn--bcher-kva.example.com", "xn--bcher-kva.example.com", True),
     ("*.example.com", "bücher.example.com", False),
     ("*.example.com", "xn--bcher-kva.example.com", False),
     ("*.xn--bcher-kva.example.com", "sbc.bücher.example.com", True)],
)
def test_idna_names_are_compared_in_their_ascii_form(pattern, host, matches):
    """A non-ASCII host is its IDNA A-label; a wildcard never stands for an A-label."""
    assert matches_certificate_name(host, (pattern,)) is matches


@pytest.mark.parametrize("host", ["192.0.2.10", "", "sbc example.com", "[2001:db8::1]"])
def test_what_is_no_dns_name_matches_nothing(host):
    """IP addresses, empty and malformed hosts are not DNS-IDs: no match, no exception."""
    assert not matches_certificate_name(host, ("sbc.example.com", "*.example.com", host))


def test_any_of_several_names():
    """The host matches when any of the certificate's names does; none given, none match."""
    assert matches_certificate_name("sbc.example.com", ("other.example.org", "*.example.com"))
    assert not matches_certificate_name("sbc.example.com", ())


def test_the_common_name_counts_as_microsoft_matches_it():
    """Teams matches CN or SAN: a CN outside the SAN list still names the SBC, which
    service-identity alone (SAN only) would refuse."""
    cert = certificate("cn.example.com", x509.DNSName("san.example.com"))
    assert certificate_names(cert) == (("san.example.com", "cn.example.com"), ())
    assert certificate_matches(cert, "san.example.com")
    assert certificate_matches(cert, "cn.example.com")
    assert not certificate_matches(cert, "other.example.com")
    assert certificate_matches(certificate("sbc.example.com"), "sbc.example.com")


def test_a_san_entry_service_identity_refuses_does_not_hide_the_others():
    """One SAN entry that is no valid pattern leaves the good ones matching."""
    cert = certificate(None, x509.DNSName("*.com"), x509.DNSName("sbc.example.com"))
    assert certificate_matches(cert, "sbc.example.com")
    assert not certificate_matches(cert, "example.com")
    assert len(certificate_patterns(cert)) == 1


def test_ip_addresses_are_addresses_not_names():
    """An IP in the SAN or as the CN is listed as an address and never matches a name."""
    cert = certificate("192.0.2.7", x509.IPAddress(ipaddress.ip_address("192.0.2.10")))
    assert certificate_names(cert) == ((), ("192.0.2.10", "192.0.2.7"))
    assert not certificate_matches(cert, "192.0.2.10")
