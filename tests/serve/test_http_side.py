"""The HTTP side service of a real ``fakepeer serve``: roots, AIA, CRL and OCSP as real
clients fetch them, status JSON and page, the control API and SIGHUP reload."""

from __future__ import annotations

import http.client
import io
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.web.test.requesthelper import DummyRequest

from fakepeer.net.http import Control, ControlActions
from fakepeer.pki import export
from tests.inprocess import in_thread, run_process
from tests.serve.harness import s_client, served, serving


def _get(port: int, path: str) -> Deferred[tuple[int, bytes, str]]:
    return in_thread(_get_blocking, port, path)


def _get_blocking(port: int, path: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
            return reply.status, reply.read(), reply.headers.get("content-type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("content-type", "")


def _post(port: int, path: str, payload: dict) -> Deferred[tuple[int, dict]]:
    return in_thread(_post_blocking, port, path, payload)


def _post_blocking(port: int, path: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST",
                                     data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def _served_chain(port: int, client: list[str]) -> list[x509.Certificate]:
    output = (await s_client(port, "-showcerts", *client)).output
    blocks = output.split("-----BEGIN CERTIFICATE-----")[1:]
    return [x509.load_pem_x509_certificate(
        ("-----BEGIN CERTIFICATE-----" + b.split("-----END CERTIFICATE-----")[0]
         + "-----END CERTIFICATE-----\n").encode()) for b in blocks]


def _url_path(certificate: x509.Certificate, method: x509.ObjectIdentifier) -> str:
    aia = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    url = next(d.access_location.value for d in aia.value if d.access_method == method)
    return "/" + url.split("/", 3)[3]


def _client(sbc_files) -> list[str]:
    return ["-cert", str(sbc_files.cert), "-key", str(sbc_files.key), "-cert_chain",
            str(sbc_files.chain)]


@pytest.fixture(scope="module")
def revoked_server(session_store):
    with served(session_store, "--scenario", "revoked") as server:
        yield server


@pytest_twisted.ensureDeferred
async def test_roots_download_as_pem_and_der(revoked_server, session_store):
    """/ca/ lists the mirrored roots; each downloads as PEM and DER, as stored."""
    status, body, kind = await _get(revoked_server.http_port, "/ca/")
    assert status == 200 and "text/html" in kind
    assert b"DigiCert Global Root G2 (fakepeer lab)" in body
    stored = (session_store / "lab" / "digicert-global-root-g2.pem").read_bytes()
    assert (await _get(revoked_server.http_port, "/ca/digicert-global-root-g2.pem"))[1] == stored
    der = (await _get(revoked_server.http_port, "/ca/digicert-global-root-g2.crt"))[1]
    assert export.pem([x509.load_der_x509_certificate(der)]) == stored
    assert (await _get(revoked_server.http_port, "/ca/no-such-ca.pem"))[0] == 404


@pytest_twisted.ensureDeferred
async def test_aia_ca_issuers_url_serves_the_issuer(revoked_server, sbc_files):
    """The caIssuers URL in the served leaf returns exactly the leaf's issuer."""
    leaf, issuer, *_ = await _served_chain(revoked_server.port, _client(sbc_files))
    path = _url_path(leaf, x509.oid.AuthorityInformationAccessOID.CA_ISSUERS)
    status, body, _ = await _get(revoked_server.http_port, path)
    assert status == 200
    assert x509.load_der_x509_certificate(body) == issuer


@pytest_twisted.ensureDeferred
async def test_crl_lists_the_revoked_leaf_and_openssl_uses_it(revoked_server, sbc_files, tmp_path,
                                                        anchors):
    """The CRL at the CDP URL revokes the served leaf; openssl verify -crl_check says 23."""
    leaf, issuer, *rest = await _served_chain(revoked_server.port, _client(sbc_files))
    cdp = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    path = "/" + cdp[0].full_name[0].value.split("/", 3)[3]
    body = (await _get(revoked_server.http_port, path))[1]
    crl = x509.load_der_x509_crl(body)
    assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None
    (tmp_path / "crl.pem").write_bytes(crl.public_bytes(Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(export.pem([leaf]))
    (tmp_path / "chain.pem").write_bytes(export.pem([issuer, *rest]))
    done = await run_process(["openssl", "verify", "-crl_check", "-CRLfile",
                              str(tmp_path / "crl.pem"), "-CAfile",
                              str(anchors["microsoft-2026"]), "-untrusted",
                              str(tmp_path / "chain.pem"), str(tmp_path / "leaf.pem")],
                             capture_output=True, text=True, timeout=30)
    assert "error 23" in done.stdout + done.stderr


@pytest_twisted.ensureDeferred
async def test_ocsp_says_revoked_then_good(revoked_server, sbc_files, tmp_path):
    """openssl ocsp at the AIA OCSP URL: the revoked leaf is revoked, its issuer's other
    leaves (here: a fresh good one) are good."""
    leaf, issuer, *_ = await _served_chain(revoked_server.port, _client(sbc_files))
    path = _url_path(leaf, x509.oid.AuthorityInformationAccessOID.OCSP)
    (tmp_path / "leaf.pem").write_bytes(export.pem([leaf]))
    (tmp_path / "issuer.pem").write_bytes(export.pem([issuer]))
    done = await run_process(
        ["openssl", "ocsp", "-issuer", str(tmp_path / "issuer.pem"), "-cert",
         str(tmp_path / "leaf.pem"), "-url", f"http://127.0.0.1:{revoked_server.http_port}{path}",
         "-VAfile", str(tmp_path / "issuer.pem"), "-no_nonce"],
        capture_output=True, text=True, timeout=30)
    assert f"{tmp_path / 'leaf.pem'}: revoked" in done.stdout, done.stdout + done.stderr
    assert "Response verify OK" in done.stdout + done.stderr


@pytest_twisted.ensureDeferred
async def test_status_json_and_page_show_the_verdicts(revoked_server, sbc_files):
    """After a connection, /status has its verdict and the page shows it, escaped."""
    await s_client(revoked_server.port, *_client(sbc_files))
    await revoked_server.next_event("verdict", 0)
    status, body, _ = await _get(revoked_server.http_port, "/status")
    snapshot = json.loads(body)
    assert snapshot["scenario"] == "revoked"
    assert snapshot["connections"]["total"] >= 1
    assert snapshot["verdicts"]
    status, page, _ = await _get(revoked_server.http_port, "/")
    assert status == 200 and b"<table id='verdicts'>" in page


@pytest_twisted.ensureDeferred
async def test_control_switches_scenario_while_serving(session_store, sbc_files, anchors):
    """POST /control/scenario from loopback: the next handshake gets the new chain."""
    async with serving(session_store) as server:
        status, reply = await _post(server.http_port, "/control/scenario",
                                    {"name": "expired-leaf"})
        assert status == 200, reply
        result = await s_client(server.port, *_client(sbc_files), "-CAfile",
                                str(anchors["microsoft-2026"]))
        assert "verify error:num=10" in result.output
        status, reply = await _post(server.http_port, "/control/scenario", {"name": "nope"})
        assert status == 409 and reply["error"].startswith("unknown scenario 'nope'; ")
        assert (await _post(server.http_port, "/control/phase", {"index": 5}))[0] == 409


class _ControlRequest(DummyRequest):
    """A control POST as Twisted would hand it over from ``client`` (no socket needed to
    come from a non-loopback address)."""

    def __init__(self, client: str, token: str | None) -> None:
        super().__init__([b"scenario"])
        self.method = b"POST"
        self.client = IPv4Address("TCP", client, 5000)
        self.content = io.BytesIO(b'{"name": "expired-leaf"}')
        self.requestHeaders.addRawHeader(b"content-type", b"application/json")
        if token:
            self.requestHeaders.addRawHeader(b"authorization", f"Bearer {token}".encode())

    def getHost(self) -> IPv4Address:  # noqa: N802 (Twisted names it)
        return IPv4Address("TCP", "192.0.2.1", 8080)


def test_control_refuses_remote_clients_without_the_token():
    """A non-loopback client needs the token; without a configured token, never. With a
    token configured, loopback clients need it too."""
    calls: list[str] = []
    actions = ControlActions(lambda name: calls.append(name) or "ok", lambda i: "ok")

    def post(resource: Control, host: str, token: str | None) -> int:
        request = _ControlRequest(host, token)
        resource.render(request)
        return request.responseCode or 200

    assert post(Control(actions, None), "192.0.2.7", None) == 403
    assert post(Control(actions, "s3cret"), "192.0.2.7", "wrong") == 403
    assert post(Control(actions, "s3cret"), "192.0.2.7", "s3cret") == 200
    assert post(Control(actions, None), "127.0.0.1", None) == 200
    assert post(Control(actions, "s3cret"), "127.0.0.1", None) == 403
    assert post(Control(actions, "s3cret"), "127.0.0.1", "wrong") == 403
    assert calls == ["expired-leaf", "expired-leaf"]


def _send(port: int, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> Deferred[tuple[int, bytes]]:
    return in_thread(_send_blocking, port, method, path, body, headers)


def _send_blocking(port: int, method: str, path: str, body: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


@pytest_twisted.ensureDeferred
async def test_served_control_api_refuses_browsers_and_bad_input(session_store):
    """Against a running serve with --http-token: a cross-site post, a rebinding Host and
    a tokenless loopback call are refused and logged, the bad inputs of #10 get their
    4xx, a 200 MB body is refused at its headers, and nothing switched or crashed."""
    token = {"Authorization": "Bearer s3cret", "Content-Type": "application/json"}
    switch = b'{"name": "expired-leaf"}'
    async with serving(session_store, "--http-token", "s3cret") as server:
        port = server.http_port
        refused = [
            ("POST", "/control/scenario", switch,
             {**token, "Content-Type": "text/plain", "Origin": "http://evil.example"}, 403),
            ("POST", "/control/scenario", switch, {**token, "Host": "evil.example"}, 403),
            ("POST", "/control/scenario", switch, {"Content-Type": "application/json"}, 403),
            ("GET", "/ca/%00.pem", None, {}, 404),
            ("GET", "/ca/" + "a" * 5000 + ".pem", None, {}, 404),
            ("POST", "/control/phase", b'{"index": 1e309}', token, 400),
            ("POST", "/control/phase", b"[" * 60000, token, 400),
            ("POST", "/control/scenario", b'{"name": "\xff"}', token, 400),
            ("POST", "/control/scenario", b"x" * 200_000, token, 413),
        ]
        for method, path, body, headers, status in refused:
            code, reply = await _send(port, method, path, body, headers)
            assert code == status, (path, reply[:300])
        assert json.loads((await _get(port, "/status"))[1])["scenario"] == "baseline-microsoft-2026"
        logged = [e for e in server.events if e["kind"] == "http-refused"]
        assert [e["status"] for e in logged] == [403, 403, 403, 400, 400, 400, 413]
        code, reply = await _send(port, "POST", "/control/scenario", switch, token)
        assert code == 200, reply
        assert json.loads((await _get(port, "/status"))[1])["scenario"] == "expired-leaf"
    assert not [line for line in server.stderr if "Traceback" in line]
    assert not [e for e in server.events if e["kind"] == "http-error"]


@pytest_twisted.ensureDeferred
async def test_sighup_reloads_and_a_bad_file_keeps_the_running_scenario(session_store, tmp_path,
                                                                   sbc_files, anchors):
    """SIGHUP re-reads the scenario file; a broken file is reported and changes nothing.
    (SIGHUP reaches the same reload through the runner: tests/app/test_runner.py.)"""
    folder = tmp_path / "mine"
    folder.mkdir()
    path = folder / "lab-one.toml"
    path.write_text('era = "microsoft-2026"\n')
    async with serving(session_store, "--scenario", "lab-one", "--scenarios",
                       str(folder)) as server:
        path.write_text('era = "microsoft-2026"\nbogus_key = 1\n')
        mark = server.mark()
        server.reload()  # what SIGHUP does
        failed = await server.next_event("reload-refused", mark)
        assert "reload failed" in failed["problem"] and "bogus_key" in failed["problem"]
        path.write_text('era = "microsoft-2026"\ndefects = ["expired-leaf"]\n')
        mark = server.mark()
        server.reload()  # what SIGHUP does
        await server.wait_for(lambda e: e["kind"] == "serving" and e["cause"] == "reload"
                              and e["scenario"] == "lab-one", since=mark)
        result = await s_client(server.port, *_client(sbc_files), "-CAfile",
                                str(anchors["microsoft-2026"]))
        assert "verify error:num=10" in result.output


@pytest_twisted.ensureDeferred
async def test_status_page_renders_in_headless_chromium(revoked_server, tmp_path):
    """The status page is a real page: headless Chromium renders it to a screenshot."""
    browser = Path("/usr/bin/chromium")
    if not browser.exists():
        pytest.fail("chromium is not installed; scripts/setup.sh --test installs it")
    shot = tmp_path / "status.png"
    await run_process([str(browser), "--headless", "--no-sandbox", "--disable-gpu",
                       "--disable-background-networking", "--disable-component-update",
                       "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'ud'}",
                       "--window-size=1000,600", f"--screenshot={shot}",
                       f"http://127.0.0.1:{revoked_server.http_port}/"],
                      capture_output=True, timeout=90)
    assert shot.exists() and shot.stat().st_size > 5000


@pytest_twisted.ensureDeferred
async def test_the_certificate_urls_follow_the_http_side(session_store, tmp_path):
    """Before: `--http 127.0.0.1:PORT` moved the HTTP side, but the served chain's AIA,
    OCSP and CRL URLs still pointed at :8080 (where nothing answered)."""
    with socket.socket() as probe_socket:  # a free port, known before serve starts
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    async with serving(session_store, "--http", f"127.0.0.1:{port}") as server:
        assert server.http_port == port
        shown = await s_client(server.port, "-showcerts")
        end = "-----END CERTIFICATE-----"
        pem = shown.output[shown.output.index("-----BEGIN CERTIFICATE-----"):
                           shown.output.index(end) + len(end)]
        leaf = x509.load_pem_x509_certificate(pem.encode())
        aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        urls = [d.access_location.value for d in aia]
        assert urls and all(u.startswith(f"http://127.0.0.1:{port}/") for u in urls), urls
        status, body, _ = await _get(port, "/" + urls[-1].split("/", 3)[3])
        assert status == 200 and body  # the caIssuers URL answers, on the side itself
