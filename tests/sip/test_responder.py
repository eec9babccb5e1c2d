"""respond and error_response: the Teams 200 OK byte for byte, each Direct Routing rule,
the Genesys style, and replies to malformed messages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fakepeer.sip import (
    GENESYS,
    MICROSOFT,
    AnswerReason,
    Headers,
    PeerContext,
    RemoteSipError,
    Request,
    ResponderPolicy,
    Response,
    SipConnection,
    SipProfile,
    contact_target,
    error_response,
    respond,
    to_bytes,
)
from fakepeer.sip.admission import domain_allowed
from fakepeer.tls.identity import matches_certificate_name  # what serve injects
from tests.sip.helpers import CAPTURED_200_OK, CAPTURED_OPTIONS, first_error, options

CONTACT = "Contact: <sip:sbc.example.com:5061;transport=tls>"


def peer_context(names=(), domains=None, **kwargs) -> PeerContext:
    """A PeerContext matching names as serve does (service-identity, tls.identity)."""
    return PeerContext(names, domains, name_matcher=matches_certificate_name, **kwargs)


PEER = peer_context(("sbc.example.com",), mutual_tls=True)


def parse(data: bytes) -> Request:
    conn = SipConnection()
    conn.receive_data(data)
    event = conn.next_event()
    assert isinstance(event, Request)
    return event


DEFAULT_POLICY = ResponderPolicy()


def answer(*lines: str, method: str = "OPTIONS", peer: PeerContext = PEER,
           policy: ResponderPolicy = DEFAULT_POLICY, profile: SipProfile = MICROSOFT):
    return respond(parse(options(*lines, method=method)), profile, peer, policy)


def names(response: Response | None) -> list[str]:
    assert response is not None
    return [name for name, _ in response.headers]


class TestMicrosoftOptions:
    def test_captured_200_ok_byte_for_byte(self):
        """The SBC's OPTIONS behind the real capture gets exactly the captured 200 OK."""
        request = parse(CAPTURED_OPTIONS)
        peer = peer_context(("teams.example.com",), ("example.com",), mutual_tls=True)
        decision = respond(request, MICROSOFT, peer)
        assert decision.answer_reason == "ok"
        assert decision.response is not None
        assert to_bytes(decision.response) == CAPTURED_200_OK

    def test_every_via_copied_in_order(self):
        """All Via lines are copied, in order and as received, into the VIA slot."""
        decision = answer(CONTACT, "Via: SIP/2.0/TLS 10.0.0.1;branch=z9hG4bK2, "
                                   "SIP/2.0/TLS 10.0.0.2;branch=z9hG4bK3")
        assert decision.response is not None
        assert decision.response.headers.get_all("Via") == (
            "SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKabc",
            "SIP/2.0/TLS 10.0.0.1;branch=z9hG4bK2, SIP/2.0/TLS 10.0.0.2;branch=z9hG4bK3",
        )
        assert names(decision.response) == [
            "FROM", "TO", "CSEQ", "CALL-ID", "VIA", "VIA", "CONTENT-LENGTH", "ALLOW", "SERVER",
        ]

    def test_compact_request_gets_upper_case_response(self):
        """Identifiers sent in compact form are copied into the full upper-case names."""
        request = parse(
            b"OPTIONS sip:sip.pstnhub.microsoft.com SIP/2.0\r\nv: SIP/2.0/TLS h.example.com;"
            b"branch=z9hG4bK9\r\nf: <sip:sbc.example.com>;tag=9\r\nt: <sip:x.example.com>\r\n"
            b"i: c9\r\nCSeq: 9 OPTIONS\r\nm: <sip:sbc.example.com>\r\nl: 0\r\n\r\n"
        )
        response = respond(request, MICROSOFT, PEER).response
        assert names(response)[:5] == ["FROM", "TO", "CSEQ", "CALL-ID", "VIA"]
        assert response is not None and response.headers.get("Call-ID") == "c9"

    def test_no_to_tag_added_and_existing_tag_kept(self):
        """The Teams 200 OK adds no To-tag, and a To-tag already there stays as it is."""
        plain = answer(CONTACT).response
        assert plain is not None and plain.headers.get("To") == "<sip:sip.pstnhub.microsoft.com>"
        data = options(CONTACT).replace(b"microsoft.com>\r\n", b"microsoft.com>;tag=t7\r\n")
        request = parse(data)
        tagged = respond(request, MICROSOFT, PEER).response
        assert tagged is not None
        assert tagged.headers.get("To") == "<sip:sip.pstnhub.microsoft.com>;tag=t7"

    def test_server_version_and_instance_configurable(self):
        """The SERVER value follows the profile's product, version and instance."""
        profile = replace(MICROSOFT, server_version="v.2020.5.27.2", server_instance="i.ASEA.5")
        response = answer(CONTACT, profile=profile).response
        assert response is not None
        assert response.headers.get("Server") == "Microsoft.PSTNHub.SIPProxy v.2020.5.27.2 i.ASEA.5"

    def test_response_parses_back(self):
        """fakepeer's own 200 OK is valid SIP for its own parser (the SBC side of the test)."""
        response = answer(CONTACT).response
        assert response is not None
        conn = SipConnection()
        conn.receive_data(to_bytes(response))
        assert conn.next_event() == response

    def test_options_status_override(self):
        """A scenario can answer OPTIONS with another status, reported as an override."""
        decision = answer(CONTACT, policy=ResponderPolicy(options_status=503))
        assert decision.answer_reason == "options-override"
        assert decision.response is not None
        assert (decision.response.status, decision.response.reason) == (503, "Service Unavailable")
        assert not decision.response.headers.has("Allow")
        assert not decision.response.headers.has("Warning")


