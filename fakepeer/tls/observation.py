# -*- test-case-name: tests.tls.test_tls_observation -*-
"""What happened on one TLS connection, recorded as it happens.

A :class:`TlsObservation` is created per ``SSL.Connection`` by the connection creators in
:mod:`fakepeer.tls.creator` and filled by the callbacks that :mod:`fakepeer.tls.context`
installs (SNI, verify, info). It is deliberately mutable: OpenSSL reports piecemeal,
from inside its own state machine. Readers call :meth:`TlsObservation.failure` to learn
who failed a handshake and why.

A Twisted protocol reaches the observation of its own connection with
``observation_for(self.transport)``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, TypeVar

from cryptography import x509
from OpenSSL import crypto
from twisted.logger import Logger

from fakepeer.tls.alerts import (
    PURPOSE_ERRORS,
    TIME_ERRORS,
    UNTRUSTED_ERRORS,
    AlertLevel,
    alert_meaning,
    alert_name,
    verify_error_meaning,
    verify_error_name,
)
from fakepeer.tls.inspect import (
    load_peer_certificate,
    raw_subject_text,
    subject_text,
    summarize_certificate,
)

_log = Logger()

Direction = Literal["sent", "received"]
"""``sent``: fakepeer wrote the alert; ``received``: the peer (the SBC) sent it."""

Role = Literal["server", "client"]
FailedBy = Literal["peer", "us", "unknown"]
SniOutcome = Literal["matched", "absent", "unknown", "not-applicable"]


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One TLS alert seen on the connection, attributed by direction and handshake state.

    ``written_by_fakepeer`` marks alerts fakepeer wrote itself (SslStream-style
    refusals) instead of OpenSSL. ``after_close`` marks alerts OpenSSL wrote after the
    peer had already closed the TCP connection (it answers an unexpected EOF with
    decode_error); they never reached the peer and blame nobody.
    """

    direction: Direction
    level: int
    description: int
    during_handshake: bool
    written_by_fakepeer: bool = False
    after_close: bool = False

    @property
    def name(self) -> str:
        """Registry name of the description, e.g. ``unknown_ca``."""
        return alert_name(self.description)

    @property
    def meaning(self) -> str:
        """What the alert means when the SBC sends it to fakepeer."""
        return alert_meaning(self.description)

    @property
    def fatal(self) -> bool:
        """True for fatal alerts (level 2)."""
        return self.level == AlertLevel.FATAL


@dataclass(frozen=True, slots=True)
class VerifyErrorRecord:
    """One error OpenSSL reported while fakepeer verified the peer's certificate."""

    code: int
    depth: int
    subject: str

    @property
    def name(self) -> str:
        """``X509_V_ERR_`` name without the prefix."""
        return verify_error_name(self.code)

    @property
    def meaning(self) -> str:
        """Plain-English meaning."""
        return verify_error_meaning(self.code)


@dataclass(frozen=True, slots=True)
class UnreadableCertificate:
    """A certificate the peer sent that OpenSSL parsed and cryptography cannot load
    (a version 4, a date or a string it refuses): reported, never summarised."""

    depth: int
    subject: str
    sha256: str
    reason: str

    def line(self) -> str:
        """One line for a report."""
        return (f"certificate at depth {self.depth} ({self.subject}) cannot be read: "
                f"{self.reason}")


class FailureReason(StrEnum):
    """Why a handshake failed, from fakepeer's point of view."""

    PEER_ALERT = "peer-alert"
    PEER_CLOSED = "peer-closed-without-alert"
    NO_SHARED_CIPHER = "no-shared-cipher"
    PROTOCOL_VERSION = "protocol-version"
    NO_SHARED_GROUP = "no-shared-group"
    CLIENT_CERTIFICATE_MISSING = "client-certificate-missing"
    CLIENT_CERTIFICATE_UNTRUSTED = "client-certificate-untrusted"
    CLIENT_CERTIFICATE_WITHOUT_INTERMEDIATE = "client-certificate-without-intermediate"
    CLIENT_CERTIFICATE_WRONG_EKU = "client-certificate-wrong-eku"
    CLIENT_CERTIFICATE_EXPIRED = "client-certificate-expired"
    CLIENT_CERTIFICATE_REJECTED = "client-certificate-rejected"
    SERVER_CERTIFICATE_REJECTED = "server-certificate-rejected"
    NOT_TLS = "not-tls"
    TLS_ERROR = "tls-error"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class Refusal:
    """fakepeer's own policy decision to fail a handshake, and the alert it chose."""

    reason: FailureReason
    alert: int
    detail: str


