# -*- test-case-name: tests.report.test_judging -*-
"""What to check next, for a verdict's ``next:``: the scenario's own advice where it has
some, else the generic hint for what was seen (README's troubleshooting table).

Pure tables and one lookup. Three tables, because the same alert asks for different
work depending on who is wrong: :data:`ALERT_HINTS` when the SBC refused with that
alert, :data:`MISSED_REFUSAL_HINTS` when it should have refused with it and did not,
:data:`REFUSAL_HINTS` when fakepeer refused the SBC (by the reason it had).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from fakepeer.scenario.model import Expectation

#: The SBC failed the handshake with this alert: what it usually means to check there.
ALERT_HINTS: Mapping[str, str] = MappingProxyType({
    "unknown_ca": "import the era's roots (certs export --roots ERA); for 2026 all seven",
    "certificate_expired": "check the SBC clock and the dates of the chain it was served",
    "bad_certificate": "check the SBC's expected peer name (*.pstnhub.microsoft.com) and its "
                       "minimum key and hash policy",
    "unsupported_certificate": "the SBC checks a purpose (EKU) the chain lacks; do not "
                               "require clientAuth on the proxy's certificate",
    "certificate_revoked": "the SBC found the certificate revoked (expected only in revoked)",
    "certificate_unknown": "the SBC's TLS log says why it refused the certificate",
    "protocol_version": "enable TLS 1.2 with ECDHE-RSA-AES256-GCM-SHA384 and friends",
    "handshake_failure": "enable TLS 1.2 with ECDHE-RSA-AES256-GCM-SHA384 and friends",
    "insufficient_security": "enable TLS 1.2 with ECDHE-RSA-AES256-GCM-SHA384 and friends",
    "decrypt_error": "the SBC could not verify a signature: check its key and hash policy",
    "unrecognized_name": "the SBC sent an SNI this proxy does not serve: use the proxy FQDN",
})
#: No alert at all: the SBC refused without saying why.
SILENT_HINT = "check the SBC's TLS log for why it closed"

#: The SBC should have refused with this alert and went on: what to make it check.
MISSED_REFUSAL_HINTS: Mapping[str, str] = MappingProxyType({
    "certificate_expired": "make the SBC check the validity dates of the peer's chain",
    "unknown_ca": "make the SBC verify the peer's chain against its trust store only",
    "bad_certificate": "make the SBC check the peer's name, dates, key and signature",
    "unsupported_certificate": "make the SBC check the serverAuth purpose of the peer's leaf",
    "certificate_revoked": "turn on CRL or OCSP checking on the SBC",
    "protocol_version": "turn off TLS versions below 1.2 on the SBC's Teams profile",
    "handshake_failure": "offer only the cipher suites the cloud accepts",
})
MISSED_REFUSAL_DEFAULT = "make the SBC verify the peer's certificate chain and name"

#: fakepeer refused the SBC (the cloud would): by the TLS failure reason.
REFUSAL_HINTS: Mapping[str, str] = MappingProxyType({
    "client-certificate-missing": "give the SBC's Teams TLS profile its certificate (mutual TLS)",
    "client-certificate-untrusted": "use a certificate from a public CA (here: certs issue-sbc)",
    "client-certificate-without-intermediate": "make the SBC send its full chain: its "
                                               "certificate and the CA that issued it",
    "client-certificate-wrong-eku": "its certificate lacks clientAuth (the 2024-03 rule; "
                                    "--tolerate-missing-client-auth models the relaxation)",
    "client-certificate-expired": "renew the SBC's certificate",
    "client-certificate-rejected": "the SBC's certificate: its chain, dates and key",
    "no-shared-cipher": "offer TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384 and friends",
    "no-shared-group": "offer the groups the cloud uses (secp384r1, secp256r1, X25519)",
    "protocol-version": "use TLS 1.2 (or 1.3 where the peer allows it)",
    "not-tls": "use transport TLS, not TCP or UDP, toward this port",
    "stalled": "check the SBC's TLS log (often a trust-store or chain-size problem; see "
               "the oversize-ca-list scenario)",
    "incomplete": "check the SBC's TLS log for why it stopped",
    "peer-closed-without-alert": SILENT_HINT,
})

#: fakepeer answered the SBC's OPTIONS with an error: by the responder's answer reason.
ANSWER_REASON_HINTS: Mapping[str, str] = MappingProxyType({
    "contact-ip": "set the SBC FQDN in Contact, as in its certificate",
    "contact-missing": "send a Contact with the SBC's FQDN in every OPTIONS",
    "contact-not-sip": "use a sip: Contact URI with the SBC's FQDN (no sips:)",
    "contact-not-fqdn": "set the SBC FQDN in Contact, as in its certificate",
    "contact-fqdn-not-in-certificate": "make the Contact FQDN one of the certificate's names",
    "contact-domain-not-allowed": "use a Contact FQDN in a domain the tenant validated",
    "malformed": "check the SBC's SIP messages toward the cloud",
})

#: Accepted TLS, then no OPTIONS: the ping is off (README "TLS Active; OPTIONS None").
NO_OPTIONS_HINT = "turn on the SBC's OPTIONS keep-alive toward this proxy (about once a minute)"
SILENT_REJECTION = "most likely it rejected the chain without an alert"
SILENT_REJECTION_HINT = "sipsak/GnuTLS reject a chain this way; the SBC's TLS log says why"
SILENT_REJECTION_LONG = ("The SBC completed the TLS handshake and closed the connection "
                         "without SIP and without an alert: most likely it rejected the chain "
                         "without sending an alert (sipsak/GnuTLS do this: they verify after "
                         "the handshake and just close).")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (line breaks are spaces)."""
    flat = " ".join(text.split())
    return [s for s in _SENTENCE_END.split(flat) if s]


def scenario_hint(expectation: Expectation, *words: str | None) -> str:
    """The first sentence of the scenario's ``reason`` or ``setup`` that names one of
    ``words`` (an alert, an answer reason): the scenario's own advice for what was seen."""
    wanted = [w for w in words if w]
    for sentence in sentences(expectation.reason) + sentences(expectation.setup):
        if any(w in sentence for w in wanted):
            return sentence
    return ""


def hint(expectation: Expectation, generic: str, *words: str | None,
         setup_first: bool = False) -> str:
    """The ``next:`` of a verdict: the scenario's sentence about ``words``; for a problem
    of the lab's set-up (``setup_first``) the scenario's ``setup``; else ``generic``."""
    if setup_first and expectation.setup:
        return " ".join(expectation.setup.split())
    return scenario_hint(expectation, *words) or generic
