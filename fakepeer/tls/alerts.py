# -*- test-case-name: tests.tls.test_tls_alerts -*-
"""Pure tables: TLS alert codes, OpenSSL verify error codes, and what each means here.

fakepeer's whole job is to tell a lab engineer what their SBC did. An SBC says "no"
with a one-byte alert description and its logs say it with an OpenSSL verify error
number, so both are decoded here into plain-English meanings written from fakepeer's
point of view ("when the SBC sends us this, it means ..."). The alert names and the
OpenSSL verify-error -> alert table are :mod:`fakepeer.vocabulary`'s.

Nothing in this module does I/O or imports OpenSSL. Sources: RFC 8446 section 6, RFC
5246 section 7.2, the IANA "TLS Alerts" registry, OpenSSL's ``x509_vfy.h``, and .NET's
``SecureChannel.cs`` (``CreateFatalHandshakeAlertToken``, ``GetAlertMessageFromChain``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType

from fakepeer import vocabulary


class AlertLevel(IntEnum):
    """The first byte of an alert record (RFC 5246 section 7.2)."""

    WARNING = 1
    FATAL = 2


@dataclass(frozen=True, slots=True)
class AlertInfo:
    """One TLS alert description: its registry name and what it tells fakepeer."""

    code: int
    name: str
    meaning: str


def _alerts(*rows: tuple[int, str]) -> Mapping[int, AlertInfo]:
    """The vocabulary's alert names with their meanings; every alert has exactly one."""
    codes, known = {code for code, _ in rows}, set(vocabulary.ALERT_NAMES)
    if codes != known or len(rows) != len(codes):
        raise ValueError("fakepeer.tls.alerts must give one meaning to exactly the "
                         f"vocabulary's alerts: missing {sorted(known - codes)}, not in the "
                         f"vocabulary {sorted(codes - known)}")
    return MappingProxyType({code: AlertInfo(code, vocabulary.ALERT_NAMES[code], meaning)
                             for code, meaning in rows})


#: Alert description code -> name (the vocabulary's) and meaning *when the SBC sends it
#: to fakepeer*.
ALERTS: Mapping[int, AlertInfo] = _alerts(
    (0, "the SBC closed the TLS session cleanly"),
    (10, "the SBC received a TLS message it did not expect at that point"),
    (20, "the SBC could not authenticate a record (keys or bytes got mangled)"),
    (21, "obsolete (SSL 3.0/TLS 1.0): the SBC could not decrypt a record"),
    (22, "the SBC received a record longer than TLS allows"),
    (30, "obsolete: TLS compression failed"),
    (
        40,
        "the SBC found no acceptable parameters (no shared cipher suite, group or signature "
        "algorithm), or, in TLS 1.2, it wanted a client certificate we did not send",
    ),
    (41, "obsolete (SSL 3.0): the peer had no certificate"),
    (
        42,
        "the SBC rejected the certificate fakepeer served as malformed or unacceptable "
        "(often: bad signature, not yet valid, or host name mismatch)",
    ),
    (
        43,
        "the SBC rejected the certificate's type or purpose (often: extended key usage lacks "
        "the purpose it checks, e.g. clientAuth when fakepeer is the client)",
    ),
    (44, "the SBC found the certificate fakepeer served revoked"),
    (45, "the SBC found a certificate fakepeer served expired"),
    (46, "the SBC rejected the certificate fakepeer served for an unspecified reason"),
    (47, "the SBC received a handshake field that is out of range"),
    (
        48,
        "the SBC does not trust the root/issuer of the chain fakepeer served (root not in its"
        " trust store, or an intermediate missing from the chain)",
    ),
    (49, "the SBC accepted the certificate but refuses this peer by policy"),
    (50, "the SBC could not parse a handshake message fakepeer sent"),
    (
        51,
        "a handshake signature or Finished check failed at the SBC (e.g. a certificate "
        "signature that does not verify)",
    ),
    (60, "obsolete: export cipher restriction"),
    (
        70,
        "the SBC does not support the TLS version offered or chosen (e.g. it wants 1.3 and "
        "fakepeer allows only 1.2, or the reverse)",
    ),
    (71, "the SBC requires stronger cipher suites than offered"),
    (80, "the SBC hit an internal error unrelated to fakepeer's input"),
    (86, "the SBC detected a version-fallback retry (SCSV)"),
    (90, "the SBC's application aborted the handshake"),
    (100, "the SBC refused a TLS renegotiation"),
    (109, "the SBC needed a TLS extension fakepeer did not send"),
    (110, "the SBC received an extension it never asked for"),
    (111, "obsolete: the certificate URL could not be fetched"),
    (112, "the SBC does not serve the SNI host name fakepeer sent"),
    (113, "the SBC rejected the stapled OCSP response"),
    (114, "obsolete: certificate hash mismatch"),
    (115, "the SBC does not know the PSK identity offered"),
    (116, "TLS 1.3: the SBC required a client certificate and fakepeer sent none"),
    (120, "no ALPN protocol in common with the SBC"),
    (121, "the SBC requires Encrypted Client Hello"),
)