@dataclass(frozen=True, slots=True)
class HandshakeFailure:
    """Who failed a handshake, why, and with which alert (``None``: no alert at all)."""

    failed_by: FailedBy
    reason: FailureReason
    alert: int | None
    detail: str

    @property
    def alert_name(self) -> str | None:
        """Name of the alert that carried the failure."""
        return None if self.alert is None else alert_name(self.alert)


def certificate_reason(codes: set[int] | frozenset[int], role: Role = "server") -> FailureReason:
    """The main reason a certificate with these verify errors is unacceptable."""
    if role == "client":
        return FailureReason.SERVER_CERTIFICATE_REJECTED
    if codes & UNTRUSTED_ERRORS:
        return FailureReason.CLIENT_CERTIFICATE_UNTRUSTED
    if codes & PURPOSE_ERRORS:
        return FailureReason.CLIENT_CERTIFICATE_WRONG_EKU
    if codes & TIME_ERRORS:
        return FailureReason.CLIENT_CERTIFICATE_EXPIRED
    return FailureReason.CLIENT_CERTIFICATE_REJECTED


# OpenSSL error reason text -> why our side refused. Matched case-insensitively as
# substrings of the reasons in the SSL.Error raised by do_handshake.
_OPENSSL_REASONS: tuple[tuple[str, FailureReason], ...] = (
    ("http request", FailureReason.NOT_TLS),
    ("packet length too long", FailureReason.NOT_TLS),
    ("record layer failure", FailureReason.NOT_TLS),
    ("no shared cipher", FailureReason.NO_SHARED_CIPHER),
    ("no cipher match", FailureReason.NO_SHARED_CIPHER),
    ("unsupported protocol", FailureReason.PROTOCOL_VERSION),
    ("version too low", FailureReason.PROTOCOL_VERSION),
    ("version too high", FailureReason.PROTOCOL_VERSION),
    ("wrong version number", FailureReason.PROTOCOL_VERSION),
    ("no protocols available", FailureReason.PROTOCOL_VERSION),
    ("no suitable key share", FailureReason.NO_SHARED_GROUP),
    ("no shared group", FailureReason.NO_SHARED_GROUP),
    ("peer did not return a certificate", FailureReason.CLIENT_CERTIFICATE_MISSING),
)