CONTACT_CASES = [
    pytest.param([CONTACT], PEER, "ok", id="fqdn-in-certificate"),
    pytest.param(["Contact: <sip:192.0.2.10:5061;transport=tls>"], PEER, "contact-ip", id="ipv4"),
    pytest.param(["Contact: <sip:[2001:db8::1]:5061>"], PEER, "contact-ip", id="ipv6"),
    pytest.param(["Contact: <sips:sbc.example.com:5061>"], PEER, "contact-not-sip", id="sips"),
    pytest.param(["Contact: <tel:+15551234>"], PEER, "contact-not-sip", id="tel"),
    pytest.param(["Contact: *"], PEER, "contact-not-sip", id="star"),
    pytest.param(["Contact: <sip:sbc:5061>"], PEER, "contact-not-fqdn", id="single-label"),
    pytest.param(["Contact: <sip:sbc.example.com>, <sip:192.0.2.1>"], PEER, "ok",
                 id="only-first-contact-counts"),
    pytest.param(["Contact: <sip:192.0.2.1>, <sip:sbc.example.com>"], PEER, "contact-ip",
                 id="first-contact-is-ip"),
    pytest.param(["m: <sip:192.0.2.1>", CONTACT], PEER, "contact-ip", id="first-contact-line"),
    pytest.param(['Contact: "SBC, main" <sip:user@SBC.Example.COM:5061;transport=tls>;+sip.x'],
                 PEER, "ok", id="display-name-userinfo-and-case"),
    pytest.param([CONTACT], peer_context(("SBC.EXAMPLE.COM",)), "ok", id="certificate-case"),
    pytest.param([CONTACT], peer_context(("other.example.com", "*.example.com")), "ok",
                 id="wildcard-one-label"),
    pytest.param(["Contact: <sip:a.sbc.example.com>"], peer_context(("*.example.com",)),
                 "contact-fqdn-not-in-certificate", id="wildcard-not-two-labels"),
    pytest.param(["Contact: <sip:example.com>"], peer_context(("*.example.com",)),
                 "contact-fqdn-not-in-certificate", id="wildcard-not-bare-domain"),
    pytest.param([CONTACT], peer_context(("sbc2.example.com",), mutual_tls=True),
                 "contact-fqdn-not-in-certificate", id="other-name"),
    pytest.param([CONTACT], peer_context((), mutual_tls=True),
                 "contact-fqdn-not-in-certificate", id="certificate-without-dns-names"),
    pytest.param([CONTACT], PeerContext(), "ok", id="no-client-certificate"),
    pytest.param([CONTACT], peer_context(("sbc.example.com",), ("sbc.example.com",)), "ok",
                 id="tenant-full-fqdn"),
    pytest.param([CONTACT], peer_context(("sbc.example.com",), ("Example.com.",)), "ok",
                 id="tenant-parent-domain"),
    pytest.param(["Contact: <sip:a.sbc.example.com>"], peer_context((), ("example.com",)),
                 "contact-domain-not-allowed", id="tenant-only-one-label-stripped"),
    pytest.param([CONTACT], peer_context(("sbc.example.com",), ("example.org",)),
                 "contact-domain-not-allowed", id="tenant-other-domain"),
    pytest.param([CONTACT], peer_context(("sbc.example.com",), ()),
                 "contact-domain-not-allowed", id="tenant-no-domains"),
    pytest.param(["Record-Route: <sip:sbc.example.com;lr>"], PEER, "ok",
                 id="record-route-instead"),
    pytest.param(["Record-Route: <sip:192.0.2.7;lr>"], PEER, "contact-ip",
                 id="record-route-ip"),
    pytest.param([], PEER, "contact-missing", id="missing"),
]


