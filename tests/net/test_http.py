"""The HTTP side's real ``twisted.web`` site on a loopback port, with real clients:
``http.client`` (in a thread) and raw sockets for what ``http.client`` will not send."""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from twisted.internet import reactor, task, threads
from twisted.internet.task import deferLater
from twisted.logger import globalLogPublisher

from fakepeer.net.http import ControlActions, build_site
from fakepeer.net.http_server import MAX_REQUEST_BODY
from fakepeer.pki import mirrors
from fakepeer.pki.authority import IssueOptions
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.store import CertStore
from fakepeer.report.board import StatusBoard
from fakepeer.report.events import Event
from tests.conftest import make_pki

pytestmark = pytest.mark.loopback

JSON = {"Content-Type": "application/json"}
SWITCH = b'{"name": "expired-leaf"}'


@dataclass
class Side:
    """One HTTP side listening on a loopback port, and what it did."""

    site: Any
    port: Any
    events: list[Event]
    switched: list[str] = field(default_factory=list)

    @property
    def number(self) -> int:
        return int(self.port.getHost().port)

    def refusals(self) -> list[Event]:
        return [e for e in self.events if e.kind in ("http-refused", "http-error")]


@pytest_twisted.async_yield_fixture
async def serve_http(session_store):
    """Start HTTP sides (``serve_http(pki=..., token=..., interface=...)``); stop them,
    and wait for their PKI worker, afterwards."""
    sides: list[Side] = []

    def start(pki: Pki | None = None, token: str | None = None,
              interface: str = "127.0.0.1") -> Side:
        events: list[Event] = []
        switched: list[str] = []

        def switch(name: str) -> str:
            switched.append(name)
            return f"now serving scenario {name}"

        site = build_site(pki or make_pki(session_store), StatusBoard(),
                          ControlActions(switch, lambda index: f"phase {index}"), token,
                          sink=events.append)
        port = reactor.listenTCP(0, site, interface=interface)
        side = Side(site, port, events, switched)
        sides.append(side)
        return side

    yield start
    for side in sides:
        await side.port.stopListening()
        await side.site.worker.stop()


async def fetch(port: int, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, host: str = "127.0.0.1"
                ) -> tuple[int, bytes, str]:
    """One request with ``http.client`` (a ``Host`` in ``headers`` replaces its own)."""
    def call() -> tuple[int, bytes, str]:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            reply = connection.getresponse()
            return reply.status, reply.read(), reply.getheader("content-type", "")
        finally:
            connection.close()
    return await threads.deferToThread(call)


@dataclass
class RawResult:
    received: bytes
    sent: int  # body bytes the client managed to send
    closed: bool  # the server closed the connection (rather than the client timing out)


async def raw(port: int, head: bytes, chunks: Iterable[bytes] = (), timeout: float = 2.0
              ) -> RawResult:
    """Send ``head`` and then ``chunks`` until the server answers or hangs up; read the
    answer until the server closes or ``timeout`` passes."""
    def call() -> RawResult:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        sent, received, closed = 0, b"", False
        try:
            sock.sendall(head)
            for chunk in chunks:
                if select.select([sock], [], [], 0)[0]:
                    break  # an answer is waiting
                try:
                    sock.sendall(chunk)
                except OSError:  # the server hung up (EPIPE, ECONNRESET)
                    break
                sent += len(chunk)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    break
                except ConnectionResetError:
                    closed = True
                    break
                if not data:
                    closed = True
                    break
                received += data
        finally:
            sock.close()
        return RawResult(received, sent, closed)
    return await threads.deferToThread(call)


@pytest.fixture
def twisted_failures():
    """Every failure Twisted logs while a test runs (a traceback, had it been printed)."""
    failures: list[dict[str, Any]] = []

    def observe(event: dict[str, Any]) -> None:
        if "log_failure" in event:
            failures.append(event)

    globalLogPublisher.addObserver(observe)
    yield failures
    globalLogPublisher.removeObserver(observe)


# -- #8: the control API and cross-site callers ------------------------------------------

