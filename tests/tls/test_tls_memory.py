"""Real OpenSSL handshakes between two Twisted TLS protocols over an in-memory pump."""

import dataclasses

import pytest
from OpenSSL import SSL
from twisted.internet import task
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from fakepeer.tls import (
    GENESYS,
    MICROSOFT,
    ClientConnectionCreator,
    FailureReason,
    PolicyRefusal,
    ServerConnectionCreator,
    TlsPolicy,
)
from fakepeer.tls.policy import SEVEN_ROOTS

CLIENT = TlsPolicy()  # a plain modern client: TLS 1.2-1.3, OpenSSL's default ciphers
PROXY_NAME = "sip.pstnhub.microsoft.com"
OPENSSL_STYLE = MICROSOFT.with_client_certificate("required", refusal="openssl")


def _server(tls_pki, policy=MICROSOFT, **kwargs):
    return ServerConnectionCreator.from_chains(
        policy, [tls_pki.proxy, tls_pki.other], client_trust=[tls_pki.sbc_root], **kwargs
    )


def _client(tls_pki, chain, *, policy=CLIENT, trust=None, name=PROXY_NAME, refuse=False):
    return ClientConnectionCreator(
        policy,
        chain,
        trust if trust is not None else [tls_pki.proxy_root],
        server_name=name,
        refuse_invalid_server=refuse,
    )


class TestServerNameIndication:
    def test_known_name_selects_its_chain(self, tls_pki, handshake_in_memory):
        """An SNI naming the second chain gets that chain, and the match is recorded."""
        r = handshake_in_memory(
            _server(tls_pki), _client(tls_pki, tls_pki.sbc, name="sip.other.test")
        )
        assert r.server.sni == "sip.other.test"
        assert r.server.sni_outcome == "matched"
        assert r.server.served == "other"
        assert r.client.peer_leaf == tls_pki.other.leaf

    def test_second_name_of_default_chain_is_matched(self, tls_pki, handshake_in_memory):
        """Every name in a chain's ``names`` selects it, not only the first."""
        r = handshake_in_memory(
            _server(tls_pki), _client(tls_pki, tls_pki.sbc, name="SIP2.pstnhub.microsoft.com")
        )
        assert (r.server.sni_outcome, r.server.served) == ("matched", "proxy")

    def test_unknown_name_gets_default_and_is_recorded(self, tls_pki, handshake_in_memory):
        """An SNI fakepeer does not serve falls back to the default chain, recorded as unknown."""
        r = handshake_in_memory(
            _server(tls_pki), _client(tls_pki, tls_pki.sbc, name="nobody.example")
        )
        assert (r.server.sni, r.server.sni_outcome, r.server.served) == (
            "nobody.example",
            "unknown",
            "proxy",
        )
        assert r.client.peer_leaf == tls_pki.proxy.leaf

    def test_absent_name_gets_default_and_is_recorded(self, tls_pki, handshake_in_memory):
        """A client sending no SNI (IP literal target) gets the default, recorded as absent."""
        r = handshake_in_memory(_server(tls_pki), _client(tls_pki, tls_pki.sbc, name="192.0.2.7"))
        assert (r.server.sni, r.server.sni_outcome) == (None, "absent")
        assert r.client.peer_leaf == tls_pki.proxy.leaf

    def test_wildcard_name_matches_one_label(self, tls_pki, handshake_in_memory):
        """A ``*.`` name in ``by_name`` matches exactly one extra label."""
        server = ServerConnectionCreator(
            MICROSOFT,
            tls_pki.proxy,
            {"*.other.test": tls_pki.other},
            client_trust=[tls_pki.sbc_root],
        )
        assert server.chain_for("a.other.test") == (tls_pki.other, True)
        assert server.chain_for("a.b.other.test") == (tls_pki.proxy, False)
        r = handshake_in_memory(server, _client(tls_pki, tls_pki.sbc, name="x.other.test"))
        assert r.server.served == "other"

    def test_exception_in_sni_callback_is_recorded_and_logged(self, tls_pki, handshake_in_memory):
        """A bug in the SNI callback is logged and noted on the observation, never swallowed."""

        class Broken(ServerConnectionCreator):
            def chain_for(self, server_name):
                raise RuntimeError("boom")

        server = Broken(MICROSOFT, tls_pki.proxy, client_trust=[tls_pki.sbc_root])
        with capturedLogs() as events:
            r = handshake_in_memory(server, _client(tls_pki, tls_pki.sbc))
        assert r.server.callback_errors == ["_on_servername: RuntimeError('boom')"]
        assert any("_on_servername" in str(e.get("name")) for e in events)
        assert r.server.handshake_done  # the default chain was still served