@pytest.mark.parametrize(("lines", "peer", "reason"), CONTACT_CASES)
@pytest.mark.parametrize("method", ["OPTIONS", "INVITE"])
def test_contact_rules(lines, peer, reason, method):
    """Each Direct Routing Contact rule gives its answer reason and 403, for OPTIONS and INVITE."""
    decision = answer(*lines, method=method, peer=peer)
    if reason == "ok":
        assert decision.answer_reason in ("ok", "invite-refused")
        return
    assert decision.answer_reason == reason
    assert decision.response is not None
    assert decision.response.status == 403
    assert decision.explanation


def test_ip_contact_refusal_explained_in_warning():
    """An IP Contact gets 403 Forbidden with a Warning naming the address."""
    decision = answer("Contact: <sip:192.0.2.10:5061;transport=tls>")
    assert decision.response is not None
    assert (decision.response.status, decision.response.reason) == (403, "Forbidden")
    warning = decision.response.headers.get("Warning")
    assert warning is not None and warning.startswith('399 fakepeer "Contact host 192.0.2.10')
    assert names(decision.response)[-2:] == ["WARNING", "SERVER"]


def test_missing_contact_and_record_route_reason():
    """Neither Contact nor Record-Route: 403 with the Q.850 cause 63 Reason, no Warning."""
    decision = answer()
    assert decision.answer_reason == AnswerReason.CONTACT_MISSING
    assert decision.response is not None
    assert decision.response.headers.get("Reason") == (
        'Q.850;cause=63;text="fakepeer;Record-Route and Contact headers are missing"'
    )
    assert not decision.response.headers.has("Warning")


@pytest.mark.parametrize(
    ("lines", "target"),
    [
        ([CONTACT], ("sbc.example.com", 5061)),
        (["Contact: <sip:sbc.example.com:5067;transport=tls>, <sip:b.example.com>"],
         ("sbc.example.com", 5067)),
        (["Contact: sip:sbc.example.com"], ("sbc.example.com", 5061)),
        (["Contact: <sips:sbc.example.com:5069>"], ("sbc.example.com", 5069)),
        (["Contact: <tel:+1555>"], None),
        ([], None),
    ],
)
def test_contact_target(lines, target):
    """The proxy's own OPTIONS goes to the first Contact's host and port, 5061 by default."""
    assert contact_target(parse(options(*lines))) == target


