# -*- test-case-name: tests.net.test_http -*-
"""The HTTP side service: the files an SBC fetches (roots to import, AIA caIssuers,
CRLs, OCSP) at the URLs fakepeer puts in its certificates, a status page and JSON, and
control endpoints to switch scenario or phase while serving.

A small tree of ``twisted.web`` resources; each leaf does one thing. Three rules hold for
every leaf: no exception escapes one (a bad request gets a 4xx that says what is wrong;
anything else one logged line and a 500 without a traceback); nothing that touches the
PKI runs on the reactor thread (a :class:`~fakepeer.net.pki_worker.PkiWorker` does it);
and the control endpoints answer only the callers :mod:`fakepeer.net.http_access` allows.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import Certificate, ocsp
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web.error import UnsupportedMethod
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from fakepeer.errors import FakepeerError
from fakepeer.net.http_access import ControlAccess, ControlRequest, host_of_url
from fakepeer.net.http_server import (
    MAX_REQUEST_BODY,
    BoundedSite,
    HttpLog,
    peer_of,
    printable,
)
from fakepeer.net.pki_worker import PkiWorker
from fakepeer.pki import export, mirrors
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.revocation import Revocations
from fakepeer.report.board import StatusBoard
from fakepeer.report.events import Sink

#: OCSP requests are small (RFC 6960 §A.1: under 255 bytes for GET); refuse floods.
MAX_OCSP_REQUEST = 4096

#: What a certificate id in a URL may look like (``ca``, ``ca@issuer``, ``ca!expired``,
#: leaf ids): anything else is not looked up at all, so a NUL byte or a 5,000-character
#: name never reaches the file system.
CERTIFICATE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@!-]{0,199}")

#: The longest scenario name the control API passes on.
MAX_SCENARIO_NAME = 200


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer: status, body and its type."""

    status: int
    body: bytes
    content_type: str

    def render(self, request: Request) -> bytes:
        """Set status and headers on ``request``; the body, for ``render_*`` to return."""
        request.setResponseCode(self.status)
        for name, value in ((b"content-type", self.content_type.encode()),
                            (b"cache-control", b"no-store"),
                            (b"x-content-type-options", b"nosniff")):
            request.setHeader(name, value)  # type: ignore[no-untyped-call]
        return self.body

    def send(self, request: Request) -> None:
        """Answer a request whose ``render_*`` returned ``NOT_DONE_YET``."""
        body = self.render(request)
        request.setHeader(b"content-length", str(len(body)).encode())  # type: ignore[no-untyped-call]
        request.write(body)  # type: ignore[no-untyped-call]
        request.finish()  # type: ignore[no-untyped-call]


def _json_reply(status: int, payload: dict[str, Any]) -> Reply:
    return Reply(status, (json.dumps(payload) + "\n").encode(), "application/json")


def _error(status: int, message: str) -> Reply:
    return _json_reply(status, {"error": message})


def _not_found(what: str) -> Reply:
    return Reply(404, f"not found: {printable(what)}\n".encode(), "text/plain; charset=utf-8")


def _tail(request: Request) -> str:
    return "/".join(p.decode("utf-8", "replace") for p in request.postpath or [])


def _client(request: Request) -> str:
    """The client's ``host:port``, for a log line."""
    return peer_of(request.getClientAddress())  # type: ignore[no-untyped-call]


def _what(request: Request) -> str:
    """``METHOD /path`` of a request, safe for a log line."""
    method = (request.method or b"?").decode("latin-1")
    return f"{method} {printable((request.uri or b'?').decode('latin-1'))}"


