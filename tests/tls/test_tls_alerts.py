"""The alert and verify-error tables decode what SBCs send and log."""

import pytest

from fakepeer.tls.alerts import (
    ALERTS,
    VERIFY_ERRORS,
    AlertLevel,
    alert_meaning,
    alert_name,
    sslstream_alert_for,
    verify_error_meaning,
    verify_error_name,
)
from fakepeer.vocabulary import openssl_alert_for

REQUIRED_ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    116: "certificate_required",
    120: "no_application_protocol",
}


@pytest.mark.parametrize(("code", "name"), sorted(REQUIRED_ALERTS.items()))
def test_alert_codes_have_registry_names(code, name):
    """Every alert an SBC commonly sends decodes to its IANA registry name."""
    assert alert_name(code) == name
    assert ALERTS[code].code == code


def test_every_alert_has_a_meaning():
    """No table row is left without a plain-English meaning."""
    assert all(info.meaning for info in ALERTS.values())


def test_unknown_ca_meaning_points_at_the_served_chain():
    """unknown_ca is explained as the SBC distrusting the root/issuer of fakepeer's chain."""
    assert "root/issuer" in alert_meaning(48)
    assert "fakepeer served" in alert_meaning(48)


def test_unknown_alert_code_shows_the_number():
    """An unregistered code is named and explained with its number, not dropped."""
    assert alert_name(200) == "unknown_alert_200"
    assert "200" in alert_meaning(200)


def test_alert_levels():
    """Level byte 1 is warning and 2 is fatal."""
    assert (AlertLevel(1), AlertLevel(2)) == (AlertLevel.WARNING, AlertLevel.FATAL)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (2, "UNABLE_TO_GET_ISSUER_CERT"),
        (9, "CERT_NOT_YET_VALID"),
        (10, "CERT_HAS_EXPIRED"),
        (18, "DEPTH_ZERO_SELF_SIGNED_CERT"),
        (19, "SELF_SIGNED_CERT_IN_CHAIN"),
        (20, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"),
        (21, "UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
        (26, "INVALID_PURPOSE"),
        (62, "HOSTNAME_MISMATCH"),
    ],
)
def test_verify_error_names(code, name):
    """The verify numbers SBC logs print decode to OpenSSL's X509_V_ERR names."""
    assert verify_error_name(code) == name
    assert verify_error_meaning(code)


def test_verify_error_names_match_the_linked_openssl():
    """Our names agree with OpenSSL's own error strings for the codes OpenSSL knows."""
    from OpenSSL._util import ffi, lib

    for code, info in VERIFY_ERRORS.items():
        text = ffi.string(lib.X509_verify_cert_error_string(code)).decode()
        assert not text.startswith("unknown"), (code, info.name)


def test_unknown_verify_error_shows_the_number():
    """An unlisted verify code keeps its number."""
    assert verify_error_name(999) == "VERIFY_ERROR_999"


@pytest.mark.parametrize(
    ("verify_error", "alert"),
    [(20, 48), (19, 48), (26, 43), (10, 45), (9, 42), (62, 42), (999, 46)],
)
def test_openssl_alert_mapping(verify_error, alert):
    """OpenSSL's x509err2alert table: untrusted -> 48, purpose -> 43, expired -> 45, else 46."""
    assert openssl_alert_for(verify_error) == alert


@pytest.mark.parametrize(
    ("errors", "alert"),
    [
        ((), 46),
        ((20,), 48),
        ((20, 26), 48),
        ((23,), 44),
        ((10,), 45),
        ((9, 26), 45),
        ((26,), 42),
        ((62,), 46),
    ],
)
def test_sslstream_alert_mapping(errors, alert):
    """SslStream's priorities: untrusted, revoked, time, usage/signature, then unknown."""
    assert sslstream_alert_for(errors) == alert