@dataclass(eq=False)
class TlsObservation:
    """Everything fakepeer learned about one TLS connection; one per ``SSL.Connection``.

    ``served`` is the label of the chain fakepeer presented (after SNI selection);
    ``peer_certificates`` is what the peer sent, leaf first (``presented_leaf`` keeps the
    leaf when OpenSSL aborted before storing the chain). ``requested_ca_names`` (client
    side) are the CA names the server listed in its CertificateRequest. ``verify_errors`` are the
    errors OpenSSL found in the peer's chain, all of them unless the policy stopped at
    the first. ``openssl_errors`` are the reason strings of the ``SSL.Error`` that
    ended the handshake, if any. ``unreadable_certificates`` are the certificates of
    the peer that cryptography cannot load: they are missing from ``peer_certificates``
    (which is empty when the leaf is one of them).
    """

    role: Role
    served: str = ""
    sni: str | None = None
    sni_outcome: SniOutcome = "not-applicable"
    version: str | None = None
    cipher: str | None = None
    group: str | None = None
    alerts: list[AlertRecord] = field(default_factory=list)
    peer_certificates: tuple[x509.Certificate, ...] = ()
    presented_leaf: x509.Certificate | None = None
    requested_ca_names: tuple[x509.Name, ...] = ()
    verify_errors: list[VerifyErrorRecord] = field(default_factory=list)
    handshake_done: bool = False
    refusal: Refusal | None = None
    openssl_errors: list[str] = field(default_factory=list)
    transport_closed: bool = False
    last_state: str = ""
    callback_errors: list[str] = field(default_factory=list)
    #: The start of what the peer sent before any handshake completed: enough to name
    #: plain SIP or HTTP sent to the TLS port.
    first_bytes: bytes = b""
    unreadable_certificates: list[UnreadableCertificate] = field(default_factory=list)
    _read: dict[bytes, x509.Certificate | None] = field(default_factory=dict, repr=False)

    # -- recording (called from OpenSSL callbacks and ObservedConnection) --

    def record_alert(
        self, direction: Direction, level: int, description: int, *, by_fakepeer: bool = False
    ) -> None:
        """Note one alert, stamped with whether the handshake had completed."""
        self.alerts.append(
            AlertRecord(
                direction,
                level,
                description,
                not self.handshake_done,
                by_fakepeer,
                after_close=self.transport_closed,
            )
        )

    def read_certificate(self, cert: crypto.X509, depth: int) -> x509.Certificate | None:
        """cryptography's copy of a certificate the peer sent, or ``None`` (noted in
        ``unreadable_certificates``) when cryptography cannot load it."""
        data = crypto.dump_certificate(crypto.FILETYPE_ASN1, cert)
        if data in self._read:
            return self._read[data]
        try:
            found: x509.Certificate | None = load_peer_certificate(data)
        except ValueError as exc:
            found = None
            self.unreadable_certificates.append(UnreadableCertificate(
                depth, raw_subject_text(data), hashlib.sha256(data).hexdigest().upper(),
                " ".join(str(exc).split())[:300] or type(exc).__name__))
        self._read[data] = found
        return found

    def record_peer_chain(self, sent: list[crypto.X509]) -> None:
        """Keep the chain the peer sent (leaf first) as far as cryptography reads it."""
        read = [self.read_certificate(cert, depth) for depth, cert in enumerate(sent)]
        if read and read[0] is None:  # no leaf to put first
            self.peer_certificates = ()
        else:
            self.peer_certificates = tuple(cert for cert in read if cert is not None)

    def record_verify_error(self, code: int, depth: int, cert: x509.Certificate | None) -> None:
        """Note one verify error once, with the subject of the certificate concerned."""
        if cert is not None:
            subject = subject_text(cert)
        else:
            subject = next((u.subject for u in self.unreadable_certificates
                            if u.depth == depth), "")
        record = VerifyErrorRecord(code, depth, subject)
        if record not in self.verify_errors:
            self.verify_errors.append(record)

    def note_presented_leaf(self, cert: x509.Certificate) -> None:
        """Keep the leaf seen during verification, for handshakes OpenSSL aborts before
        it stores the peer's chain."""
        self.presented_leaf = cert

    def record_openssl_error(self, error: BaseException) -> None:
        """Keep the reason strings of an ``SSL.Error`` (``lib: reason``)."""
        self.openssl_errors.extend(_error_strings(error))

    # -- reading --

    @property
    def verify_error_codes(self) -> frozenset[int]:
        """The distinct verify error codes recorded."""
        return frozenset(e.code for e in self.verify_errors)

    @property
    def peer_leaf(self) -> x509.Certificate | None:
        """The certificate the peer presented for itself, if any."""
        return self.peer_certificates[0] if self.peer_certificates else self.presented_leaf

    def alerts_from(self, direction: Direction) -> list[AlertRecord]:
        """The alerts in one direction, in order."""
        return [a for a in self.alerts if a.direction == direction]

    def failure(self) -> HandshakeFailure | None:
        """Who failed the handshake and why; ``None`` if it completed and nobody aborted.

        A fatal alert received after the handshake (TLS 1.3 servers reject client
        certificates that way) also counts as the peer failing it.
        """
        first_fatal = next((a for a in self.alerts if a.fatal and not a.after_close), None)
        if self.handshake_done:
            if first_fatal is not None and first_fatal.direction == "received":
                return HandshakeFailure(
                    "peer",
                    FailureReason.PEER_ALERT,
                    first_fatal.description,
                    f"after the handshake: {first_fatal.meaning}",
                )
            return None
        if self.refusal is not None:
            return HandshakeFailure(
                "us", self.refusal.reason, self.refusal.alert, self.refusal.detail
            )
        if first_fatal is not None and first_fatal.direction == "received":
            return HandshakeFailure(
                "peer", FailureReason.PEER_ALERT, first_fatal.description, first_fatal.meaning
            )
        if first_fatal is not None:
            reason, detail = self._our_reason()
            return HandshakeFailure("us", reason, first_fatal.description, detail)
        eof = any("unexpected eof" in e.lower() for e in self.openssl_errors)
        if self.openssl_errors and not (self.transport_closed and eof):
            # OpenSSL gave up without writing an alert: typically bytes that are not TLS
            # at all (plain SIP on the TLS port, garbage), which get no alert.
            reason, detail = self._our_reason()
            if reason is FailureReason.PROTOCOL_VERSION and not self.last_state.strip(
                    ).lower().startswith(("sslv3", "tls")):
                reason = FailureReason.NOT_TLS
            if reason is FailureReason.NOT_TLS:
                # OpenSSL's own words ("http request" for plain SIP) would mislead
                detail = not_tls_description(self.first_bytes)
            return HandshakeFailure("us", reason, None, detail)
        if self.transport_closed:
            return HandshakeFailure(
                "peer",
                FailureReason.PEER_CLOSED,
                None,
                f"the peer closed the connection without an alert (last state: "
                f"{self.last_state or 'none'})",
            )
        return HandshakeFailure(
            "unknown",
            FailureReason.INCOMPLETE,
            None,
            f"handshake still in progress at {self.last_state or 'start'}",
        )

    def missing_issuer(self) -> str | None:
        """The issuer of the SBC's leaf when nothing it sent (nor the trust store) holds
        it: OpenSSL's error 20 at depth 0 for a leaf that is not self-issued. Almost always
        an SBC that sends its certificate without the intermediate CA."""
        leaf = self.peer_leaf or self.presented_leaf
        if leaf is None or not any(e.code == 20 and e.depth == 0 for e in self.verify_errors):
            return None
        try:
            if leaf.issuer == leaf.subject:
                return None
            return leaf.issuer.rfc4514_string()
        except ValueError:  # a name cryptography cannot read: reported as unreadable
            return None

    def refined(self, reason: FailureReason, detail: str) -> tuple[FailureReason, str]:
        """An untrusted client certificate whose issuer never came: say so, as probe does
        for the other direction, instead of "not from a trusted CA"."""
        issuer = self.missing_issuer() if self.role == "server" else None
        if reason is not FailureReason.CLIENT_CERTIFICATE_UNTRUSTED or issuer is None:
            return reason, detail
        return (FailureReason.CLIENT_CERTIFICATE_WITHOUT_INTERMEDIATE,
                f"the SBC sent no intermediate: its certificate came without the CA that "
                f"issued it ({issuer}); {detail}")

    def _our_reason(self) -> tuple[FailureReason, str]:
        text = "; ".join(self.openssl_errors)
        lowered = text.lower()
        for needle, reason in _OPENSSL_REASONS:
            if needle in lowered:
                return reason, text
        if "certificate verify failed" in lowered or self.verify_errors:
            codes = self.verify_error_codes
            names = ", ".join(f"{e.code} {e.name} at depth {e.depth}" for e in self.verify_errors)
            return self.refined(certificate_reason(codes, self.role), names or text)
        return FailureReason.TLS_ERROR, text or "OpenSSL refused without a reason string"


