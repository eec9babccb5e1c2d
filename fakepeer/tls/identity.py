# -*- test-case-name: tests.tls.test_identity -*-
"""Which host names a certificate proves.

The names a report shows and a name check compares against: subjectAltName entries
first, then the subject's CN values (Teams matches the SBC's FQDN against CN or SAN,
real-peers.md section 3).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from fakepeer.sip.grammar import is_ip_literal


def certificate_names(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(DNS names, IP addresses) a certificate claims: SAN entries first, then CN values.

    A CN that parses as an IP address counts as an address, not a name.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = list(san.get_values_for_type(x509.DNSName))
        ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = str(attribute.value)
        target = ips if is_ip_literal(value) else dns
        if value not in target:
            target.append(value)
    return tuple(dns), tuple(ips)