class Leaf(Resource):
    """A leaf resource that never lets an exception out: a failure becomes one logged
    line and a 500 that says so, never a traceback and never a dead request."""

    isLeaf = True

    def __init__(self, log: HttpLog) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.log = log

    def render(self, request: Request) -> Any:
        try:
            return super().render(request)  # type: ignore[no-untyped-call]
        except UnsupportedMethod:
            raise  # Twisted answers 405 with the allowed methods
        except Exception as exc:  # the one place that turns a bug into an answer
            return self._failed(request, exc).render(request)

    def render_HEAD(self, request: Request) -> Any:
        """GET without the body where there is a GET; Twisted's own HEAD calls render_GET
        unconditionally and fails (500) on POST-only resources such as control."""
        render_get = getattr(self, "render_GET", None)
        if render_get is None:
            allowed = [m for m in (b"GET", b"POST") if hasattr(self, "render_" + m.decode())]
            raise UnsupportedMethod(allowed)  # type: ignore[no-untyped-call]
        return render_get(request)

    def _failed(self, request: Request, exc: BaseException) -> Reply:
        """The answer to a request that failed: the details (which may name files of the
        store) go to the serve log only."""
        self.log.answered(500, _client(request), f"{_what(request)}: "
                          f"{type(exc).__name__}: {printable(str(exc), 300)}")
        return _error(500, f"the HTTP side failed on this request ({type(exc).__name__}); "
                           "the serve log says why")

    def later(self, request: Request, worker: PkiWorker, job: Callable[[Pki], Reply]) -> int:
        """Run ``job`` on the PKI worker and answer with its reply when it is done (or
        not at all if the client has gone)."""
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def answer(reply: Reply) -> None:
            if not gone:
                reply.send(request)

        def failed(failure: Failure) -> None:
            if not gone:
                self._failed(request, failure.value or Exception("unknown")).send(request)

        done: Deferred[None] = worker.run(job).addCallbacks(answer, failed)
        done.addErrback(lambda failure: self.log.problem(
            f"{_what(request)}: could not answer: {failure.getErrorMessage()}"))
        return NOT_DONE_YET


class CertificateFiles(Leaf):
    """``/ca/<id>.pem`` and ``/ca/<id>.crt`` (DER) for every mirrored CA certificate, and
    ``/aia/<id>.crt`` (DER), the caIssuers URL in every fakepeer certificate."""

    def __init__(self, worker: PkiWorker, log: HttpLog, der_only: bool = False) -> None:
        super().__init__(log)
        self.worker = worker
        self.der_only = der_only

    def render_GET(self, request: Request) -> bytes | int:
        name = _tail(request)
        if name in ("", "index.html") and not self.der_only:
            return self.later(request, self.worker, _roots_index)
        stem, dot, extension = name.rpartition(".")
        if (not dot or extension not in (("crt",) if self.der_only else ("crt", "pem", "cer"))
                or not CERTIFICATE_ID.fullmatch(stem)):
            return _not_found(name).render(request)

        def job(pki: Pki) -> Reply:
            certificate = _find(pki, stem)
            if certificate is None:
                return _not_found(name)
            if extension == "pem":
                return Reply(200, export.pem([certificate]), "application/x-pem-file")
            return Reply(200, export.der(certificate), "application/pkix-cert")

        return self.later(request, self.worker, job)


def _find(pki: Pki, cert_id: str) -> Certificate | None:
    """A CA certificate by id, made if needed (on the worker thread), or a stored leaf."""
    try:
        return pki.certificate(cert_id).certificate
    except FakepeerError:
        return pki.load_stored(cert_id)


def _roots_index(pki: Pki) -> Reply:
    rows = []
    for spec in mirrors.ROOTS:
        certificate = pki.certificate(spec.id).certificate
        rows.append(
            f"<tr><td>{html.escape(export.openssl_oneline(certificate.subject))}</td>"
            f"<td><a href='/ca/{spec.id}.pem'>PEM</a> <a href='/ca/{spec.id}.crt'>DER</a></td>"
            f"<td><code>{export.thumbprint(certificate)}</code></td></tr>")
    page = _page("fakepeer roots", "<h1>Mirrored roots (throwaway, lab only)</h1>"
                 "<table><tr><th>subject</th><th>download</th><th>SHA-1</th></tr>"
                 + "".join(rows) + "</table>")
    return Reply(200, page, "text/html; charset=utf-8")


class CrlFiles(Leaf):
    """``/crl/<ca-id>.crl``: the CA's current CRL (DER), with what scenarios revoked."""

    def __init__(self, worker: PkiWorker, log: HttpLog) -> None:
        super().__init__(log)
        self.worker = worker

    def render_GET(self, request: Request) -> bytes | int:
        name = _tail(request)
        ca_id, dot, extension = name.rpartition(".")
        if not dot or extension != "crl" or ca_id not in self.worker.pki.cas:
            return _not_found(name).render(request)

        def job(pki: Pki) -> Reply:
            crl = Revocations(pki).crl(ca_id)
            return Reply(200, crl.public_bytes(Encoding.DER), "application/pkix-crl")

        return self.later(request, self.worker, job)