class TestObservationAccess:
    def test_protocol_gets_the_observation_of_its_transport(self, tls_pki, handshake_in_memory):
        """``observation_for(self.transport)`` in connectionMade is the connection's own record."""
        seen = []
        server = _server(tls_pki, on_observation=seen.append)
        r = handshake_in_memory(server, _client(tls_pki, tls_pki.sbc))
        assert seen == [r.server]
        assert r.server_app.observation is seen[0]
        assert r.server_app.handshake_completed

    def test_each_connection_gets_a_fresh_observation(self, tls_pki, handshake_in_memory):
        """Two connections through one creator never share an observation."""
        seen = []
        server = _server(tls_pki, on_observation=seen.append)
        handshake_in_memory(server, _client(tls_pki, tls_pki.sbc))
        handshake_in_memory(server, _client(tls_pki, None))
        assert len(seen) == 2
        assert seen[0] is not seen[1]
        assert seen[0].handshake_done and not seen[1].handshake_done


class TestMicrosoftMutualTls:
    def test_trusted_client_certificate_is_accepted_and_recorded(
        self, tls_pki, handshake_in_memory
    ):
        """A trusted SBC chain completes TLS 1.2 with the first Microsoft suite, chain recorded."""
        r = handshake_in_memory(_server(tls_pki), _client(tls_pki, tls_pki.sbc))
        assert r.server.failure() is None
        assert r.server.version == "TLSv1.2"
        assert r.server.cipher == "ECDHE-RSA-AES256-GCM-SHA384"
        assert r.server.peer_certificates == tls_pki.sbc.sent
        assert r.server.verify_errors == []
        assert r.server.alerts == []

    def test_missing_client_certificate_gets_certificate_unknown(
        self, tls_pki, handshake_in_memory
    ):
        """Without a client certificate fakepeer fails the handshake: certificate_unknown(46)."""
        r = handshake_in_memory(_server(tls_pki), _client(tls_pki, None))
        failure = r.server.failure()
        assert (failure.failed_by, failure.reason, failure.alert) == (
            "us",
            FailureReason.CLIENT_CERTIFICATE_MISSING,
            46,
        )
        [sent] = r.server.alerts
        assert (sent.direction, sent.level, sent.name, sent.written_by_fakepeer) == (
            "sent",
            2,
            "certificate_unknown",
            True,
        )
        [got] = r.client.alerts
        assert (got.direction, got.description, got.during_handshake) == ("received", 46, True)
        assert isinstance(r.server_app.lost.value, PolicyRefusal)
        assert not r.server_app.handshake_completed

    def test_refusal_replaces_finished_with_a_clear_alert_record(
        self, tls_pki, handshake_in_memory
    ):
        """The server's last flight is exactly one plaintext fatal alert record, nothing else."""
        r = handshake_in_memory(_server(tls_pki), _client(tls_pki, None))
        assert r.client_bytes[-1] == bytes([21, 3, 3, 0, 2, 2, 46])

    def test_untrusted_client_certificate_gets_unknown_ca(self, tls_pki, handshake_in_memory):
        """A client chain from a foreign root is refused with unknown_ca(48), error 20 recorded."""
        r = handshake_in_memory(_server(tls_pki), _client(tls_pki, tls_pki.sbc_foreign))
        failure = r.server.failure()
        assert (failure.reason, failure.alert) == (
            FailureReason.CLIENT_CERTIFICATE_UNTRUSTED,
            48,
        )
        assert [(e.code, e.depth) for e in r.server.verify_errors] == [(20, 1)]
        assert r.server.peer_leaf == tls_pki.sbc_foreign.leaf
        assert r.client.alerts_from("received")[0].name == "unknown_ca"

    def test_server_auth_only_client_certificate_gets_bad_certificate(
        self, tls_pki, handshake_in_memory
    ):
        """A client leaf without clientAuth (2024-03 rule) is refused with bad_certificate(42)."""
        r = handshake_in_memory(_server(tls_pki), _client(tls_pki, tls_pki.sbc_server_only))
        failure = r.server.failure()
        assert (failure.reason, failure.alert) == (FailureReason.CLIENT_CERTIFICATE_WRONG_EKU, 42)
        assert [e.name for e in r.server.verify_errors] == ["INVALID_PURPOSE"]

    def test_relaxed_rule_accepts_server_auth_only_but_records_it(
        self, tls_pki, handshake_in_memory
    ):
        """With error 26 tolerated (late-2025 relaxation) the leaf passes and 26 stays recorded."""
        r = handshake_in_memory(
            _server(tls_pki, MICROSOFT.tolerating(26)), _client(tls_pki, tls_pki.sbc_server_only)
        )
        assert r.server.failure() is None
        assert [e.code for e in r.server.verify_errors] == [26]

    def test_optional_accepts_untrusted_and_reports_it(self, tls_pki, handshake_in_memory):
        """``optional`` completes the handshake with a foreign chain and records its errors."""
        policy = MICROSOFT.with_client_certificate("optional")
        r = handshake_in_memory(_server(tls_pki, policy), _client(tls_pki, tls_pki.sbc_foreign))
        assert r.server.failure() is None
        assert r.server.verify_error_codes == {20}
        assert r.server.peer_leaf == tls_pki.sbc_foreign.leaf


