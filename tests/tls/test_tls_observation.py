"""TlsObservation's blame logic, the callback guard and the pure client-cert decision."""

import pytest
from OpenSSL import SSL
from twisted.logger import capturedLogs

from fakepeer.tls import MICROSOFT, FailureReason, TlsObservation, observation_for
from fakepeer.tls.decision import decide_client_certificate, intolerable
from fakepeer.tls.observation import guarded, observation_of


def _obs(**kwargs) -> TlsObservation:
    return TlsObservation(role="server", **kwargs)


class TestFailure:
    def test_completed_handshake_has_no_failure(self):
        """A finished handshake without fatal alerts is not a failure."""
        obs = _obs(handshake_done=True)
        obs.record_alert("received", 1, 0)
        assert obs.failure() is None

    def test_received_fatal_alert_blames_the_peer(self):
        """The first fatal alert received during the handshake blames the peer, decoded."""
        obs = _obs()
        obs.record_alert("received", 2, 48)
        obs.record_alert("sent", 2, 80)  # OpenSSL may write after the peer hung up
        failure = obs.failure()
        assert (failure.failed_by, failure.reason, failure.alert_name) == (
            "peer",
            FailureReason.PEER_ALERT,
            "unknown_ca",
        )
        assert "root/issuer" in failure.detail

    @pytest.mark.parametrize(
        ("reason_text", "expected"),
        [
            ("no shared cipher", FailureReason.NO_SHARED_CIPHER),
            ("unsupported protocol", FailureReason.PROTOCOL_VERSION),
            ("peer did not return a certificate", FailureReason.CLIENT_CERTIFICATE_MISSING),
            ("something new", FailureReason.TLS_ERROR),
        ],
    )
    def test_sent_alert_blames_us_with_openssl_reason(self, reason_text, expected):
        """An alert we sent is explained by OpenSSL's reason string."""
        obs = _obs()
        obs.record_openssl_error(SSL.Error([("SSL routines", "", reason_text)]))
        obs.record_alert("sent", 2, 40)
        failure = obs.failure()
        assert (failure.failed_by, failure.reason, failure.alert) == ("us", expected, 40)

    @pytest.mark.parametrize(
        ("code", "expected"),
        [
            (20, FailureReason.CLIENT_CERTIFICATE_UNTRUSTED),
            (26, FailureReason.CLIENT_CERTIFICATE_WRONG_EKU),
            (10, FailureReason.CLIENT_CERTIFICATE_EXPIRED),
            (62, FailureReason.CLIENT_CERTIFICATE_REJECTED),
        ],
    )
    def test_verify_failure_names_the_certificate_problem(self, code, expected):
        """When OpenSSL refused a client certificate, the verify errors give the reason."""
        obs = _obs()
        obs.record_verify_error(code, 0, None)
        obs.record_openssl_error(SSL.Error([("SSL routines", "", "certificate verify failed")]))
        obs.record_alert("sent", 2, 48)
        assert obs.failure().reason == expected

    def test_silent_close_blames_the_peer(self):
        """A transport that closes without any alert is the peer hanging up."""
        obs = _obs(transport_closed=True, last_state="SSLv3/TLS write server done")
        failure = obs.failure()
        assert (failure.failed_by, failure.reason, failure.alert) == (
            "peer",
            FailureReason.PEER_CLOSED,
            None,
        )
        assert "write server done" in failure.detail

    def test_nothing_yet_is_incomplete(self):
        """Before anything happened the outcome is unknown, not a failure by either side."""
        assert _obs().failure().failed_by == "unknown"

    def test_verify_errors_are_recorded_once(self):
        """The same error at the same depth is kept once."""
        obs = _obs()
        obs.record_verify_error(20, 1, None)
        obs.record_verify_error(20, 1, None)
        assert obs.verify_error_codes == {20}
        assert len(obs.verify_errors) == 1


class TestGuard:
    def test_guard_logs_records_and_returns_fallback(self):
        """An exception in a guarded callback is logged, noted and replaced by the fallback."""
        obs = _obs()

        class Conn:
            observation = obs

        @guarded(fallback=False)
        def verify(conn, *rest):
            raise KeyError("x")

        with capturedLogs() as events:
            assert verify(Conn(), None, 0, 0, 1) is False
        assert obs.callback_errors == ["verify: KeyError('x')"]
        assert len(events) == 1 and "log_failure" in events[0]

    def test_guard_passes_results_through(self):
        """A callback that works is unaffected by the guard."""
        assert guarded(fallback=None)(lambda conn: 7)(object()) == 7


class TestLookup:
    def test_observation_for_accepts_transport_or_connection(self):
        """observation_for finds the record through getHandle(), an attribute or app data."""
        obs = _obs()

        class Conn:
            observation = obs

        class Transport:
            def getHandle(self):  # noqa: N802 - Twisted's name
                return Conn()

        assert observation_for(Transport()) is obs
        assert observation_for(Conn()) is obs
        ctx_conn = SSL.Connection(SSL.Context(SSL.TLS_METHOD))
        ctx_conn.set_app_data(obs)
        assert observation_of(ctx_conn) is obs

    def test_missing_observation_raises_lookup_error(self):
        """A transport not made by a fakepeer creator raises LookupError."""
        with pytest.raises(LookupError, match="no fakepeer TlsObservation"):
            observation_for(object())


class TestDecision:
    def test_missing_certificate_is_certificate_unknown(self):
        """SslStream style: no client certificate is refused with certificate_unknown(46)."""
        refusal = decide_client_certificate(MICROSOFT, _obs())
        assert (refusal.reason, refusal.alert) == (FailureReason.CLIENT_CERTIFICATE_MISSING, 46)

    def test_clean_certificate_is_accepted(self, tls_pki):
        """A certificate without verify errors is accepted."""
        assert (
            decide_client_certificate(MICROSOFT, _obs(peer_certificates=tls_pki.sbc.sent)) is None
        )

    def test_tolerated_errors_do_not_refuse(self, tls_pki):
        """Tolerated codes are ignored by the decision."""
        obs = _obs(peer_certificates=tls_pki.sbc.sent)
        obs.record_verify_error(26, 0, tls_pki.sbc.leaf)
        assert decide_client_certificate(MICROSOFT.tolerating(26), obs) is None
        assert decide_client_certificate(MICROSOFT, obs).alert == 42
        assert intolerable(MICROSOFT.tolerating(26), [0, 26, 20]) == {20}

    def test_other_modes_leave_the_decision_to_openssl(self):
        """Optional mode and the OpenSSL style never produce fakepeer's own refusal."""
        assert (
            decide_client_certificate(MICROSOFT.with_client_certificate("optional"), _obs()) is None
        )
        openssl = MICROSOFT.with_client_certificate("required", refusal="openssl")
        assert decide_client_certificate(openssl, _obs()) is None