class OcspResponder(Leaf):
    """``/ocsp/<ca-id>``: RFC 6960 over HTTP, POST with the DER request or GET with it
    base64-encoded in the path."""

    def __init__(self, worker: PkiWorker, log: HttpLog) -> None:
        super().__init__(log)
        self.worker = worker

    def render_POST(self, request: Request) -> bytes | int:
        body = request.content.read(MAX_OCSP_REQUEST + 1) if request.content else b""
        return self._answer(request, _tail(request), body)

    def render_GET(self, request: Request) -> bytes | int:
        ca_id, _, encoded = _tail(request).partition("/")
        try:
            body = base64.b64decode(encoded.replace("%2B", "+").replace("%2F", "/"),
                                    validate=True)
        except (binascii.Error, ValueError):
            return _ocsp_malformed().render(request)
        return self._answer(request, ca_id, body)

    def _answer(self, request: Request, ca_id: str, body: bytes) -> bytes | int:
        if ca_id not in self.worker.pki.cas:
            return _not_found(f"ocsp/{ca_id}").render(request)
        if len(body) > MAX_OCSP_REQUEST:
            return _ocsp_malformed().render(request)
        try:
            ocsp_request = ocsp.load_der_ocsp_request(body)
        except ValueError:
            return _ocsp_malformed().render(request)

        def job(pki: Pki) -> Reply:
            try:
                response = Revocations(pki).ocsp_response(ca_id, ocsp_request)
            except (ValueError, UnsupportedAlgorithm):  # e.g. a CertID hash we cannot use
                return _ocsp_malformed()
            return Reply(200, response.public_bytes(Encoding.DER), "application/ocsp-response")

        return self.later(request, self.worker, job)


def _ocsp_malformed() -> Reply:
    """RFC 6960's answer to a request it cannot parse: status malformedRequest, HTTP 200."""
    response = ocsp.OCSPResponseBuilder.build_unsuccessful(
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    return Reply(200, response.public_bytes(Encoding.DER), "application/ocsp-response")


class StatusJson(Leaf):
    def __init__(self, board: StatusBoard, log: HttpLog) -> None:
        super().__init__(log)
        self.board = board

    def render_GET(self, request: Request) -> bytes:
        body = json.dumps(self.board.snapshot(), indent=1, default=str).encode()
        return Reply(200, body, "application/json").render(request)


class StatusPage(Leaf):
    """A small page a browser shows: scenario, phase, counts, the latest verdicts.
    Everything that came from the network is escaped."""

    def __init__(self, board: StatusBoard, log: HttpLog) -> None:
        super().__init__(log)
        self.board = board

    def render_GET(self, request: Request) -> bytes:
        if _tail(request) not in ("", "index.html"):
            return _not_found(_tail(request)).render(request)
        snap = self.board.snapshot()
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(snap["outcomes"].items())) or "none"
        rows = "".join(
            f"<tr class='{html.escape(str(v.get('outcome', '')))}'>"
            f"<td>{html.escape(v['time'][11:23])}</td><td>#{v.get('connection', '')}</td>"
            f"<td>{html.escape(_who(v))}</td><td>{html.escape(_verdict_text(v))}</td></tr>"
            for v in reversed(snap["verdicts"]))
        sessions = "".join(
            f"<tr class='{html.escape(str(s.get('outcome') or 'pending'))}'>"
            f"<td>{html.escape(s['identity']['name'])}</td>"
            f"<td>{len(s.get('open', []))} open / {s.get('connections', 0)}</td>"
            f"<td>{html.escape(s.get('line') or 'not decided yet')}</td>"
            f"<td>{html.escape(s.get('dialback', ''))}</td></tr>"
            for s in snap.get("sessions", []))
        problems = "".join(f"<p class='problem'><b>{html.escape(problem)}</b></p>"
                           for problem in snap["problems"])
        body = (f"<h1>fakepeer</h1>{problems}<p id='scenario'>Scenario: <b>"
                f"{html.escape(snap['scenario'])}</b> {html.escape(snap['phase'])}</p>"
                f"<p id='counts'>Connections: {snap['connections']['total']} "
                f"({snap['connections']['open']} open). Outcomes: {html.escape(counts)}</p>"
                "<table id='sessions'><tr><th>SBC</th><th>connections</th>"
                f"<th>verdict</th><th>dial-back</th></tr>{sessions}</table>"
                "<table id='verdicts'><tr><th>time</th><th>conn</th><th>peer</th>"
                f"<th>verdict</th></tr>{rows}</table>"
                "<p><a href='/status'>JSON</a> &middot; <a href='/ca/'>roots</a></p>")
        page = _page("fakepeer status", body, refresh=5)
        return Reply(200, page, "text/html; charset=utf-8").render(request)