class TestOpensslRefusalStyle:
    @pytest.mark.parametrize(
        ("chain_name", "alert", "reason"),
        [
            (None, 40, FailureReason.CLIENT_CERTIFICATE_MISSING),
            ("sbc_foreign", 48, FailureReason.CLIENT_CERTIFICATE_UNTRUSTED),
            ("sbc_server_only", 43, FailureReason.CLIENT_CERTIFICATE_WRONG_EKU),
        ],
    )
    def test_openssl_chooses_the_alert(
        self, tls_pki, handshake_in_memory, chain_name, alert, reason
    ):
        """OpenSSL-style refusals send OpenSSL's own alert: 40 missing, 48 untrusted, 43 EKU."""
        chain = getattr(tls_pki, chain_name) if chain_name else None
        r = handshake_in_memory(_server(tls_pki, OPENSSL_STYLE), _client(tls_pki, chain))
        failure = r.server.failure()
        assert (failure.failed_by, failure.reason, failure.alert) == ("us", reason, alert)
        assert not r.server.alerts[0].written_by_fakepeer
        assert r.client.alerts_from("received")[0].description == alert

    def test_tls13_missing_certificate_gets_certificate_required(
        self, tls_pki, handshake_in_memory
    ):
        """Under TLS 1.3 OpenSSL refuses a missing certificate with certificate_required(116)."""
        policy = OPENSSL_STYLE.with_versions("TLSv1.2", "TLSv1.3").with_ciphers("DEFAULT")
        r = handshake_in_memory(_server(tls_pki, policy), _client(tls_pki, None))
        assert r.server.failure().alert == 116
        # The TLS 1.3 client had already finished; it sees the alert after its handshake.
        client_failure = r.client.failure()
        assert (client_failure.failed_by, client_failure.alert) == ("peer", 116)
        assert not r.client.alerts[0].during_handshake


class TestAlertsAndBlame:
    def test_peer_refusing_our_certificate_is_blamed_on_the_peer(
        self, tls_pki, handshake_in_memory
    ):
        """A client that distrusts fakepeer's chain sends unknown_ca, recorded as received."""
        r = handshake_in_memory(
            _server(tls_pki), _client(tls_pki, tls_pki.sbc, trust=[tls_pki.wrong_root], refuse=True)
        )
        [alert] = r.server.alerts
        assert (alert.direction, alert.name, alert.during_handshake) == (
            "received",
            "unknown_ca",
            True,
        )
        failure = r.server.failure()
        assert (failure.failed_by, failure.reason, failure.alert_name) == (
            "peer",
            FailureReason.PEER_ALERT,
            "unknown_ca",
        )
        assert r.client.alerts_from("sent")[0].name == "unknown_ca"

    def test_tls13_only_client_gets_protocol_version(self, tls_pki, handshake_in_memory):
        """A TLS 1.3-only client meets Microsoft's 1.2-only policy: we send protocol_version(70)."""
        r = handshake_in_memory(
            _server(tls_pki), _client(tls_pki, tls_pki.sbc, policy=TlsPolicy(min_version="1.3"))
        )
        failure = r.server.failure()
        assert (failure.failed_by, failure.reason, failure.alert) == (
            "us",
            FailureReason.PROTOCOL_VERSION,
            70,
        )

    def test_non_microsoft_cipher_gets_handshake_failure(self, tls_pki, handshake_in_memory):
        """A client offering only AES128-SHA gets handshake_failure(40), reason no shared cipher."""
        client_policy = TlsPolicy(max_version="TLSv1.2", ciphers=("AES128-SHA",))
        r = handshake_in_memory(
            _server(tls_pki), _client(tls_pki, tls_pki.sbc, policy=client_policy)
        )
        failure = r.server.failure()
        assert (failure.reason, failure.alert) == (FailureReason.NO_SHARED_CIPHER, 40)

    def test_close_notify_after_handshake_is_recorded_as_warning(
        self, tls_pki, handshake_in_memory
    ):
        """A clean close after the handshake is a received close_notify, not a failure."""
        r = handshake_in_memory(_server(tls_pki), _client(tls_pki, tls_pki.sbc), then_close=True)
        received = r.server.alerts_from("received")
        assert [(a.name, a.level, a.during_handshake) for a in received] == [
            ("close_notify", 1, False)
        ]
        assert r.server.failure() is None