@pytest.mark.parametrize(("headers", "status", "phrase"), [
    ({"Content-Type": "text/plain", "Origin": "http://evil.example"}, 403, "Origin"),
    ({**JSON, "Origin": "http://evil.example"}, 403, "another site"),
    ({**JSON, "Host": "evil.example"}, 403, "DNS rebinding"),
    ({**JSON, "Host": "evil.example:8080", "Origin": "http://evil.example:8080"}, 403,
     "DNS rebinding"),
    ({"Content-Type": "text/plain"}, 415, "Content-Type: application/json"),
    ({}, 415, "no Content-Type"),
])
@pytest_twisted.ensureDeferred
async def test_cross_site_and_rebinding_posts_are_refused(serve_http, headers, status,
                                                          phrase):
    """A browser page cannot switch the scenario: a foreign Origin, a foreign Host or a
    body that is not JSON gets a JSON refusal naming the fix, and one logged line."""
    side = serve_http()
    code, body, kind = await fetch(side.number, "POST", "/control/scenario", SWITCH, headers)
    assert (code, kind) == (status, "application/json")
    assert phrase in json.loads(body)["error"]
    assert side.switched == []
    [logged] = side.refusals()
    assert logged.kind == "http-refused" and logged.data["status"] == status
    assert logged.summary.startswith(f"HTTP {status}: POST /control/scenario: ")


@pytest.mark.parametrize("headers", [
    JSON,
    {**JSON, "Host": "localhost"},
    {**JSON, "Origin": "http://localhost:3000"},
    {**JSON, "Host": "fakepeer.lab.example:8080", "Origin": "http://fakepeer.lab.example"},
])
@pytest_twisted.ensureDeferred
async def test_own_names_may_call_control(serve_http, session_store, headers):
    """Loopback names, this address and the --http-url host are this service: allowed."""
    pki = make_pki(session_store, http_base="http://fakepeer.lab.example:8080")
    side = serve_http(pki=pki)
    code, body, _ = await fetch(side.number, "POST", "/control/scenario", SWITCH, headers)
    assert code == 200, body
    assert side.switched == ["expired-leaf"]


@pytest_twisted.ensureDeferred
async def test_token_is_required_from_loopback_too(serve_http):
    """With --http-token, loopback callers need it as well: none or a wrong one is 403."""
    side = serve_http(token="s3cret")
    for given, status in ((None, 403), ("Bearer wrong", 403), ("Bearer s3cret", 200)):
        headers = {**JSON, **({"Authorization": given} if given else {})}
        code, body, _ = await fetch(side.number, "POST", "/control/scenario", SWITCH,
                                    headers)
        assert code == status, body
    assert side.switched == ["expired-leaf"]
    assert [e.data["status"] for e in side.refusals()] == [403, 403]


@pytest_twisted.ensureDeferred
async def test_ipv4_mapped_loopback_is_loopback(serve_http):
    """On a [::] listener 127.0.0.1 arrives as ::ffff:127.0.0.1: still loopback."""
    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6 support")
    try:
        side = serve_http(interface="::")
    except Exception as exc:
        pytest.skip(f"cannot listen on [::] here: {exc}")
    try:
        socket.create_connection(("127.0.0.1", side.number), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"[::] sockets here do not take IPv4 (net.ipv6.bindv6only=1?): {exc}")
    code, body, _ = await fetch(side.number, "POST", "/control/scenario", SWITCH, JSON)
    assert code == 200, body
    assert side.switched == ["expired-leaf"]


# -- #10: bad input gets a 4xx, never a 500 or a traceback -------------------------------

NESTED = b"[" * (MAX_REQUEST_BODY - 100)

BAD_REQUESTS = {
    "nul-in-ca-id": ("GET", "/ca/%00.pem", None, 404, "not found"),
    "nul-in-aia-id": ("GET", "/aia/%00.crt", None, 404, "not found"),
    "5000-char-ca-id": ("GET", "/ca/" + "a" * 5000 + ".pem", None, 404, "5004 characters"),
    "5000-char-crl-id": ("GET", "/crl/" + "a" * 5000 + ".crl", None, 404, "not found"),
    "5000-char-ocsp-id": ("GET", "/ocsp/" + "a" * 5000, None, 404, "not found"),
    "index-1e309": ("POST", "/control/phase", b'{"index": 1e309}', 400, "whole number"),
    "index-text": ("POST", "/control/phase", b'{"index": "1"}', 400, "whole number"),
    "index-5000-digits": ("POST", "/control/phase", b'{"index": 1' + b"0" * 5000 + b"}",
                          400, "not JSON"),
    "nested-65k": ("POST", "/control/phase", NESTED, 400, "nested too deeply"),
    "latin-1-body": ("POST", "/control/scenario", b'{"name": "caf\xe9"}', 400, "not UTF-8"),
    "utf-16-bom": ("POST", "/control/scenario", b"\xff\xfe{}", 400, "not UTF-8"),
    "name-number": ("POST", "/control/scenario", b'{"name": 5}', 400, '"name" must be'),
    "name-5000-chars": ("POST", "/control/scenario", b'{"name": "' + b"a" * 5000 + b'"}',
                        400, "5000 characters"),
    "array-body": ("POST", "/control/scenario", b"[]", 400, "not an object"),
    "empty-body": ("POST", "/control/scenario", b"", 400, "empty"),
    "head-on-control": ("HEAD", "/control/scenario", None, 405, ""),
}


