# -*- test-case-name: tests.net.test_http -*-
"""The HTTP side service: the files an SBC fetches (roots to import, AIA caIssuers,
CRLs, OCSP) at the URLs fakepeer puts in its certificates, a status page and JSON, and
control endpoints to switch scenario or phase while serving.

A small tree of ``twisted.web`` resources; each leaf does one thing.
"""

from __future__ import annotations

import base64
import binascii
import html
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from twisted.web.resource import Resource
from twisted.web.server import Request

from fakepeer.errors import FakepeerError
from fakepeer.pki import export, mirrors
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.revocation import Revocations
from fakepeer.report.board import StatusBoard

#: OCSP requests are small (RFC 6960 §A.1: under 255 bytes for GET); refuse floods.
MAX_OCSP_REQUEST = 4096


def _send(request: Request, status: int, body: bytes, content_type: str) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", content_type.encode())
    request.setHeader(b"cache-control", b"no-store")
    return body


def _not_found(request: Request, what: str) -> bytes:
    return _send(request, 404, f"not found: {what}\n".encode(), "text/plain; charset=utf-8")


def _tail(request: Request) -> str:
    return "/".join(p.decode("utf-8", "replace") for p in request.postpath)


class CertificateFiles(Resource):
    """``/ca/<id>.pem`` and ``/ca/<id>.crt`` (DER) for every mirrored CA certificate, and
    ``/aia/<id>.crt`` (DER), the caIssuers URL in every fakepeer certificate."""

    isLeaf = True

    def __init__(self, pki: Pki, der_only: bool = False) -> None:
        super().__init__()
        self.pki = pki
        self.der_only = der_only

    def render_GET(self, request: Request) -> bytes:
        name = _tail(request)
        if name in ("", "index.html") and not self.der_only:
            return self._index(request)
        stem, dot, extension = name.rpartition(".")
        if not dot or extension not in (("crt",) if self.der_only else ("crt", "pem", "cer")):
            return _not_found(request, name)
        certificate = self._find(stem)
        if certificate is None:
            return _not_found(request, name)
        if extension == "pem":
            return _send(request, 200, export.pem([certificate]), "application/x-pem-file")
        return _send(request, 200, export.der(certificate), "application/pkix-cert")

    def _find(self, cert_id: str) -> Any:
        try:
            return self.pki.certificate(cert_id).certificate
        except FakepeerError:
            return self.pki.load_stored(cert_id) if "/" not in cert_id else None

    def _index(self, request: Request) -> bytes:
        rows = []
        for spec in mirrors.ROOTS:
            certificate = self.pki.certificate(spec.id).certificate
            rows.append(
                f"<tr><td>{html.escape(export.openssl_oneline(certificate.subject))}</td>"
                f"<td><a href='{spec.id}.pem'>PEM</a> <a href='{spec.id}.crt'>DER</a></td>"
                f"<td><code>{export.thumbprint(certificate)}</code></td></tr>")
        page = _page("fakepeer roots", "<h1>Mirrored roots (throwaway, lab only)</h1>"
                     "<table><tr><th>subject</th><th>download</th><th>SHA-1</th></tr>"
                     + "".join(rows) + "</table>")
        return _send(request, 200, page, "text/html; charset=utf-8")


class CrlFiles(Resource):
    """``/crl/<ca-id>.crl``: the CA's current CRL (DER), with what scenarios revoked."""

    isLeaf = True

    def __init__(self, revocations: Revocations) -> None:
        super().__init__()
        self.revocations = revocations

    def render_GET(self, request: Request) -> bytes:
        name = _tail(request)
        ca_id, dot, extension = name.rpartition(".")
        if not dot or extension != "crl" or ca_id not in self.revocations.pki.cas:
            return _not_found(request, name)
        crl = self.revocations.crl(ca_id)
        return _send(request, 200, crl.public_bytes(Encoding.DER), "application/pkix-crl")


class OcspResponder(Resource):
    """``/ocsp/<ca-id>``: RFC 6960 over HTTP, POST with the DER request or GET with it
    base64-encoded in the path."""

    isLeaf = True

    def __init__(self, revocations: Revocations) -> None:
        super().__init__()
        self.revocations = revocations

    def render_POST(self, request: Request) -> bytes:
        body = request.content.read(MAX_OCSP_REQUEST + 1) if request.content else b""
        return self._answer(request, _tail(request), body)

    def render_GET(self, request: Request) -> bytes:
        ca_id, _, encoded = _tail(request).partition("/")
        try:
            body = base64.b64decode(encoded.replace("%2B", "+").replace("%2F", "/"),
                                    validate=True)
        except (binascii.Error, ValueError):
            return self._malformed(request)
        return self._answer(request, ca_id, body)

    def _answer(self, request: Request, ca_id: str, body: bytes) -> bytes:
        if ca_id not in self.revocations.pki.cas:
            return _not_found(request, f"ocsp/{ca_id}")
        if len(body) > MAX_OCSP_REQUEST:
            return self._malformed(request)
        try:
            ocsp_request = ocsp.load_der_ocsp_request(body)
        except ValueError:
            return self._malformed(request)
        response = self.revocations.ocsp_response(ca_id, ocsp_request)
        return _send(request, 200, response.public_bytes(Encoding.DER),
                     "application/ocsp-response")

    def _malformed(self, request: Request) -> bytes:
        response = ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        return _send(request, 200, response.public_bytes(Encoding.DER),
                     "application/ocsp-response")