class TestWhatGoesOnTheWire:
    @pytest.mark.parametrize("order", ["given", "reversed", "with_root", "missing"])
    def test_extra_chain_is_sent_exactly_as_given(self, tls_pki, handshake_in_memory, order):
        """``chain.extra`` reaches the peer in exactly the given order, even when broken."""
        extra = {
            "given": (tls_pki.proxy_inter,),
            "reversed": (tls_pki.proxy_root, tls_pki.proxy_inter),
            "with_root": (tls_pki.proxy_inter, tls_pki.proxy_root),
            "missing": (),
        }[order]
        chain = dataclasses.replace(tls_pki.proxy, extra=extra)
        # The proxy root is also in the server's verify store: auto-chaining must not add it.
        server = ServerConnectionCreator(
            MICROSOFT,
            chain,
            client_trust=[tls_pki.sbc_root, tls_pki.proxy_root, tls_pki.proxy_inter],
        )
        r = handshake_in_memory(server, _client(tls_pki, tls_pki.sbc))
        assert r.client.peer_certificates == (chain.leaf, *extra)

    def test_wire_order_check_can_fail(self, tls_pki, handshake_in_memory):
        """Negative twin: a reversed chain is observably different from the given order."""
        chain = dataclasses.replace(tls_pki.proxy, extra=(tls_pki.proxy_root, tls_pki.proxy_inter))
        server = ServerConnectionCreator(MICROSOFT, chain, client_trust=[tls_pki.sbc_root])
        r = handshake_in_memory(server, _client(tls_pki, tls_pki.sbc))
        assert r.client.peer_certificates != tls_pki.proxy.sent

    @pytest.mark.parametrize(
        ("ca_list", "expected"),
        [("empty", ()), ("seven", SEVEN_ROOTS), ("trust", "sbc_root")],
    )
    def test_certificate_request_lists_the_ca_names(
        self, tls_pki, handshake_in_memory, ca_list, expected
    ):
        """The CertificateRequest carries exactly the policy's CA names, in order."""
        if ca_list == "seven":
            ca_list = SEVEN_ROOTS
        if expected == "sbc_root":
            expected = (tls_pki.sbc_root.subject,)
        r = handshake_in_memory(
            _server(tls_pki, MICROSOFT.with_ca_list(ca_list)), _client(tls_pki, tls_pki.sbc)
        )
        assert r.client.requested_ca_names == tuple(expected)


class TestGenesys:
    def test_genesys_negotiates_on_secp384r1(self, tls_pki, handshake_in_memory):
        """Genesys' profile completes one-way TLS 1.2 with ECDHE on secp384r1."""
        r = handshake_in_memory(_server(tls_pki, GENESYS), _client(tls_pki, None))
        assert r.server.failure() is None
        assert r.server.group == "secp384r1"
        assert r.server.cipher == "ECDHE-RSA-AES256-GCM-SHA384"  # the client's preference
        assert r.server.peer_certificates == ()

    def test_genesys_refuses_p256_only_ecdhe_client(self, tls_pki, handshake_in_memory):
        """Negative twin: an ECDHE-only client limited to P-256 finds no shared group."""
        client_policy = TlsPolicy(
            max_version="TLSv1.2", ciphers=("ECDHE-RSA-AES256-GCM-SHA384",), groups=("prime256v1",)
        )
        r = handshake_in_memory(
            _server(tls_pki, GENESYS), _client(tls_pki, None, policy=client_policy)
        )
        failure = r.server.failure()
        assert (failure.failed_by, failure.alert) == ("us", 40)


def test_silent_hangup_mid_handshake_blames_the_peer(tls_pki):
    """A client that hangs up after its ClientHello, without an alert, is blamed as peer-closed."""
    seen = []
    server_tls = TLSMemoryBIOFactory(
        _server(tls_pki, on_observation=seen.append),
        False,
        Factory.forProtocol(Protocol),
        clock=task.Clock(),
    ).buildProtocol(None)
    server_tls.makeConnection(StringTransport())
    client = _client(tls_pki, tls_pki.sbc).clientConnectionForTLS(None)
    with pytest.raises(SSL.WantReadError):
        client.do_handshake()
    server_tls.dataReceived(client.bio_read(1 << 16))
    assert server_tls.transport.value()  # the server answered with its first flight
    server_tls.connectionLost(Failure(ConnectionDone()))
    [obs] = seen
    # OpenSSL answers the EOF by writing decode_error into the dead connection.
    assert [(a.direction, a.name, a.after_close) for a in obs.alerts] == [
        ("sent", "decode_error", True)
    ]
    failure = obs.failure()
    assert (failure.failed_by, failure.reason, failure.alert) == (
        "peer",
        FailureReason.PEER_CLOSED,
        None,
    )
