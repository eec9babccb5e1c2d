# -*- test-case-name: tests.report.test_events,tests.report.test_jsonl -*-
"""What happened, as records: one frozen type per kind, each checking itself when built.

The network edge reports facts (what happened on the wire, nothing judged): a TCP
connection accepted, a TLS handshake completed or failed and what was served on it, a
SIP request and fakepeer's answer, a dial-back. :mod:`fakepeer.report.sessions` reads
them and adds the one judged kind, :class:`SessionVerdict`. Every field is typed; a
record with a wrong value cannot exist (``RecordError`` names the kind and the field),
in the manner of h11's ``_events.py``. ``docs/events.md`` documents every kind and field
(``tests/report/test_docs.py`` keeps it true); :mod:`fakepeer.report.jsonl` writes and
reads them as versioned JSON lines.

Inbound facts (the SBC's connection to fakepeer) and outbound ones (fakepeer's dial-back
or probe to the SBC) share :class:`ConnectionFact`: a connection id and the SBC's address.
A connection id names a connection; a session id (only in verdicts) names an SBC.

A sink is any ``Callable[[Record], None]`` (tests pass ``list.append``), so producers
report without knowing where records go. Until the wiring task switches the producers,
:class:`Event` (today's untyped event, :mod:`fakepeer.report.legacy`) is re-exported here.
"""

from __future__ import annotations

import dataclasses
import itertools
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, get_args

from fakepeer import vocabulary
from fakepeer.report.legacy import KINDS as KINDS  # the compatibility path (see legacy.py)
from fakepeer.report.legacy import Event as Event
from fakepeer.report.schema import RecordError as RecordError
from fakepeer.report.schema import check_peer, check_range, validate
from fakepeer.report.schema import field_hints as field_hints
from fakepeer.scenario.model import ALERT_SENDERS, Expectation
from fakepeer.sip.admission import AnswerReason

Sink = Callable[[Event], None]
Clock = Callable[[], datetime]

Direction = Literal["inbound", "outbound"]
"""``inbound``: the SBC's connection to fakepeer; ``outbound``: fakepeer's to the SBC."""
FailedBy = Literal["sbc", "fakepeer", "unknown"]
ClosedBy = Literal["sbc", "fakepeer"]
SniOutcome = Literal["matched", "absent", "unknown", "not-applicable"]
"""As :data:`fakepeer.tls.observation.SniOutcome` (a test keeps them equal)."""
TlsFailureReason = Literal[
    "peer-alert", "peer-closed-without-alert", "no-shared-cipher", "protocol-version",
    "no-shared-group", "client-certificate-missing", "client-certificate-untrusted",
    "client-certificate-without-intermediate",
    "client-certificate-wrong-eku", "client-certificate-expired",
    "client-certificate-rejected", "server-certificate-rejected", "not-tls", "tls-error",
    "incomplete", "stalled"]
""":class:`fakepeer.tls.observation.FailureReason`'s values (a test keeps them equal),
plus ``stalled``: the SBC stopped in the middle of the handshake and fakepeer gave up."""
SipFate = Literal["answered", "ignored", "reset", "delayed", "not-answered"]
"""What fakepeer did with a request: answered it; left it unanswered or reset the TCP
connection (scenario); will answer after ``options_delay`` (``sip-answer`` follows);
``not-answered``: a request on fakepeer's own outbound connection."""
DialPurpose = Literal["probe", "dialback"]
Service = Literal["sip", "http"]
ServingCause = Literal["start", "timeline", "switch", "reload", "jump"]
Outcome = Literal["PASS", "FAIL", "OTHER-REASON", "INCOMPLETE", "CHECK"]
"""The outcome set; ``docs/verdicts.md`` says what each one means."""
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
LimitName = Literal["idle_timeout", "head_deadline", "body_deadline", "max_connections"]
"""``idle_timeout``: no bytes for that long; ``head_deadline``/``body_deadline``: a SIP
message's head or body not complete in time; ``max_connections``: the connection cap."""

#: A field whose strings must be TLS alert names, or the responder's answer reasons.
_ALERTS = {"choices": tuple(vocabulary.ALERT_NAMES.values()), "what": "a TLS alert name"}
_ANSWER_REASONS = {"choices": tuple(r.value for r in AnswerReason), "what": "an answer reason"}

def utc_now() -> datetime:
    return datetime.now(UTC)