def alert_name(code: int) -> str:
    """Name of an alert description code; unknown codes get a name that shows the number."""
    info = ALERTS.get(code)
    return info.name if info else f"unknown_alert_{code}"


def alert_meaning(code: int) -> str:
    """Plain-English meaning of an alert the SBC sent to fakepeer."""
    info = ALERTS.get(code)
    return info.meaning if info else f"alert {code} is not in the IANA TLS Alerts registry"


@dataclass(frozen=True, slots=True)
class VerifyErrorInfo:
    """One OpenSSL X509 verify result code (``X509_V_ERR_*``) and what it means here."""

    code: int
    name: str
    meaning: str


def _verify_errors(*rows: tuple[int, str, str]) -> Mapping[int, VerifyErrorInfo]:
    return MappingProxyType({c: VerifyErrorInfo(c, n, m) for c, n, m in rows})


#: OpenSSL verify error code -> ``X509_V_ERR_`` name (without prefix) and meaning. These
#: are the numbers SBC logs print (``verify error:num=20``, ``[error=20]``), and the
#: numbers fakepeer records when it verifies a client certificate itself.
VERIFY_ERRORS: Mapping[int, VerifyErrorInfo] = _verify_errors(
    (0, "OK", "verified"),
    (1, "UNSPECIFIED", "unspecified verification error"),
    (2, "UNABLE_TO_GET_ISSUER_CERT", "the issuer of a chain certificate was not found"),
    (3, "UNABLE_TO_GET_CRL", "a CRL needed for the revocation check was not found"),
    (4, "UNABLE_TO_DECRYPT_CERT_SIGNATURE", "a certificate signature could not be decoded"),
    (6, "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY", "the issuer's public key could not be read"),
    (7, "CERT_SIGNATURE_FAILURE", "a certificate signature does not verify"),
    (9, "CERT_NOT_YET_VALID", "a certificate is not valid yet (or the clock is wrong)"),
    (10, "CERT_HAS_EXPIRED", "a certificate has expired"),
    (13, "ERROR_IN_CERT_NOT_BEFORE_FIELD", "malformed notBefore date"),
    (14, "ERROR_IN_CERT_NOT_AFTER_FIELD", "malformed notAfter date"),
    (18, "DEPTH_ZERO_SELF_SIGNED_CERT", "the leaf is self-signed and not trusted"),
    (
        19,
        "SELF_SIGNED_CERT_IN_CHAIN",
        "the chain ends in a self-signed root that is not in the trust store",
    ),
    (
        20,
        "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
        "the issuer is neither sent nor trusted: untrusted root or missing intermediate",
    ),
    (
        21,
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        "only the leaf was available and its issuer is unknown (missing intermediate)",
    ),
    (22, "CERT_CHAIN_TOO_LONG", "the chain is deeper than the verifier's depth limit"),
    (23, "CERT_REVOKED", "a certificate is revoked"),
    (24, "NO_ISSUER_PUBLIC_KEY", "the issuer certificate has no usable public key"),
    (25, "PATH_LENGTH_EXCEEDED", "a CA's pathLenConstraint is exceeded"),
    (
        26,
        "INVALID_PURPOSE",
        "the certificate's extended key usage lacks the purpose checked (clientAuth for "
        "a client, serverAuth for a server)",
    ),
    (27, "CERT_UNTRUSTED", "the root is in the store but not trusted for this purpose"),
    (28, "CERT_REJECTED", "the root is explicitly rejected for this purpose"),
    (29, "SUBJECT_ISSUER_MISMATCH", "issuer name does not match the issuer's subject"),
    (30, "AKID_SKID_MISMATCH", "authority key identifier does not match the issuer's SKI"),
    (32, "KEYUSAGE_NO_CERTSIGN", "an issuer's key usage lacks keyCertSign"),
    (34, "UNHANDLED_CRITICAL_EXTENSION", "a critical extension the verifier does not know"),
    (37, "INVALID_NON_CA", "a non-CA certificate carries CA markings"),
    (39, "KEYUSAGE_NO_DIGITAL_SIGNATURE", "the leaf's key usage lacks digitalSignature"),
    (41, "INVALID_EXTENSION", "an extension is invalid or inconsistent"),
    (47, "PERMITTED_VIOLATION", "a name falls outside a CA's permitted subtrees"),
    (48, "EXCLUDED_VIOLATION", "a name falls inside a CA's excluded subtrees"),
    (50, "APPLICATION_VERIFICATION", "the application's own check failed"),
    (55, "PATH_LOOP", "the issuer chain loops"),
    (62, "HOSTNAME_MISMATCH", "no SAN/CN matches the expected host name"),
    (63, "EMAIL_MISMATCH", "no SAN matches the expected e-mail address"),
    (64, "IP_ADDRESS_MISMATCH", "no SAN matches the expected IP address"),
    (66, "EE_KEY_TOO_SMALL", "the leaf key is too small for the security level"),
    (67, "CA_KEY_TOO_SMALL", "a CA key is too small for the security level"),
    (
        68,
        "CA_MD_TOO_WEAK",
        "a CA signature uses a digest too weak for the security level (e.g. SHA-1)",
    ),
    (79, "INVALID_CA", "an issuer is not a valid CA (basicConstraints/key usage)"),
    (85, "MISSING_AUTHORITY_KEY_IDENTIFIER", "strict mode: AKI missing"),
    (86, "MISSING_SUBJECT_KEY_IDENTIFIER", "strict mode: SKI missing"),
    (89, "CA_BCONS_NOT_CRITICAL", "strict mode: CA basicConstraints not critical"),
    (92, "CA_CERT_MISSING_KEY_USAGE", "strict mode: CA without key usage"),
)