def _who(verdict: dict[str, Any]) -> str:
    """Whom a verdict on the page is about: its SBC session, else the peer it names."""
    identity = verdict.get("identity")
    return str(identity["name"]) if isinstance(identity, dict) else str(verdict.get("peer", ""))


def _verdict_text(verdict: dict[str, Any]) -> str:
    """A verdict's words on the page: outcome and cause, and what to do next."""
    if "summary" in verdict:  # an untyped verdict
        return str(verdict["summary"])
    text = f"{verdict.get('outcome', '')}: {verdict.get('cause', '')}"
    hint = verdict.get("hint")
    return text + (f"; {'note' if verdict.get('outcome') == 'PASS' else 'next'}: {hint}"
                   if hint else "")


@dataclass
class ControlActions:
    """What the control endpoints can do; each returns a sentence for the reply."""

    switch_scenario: Callable[[str], str]
    jump_to_phase: Callable[[int], str]


class ControlBodyError(ValueError):
    """The control body is not what the endpoint reads; the message says what to send."""


class Control(Leaf):
    """``POST /control/scenario`` ``{"name": ...}`` and ``POST /control/phase``
    ``{"index": N}``, as JSON (``Content-Type: application/json``). With a token
    configured every caller must send it (``Authorization: Bearer <token>``); without one
    only loopback clients may call. Cross-site and DNS-rebinding requests are refused
    (see :class:`~fakepeer.net.http_access.ControlAccess`)."""

    def __init__(self, actions: ControlActions, token: str | None,
                 log: HttpLog | None = None, public_host: str | None = None) -> None:
        super().__init__(log or HttpLog())
        self.actions = actions
        self.access = ControlAccess(token or None, public_host)

    def render_POST(self, request: Request) -> bytes:
        refusal = self.access.refusal(_control_request(request))
        if refusal is not None:
            return self._refuse(request, refusal.status, refusal.reason)
        action = _tail(request)
        if action not in ("scenario", "phase"):
            return _not_found(f"control/{action}").render(request)
        try:
            payload = _json_object(request.content.read() if request.content else b"")
            if action == "scenario":
                message = self.actions.switch_scenario(_scenario_name(payload))
            else:
                message = self.actions.jump_to_phase(_phase_index(payload))
        except ControlBodyError as exc:
            return self._refuse(request, 400, f"bad request: {exc}")
        except FakepeerError as exc:
            return _error(409, str(exc)).render(request)
        return _json_reply(200, {"ok": True, "message": message}).render(request)

    def _refuse(self, request: Request, status: int, reason: str) -> bytes:
        self.log.answered(status, _client(request),
                         f"{_what(request)}: {reason}")
        return _error(status, reason).render(request)


def _header(request: Request, name: bytes) -> str | None:
    """A request header as text; several of one name joined, so none hides behind
    another."""
    values = request.requestHeaders.getRawHeaders(name)
    return ", ".join(v.decode("latin-1") for v in values) if values else None


def _control_request(request: Request) -> ControlRequest:
    return ControlRequest(
        client=str(getattr(request.getClientAddress(), "host", "")),  # type: ignore[no-untyped-call]
        local=str(getattr(request.getHost(), "host", "")),  # type: ignore[no-untyped-call]
        host=_header(request, b"host"), origin=_header(request, b"origin"),
        content_type=_header(request, b"content-type"),
        authorization=_header(request, b"authorization"))