#: How many of the peer's first bytes a :class:`TlsObservation` keeps.
FIRST_BYTES_KEPT = 80

_SIP_REQUEST = re.compile(rb"([A-Z]{3,16}) sips?:")
_HTTP_REQUEST = re.compile(rb"(GET|HEAD|POST|PUT|DELETE|OPTIONS|CONNECT|PATCH) [/*h]")


def not_tls_description(first: bytes) -> str:
    """What a peer that does not speak TLS sent instead, in words an SBC engineer acts on."""
    line = first.split(b"\r", 1)[0].split(b"\n", 1)[0]
    shown = line[:60].decode("ascii", "replace")
    sip = _SIP_REQUEST.match(first)
    if sip is not None or first.startswith(b"SIP/2.0 "):
        what = f"a plain SIP {sip.group(1).decode() if sip else 'response'} ({shown!r})"
        return (f"the peer sent {what} to the TLS port: set its transport to this peer to "
                "TLS (SIP over TLS, port 5061), not TCP or UDP")
    if _HTTP_REQUEST.match(first):
        return (f"the peer sent an HTTP request ({shown!r}) to the SIP-over-TLS port: the "
                "HTTP side listens elsewhere (--http)")
    if not first:
        return "the peer does not speak TLS"
    return (f"the peer does not speak TLS: it began with {first[:16].hex(' ')} (not a TLS "
            "record); check what is connecting to this port")