def verify_error_name(code: int) -> str:
    """``X509_V_ERR_`` name (without prefix) of a verify code; unknown codes show the number."""
    info = VERIFY_ERRORS.get(code)
    return info.name if info else f"VERIFY_ERROR_{code}"


def verify_error_meaning(code: int) -> str:
    """Plain-English meaning of an OpenSSL verify error code."""
    info = VERIFY_ERRORS.get(code)
    return info.meaning if info else f"OpenSSL verify error {code}"


#: Verify errors that mean "I cannot build a path to a root I trust".
UNTRUSTED_ERRORS: frozenset[int] = frozenset({2, 18, 19, 20, 21, 22, 25, 27, 28, 55, 79})
#: Verify errors about validity dates.
TIME_ERRORS: frozenset[int] = frozenset({9, 10, 13, 14})
#: Verify errors about the certificate's purpose (extended key usage).
PURPOSE_ERRORS: frozenset[int] = frozenset({26})
#: Verify errors about revocation.
REVOCATION_ERRORS: frozenset[int] = frozenset({23})


def sslstream_alert_for(verify_errors: Iterable[int]) -> int:
    """The alert .NET SslStream sends when it rejects a certificate with these errors.

    The real Teams SIP proxy fails a missing client certificate with certificate_unknown
    (real-peers.md section 3, [S]), which is exactly SslStream's choice for
    ``RemoteCertificateNotAvailable``; that the proxy uses SslStream is a guess, so this
    mapping is selectable, never assumed. ``GetAlertMessageFromChain`` checks chain
    statuses in this order: untrusted root / partial chain -> unknown_ca(48), revoked ->
    certificate_revoked(44), time -> certificate_expired(45), then signature/extension/
    usage problems (wrong EKU is ``NotValidForUsage``) -> bad_certificate(42), anything
    else -> certificate_unknown(46). An empty error list is "no certificate" -> 46.
    """
    codes = set(verify_errors)
    if not codes:
        return 46
    if codes & UNTRUSTED_ERRORS:
        return 48
    if codes & REVOCATION_ERRORS:
        return 44
    if codes & TIME_ERRORS:
        return 45
    if codes & (PURPOSE_ERRORS | {4, 6, 7, 34, 41, 42, 43}):
        return 42
    return 46