class StatusJson(Resource):
    isLeaf = True

    def __init__(self, board: StatusBoard) -> None:
        super().__init__()
        self.board = board

    def render_GET(self, request: Request) -> bytes:
        body = json.dumps(self.board.snapshot(), indent=1, default=str).encode()
        return _send(request, 200, body, "application/json")


class StatusPage(Resource):
    """A small page a browser shows: scenario, phase, counts, the latest verdicts.
    Everything that came from the network is escaped."""

    isLeaf = True

    def __init__(self, board: StatusBoard) -> None:
        super().__init__()
        self.board = board

    def render_GET(self, request: Request) -> bytes:
        if _tail(request) not in ("", "index.html"):
            return _not_found(request, _tail(request))
        snap = self.board.snapshot()
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(snap["outcomes"].items())) or "none"
        rows = "".join(
            f"<tr class='{html.escape(str(v.get('data', {}).get('outcome', '')))}'>"
            f"<td>{html.escape(v['time'][11:23])}</td><td>#{v['connection']}</td>"
            f"<td>{html.escape(v['peer'])}</td><td>{html.escape(v['summary'])}</td></tr>"
            for v in reversed(snap["verdicts"]))
        body = (f"<h1>fakepeer</h1><p id='scenario'>Scenario: <b>"
                f"{html.escape(snap['scenario'])}</b> {html.escape(snap['phase'])}</p>"
                f"<p id='counts'>Connections: {snap['connections']['total']} "
                f"({snap['connections']['open']} open). Outcomes: {html.escape(counts)}</p>"
                "<table id='verdicts'><tr><th>time</th><th>conn</th><th>peer</th>"
                f"<th>verdict</th></tr>{rows}</table>"
                "<p><a href='/status'>JSON</a> &middot; <a href='/ca/'>roots</a></p>")
        page = _page("fakepeer status", body, refresh=5)
        return _send(request, 200, page, "text/html; charset=utf-8")


@dataclass
class ControlActions:
    """What the control endpoints can do; each returns a sentence for the reply."""

    switch_scenario: Callable[[str], str]
    jump_to_phase: Callable[[int], str]


class Control(Resource):
    """``POST /control/scenario`` ``{"name": ...}`` and ``POST /control/phase``
    ``{"index": N}``. Loopback clients may always call them; others only with the
    configured token (``Authorization: Bearer <token>``), and never when none is set."""

    isLeaf = True

    def __init__(self, actions: ControlActions, token: str | None) -> None:
        super().__init__()
        self.actions = actions
        self.token = token

    def _allowed(self, request: Request) -> bool:
        host = getattr(request.getClientAddress(), "host", "")
        try:
            if ipaddress.ip_address(host).is_loopback:
                return True
        except ValueError:
            pass
        given = (request.getHeader(b"authorization") or b"").decode("latin-1")
        return bool(self.token) and given == f"Bearer {self.token}"

    def render_POST(self, request: Request) -> bytes:
        if not self._allowed(request):
            return _send(request, 403, b'{"error": "control needs loopback or the token"}\n',
                         "application/json")
        try:
            payload = json.loads((request.content.read(65536) if request.content else b"")
                                 or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
            action = _tail(request)
            if action == "scenario":
                message = self.actions.switch_scenario(str(payload["name"]))
            elif action == "phase":
                message = self.actions.jump_to_phase(int(payload["index"]))
            else:
                return _not_found(request, f"control/{action}")
        except (ValueError, KeyError, TypeError) as exc:
            return _send(request, 400, json.dumps({"error": f"bad request: {exc}"}).encode(),
                         "application/json")
        except FakepeerError as exc:
            return _send(request, 409, json.dumps({"error": str(exc)}).encode(),
                         "application/json")
        return _send(request, 200, json.dumps({"ok": True, "message": message}).encode(),
                     "application/json")


def _page(title: str, body: str, refresh: int | None = None) -> bytes:
    meta = f"<meta http-equiv='refresh' content='{refresh}'>" if refresh else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'>{meta}"
            f"<title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
            "tr.PASS{background:#e6f4e6}tr.FAIL{background:#fbe3e3}"
            "tr.CHECK{background:#fff6d6}</style></head><body>"
            f"{body}</body></html>").encode()


def build_site_root(pki: Pki, board: StatusBoard, actions: ControlActions,
                    token: str | None) -> Resource:
    """The resource tree; the paths match the URLs in fakepeer's certificates."""
    revocations = Revocations(pki)
    root = Resource()
    status_page = StatusPage(board)
    root.putChild(b"", status_page)
    root.putChild(b"index.html", status_page)
    root.putChild(b"status", StatusJson(board))
    root.putChild(b"ca", CertificateFiles(pki))
    root.putChild(b"aia", CertificateFiles(pki, der_only=True))
    root.putChild(b"crl", CrlFiles(revocations))
    root.putChild(b"ocsp", OcspResponder(revocations))
    root.putChild(b"control", Control(actions, token))
    return root