def _error_strings(error: BaseException) -> list[str]:
    out = []
    for item in error.args[0] if error.args and isinstance(error.args[0], list) else []:
        if isinstance(item, tuple) and len(item) == 3:
            lib, _func, reason = item
            out.append(f"{lib}: {reason}" if lib else str(reason))
        else:
            out.append(str(item))
    return out or [f"{type(error).__name__}: {error}"]


def observation_of(connection: object) -> TlsObservation | None:
    """The observation attached to an ``SSL.Connection`` (attribute, else app data)."""
    found = getattr(connection, "observation", None)
    if isinstance(found, TlsObservation):
        return found
    get_app_data = getattr(connection, "get_app_data", None)
    data = get_app_data() if callable(get_app_data) else None
    return data if isinstance(data, TlsObservation) else None


def observation_for(transport: object) -> TlsObservation:
    """The observation of the TLS connection under a Twisted transport or protocol.

    Accepts what a protocol has at hand: its ``self.transport`` (a
    ``TLSMemoryBIOProtocol``), anything with ``getHandle()``, or the ``SSL.Connection``
    itself. Raises ``LookupError`` when the connection was not made by a fakepeer
    creator.
    """
    candidates = [transport]
    get_handle = getattr(transport, "getHandle", None)
    if callable(get_handle):
        candidates.insert(0, get_handle())
    for candidate in candidates:
        found = observation_of(candidate)
        if found is not None:
            return found
    raise LookupError(f"{transport!r} carries no fakepeer TlsObservation")


def client_certificate_summary(observation: TlsObservation) -> dict[str, Any]:
    """The SBC's certificate for an event: the leaf's facts, OpenSSL's verify errors and
    ``problems``, one line per part of any certificate it sent that cannot be read (the
    leaf's bare, the others' after their subject). A leaf cryptography cannot load at
    all has only its subject (read raw), ``problems`` and ``verify_errors``. ``{}``: no
    certificate."""
    verify_errors = [f"{e.code} {e.name} at depth {e.depth}" for e in observation.verify_errors]
    unreadable = [u.line() for u in observation.unreadable_certificates]
    leaf = observation.peer_leaf
    if leaf is None:
        lost = next((u for u in observation.unreadable_certificates if u.depth == 0), None)
        if lost is None:
            return {}
        return {"subject": lost.subject, "problems": unreadable, "verify_errors": verify_errors}
    summary = summarize_certificate(leaf)
    problems = list(summary.problems)
    for other in observation.peer_certificates[1:]:
        extra = summarize_certificate(other)
        problems.extend(f"{extra.subject}: {problem}" for problem in extra.problems)
    return {
        "subject": summary.subject, "issuer": summary.issuer,
        "sans": list(summary.dns_names) + list(summary.ip_addresses),
        "eku": list(summary.extended_key_usages or ()),
        "not_after": summary.not_after.isoformat(),
        "verify_errors": verify_errors,
        "problems": problems + unreadable,
    }


_F = TypeVar("_F", bound=Callable[..., Any])


def guarded(fallback: object) -> Callable[[_F], _F]:
    """Guard an OpenSSL callback the way Twisted's ``_tolerateErrors`` does.

    pyOpenSSL prints and swallows exceptions raised inside most callbacks (and turns
    a verify callback's exception into a bare failure), so a bug in fakepeer's
    recording would vanish. The guard logs the traceback, notes it on the
    connection's observation (``callback_errors``) and returns ``fallback``.
    """

    def decorate(function: _F) -> _F:
        @functools.wraps(function)
        def wrapper(*args: Any) -> Any:
            try:
                return function(*args)
            except Exception as exc:
                _log.failure("fakepeer TLS callback {name} failed", name=function.__name__)
                for arg in args:  # the connection is the first argument, or the second for methods
                    found = observation_of(arg)
                    if found is not None:
                        found.callback_errors.append(f"{function.__name__}: {exc!r}")
                        break
                return fallback

        return wrapper  # type: ignore[return-value]

    return decorate
