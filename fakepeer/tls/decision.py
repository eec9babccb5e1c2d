# -*- test-case-name: tests.tls.test_tls_observation -*-
"""Does the policy accept the client certificate it saw? Pure logic, no OpenSSL.

Under ``client_certificate_refusal="openssl"`` OpenSSL enforces the decision itself
(the verify callback stops on :func:`intolerable` errors). Under ``"sslstream"`` the
handshake runs to the end inside OpenSSL and :func:`decide_client_certificate` makes
the call afterwards, so every verify error is recorded before the refusal.
"""

from __future__ import annotations

from collections.abc import Iterable

from fakepeer.tls.alerts import alert_name, sslstream_alert_for, verify_error_name
from fakepeer.tls.observation import FailureReason, Refusal, TlsObservation, certificate_reason
from fakepeer.tls.policy import TlsPolicy


def intolerable(policy: TlsPolicy, codes: Iterable[int]) -> frozenset[int]:
    """The verify error codes that make ``policy`` refuse a client certificate."""
    return frozenset(c for c in codes if c and c not in policy.tolerated_verify_errors)


def decide_client_certificate(policy: TlsPolicy, observation: TlsObservation) -> Refusal | None:
    """fakepeer's own refusal for an SslStream-style policy, or ``None`` to accept."""
    if policy.client_certificate != "required" or policy.client_certificate_refusal != "sslstream":
        return None
    unreadable = next((u for u in observation.unreadable_certificates if u.depth == 0), None)
    if observation.peer_leaf is None and unreadable is not None:
        return Refusal(
            FailureReason.CLIENT_CERTIFICATE_REJECTED,
            42,
            f"the client's {unreadable.line()}; SslStream answers {alert_name(42)}",
        )
    if observation.peer_leaf is None:
        return Refusal(
            FailureReason.CLIENT_CERTIFICATE_MISSING,
            46,
            "the client sent no certificate; the policy requires one "
            f"(SslStream answers {alert_name(46)})",
        )
    bad = intolerable(policy, observation.verify_error_codes)
    if not bad:
        return None
    alert = sslstream_alert_for(bad)
    listed = ", ".join(f"{c} {verify_error_name(c)}" for c in sorted(bad))
    reason, detail = observation.refined(
        certificate_reason(bad),
        f"client certificate refused ({listed}); SslStream answers {alert_name(alert)}")
    return Refusal(reason, alert, detail)