# --- values carried inside records ------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Served:
    """What fakepeer presented on a connection: its own chain (as server, or as client on
    an outbound connection) and the scenario context it belongs to."""

    label: str
    name: str | None = None
    chain: str
    era: str
    path: str
    anchor: str
    expectation: str
    by: str = field(default="sbc", metadata={"choices": ALERT_SENDERS,
                                             "what": "sbc, fakepeer or either"})
    dialback: bool = False

    def __post_init__(self) -> None:
        validate(self, "served")
        try:
            dataclasses.replace(Expectation.parse(self.expectation), by=self.by)
        except ValueError as exc:
            raise RecordError(f"served.expectation: {exc}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Certificate:
    """What the SBC's certificate says about it (its client certificate inbound, its
    server certificate outbound)."""

    subject: str
    issuer: str
    sans: tuple[str, ...] = ()
    eku: tuple[str, ...] = ()
    not_after: datetime
    sha1: str | None = None

    def __post_init__(self) -> None:
        validate(self, "certificate")

    @property
    def dns_names(self) -> tuple[str, ...]:
        """The SANs that are host names (not IP addresses), lower case."""
        return tuple(n.lower() for n in self.sans if n and not (n[0].isdigit() or ":" in n))


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """What an SBC said about itself, gathered over its session's connections."""

    name: str
    certificate_subject: str | None = None
    certificate_sans: tuple[str, ...] = ()
    certificate_not_after: datetime | None = None
    contact: str | None = None
    sni: str | None = None
    user_agent: str | None = None
    addresses: tuple[str, ...] = ()
    healthcheck: bool = False

    def __post_init__(self) -> None:
        validate(self, "identity")


# --- the records --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One line of the event log: its kind (per class) and when it happened."""

    kind: ClassVar[str] = ""
    time: datetime

    def __post_init__(self) -> None:
        validate(self, self.kind)
        self._check()

    def _check(self) -> None:
        """Rules a type hint cannot say (ranges, formats); subclasses add theirs."""

    @property
    def summary(self) -> str:
        """One line for the console."""
        return self.kind


@dataclass(frozen=True, slots=True, kw_only=True)
class Listening(Record):
    kind: ClassVar[str] = "listening"
    address: str
    service: Service = "sip"

    @property
    def summary(self) -> str:
        what = "SIP over TLS" if self.service == "sip" else "the HTTP side service"
        return f"listening for {what} on {self.address}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Serving(Record):
    kind: ClassVar[str] = "serving"
    label: str
    scenario: str
    phase: str = ""
    phase_index: int = 0
    phase_count: int = 1
    description: str = ""
    expectation: Expectation
    dialback: bool = False
    cause: ServingCause = "start"

    def _check(self) -> None:
        if not 0 <= self.phase_index < self.phase_count:
            raise RecordError(f"serving.phase_index: {self.phase_index} is not in "
                              f"0-{self.phase_count - 1}")

    @property
    def summary(self) -> str:
        phase = (f" phase {self.phase_index + 1}/{self.phase_count} '{self.phase}'"
                 if self.phase_count > 1 else "")
        return (f"{self.cause}: serving {self.scenario}{phase} "
                f"(expect {self.expectation.code})")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadRefused(Record):
    kind: ClassVar[str] = "reload-refused"
    scenario: str
    problem: str

    @property
    def summary(self) -> str:
        return f"reload refused, still serving {self.scenario}: {self.problem}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Stopped(Record):
    kind: ClassVar[str] = "stopped"

    @property
    def summary(self) -> str:
        return "fakepeer stopped listening"


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRefused(Record):
    """The HTTP side refused a request (4xx): a client that is not the SBC's business."""

    kind: ClassVar[str] = "http-refused"
    client: str
    status: int
    what: str

    def _check(self) -> None:
        check_range("http-refused.status", self.status, 400, 499)

    @property
    def summary(self) -> str:
        return f"HTTP {self.status} to {self.client}: {self.what}"


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpError(Record):
    """The HTTP side failed a request (5xx), or could not do something at all."""

    kind: ClassVar[str] = "http-error"
    client: str | None = None
    status: int | None = None
    what: str

    def _check(self) -> None:
        check_range("http-error.status", self.status, 500, 599)

    @property
    def summary(self) -> str:
        to = f" to {self.client}" if self.client else ""
        return f"HTTP {self.status or 'side'}{to}: {self.what}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionFact(Record):
    """A fact about one connection: its id and the SBC's address (HOST:PORT)."""

    connection: int
    peer: str

    def __post_init__(self) -> None:
        validate(self, self.kind)
        if self.connection < 1:
            raise RecordError(f"{self.kind}.connection: {self.connection} is not an id (1...)")
        check_peer(f"{self.kind}.peer", self.peer)
        self._check()


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpAccepted(ConnectionFact):
    kind: ClassVar[str] = "tcp-accepted"
    listener: str

    @property
    def summary(self) -> str:
        return f"TCP connection accepted on {self.listener}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpRefused(ConnectionFact):
    kind: ClassVar[str] = "tcp-refused"
    limit: LimitName
    value: int

    @property
    def summary(self) -> str:
        return f"connection limit {self.value} reached: refused"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsEstablished(ConnectionFact):
    kind: ClassVar[str] = "tls-established"
    direction: Direction
    version: str
    cipher: str
    group: str | None = None
    sni: str | None = None
    sni_outcome: SniOutcome = "not-applicable"
    served: Served | None = None
    certificate: Certificate | None = None
    chain: tuple[str, ...] = ()
    verify_errors: tuple[str, ...] = ()
    certificate_problems: tuple[str, ...] = ()

    def _check(self) -> None:
        if self.direction == "inbound" and self.served is None:
            raise RecordError("tls-established.served: an inbound connection was served "
                              "something; say what")

    @property
    def summary(self) -> str:
        whose = "client" if self.direction == "inbound" else "SBC"
        subject = self.certificate.subject if self.certificate else "none"
        return (f"{self.version} {self.cipher}; SNI {self.sni or 'none'} ({self.sni_outcome});"
                f" {whose} certificate {subject}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFailed(ConnectionFact):
    kind: ClassVar[str] = "tls-failed"
    direction: Direction
    failed_by: FailedBy
    reason: TlsFailureReason
    alert: str | None = field(default=None, metadata=_ALERTS)
    detail: str
    sni: str | None = None
    served: Served | None = None
    certificate: Certificate | None = None
    verify_errors: tuple[str, ...] = ()
    certificate_problems: tuple[str, ...] = ()

    def _check(self) -> None:
        if self.direction == "inbound" and self.served is None:
            raise RecordError("tls-failed.served: an inbound connection was served "
                              "something; say what")

    @property
    def summary(self) -> str:
        who = {"sbc": "the SBC", "fakepeer": "fakepeer"}.get(self.failed_by, "someone")
        alert = f" with alert {self.alert}" if self.alert else ""
        return f"{who} failed the handshake{alert}: {self.detail}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SipRequest(ConnectionFact):
    kind: ClassVar[str] = "sip-request"
    direction: Direction = "inbound"
    method: str
    uri: str
    call_id: str | None = None
    cseq: int | None = None
    from_uri: str | None = None
    contact: str | None = None
    contact_host: str | None = None
    contact_port: int | None = None
    user_agent: str | None = None
    fate: SipFate = "answered"
    status: int | None = None
    reason: str = ""
    answer_reason: str | None = field(default=None, metadata=_ANSWER_REASONS)
    explanation: str = ""

    def _check(self) -> None:
        if (self.fate == "answered") != (self.status is not None):
            raise RecordError(f"sip-request.status: {self.status!r} does not fit fate "
                              f"{self.fate!r} (a status exactly when answered)")
        check_range("sip-request.status", self.status, 100, 699)
        check_range("sip-request.cseq", self.cseq, 0, 2**31 - 1)
        check_range("sip-request.contact_port", self.contact_port, 1, 65535)

    @property
    def summary(self) -> str:
        answer = {"answered": f"{self.status} {self.reason}".strip(),
                  "ignored": "deliberately left unanswered", "reset": "answered with a TCP reset",
                  "delayed": "answer delayed", "not-answered": "not answered"}[self.fate]
        why = f": {self.explanation}" if self.explanation else ""
        return f"{self.method} {self.uri} -> {answer}{why}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DelayedAnswer(ConnectionFact):
    kind: ClassVar[str] = "sip-answer"
    method: str
    call_id: str | None = None
    cseq: int | None = None
    status: int
    reason: str = ""
    answer_reason: str | None = field(default=None, metadata=_ANSWER_REASONS)
    explanation: str = ""
    delay: float

    def _check(self) -> None:
        check_range("sip-answer.status", self.status, 100, 699)

    @property
    def summary(self) -> str:
        return f"{self.status} {self.reason} to {self.method}, {self.delay:g} s late"


@dataclass(frozen=True, slots=True, kw_only=True)
class StrayResponse(ConnectionFact):
    kind: ClassVar[str] = "sip-stray-response"
    direction: Direction
    status: int
    reason: str = ""
    call_id: str | None = None

    def _check(self) -> None:
        check_range("sip-stray-response.status", self.status, 100, 699)

    @property
    def summary(self) -> str:
        return f"response {self.status} {self.reason} to nothing fakepeer sent: ignored"


@dataclass(frozen=True, slots=True, kw_only=True)
class Keepalives(ConnectionFact):
    kind: ClassVar[str] = "keepalives"
    direction: Direction = "inbound"
    count: int

    def _check(self) -> None:
        if self.count < 1:
            raise RecordError(f"keepalives.count: {self.count}; report one or more")

    @property
    def summary(self) -> str:
        return f"{self.count} CRLF keep-alive ping(s) answered"


@dataclass(frozen=True, slots=True, kw_only=True)
class SipError(ConnectionFact):
    kind: ClassVar[str] = "sip-error"
    direction: Direction = "inbound"
    problem: str
    status_hint: int = 400
    answered: bool = False
    recoverable: bool = False

    def _check(self) -> None:
        check_range("sip-error.status_hint", self.status_hint, 400, 699)

    @property
    def summary(self) -> str:
        answered = f"answered {self.status_hint}" if self.answered else "no answer"
        return f"malformed SIP ({answered}): {self.problem}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitReached(ConnectionFact):
    kind: ClassVar[str] = "limit"
    direction: Direction = "inbound"
    limit: LimitName
    seconds: float
    buffered: int | None = None

    @property
    def summary(self) -> str:
        part = (f" ({self.buffered} bytes of the message received)"
                if self.buffered is not None else "")
        return f"{self.limit} after {self.seconds:g} s{part}: closing"


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed(ConnectionFact):
    kind: ClassVar[str] = "closed"
    direction: Direction
    by: ClosedBy
    clean: bool = True
    reason: str = ""
    alert: str | None = field(default=None, metadata=_ALERTS)

    @property
    def summary(self) -> str:
        who = self.reason or ("the SBC closed the connection" if self.by == "sbc"
                              else "fakepeer closed the connection")
        alert = f", alert {self.alert}" if self.alert else ""
        return f"{who} ({'clean' if self.clean else 'not clean'}{alert})"


@dataclass(frozen=True, slots=True, kw_only=True)
class DialStarted(ConnectionFact):
    kind: ClassVar[str] = "dial-started"
    purpose: DialPurpose
    dialled: str
    sni: str | None = None
    profile: str
    era: str
    client_chain: Served | None = None
    timeout: float

    @property
    def summary(self) -> str:
        client = self.client_chain.chain if self.client_chain else "no client certificate"
        return (f"{self.purpose}: dialling {self.dialled} at {self.peer}; SNI "
                f"{self.sni or 'none'}; presenting {client}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpConnected(ConnectionFact):
    kind: ClassVar[str] = "tcp-connected"
    local_port: int

    def _check(self) -> None:
        check_range("tcp-connected.local_port", self.local_port, 1, 65535)

    @property
    def summary(self) -> str:
        return f"TCP connected from local port {self.local_port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpFailed(ConnectionFact):
    kind: ClassVar[str] = "tcp-failed"
    error: str

    @property
    def summary(self) -> str:
        return f"TCP connect to {self.peer} failed: {self.error}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateCheck(ConnectionFact):
    kind: ClassVar[str] = "certificate-check"
    accepted: bool
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    eku_rule: str = ""
    verify_errors: tuple[str, ...] = ()
    after_failed_handshake: bool = False

    def _check(self) -> None:
        if self.accepted == bool(self.problems):
            raise RecordError("certificate-check.problems: a refusal names its problems, "
                              "an acceptance has none")

    @property
    def summary(self) -> str:
        if self.accepted:
            return "SBC certificate accepted" + (
                f" with warnings: {'; '.join(self.warnings)}" if self.warnings else "")
        return f"SBC certificate refused: {'; '.join(self.problems)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionsSent(ConnectionFact):
    kind: ClassVar[str] = "options-sent"
    uri: str
    call_id: str
    cseq: int = 1
    from_host: str

    @property
    def summary(self) -> str:
        return f"OPTIONS {self.uri} sent"


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionsAnswered(ConnectionFact):
    kind: ClassVar[str] = "options-answered"
    status: int
    reason: str = ""
    call_id: str | None = None
    final: bool = True
    server: str | None = None
    contact: str | None = None
    record_route: str | None = None

    def _check(self) -> None:
        check_range("options-answered.status", self.status, 100, 699)
        if self.final != (self.status >= 200):
            raise RecordError(f"options-answered.final: {self.final} does not fit status "
                              f"{self.status}")

    @property
    def summary(self) -> str:
        agent = f" from {self.server}" if self.server else ""
        return f"{self.status} {self.reason} to OPTIONS{agent}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dialback(ConnectionFact):
    """Links an inbound connection to the outbound connection that dials its SBC back
    (``connection`` and ``peer`` are the inbound connection's)."""

    kind: ClassVar[str] = "dialback"
    target: str
    outbound_connection: int | None = None
    problem: str = ""
    cached_age: float | None = None

    def _check(self) -> None:
        if (self.outbound_connection is None) == (not self.problem):
            raise RecordError("dialback.problem: say the outbound connection, or why there "
                              "is none")

    @property
    def summary(self) -> str:
        if self.outbound_connection is None:
            return f"no dial-back to {self.target}: {self.problem}"
        cached = (f" (its result from {self.cached_age:.0f} s ago)"
                  if self.cached_age is not None else "")
        return f"dial-back to {self.target} is connection #{self.outbound_connection}{cached}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionVerdict(Record):
    """One SBC session's verdict, emitted when it is first decided and whenever it
    changes (``previous`` and ``changed`` say from what)."""

    kind: ClassVar[str] = "verdict"
    session: int
    connection: int
    direction: Direction
    label: str
    expectation: str
    outcome: Outcome
    cause: str
    hint: str = ""
    explanation: str = ""
    previous: Outcome | None = None
    changed: str = ""
    inbound: Outcome | None = None
    inbound_cause: str = ""
    outbound: Outcome | None = None
    outbound_cause: str = ""
    tls: str = ""
    tls_reason: str = ""
    options: str = ""
    options_reason: str = ""
    dialback: str = ""
    alert: str | None = field(default=None, metadata=_ALERTS)
    identity: Identity
    served: Served | None = None

    @property
    def summary(self) -> str:
        """Outcome and cause; the console prints :func:`fakepeer.report.judging.verdict_line`."""
        return f"{self.outcome}: {self.cause}"


#: Every kind, in the order they usually happen; ``kind`` -> type for readers.
RECORD_TYPES: tuple[type[Record], ...] = (
    Listening, Serving, ReloadRefused, Stopped, TcpAccepted, TcpRefused, DialStarted,
    TcpConnected, TcpFailed, TlsEstablished, TlsFailed, CertificateCheck, SipRequest,
    DelayedAnswer, OptionsSent, OptionsAnswered, StrayResponse, Keepalives, SipError,
    LimitReached, Dialback, Closed, SessionVerdict, HttpRefused, HttpError,
)
KIND_TYPES: Mapping[str, type[Record]] = types.MappingProxyType(
    {cls.kind: cls for cls in RECORD_TYPES})
#: The value types records carry (documented beside them).
VALUE_TYPES: tuple[type, ...] = (Served, Certificate, Identity, Expectation)

RecordSink = Callable[[Record], None]


class ConnectionIds:
    """Connection numbers, 1, 2, 3... per server run (0 is the server itself)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        return next(self._counter)


#: Told once per sink, the first time it fails: the sink's name, and the error.
SinkFailed = Callable[[str, Exception], None]


def sink_name(sink: object) -> str:
    """What to call a sink in a message: its ``name`` (a file's path), else its repr."""
    return str(getattr(sink, "name", None) or repr(sink))


class Fanout:
    """Send every record to several sinks; a failing sink does not silence the others.

    A sink that raises (a full disk under ``--events``) is reported once, through
    ``on_failure``, and from then on every record it fails to take is counted in
    :attr:`lost` (by sink name) instead of being kept: serving goes on, memory stays
    bounded, and the loss is reported at exit (issue 12 item 11).
    """

    def __init__(self, *sinks: Callable[[Any], None],
                 on_failure: SinkFailed | None = None) -> None:
        self.sinks = list(sinks)
        self.on_failure = on_failure
        self.lost: dict[str, int] = {}

    def __call__(self, event: Event | Record) -> None:
        for sink in self.sinks:
            try:
                sink(event)
            except Exception as exc:  # a broken sink must not stop serving
                self._failed(sink, exc)

    def _failed(self, sink: object, error: Exception) -> None:
        name = sink_name(sink)
        first = name not in self.lost
        self.lost[name] = self.lost.get(name, 0) + 1
        if first and self.on_failure is not None:
            self.on_failure(name, error)

    def loss_lines(self) -> list[str]:
        """One line per sink that lost records, for the end of the run."""
        return [f"{count} record{'s' if count != 1 else ''} lost: {name} could not take "
                "them" for name, count in self.lost.items()]
