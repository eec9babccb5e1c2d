"""Headers, the self-validating message events and the small grammar helpers."""

from __future__ import annotations

import pytest

from fakepeer.addresses import is_ip_address as is_ip_literal
from fakepeer.sip import (
    NEED_DATA,
    ConnectionClosed,
    Headers,
    KeepAlive,
    LocalSipError,
    PartialMessage,
    Request,
    Response,
)
from fakepeer.sip.grammar import (
    COMPACT_FORMS,
    address_uri,
    canonical_key,
    header_params,
    is_fqdn,
    parse_sip_uri,
    reason_phrase,
    split_list,
)

BRIEF_COMPACT_FORMS = {
    "i": "Call-ID", "m": "Contact", "f": "From", "t": "To", "v": "Via", "l": "Content-Length",
    "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding", "o": "Event",
    "r": "Refer-To", "b": "Referred-By", "u": "Allow-Events", "x": "Session-Expires",
    "a": "Accept-Contact", "j": "Reject-Contact", "d": "Request-Disposition", "y": "Identity",
    "n": "Identity-Info",
}  # fmt: skip


class TestHeaders:
    def test_is_an_ordered_tuple_of_pairs(self):
        """Headers compare, iterate and index exactly like the tuple of pairs they hold."""
        headers = Headers([("Via", "a"), ("via", "b")])
        assert headers == (("Via", "a"), ("via", "b"))
        assert headers[1] == ("via", "b")
        assert list(headers) == [("Via", "a"), ("via", "b")]
        assert hash(headers) == hash((("Via", "a"), ("via", "b")))
        assert repr(headers) == "Headers((('Via', 'a'), ('via', 'b')))"

    def test_lookup_ignores_case(self):
        """get, get_all and has find a header whatever the case of either name."""
        headers = Headers([("CALL-ID", "x"), ("Via", "1"), ("VIA", "2"), ("via", "3")])
        assert headers.get("call-id") == "x"
        assert headers.get_all("Via") == ("1", "2", "3")
        assert headers.has("cAlL-iD")
        assert not headers.has("Contact")
        assert headers.get("Contact", "none") == "none"
        assert headers.get_all("Contact") == ()

    @pytest.mark.parametrize(("short", "full"), sorted(BRIEF_COMPACT_FORMS.items()))
    def test_compact_forms_match_long_forms(self, short, full):
        """Each compact letter and its long name find each other, in any case."""
        headers = Headers([(short, "compact"), (full.upper(), "long")])
        assert headers.get_all(full) == ("compact", "long")
        assert headers.get_all(short.upper()) == ("compact", "long")

    def test_compact_table_is_exactly_the_known_set(self):
        """The compact-form table holds the twenty letters fakepeer documents, no more."""
        assert dict(COMPACT_FORMS) == BRIEF_COMPACT_FORMS
        assert canonical_key("I") == "call-id"
        assert canonical_key("X-Custom") == "x-custom"

    @pytest.mark.parametrize(
        ("pairs", "match"),
        [
            ([("Bad Name", "x")], "invalid name 'Bad Name'"),
            ([("", "x")], "invalid name ''"),
            ([("Subject", "a\r\nInjected: yes")], "control character"),
            ([("Subject", "nul\x00")], "control character"),
            ([("Subject", " padded")], "whitespace"),
            ([("Subject", 1)], "must be str"),
            ([("Subject",)], "not a \\(name, value\\) pair"),
        ],
    )
    def test_invalid_pairs_are_refused(self, pairs, match):
        """A name that is not a token or a value that could break framing cannot be stored."""
        with pytest.raises(LocalSipError, match=match):
            Headers(pairs)