@pytest.mark.parametrize(("method", "path", "body", "status", "phrase"),
                         list(BAD_REQUESTS.values()), ids=list(BAD_REQUESTS))
@pytest_twisted.ensureDeferred
async def test_bad_input_gets_a_clear_4xx(serve_http, twisted_failures, method, path, body,
                                          status, phrase):
    """Each bad request gets its 4xx with a sentence, nothing is logged as a failure, and
    the server goes on serving."""
    side = serve_http()
    code, reply, kind = await fetch(side.number, method, path, body,
                                    JSON if method == "POST" else None)
    assert code == status, reply
    message = json.loads(reply)["error"] if kind == "application/json" else reply.decode()
    assert phrase in message
    assert twisted_failures == []
    assert not [e for e in side.events if e.kind == "http-error"]
    assert (await fetch(side.number, "GET", "/status"))[0] == 200


@pytest_twisted.ensureDeferred
async def test_ocsp_request_with_an_unusable_hash_is_malformed_not_500(
        serve_http, session_store, twisted_failures):
    """An OCSP request whose CertID names a hash nobody implements gets the OCSP answer
    malformedRequest, not a 500."""
    side = serve_http()
    lab = session_store / "lab"
    issuer = x509.load_pem_x509_certificate((lab / "digicert-global-root-g2.pem").read_bytes())
    subject = x509.load_pem_x509_certificate(
        (lab / "digicert-global-g2-tls-rsa-sha256-2020-ca1.pem").read_bytes())
    request = ocsp.OCSPRequestBuilder().add_certificate(subject, issuer, hashes.SHA1()) \
        .build().public_bytes(Encoding.DER)
    sha1, unknown = bytes.fromhex("06052b0e03021a"), bytes.fromhex("06052b0e03021b")
    code, reply, kind = await fetch(side.number, "POST", "/ocsp/digicert-global-root-g2",
                                    request.replace(sha1, unknown),
                                    {"Content-Type": "application/ocsp-request"})
    assert (code, kind) == (200, "application/ocsp-response")
    assert ocsp.load_der_ocsp_response(reply).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert twisted_failures == []


@pytest_twisted.ensureDeferred
async def test_a_damaged_store_entry_is_one_logged_line_and_a_500(serve_http, store_copy,
                                                                 twisted_failures):
    """What the request cannot fix (a damaged certificate file) is a 500 naming the
    error class, one http-error line with the details, and no traceback."""
    (store_copy / "lab" / "digicert-global-root-g2.pem").write_text("damaged\n")
    side = serve_http(pki=make_pki(store_copy))
    code, reply, kind = await fetch(side.number, "GET", "/aia/digicert-global-root-g2.crt")
    assert (code, kind) == (500, "application/json")
    assert "StoreError" in json.loads(reply)["error"]
    assert str(store_copy) not in reply.decode()  # file names stay in the log
    failed = [e for e in side.events if e.kind == "http-error"
              and "GET /aia/digicert-global-root-g2.crt" in e.summary]
    assert len(failed) == 1 and str(store_copy) in failed[0].summary
    assert twisted_failures == []
    assert (await fetch(side.number, "GET", "/status"))[0] == 200


# -- #12: no PKI work on the reactor thread; bounded bodies -------------------------------

def _fresh_pki(root: Path, *ca_ids: str) -> Pki:
    options = IssueOptions()
    return Pki(CertStore(root, options.variant), options,
               {ca_id: mirrors.CAS[ca_id] for ca_id in ca_ids})


