"""HOST:PORT and "is this an IP address", as every command and plan reads them."""

from __future__ import annotations

import pytest

from fakepeer.addresses import AddressError, is_ip_address, listen_address, parse_host_port


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1", True), ("::1", True), ("[::1]", True), ("2001:db8::5", True),
    ("sip.pstnhub.microsoft.com", False), ("10.0.0.300", False), ("[::1", False),
    ("[sip.example]", False), ("", False),
])
def test_ip_addresses_bare_or_bracketed(text, expected):
    """IPv4 and IPv6 addresses count, IPv6 also in brackets; names and halves do not."""
    assert is_ip_address(text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("0.0.0.0:5061", ("0.0.0.0", 5061)),
    ("[::]:5061", ("::", 5061)),
    ("[::1]:0", ("::1", 0)),
    (":5062", ("0.0.0.0", 5062)),
    ("sip.lab.example:5061", ("sip.lab.example", 5061)),
])
def test_listen_addresses(text, expected):
    """Where to listen: port 0 allowed, an empty host is every interface."""
    assert listen_address(text) == expected


@pytest.mark.parametrize(("text", "words"), [
    ("localhost", "'localhost' is not HOST:PORT: no port (expected HOST:PORT"),
    ("host:70000", "'host:70000': port must be 0-65535"),
    ("host:port", "'host:port': port must be 0-65535"),
    ("[::1:5061", "'[::1:5061': expected [IPv6]:PORT"),
    ("   ", "HOST:PORT: empty"),
])
def test_bad_listen_addresses_say_why(text, words):
    """Each malformed HOST:PORT fails with a ValueError that quotes it and says why."""
    with pytest.raises(AddressError, match=None) as caught:
        listen_address(text)
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_target_may_leave_out_the_port_and_needs_a_host():
    """With a default port, HOST alone and a bare IPv6 address parse; a missing host and
    port 0 do not."""
    assert parse_host_port("::1", default_port=5061) == ("::1", 5061)
    assert parse_host_port("sbc.lab.example", default_port=5061) == ("sbc.lab.example", 5061)
    with pytest.raises(AddressError, match="no host"):
        parse_host_port(":5061", default_port=5061)
    with pytest.raises(AddressError, match="port must be 1-65535"):
        parse_host_port("sbc:0", default_port=5061)