def _json_object(body: bytes) -> dict[str, Any]:
    example = 'one JSON object such as {"name": "expired-leaf"} or {"index": 1}'
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ControlBodyError(f"the body is not UTF-8 (byte {exc.start} is "
                             f"0x{body[exc.start]:02x}); send {example}") from None
    if not text.strip():
        raise ControlBodyError(f"the body is empty; send {example}")
    try:
        payload = json.loads(text)
    except RecursionError:
        raise ControlBodyError(f"the JSON is nested too deeply; send {example}") from None
    except ValueError as exc:
        raise ControlBodyError(f"the body is not JSON ({exc}); send {example}") from None
    if not isinstance(payload, dict):
        raise ControlBodyError(f"the body is JSON but not an object; send {example}")
    return payload


def _scenario_name(payload: dict[str, Any]) -> str:
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ControlBodyError('"name" must be a scenario name (text), e.g. '
                             '{"name": "expired-leaf"}; "fakepeer scenarios" lists them')
    if len(name) > MAX_SCENARIO_NAME:
        raise ControlBodyError(f'"name" is {len(name)} characters long; scenario names are '
                             f"at most {MAX_SCENARIO_NAME}")
    return name


def _phase_index(payload: dict[str, Any]) -> int:
    index = payload.get("index")
    if type(index) is not int:  # not bool, not 1.5, not 1e309 (a float: infinity)
        shown = printable(json.dumps(index), 40)
        raise ControlBodyError(f'"index" must be a whole number (a phase, from 0), not '
                             f'{shown}; e.g. {{"index": 1}}')
    return index


def _page(title: str, body: str, refresh: int | None = None) -> bytes:
    meta = f"<meta http-equiv='refresh' content='{refresh}'>" if refresh else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'>{meta}"
            f"<title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
            "tr.PASS{background:#e6f4e6}tr.FAIL{background:#fbe3e3}"
            "tr.CHECK{background:#fff6d6}</style></head><body>"
            f"{body}</body></html>").encode()


def build_site_root(worker: PkiWorker, board: StatusBoard, actions: ControlActions,
                    token: str | None, log: HttpLog) -> Resource:
    """The resource tree; the paths match the URLs in fakepeer's certificates."""
    root = Resource()  # type: ignore[no-untyped-call]
    status_page = StatusPage(board, log)
    root.putChild(b"", status_page)
    root.putChild(b"index.html", status_page)
    root.putChild(b"status", StatusJson(board, log))
    root.putChild(b"ca", CertificateFiles(worker, log))
    root.putChild(b"aia", CertificateFiles(worker, log, der_only=True))
    root.putChild(b"crl", CrlFiles(worker, log))
    root.putChild(b"ocsp", OcspResponder(worker, log))
    root.putChild(b"control", Control(actions, token, log,
                                      host_of_url(worker.pki.options.http_base)))
    return root


class HttpSide(BoundedSite):
    """The HTTP side as a ``Site``. It makes nothing when it starts: serve has already
    made every CA its served chains name (what AIA, CRL and OCSP URLs point at), and a
    background pass over the whole catalogue would hold the store's lock for seconds at
    a time, so a `fakepeer healthcheck` or `certs export` started meanwhile would wait
    behind it (the container's health check timed out at first start). A request for a
    CA not made yet is made on the PKI worker thread, never on the reactor."""

    def __init__(self, root: Resource, worker: PkiWorker, log: HttpLog,
                 max_body: int = MAX_REQUEST_BODY) -> None:
        super().__init__(root, log=log, max_body=max_body)
        self.worker = worker

    def stopFactory(self) -> None:
        self.worker.stop()
        super().stopFactory()


def build_site(pki: Pki, board: StatusBoard, actions: ControlActions, token: str | None,
               *, sink: Sink | None = None, max_body: int = MAX_REQUEST_BODY) -> HttpSide:
    """The HTTP side for ``serve``: listen on it with any endpoint. ``sink`` receives one
    event per refused or failed request."""
    log = HttpLog(sink)
    worker = PkiWorker(pki)
    return HttpSide(build_site_root(worker, board, actions, token, log), worker, log,
                    max_body)