@pytest_twisted.ensureDeferred
async def test_aia_get_on_a_fresh_store_does_not_stall_the_reactor(serve_http, tmp_path):
    """The CA behind an AIA URL is made off the reactor thread: while an RSA-4096 key is
    generated for the GET, the reactor keeps ticking every 10 ms."""
    ca_id = "digicert-tls-rsa4096-root-g5"
    side = serve_http(pki=_fresh_pki(tmp_path / "certs", ca_id))
    gaps: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    ticking = task.LoopingCall(tick)
    ticking.start(0.01)
    code, body, kind = await fetch(side.number, "GET", f"/aia/{ca_id}.crt")
    ticking.stop()
    assert (code, kind) == (200, "application/pkix-cert")
    certificate = x509.load_der_x509_certificate(body)
    assert "DigiCert TLS RSA4096 Root G5" in certificate.subject.rfc4514_string()
    assert (tmp_path / "certs" / "keys" / f"{ca_id}.key.pem").exists()  # made just now
    assert max(gaps) < 0.2, f"the reactor stalled {max(gaps):.3f} s"


@pytest_twisted.ensureDeferred
async def test_starting_the_side_makes_nothing_and_holds_no_lock(serve_http, tmp_path):
    """Listening makes no CA on its own: another fakepeer process (a health check, an
    export) must not wait behind a background generation holding the store's lock."""
    ids = ("digicert-global-root-g3", "digicert-global-g3-tls-ecc-sha384-2020-ca1")
    root = tmp_path / "certs"
    side = serve_http(pki=_fresh_pki(root, *ids))
    await deferLater(reactor, 0.3, lambda: None)
    for ca_id in ids:
        assert not (root / "lab" / f"{ca_id}.json").exists()
    other = _fresh_pki(root, *ids)
    started = time.monotonic()
    with other.store.locked():
        waited = time.monotonic() - started
    assert waited < 0.1, f"the store's lock was held for {waited:.2f} s"
    assert side.refusals() == []


def _head(headers: str) -> bytes:
    return (f"POST /control/scenario HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\n{headers}\r\n").encode()


@pytest.mark.parametrize("expect", ["", "Expect: 100-continue\r\n"])
@pytest_twisted.ensureDeferred
async def test_content_length_over_the_cap_is_refused_before_the_body(serve_http, expect):
    """A 200 MB Content-Length gets 413 at once, before one body byte is sent (and no
    100 Continue), and the connection is closed."""
    side = serve_http()
    result = await raw(side.number, _head(f"Content-Length: 200000000\r\n{expect}"))
    assert result.received.startswith(b"HTTP/1.1 413 "), result.received
    assert b"request body too large" in result.received
    assert result.closed
    [logged] = side.refusals()
    assert logged.data["status"] == 413
    assert (await fetch(side.number, "GET", "/status"))[0] == 200


@pytest_twisted.ensureDeferred
async def test_chunked_body_is_cut_off_at_the_cap(serve_http):
    """A chunked body is refused with 413 once it passes the cap, while the client is
    still sending: it never gets to send its 10 MB."""
    side = serve_http()
    chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
    result = await raw(side.number, _head("Transfer-Encoding: chunked\r\n"),
                       [chunk] * (10 * 1024 * 1024 // 0x4000))
    assert result.received.startswith(b"HTTP/1.1 413 "), result.received
    assert result.closed
    assert result.sent < 10 * 1024 * 1024
    assert (await fetch(side.number, "GET", "/status"))[0] == 200


@pytest_twisted.ensureDeferred
async def test_roots_crl_and_ocsp_are_served_from_the_worker(serve_http, session_store):
    """The files SBCs fetch still come out right: a root as PEM, a CRL signed by its CA."""
    side = serve_http()
    code, pem, _ = await fetch(side.number, "GET", "/ca/digicert-global-root-g2.pem")
    assert code == 200
    assert pem == (session_store / "lab" / "digicert-global-root-g2.pem").read_bytes()
    code, der, kind = await fetch(side.number, "GET", "/crl/digicert-global-root-g2.crl")
    assert (code, kind) == (200, "application/pkix-crl")
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(x509.load_pem_x509_certificate(pem).public_key())
    code, page, _ = await fetch(side.number, "GET", "/ca/")
    assert code == 200 and b"DigiCert Global Root G2" in page


@pytest_twisted.ensureDeferred
async def test_the_roots_page_links_work_with_or_without_the_slash(serve_http):
    """/ca and /ca/ serve the same page; its links were relative, so from /ca they
    resolved to /<id>.pem, a 404."""
    side = serve_http()
    for path in ("/ca", "/ca/"):
        code, page, _ = await fetch(side.number, "GET", path)
        assert code == 200
        links = re.findall(rb"href='([^']+\.(?:pem|crt))'", page)
        assert links and all(link.startswith(b"/ca/") for link in links), links
    code, _, kind = await fetch(side.number, "GET", links[0].decode())
    assert (code, kind) == (200, "application/x-pem-file")