class TestEvents:
    def test_request_coerces_headers_and_body(self):
        """A plain tuple of pairs becomes Headers and a bytearray body becomes bytes."""
        request = Request("OPTIONS", "sip:a.example.com", (("Via", "x"),), bytearray(b""))
        assert isinstance(request.headers, Headers)
        assert type(request.body) is bytes

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"method": "OPT IONS"}, "not a token"),
            ({"method": ""}, "not a token"),
            ({"uri": "sip:a b"}, "Request-URI"),
            ({"uri": "no-scheme"}, "Request-URI"),
            ({"headers": Headers([("Content-Length", "3")])}, "does not match the 0-byte body"),
            ({"headers": Headers([("l", "0"), ("l", "0")])}, "2 Content-Length headers"),
            ({"body": "text"}, "body must be bytes"),
        ],
    )
    def test_request_validates(self, kwargs, match):
        """A request with a bad method, URI, body or Content-Length cannot be built."""
        arguments = {"method": "OPTIONS", "uri": "sip:a.example.com"} | kwargs
        with pytest.raises(LocalSipError, match=match):
            Request(**arguments)

    @pytest.mark.parametrize(
        ("status", "reason", "match"),
        [(99, "x", "100 to 699"), (700, "x", "100 to 699"), (True, "x", "100 to 699"),
         ("200", "OK", "100 to 699"), (200, "O\nK", "control"), (200, " OK", "whitespace")],
    )
    def test_response_validates(self, status, reason, match):
        """Status must be an int from 100 to 699 and the reason one clean line."""
        with pytest.raises(LocalSipError, match=match):
            Response(status, reason)

    def test_events_are_frozen_and_slotted(self):
        """Events cannot be changed after they are built, nor given stray attributes."""
        request = Request("OPTIONS", "sip:a.example.com")
        with pytest.raises(AttributeError):
            request.method = "INVITE"  # type: ignore[misc]
        assert not hasattr(request, "__dict__")
        assert KeepAlive() == KeepAlive()
        assert ConnectionClosed() == ConnectionClosed()

    def test_need_data_is_a_sentinel(self):
        """NEED_DATA is one named value, not an event."""
        assert repr(NEED_DATA) == "NEED_DATA"
        assert NEED_DATA is not None

    @pytest.mark.parametrize(
        ("start", "method", "is_response"),
        [("OPTIONS sip:a SIP/2.0", "OPTIONS", False), ("SIP/2.0 200 OK", None, True),
         ("", None, False), ("B@D sip:a SIP/2.0", None, False)],
    )
    def test_partial_message_reads_its_start_line(self, start, method, is_response):
        """A partial message knows its method, or that it was a response, when it can."""
        partial = PartialMessage(start)
        assert (partial.method, partial.is_response) == (method, is_response)


class TestGrammarHelpers:
    def test_split_list_respects_quotes_and_brackets(self):
        """Commas inside quoted display names and <URIs> do not split a header value."""
        value = '"Doe, John" <sip:a@x.example.com;p=1,2>;q=1, <sip:b.example.com> ,sip:c'
        assert split_list(value) == [
            '"Doe, John" <sip:a@x.example.com;p=1,2>;q=1', "<sip:b.example.com>", "sip:c",
        ]
        assert split_list('"a\\", b" <sip:x>') == ['"a\\", b" <sip:x>']

    @pytest.mark.parametrize(
        ("value", "uri", "params"),
        [
            ("<sip:a.example.com:5061;transport=tls>;tag=1", "sip:a.example.com:5061;transport=tls",
             {"tag": "1"}),
            ('"x <y>;z" <sip:b.example.com>;Tag=2;lr', "sip:b.example.com", {"tag": "2", "lr": ""}),
            ("sip:c.example.com;tag=3", "sip:c.example.com", {"tag": "3"}),
            ("<sip:unclosed", "sip:unclosed", {}),
        ],
    )
    def test_address_parts(self, value, uri, params):
        """The URI and header parameters of name-addr and addr-spec forms are found."""
        assert address_uri(value) == uri
        assert header_params(value) == params

    @pytest.mark.parametrize(
        ("uri", "parts"),
        [
            ("sip:sbc.example.com:5061;transport=tls", ("sip", "sbc.example.com", 5061)),
            ("SIPS:user@sbc.example.com", ("sips", "sbc.example.com", None)),
            ("sip:[2001:db8::1]:5061", ("sip", "2001:db8::1", 5061)),
            ("sip:192.0.2.1?subject=x", ("sip", "192.0.2.1", None)),
            ("tel:+15551234", None),
            ("sip:", None),
            ("sip:host:port", None),
            ("sip:[2001:db8::1", None),
        ],
    )
    def test_parse_sip_uri(self, uri, parts):
        """Scheme, host and port come out of SIP and SIPS URIs; anything else is None."""
        parsed = parse_sip_uri(uri)
        assert (parsed and (parsed.scheme, parsed.host, parsed.port)) == parts

    @pytest.mark.parametrize(
        ("host", "ip", "fqdn"),
        [("192.0.2.1", True, False), ("2001:db8::1", True, False), ("[::1]", True, False),
         ("sbc.example.com", False, True), ("SBC.Example.COM.", False, True),
         ("sbc", False, False), ("999.1.1.1", False, False), ("-a.example.com", False, False)],
    )
    def test_host_kinds(self, host, ip, fqdn):
        """IP literals and FQDNs are told apart as RFC 3261's hostname rule does."""
        assert (is_ip_literal(host), is_fqdn(host)) == (ip, fqdn)

    def test_reason_phrases(self):
        """Registered codes get their RFC phrase, others their class name."""
        assert reason_phrase(481) == "Call/Transaction Does Not Exist"
        assert reason_phrase(513) == "Message Too Large"
        assert reason_phrase(499) == "Client Error"