class TestOtherMethods:
    def test_replaces_rejected(self):
        """A request with a Replaces header is refused with 403 by the Teams profile."""
        decision = answer(CONTACT, "Replaces: abc;to-tag=1;from-tag=2", method="INVITE")
        assert decision.answer_reason == "replaces-rejected"
        assert decision.response is not None and decision.response.status == 403

    def test_replaces_in_supported_is_fine(self):
        """Announcing the replaces extension in Supported is not a Replaces header."""
        assert answer(CONTACT, "Supported: replaces, timer").answer_reason == "ok"

    def test_genesys_does_not_reject_replaces(self):
        """The Genesys profile has no Replaces rule."""
        decision = answer(CONTACT, "Replaces: abc;to-tag=1;from-tag=2", profile=GENESYS)
        assert decision.answer_reason == "ok"

    def test_ack_gets_no_response(self):
        """ACK is never answered."""
        decision = answer(method="ACK")
        assert decision.response is None
        assert decision.answer_reason == "no-response"

    def test_invite_refused_by_default(self):
        """INVITE gets 503 with a Reason saying fakepeer places no calls, and a To-tag."""
        decision = answer(CONTACT, method="INVITE")
        assert decision.answer_reason == "invite-refused"
        response = decision.response
        assert response is not None and response.status == 503
        assert response.headers.get("Reason") == (
            'SIP;cause=503;text="fakepeer answers OPTIONS only and does not place calls"'
        )
        assert "tag" in (response.headers.get("To") or "")
        assert not response.headers.has("Warning")

    def test_invite_response_configurable(self):
        """The policy chooses the INVITE status and Reason text (or none)."""
        busy = answer(CONTACT, method="INVITE", policy=ResponderPolicy(invite_status=486))
        assert busy.response is not None and busy.response.status == 486
        assert (busy.response.headers.get("Reason") or "").startswith("SIP;cause=486;")
        bare = ResponderPolicy(invite_status=603, invite_reason_text=None)
        decline = answer(CONTACT, method="INVITE", policy=bare)
        assert decline.response is not None and not decline.response.headers.has("Reason")

    @pytest.mark.parametrize("method", ["BYE", "CANCEL", "NOTIFY"])
    def test_no_dialog(self, method):
        """BYE, CANCEL and NOTIFY refer to nothing fakepeer has: 481."""
        decision = answer(method=method)
        assert decision.answer_reason == "no-dialog"
        assert decision.response is not None and decision.response.status == 481

    @pytest.mark.parametrize("method", ["REGISTER", "SUBSCRIBE", "MESSAGE", "REFER"])
    def test_known_method_not_allowed(self, method):
        """A SIP method the Teams proxy does not allow gets 405 with its Allow list."""
        decision = answer(method=method)
        assert decision.answer_reason == "method-not-allowed"
        assert decision.response is not None and decision.response.status == 405
        assert decision.response.headers.get("Allow") == "INVITE,ACK,OPTIONS,CANCEL,BYE,NOTIFY"

    def test_unknown_method(self):
        """A method no RFC defines gets 501 Not Implemented with Allow."""
        decision = answer(method="FOO")
        assert decision.answer_reason == "method-not-implemented"
        response = decision.response
        assert response is not None and (response.status, response.reason) == (
            501, "Not Implemented")
        assert response.headers.has("Allow")

    def test_allowed_but_unimplemented(self):
        """A method a custom profile allows but fakepeer cannot serve gets 501."""
        profile = replace(GENESYS, allow=(*GENESYS.allow, "MESSAGE"))
        decision = answer(method="MESSAGE", profile=profile)
        assert decision.response is not None and decision.response.status == 501

    def test_warning_can_be_switched_off(self):
        """explain_in_warning=False leaves fakepeer's refusals without a Warning."""
        decision = answer(method="REGISTER", policy=ResponderPolicy(explain_in_warning=False))
        assert decision.response is not None and not decision.response.headers.has("Warning")


class TestGenesys:
    def test_conventional_layout(self):
        """Genesys answers in canonical case, Via first, with a To-tag, Server and Allow."""
        response = answer(CONTACT, profile=GENESYS).response
        assert names(response) == [
            "Via", "From", "To", "Call-ID", "CSeq", "Allow", "Server", "Content-Length",
        ]
        assert response is not None
        to = response.headers.get("To") or ""
        assert to.startswith("<sip:sip.pstnhub.microsoft.com>;tag=")
        assert response.headers.get("Server") == GENESYS.server
        assert response.headers.get("Allow") == ", ".join(GENESYS.allow)

    def test_tag_is_stable_for_a_retransmission(self):
        """The same request gets the same To-tag, so a retransmission gets the same bytes."""
        first = answer(CONTACT, profile=GENESYS).response
        second = answer(CONTACT, profile=GENESYS).response
        assert first is not None and second is not None
        assert to_bytes(first) == to_bytes(second)

    def test_no_contact_rules(self):
        """Genesys has no Direct Routing Contact rules: an IP Contact is accepted."""
        assert answer("Contact: <sip:192.0.2.1>", profile=GENESYS).answer_reason == "ok"


class TestMalformedRequests:
    def test_missing_via_cannot_be_answered(self):
        """Without Via a reply cannot be addressed: no response, reason malformed."""
        request = parse(b"OPTIONS sip:a.example.com SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 OPTIONS"
                        b"\r\nFrom: <sip:a.example.com>;tag=1\r\nTo: <sip:b.example.com>\r\n"
                        b"l: 0\r\n\r\n")
        decision = respond(request, MICROSOFT, PEER)
        assert decision.response is None
        assert decision.answer_reason == "malformed"
        assert "no Via header" in decision.explanation

    def test_missing_from_gets_400(self):
        """A request without From is answered 400 with a Warning saying so."""
        sent_from = b"From: <sip:sbc.example.com:5061;transport=tls>;tag=f1\r\n"
        data = options(CONTACT).replace(sent_from, b"")
        decision = respond(parse(data), MICROSOFT, PEER)
        assert decision.answer_reason == "malformed"
        response = decision.response
        assert response is not None and response.status == 400
        assert response.headers.get("Warning") == '399 fakepeer "the request has no From header"'
        assert not response.headers.has("From")

    def test_cseq_method_mismatch(self):
        """A CSeq naming another method than the request line is 400."""
        data = options(CONTACT).replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE")
        decision = respond(parse(data), MICROSOFT, PEER)
        assert decision.response is not None and decision.response.status == 400
        assert "CSeq method INVITE does not match" in decision.explanation


