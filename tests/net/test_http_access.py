"""Who may drive the control API: the decision alone, as one table of requests."""

from __future__ import annotations

import pytest

from fakepeer.net.http_access import (
    ControlAccess,
    ControlRequest,
    host_of_authority,
    is_loopback_address,
)

JSON = "application/json"


def _request(**fields: str | None) -> ControlRequest:
    base: dict[str, str | None] = {"client": "127.0.0.1", "local": "127.0.0.1",
                                   "host": "127.0.0.1:8080", "content_type": JSON}
    return ControlRequest(**{**base, **fields})  # type: ignore[arg-type]


PUBLIC = ControlAccess(public_host="fakepeer.lab.example")
TOKEN = ControlAccess(token="s3cret")

# (access rules, request, expected status or None for allowed, a phrase of the reason)
CASES = [
    (PUBLIC, _request(), None, ""),
    (PUBLIC, _request(host=None), None, ""),  # HTTP/1.0 tools send no Host
    (PUBLIC, _request(host="localhost:8080"), None, ""),
    (PUBLIC, _request(host="app.localhost"), None, ""),
    (PUBLIC, _request(host="[::1]:8080"), None, ""),
    (PUBLIC, _request(host="FakePeer.Lab.Example.:8080"), None, ""),
    (PUBLIC, _request(host="192.0.2.10:8080", local="192.0.2.10", client="127.0.0.1"), None,
     ""),
    (PUBLIC, _request(host="[::ffff:192.0.2.10]", local="192.0.2.10"), None, ""),
    (PUBLIC, _request(origin="http://localhost:3000"), None, ""),
    (PUBLIC, _request(origin="http://fakepeer.lab.example:8080"), None, ""),
    (PUBLIC, _request(content_type="application/json; charset=utf-8"), None, ""),
    (PUBLIC, _request(client="::ffff:127.0.0.1", local="::ffff:127.0.0.1"), None, ""),
    # cross-site: a form post from another site
    (PUBLIC, _request(content_type="text/plain", origin="http://evil.example"), 403,
     "Origin 'http://evil.example'"),
    (PUBLIC, _request(origin="null"), 403, "Origin 'null'"),
    (PUBLIC, _request(origin="http://127.0.0.1.evil.example"), 403, "another site"),
    # DNS rebinding: the page's own name, resolved to loopback
    (PUBLIC, _request(host="evil.example"), 403, "DNS rebinding"),
    (PUBLIC, _request(host="evil.example:8080, 127.0.0.1"), 403, "DNS rebinding"),
    (PUBLIC, _request(host="192.0.2.99", local="192.0.2.10"), 403, "--http-url"),
    (PUBLIC, _request(content_type="text/plain"), 415, "Content-Type: application/json"),
    (PUBLIC, _request(content_type=None), 415, "no Content-Type"),
    (PUBLIC, _request(client="192.0.2.7"), 403, "only loopback clients"),
    # with a token, everyone needs it, loopback too
    (TOKEN, _request(), 403, "control needs the token"),
    (TOKEN, _request(authorization="Bearer wrong"), 403, "does not match"),
    (TOKEN, _request(authorization="Basic s3cret"), 403, "does not match"),
    (TOKEN, _request(authorization="Bearer s3cret"), None, ""),
    (TOKEN, _request(authorization="bearer s3cret", client="192.0.2.7"), None, ""),
]


@pytest.mark.parametrize(("access", "request_", "status", "phrase"), CASES)
def test_control_access(access, request_, status, phrase):
    """Each request is allowed, or refused with the status and a reason naming the fix."""
    refusal = access.refusal(request_)
    if status is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert (refusal.status, phrase in refusal.reason) == (status, True), refusal.reason


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("192.0.2.7", False), ("::ffff:192.0.2.7", False), ("localhost", False), ("", False),
])
def test_loopback_addresses(address, loopback):
    """IPv4-mapped loopback (how a [::] socket reports 127.0.0.1) is loopback; names are
    not addresses."""
    assert is_loopback_address(address) is loopback


@pytest.mark.parametrize(("authority", "host"), [
    ("example.org", "example.org"), ("example.org:8080", "example.org"),
    ("[::1]:8080", "::1"), ("127.0.0.1", "127.0.0.1"), ("", None), ("[::1", None),
])
def test_host_header_parsing(authority, host):
    assert host_of_authority(authority) == host