class TestErrorResponse:
    def test_parse_error_gets_400_with_warning(self):
        """A recoverable parse error is answered with its status hint and a Warning."""
        error = first_error(options(CONTACT, "Broken line"))
        response = error_response(error, error.partial)
        assert response is not None
        assert (response.status, response.reason) == (400, "Bad Request")
        assert response.headers.get("Warning") == (
            '399 fakepeer "header line 8 has no colon: \'Broken line\'"'
        )
        assert response.headers.get("Call-ID") == "call-1@sbc.example.com"
        assert names(response)[0] == "FROM"

    def test_status_hint_is_used(self):
        """A 505 or 513 hint becomes the response status with its reason phrase."""
        error = first_error(options().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1))
        response = error_response(error, error.partial, GENESYS)
        assert response is not None and (response.status, response.reason) == (
            505, "Version Not Supported")
        big = first_error(options().replace(b"Content-Length: 0", b"Content-Length: 70000"))
        response = error_response(big, big.partial)
        assert response is not None and (response.status, response.reason) == (
            513, "Message Too Large")

    def test_unaddressable_gets_none(self):
        """No partial, a response, an ACK or a missing Via/Call-ID/CSeq give no reply."""
        error = RemoteSipError("bad")
        assert error_response(error, None) is None
        response_error = first_error(b"SIP/2.0 200 OK\r\nVia: x\r\nCall-ID: y\r\nCSeq: 1 OPTIONS"
                                     b"\r\nbroken\r\nl: 0\r\n\r\n")
        assert error_response(response_error, response_error.partial) is None
        ack = first_error(options("broken", method="ACK"))
        assert error_response(ack, ack.partial) is None
        no_via = first_error(b"OPTIONS sip:a.example.com SIP/2.0\r\nbroken\r\nCall-ID: x\r\n"
                             b"CSeq: 1 OPTIONS\r\nl: 0\r\n\r\n")
        assert error_response(no_via, no_via.partial) is None

    def test_accepts_a_request(self):
        """A complete request can be refused the same way (a recoverable error's caller)."""
        request = parse(options(CONTACT))
        response = error_response(RemoteSipError("nope", 400), request)
        assert response is not None and response.headers.get("Warning") == '399 fakepeer "nope"'

    def test_warning_text_is_quoted(self):
        """Quotes and backslashes in the reason are escaped inside the warn-text."""
        request = parse(options(CONTACT))
        response = error_response(RemoteSipError('say "hi" \\ bye'), request)
        assert response is not None
        assert response.headers.get("Warning") == '399 fakepeer "say \\"hi\\" \\\\ bye"'


class TestValues:
    def test_domain_allowed(self):
        """A tenant domain covers itself and hosts one label below it."""
        assert domain_allowed("sbc.example.com", ("example.com",))
        assert domain_allowed("example.com", ("example.com",))
        assert not domain_allowed("a.sbc.example.com", ("example.com",))

    @pytest.mark.parametrize(
        "kwargs", [{"invite_status": 200}, {"invite_status": 700}, {"options_status": 180}]
    )
    def test_policy_validates(self, kwargs):
        """INVITE must get a final non-2xx status and OPTIONS a final one."""
        with pytest.raises(ValueError, match="must be"):
            ResponderPolicy(**kwargs)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [({"layout": ("From",)}, "exactly one"), ({"layout": ("Contact", "*")}, "cannot place"),
         ({"allow": ("IN VITE",)}, "not tokens"), ({"allow_separator": ";"}, "comma")],
    )
    def test_profile_validates(self, kwargs, match):
        """A profile whose layout or Allow list could not be written is refused."""
        with pytest.raises(ValueError, match=match):
            replace(MICROSOFT, **kwargs)

    def test_peer_context_refuses_bare_strings(self):
        """A single name passed where a tuple belongs is a TypeError, not 15 one-letter names."""
        with pytest.raises(TypeError):
            PeerContext(certificate_names="sbc.example.com")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            PeerContext(tenant_domains="example.com")  # type: ignore[arg-type]

    def test_built_in_profiles(self):
        """The two built-ins are the Teams proxy and Genesys, with their Server strings."""
        assert MICROSOFT.server == "Microsoft.PSTNHub.SIPProxy v.2020.7.31.1 i.USWE2.3"
        assert MICROSOFT.header_name("Call-ID") == "CALL-ID"
        assert GENESYS.header_name("cseq") == "CSeq"
        assert Headers(()) == ()
