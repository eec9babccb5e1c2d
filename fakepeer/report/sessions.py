# -*- test-case-name: tests.report.test_sessions -*-
"""SBC sessions: the consumer that turns the record stream into verdicts, per SBC, as
soon as they are decidable, and keeps the live state the status page shows.

Pure, sans-IO: :class:`SessionJudge` is a sink (``judge(record)``) and a clock-driven
step (``judge.tick(now)``); it emits :class:`~fakepeer.report.events.SessionVerdict`
records through the sink it was given. Time comes only from the records and from
``tick``. Per connection and per session it keeps running facts (counts, first and last
OPTIONS, first failure, identity), never the records themselves, so a connection that
pings for days costs the same as one that pinged once.

**Sessions.** An SBC session is what a Teams admin calls one SBC: its identity and all
its connections in both directions. A connection joins a session by the first identity
it shows, strongest first: its client certificate (its DNS names, else its subject),
else the FQDN in its Contact; a session answers to every certificate and Contact FQDN
its connections showed. A connection that shows neither before it is judged (a failed
handshake, a silent SBC) joins the last identified session seen from its source
address, else a session named by that address. An outbound connection joins the
session of the inbound connection it dials back (the ``dialback`` record), or, for a
probe, the session of the name dialled. Connections of ``fakepeer healthcheck`` (its
User-Agent or its lab FQDN) are judged like any other and labelled ``healthcheck``;
:meth:`SessionJudge.counts` leaves them out.

A connection that closes before it started TLS (a port check, a load balancer probe) is
no SBC's verdict: it is counted (:attr:`SessionJudge.port_checks`), never judged.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fakepeer.addresses import is_ip_address as _is_ip
from fakepeer.report.events import (
    CertificateCheck,
    Closed,
    DelayedAnswer,
    Dialback,
    DialStarted,
    Direction,
    Identity,
    Keepalives,
    LimitReached,
    OptionsAnswered,
    OptionsSent,
    Outcome,
    Record,
    Served,
    Serving,
    SessionVerdict,
    SipError,
    SipRequest,
    StrayResponse,
    TcpAccepted,
    TcpFailed,
    TcpRefused,
    TlsEstablished,
    TlsFailed,
)
from fakepeer.report.judging import (
    ACCEPT,
    PASSED,
    ConnectionFacts,
    Decision,
    combine,
    dashboard,
    decide_inbound,
    decide_outbound,
    expectation_for,
    verdict_line,
)
from fakepeer.scenario.model import Expectation

#: The judgement window: an SBC pings Teams with OPTIONS about once a minute and is
#: demoted after 3-5 minutes without one (real-peers.md section 3), so three intervals
#: after the handshake without a decisive fact decide it.
DEFAULT_JUDGEMENT_WINDOW = 180.0
#: How ``fakepeer healthcheck`` shows itself (cli/commands/healthcheck.py sends these).
HEALTHCHECK_USER_AGENT = "fakepeer-healthcheck"
HEALTHCHECK_FQDN = "healthcheck.fakepeer.invalid"
#: Sessions kept; beyond, the oldest without open connections is forgotten (a scanner
#: trying many source addresses cannot grow the consumer without bound).
MAX_SESSIONS = 4096
#: Source addresses listed per session, and finished dial-backs remembered for a link
#: that arrives late (a dial-back result reused within its minute, probe/dialback.py).
MAX_ADDRESSES = 8
MAX_REMEMBERED_DIALS = 256


@dataclass(slots=True)
class Decided:
    """A direction's current decision in a session, and where it came from."""

    connection: int
    decision: Decision
    label: str
    expectation: str
    dialback: bool
    dashboard: tuple[str, str, str, str] = ("", "", "", "")
    served: Served | None = None


@dataclass(slots=True)
class Session:
    """One SBC: its identity, its connections and its directions' decisions."""

    id: int
    name: str
    keys: list[str] = field(default_factory=list)
    subject: str | None = None
    sans: tuple[str, ...] = ()
    not_after: datetime | None = None
    contact: str | None = None
    sni: str | None = None
    user_agent: str | None = None
    addresses: list[str] = field(default_factory=list)
    healthcheck: bool = False
    open: set[int] = field(default_factory=set)
    connections: int = 0
    options: int = 0
    port_checks: int = 0
    inbound: Decided | None = None
    outbound: Decided | None = None
    waiting_since: datetime | None = None
    dialling: int | None = None
    verdict: SessionVerdict | None = None

    def identity(self) -> Identity:
        return Identity(name=self.name, certificate_subject=self.subject,
                        certificate_sans=self.sans, certificate_not_after=self.not_after,
                        contact=self.contact, sni=self.sni, user_agent=self.user_agent,
                        addresses=tuple(self.addresses), healthcheck=self.healthcheck)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionView:
    """One open connection on the status page."""

    connection: int
    direction: Direction
    peer: str
    started: datetime
    state: str
    served: str = ""
    sni: str | None = None
    tls: str = ""
    options: int = 0
    keepalives: int = 0
    last_options_at: datetime | None = None
    last_answer: str = ""
    outcome: Outcome | None = None
    cause: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionView:
    """One SBC session on the status page and in ``GET /status``."""

    session: int
    identity: Identity
    outcome: Outcome | None = None
    cause: str = ""
    hint: str = ""
    line: str = ""
    label: str = ""
    dialback: str = ""
    connections: int = 0
    options: int = 0
    port_checks: int = 0
    open: tuple[ConnectionView, ...] = ()


def _host(peer: str) -> str:
    return peer.rpartition(":")[0].strip("[]")


class SessionJudge:
    """Records in, session verdicts out (see the module docstring).

    ``emit`` receives each :class:`~fakepeer.report.events.SessionVerdict` when a session
    is first decided and whenever its verdict changes. ``window`` is the judgement window
    in seconds. The caller calls :meth:`tick` with the current time at least every
    second or two (or at :meth:`next_deadline`), so windows end on time.
    """

    def __init__(self, emit: Callable[[SessionVerdict], None], *,
                 window: float = DEFAULT_JUDGEMENT_WINDOW) -> None:
        if not window > 0:
            raise ValueError(f"the judgement window must be positive, not {window}")
        self.emit = emit
        self.window = window
        #: Connections decided so far (each once, at its first decision: rehearse's
        #: ``until_connections``), port checks counted instead, connections refused at a limit.
        self.judged = 0
        self.port_checks = 0
        self.refused = 0
        self._stated: dict[str, Expectation] = {}
        self._connections: dict[int, ConnectionFacts] = {}
        self._waiting: dict[int, ConnectionFacts] = {}
        self._sessions: dict[int, Session] = {}
        self._aliases: dict[str, int] = {}
        self._by_address: dict[str, int] = {}
        self._links: dict[int, int] = {}
        self._dials: OrderedDict[int, Decided] = OrderedDict()
        self._awaiting: set[int] = set()
        self._next_id = 1
        self._handlers: dict[type, Callable[[Any], None]] = {
            Serving: self._serving, TcpAccepted: self._accepted, TcpRefused: self._refused,
            DialStarted: self._dial_started, TcpFailed: self._tcp_failed,
            TlsEstablished: self._established, TlsFailed: self._tls_failed,
            CertificateCheck: self._certificate_check, SipRequest: self._request,
            DelayedAnswer: self._delayed_answer, StrayResponse: self._sip_seen,
            Keepalives: self._keepalives, SipError: self._sip_error,
            OptionsSent: self._options_sent, OptionsAnswered: self._options_answered,
            LimitReached: self._limit, Dialback: self._dialback, Closed: self._closed,
        }

    # -- the sink ----------------------------------------------------------------------
    def __call__(self, record: Record) -> None:
        handler = self._handlers.get(type(record))
        if handler is not None:
            handler(record)

    def tick(self, now: datetime) -> None:
        """End the judgement windows that have passed by ``now``."""
        for facts in list(self._waiting.values()):
            self._decide(facts, now)
        for session_id in list(self._awaiting):
            session = self._sessions.get(session_id)
            if session is None:
                self._awaiting.discard(session_id)
            else:
                self._evaluate(session, now)

    def next_deadline(self) -> datetime | None:
        """The earliest time a window ends (``None``: nothing is waiting)."""
        starts = [f.established or f.started for f in self._waiting.values()]
        starts += [s.waiting_since for s in map(self._sessions.get, self._awaiting)
                   if s is not None and s.waiting_since is not None]
        return min(starts) + timedelta(seconds=self.window) if starts else None

    # -- facts -------------------------------------------------------------------------
    def _serving(self, record: Serving) -> None:
        self._stated[record.label] = record.expectation

    def _accepted(self, record: TcpAccepted) -> None:
        self._connections[record.connection] = ConnectionFacts(
            record.connection, "inbound", record.peer, record.time)

    def _refused(self, record: TcpRefused) -> None:
        self.refused += 1

    def _dial_started(self, record: DialStarted) -> None:
        facts = ConnectionFacts(record.connection, "outbound", record.peer, record.time,
                                purpose=record.purpose, dialled=record.dialled,
                                served=record.client_chain, sni=record.sni)
        self._connections[record.connection] = facts
        self._waiting[record.connection] = facts
        session_id = self._links.get(record.connection)
        if session_id is not None and session_id in self._sessions:
            self._join(facts, self._sessions[session_id])
        elif record.purpose == "probe":
            self._assign(facts)

    def _facts(self, record: Any) -> ConnectionFacts | None:
        return self._connections.get(record.connection)

    def _tcp_failed(self, record: TcpFailed) -> None:
        facts = self._facts(record)
        if facts is not None:
            facts.connect_error = record.error
            self._decide(facts, record.time)
            self._finish(facts)

    def _established(self, record: TlsEstablished) -> None:
        facts = self._facts(record)
        if facts is None:
            return
        facts.established = record.time
        facts.tls = f"{record.version} {record.cipher}"
        facts.sni = record.sni
        facts.certificate = record.certificate
        facts.verify_errors = record.verify_errors
        if record.direction == "inbound":
            facts.served = record.served
            self._waiting[facts.connection] = facts
            if record.certificate is not None:
                self._assign(facts)
        self._decide(facts, record.time)

    def _tls_failed(self, record: TlsFailed) -> None:
        facts = self._facts(record)
        if facts is None:
            return
        facts.failure = record
        facts.sni = record.sni
        if record.direction == "inbound":
            facts.served = record.served
        if record.certificate is not None:
            facts.certificate = record.certificate
        self._decide(facts, record.time)

    def _certificate_check(self, record: CertificateCheck) -> None:
        facts = self._facts(record)
        if facts is not None:
            facts.check = record
            self._decide(facts, record.time)

    def _request(self, record: SipRequest) -> None:
        facts = self._facts(record)
        if facts is None:
            return
        facts.sip_seen = True
        facts.requests += 1
        learned = False
        if record.user_agent and facts.user_agent is None:
            facts.user_agent = record.user_agent
            learned = True
        if record.contact_host and facts.contact_host is None:
            facts.contact_host = record.contact_host.lower()
            facts.contact_port = record.contact_port
            learned = True
        if facts.session is not None and learned:
            self._learn(self._sessions[facts.session], facts)
        elif facts.session is None and facts.contact_host:
            self._assign(facts)
        if record.method != "OPTIONS" or record.direction != "inbound":
            self._decide(facts, record.time)
            return
        facts.options += 1
        if facts.session is not None:
            self._sessions[facts.session].options += 1
        if record.fate == "delayed":
            facts.delayed += 1
            return
        self._answered(facts, record)

    def _answered(self, facts: ConnectionFacts, record: SipRequest) -> None:
        last = facts.last_options
        facts.answered(record)
        if (last is None or facts.decision is None or (last.fate, last.status, last.answer_reason)
                != (record.fate, record.status, record.answer_reason)):
            self._decide(facts, record.time)

    def _delayed_answer(self, record: DelayedAnswer) -> None:
        facts = self._facts(record)
        if facts is None:
            return
        facts.delayed = max(facts.delayed - 1, 0)
        self._answered(facts, SipRequest(
            time=record.time, connection=record.connection, peer=record.peer,
            method=record.method, uri="", call_id=record.call_id, cseq=record.cseq,
            status=record.status, reason=record.reason, answer_reason=record.answer_reason,
            explanation=record.explanation))

    def _sip_seen(self, record: StrayResponse | Keepalives) -> None:
        facts = self._facts(record)
        if facts is not None and not facts.sip_seen:
            facts.sip_seen = True
            self._decide(facts, record.time)

    def _keepalives(self, record: Keepalives) -> None:
        facts = self._facts(record)
        if facts is not None:
            facts.keepalives += record.count
            self._sip_seen(record)

    def _sip_error(self, record: SipError) -> None:
        facts = self._facts(record)
        if facts is not None:
            facts.sip_seen = True
            if facts.sip_error is None:
                facts.sip_error = record.problem
            self._decide(facts, record.time)

    def _options_sent(self, record: OptionsSent) -> None:
        facts = self._facts(record)
        if facts is not None:
            facts.options_sent = record.time

    def _options_answered(self, record: OptionsAnswered) -> None:
        facts = self._facts(record)
        if facts is not None and record.final:
            facts.answer = record
            self._decide(facts, record.time)

    def _limit(self, record: LimitReached) -> None:
        facts = self._facts(record)
        if facts is None:
            return
        if record.limit == "idle_timeout":
            facts.idle_limit = record.seconds
        elif record.limit in ("head_deadline", "body_deadline"):
            facts.sip_seen = True  # it started a message: it is talking SIP
            if facts.sip_error is None:
                part = record.limit.partition("_")[0]
                facts.sip_error = f"a message {part} not complete within {record.seconds:g} s"
        self._decide(facts, record.time)

    def _dialback(self, record: Dialback) -> None:
        inbound = self._facts(record)
        session = (self._assign(inbound) if inbound is not None
                   else self._session_of_address(_host(record.peer)))
        if session is None:
            return
        if record.outbound_connection is None:
            session.outbound = Decided(record.connection, Decision(
                "INCOMPLETE", f"no dial-back was tried: {record.problem}",
                self._setup_hint(inbound.served.label if inbound and inbound.served else None),
                record.problem),
                session.inbound.label if session.inbound else "", "accept", False)
            self._evaluate(session, record.time)
            return
        session.dialling = record.outbound_connection
        done = self._dials.get(record.outbound_connection)
        outbound = self._connections.get(record.outbound_connection)
        if done is not None:  # a finished (or cached) dial: its result, no link to keep
            session.outbound = done
            self._evaluate(session, record.time)
            return
        self._links[record.outbound_connection] = session.id
        if outbound is not None and outbound.session is None:
            self._join(outbound, session)
            if outbound.decision is not None:
                self._decided(outbound, outbound.decision, record.time)
                return
        self._evaluate(session, record.time)

    def _closed(self, record: Closed) -> None:
        facts = self._facts(record)
        if facts is None:
            return
        facts.closed = record
        if (facts.direction == "inbound" and facts.established is None
                and facts.failure is None):
            self.port_checks += 1
            session = (self._sessions.get(facts.session) if facts.session is not None
                       else self._session_of_address(_host(facts.peer)))
            if session is not None:
                session.port_checks += 1
        else:
            self._decide(facts, record.time)
        self._finish(facts)

    def _finish(self, facts: ConnectionFacts) -> None:
        self._connections.pop(facts.connection, None)
        self._waiting.pop(facts.connection, None)
        if facts.direction == "outbound" and facts.decision is not None:
            self._links.pop(facts.connection, None)
        if facts.session is not None and facts.session in self._sessions:
            self._sessions[facts.session].open.discard(facts.connection)

    # -- deciding ----------------------------------------------------------------------
    def _expectation(self, facts: ConnectionFacts) -> Expectation:
        served = facts.served
        stated = self._stated.get(served.label) if served is not None else None
        if facts.direction == "outbound":
            return stated if stated is not None and stated.reaction == "accept" else ACCEPT
        assert served is not None  # inbound TLS facts always say what was served
        return expectation_for(served, stated)

    def _setup_hint(self, label: str | None) -> str:
        """The scenario's own set-up advice (for a direction that was never tried)."""
        stated = self._stated.get(label) if label is not None else None
        return " ".join(stated.setup.split()) if stated is not None else ""

    def _decide(self, facts: ConnectionFacts, now: datetime) -> None:
        if facts.direction == "inbound" and facts.served is None:
            return  # no TLS yet: nothing to judge
        decide = decide_inbound if facts.direction == "inbound" else decide_outbound
        decision = decide(facts, self._expectation(facts), now=now, window=self.window)
        if decision is None or decision == facts.decision:
            return
        if facts.decision is None:
            self.judged += 1
        facts.decision = decision
        self._waiting.pop(facts.connection, None)
        self._decided(facts, decision, now)

    def _decided(self, facts: ConnectionFacts, decision: Decision, now: datetime) -> None:
        served = facts.served
        label = served.label if served is not None else (facts.purpose or "")
        decided = Decided(facts.connection, decision, label,
                          served.expectation if served is not None else "accept",
                          bool(served and served.dialback) and _got_2xx(facts),
                          dashboard(facts, now) if facts.direction == "inbound" else
                          ("", "", "", ""), served)
        if facts.direction == "outbound":
            self._dials[facts.connection] = decided
            while len(self._dials) > MAX_REMEMBERED_DIALS:
                self._dials.popitem(last=False)
            session_id = self._links.get(facts.connection, facts.session)
            linked = self._sessions.get(session_id) if session_id is not None else None
            if linked is None:
                return  # a dial-back not linked yet: the dialback record brings it in
            linked.outbound = decided
            self._evaluate(linked, now)
            return
        session = self._assign(facts)
        previous = session.inbound
        if previous is not None and previous.label != label:
            session.outbound = None  # another scenario: its dial-back is still to come
        if previous is None or previous.connection != facts.connection:
            session.waiting_since = None
        session.inbound = decided
        self._evaluate(session, now)

    def _evaluate(self, session: Session, now: datetime) -> None:
        inbound, outbound = session.inbound, session.outbound
        if (inbound is not None and inbound.dialback and inbound.decision.outcome == "PASS"
                and outbound is None):
            if session.waiting_since is None:
                session.waiting_since = now
            if (now - session.waiting_since).total_seconds() < self.window:
                self._awaiting.add(session.id)
                return  # hold the verdict until the dial-back has a result
            why = (f"the dial-back (#{session.dialling}) gave no result" if session.dialling
                   else "no dial-back was tried")
            outbound = session.outbound = Decided(
                inbound.connection, Decision("INCOMPLETE", f"{why} within {self.window:g} s",
                                             self._setup_hint(inbound.label), why),
                inbound.label, "accept", False)
        self._awaiting.discard(session.id)
        if inbound is None and outbound is None:
            return
        decision, which = combine(inbound.decision if inbound else None,
                                  outbound.decision if outbound else None)
        self._emit(session, decision, which, now)

    def _emit(self, session: Session, decision: Decision, which: str, now: datetime) -> None:
        inbound, outbound = session.inbound, session.outbound
        speaker = inbound if which == "inbound" else outbound
        assert speaker is not None
        previous = session.verdict
        if previous is not None and (previous.outcome, previous.cause, previous.hint) == (
                decision.outcome, decision.cause, decision.hint):
            return
        label = (inbound or speaker).label
        changed = ""
        if previous is not None:
            changed = f"was {previous.outcome}: {previous.cause}"
            if previous.label != label:
                changed += f"; now serving {label}"
        tls, tls_reason, options, options_reason = (inbound.dashboard if inbound else
                                                    ("", "", "", ""))
        verdict = SessionVerdict(
            time=now, session=session.id, connection=speaker.connection,
            direction="inbound" if which == "inbound" else "outbound", label=label,
            expectation=(inbound or speaker).expectation, outcome=decision.outcome,
            cause=decision.cause, hint=decision.hint, explanation=decision.explanation,
            previous=previous.outcome if previous else None, changed=changed,
            inbound=inbound.decision.outcome if inbound else None,
            inbound_cause=inbound.decision.cause if inbound else "",
            outbound=outbound.decision.outcome if outbound else None,
            outbound_cause=outbound.decision.cause if outbound else "",
            tls=tls, tls_reason=tls_reason, options=options, options_reason=options_reason,
            dialback=_dialback_state(outbound), alert=decision.alert,
            identity=session.identity(), served=speaker.served)
        session.verdict = verdict
        self.emit(verdict)

    # -- grouping ----------------------------------------------------------------------
    def _keys(self, facts: ConnectionFacts) -> list[str]:
        keys = []
        certificate = facts.certificate
        if certificate is not None and facts.direction == "inbound":
            names = certificate.dns_names
            keys.append("certificate:" + (",".join(sorted(names)) if names
                                          else certificate.subject))
        contact = facts.contact_host if facts.direction == "inbound" else facts.dialled
        if contact and not _is_ip(contact):
            keys.append(f"contact:{contact.lower()}")
        return keys

    def _assign(self, facts: ConnectionFacts) -> Session:
        """The session ``facts`` belongs to (found or made at the first call)."""
        if facts.session is not None and facts.session in self._sessions:
            joined = self._sessions[facts.session]
            self._learn(joined, facts)
            return joined
        keys = self._keys(facts)
        address = _host(facts.peer)
        found = next((self._aliases[k] for k in keys if k in self._aliases), None)
        if found is None and not keys:
            found = self._by_address.get(address, self._aliases.get(f"address:{address}"))
        session = self._sessions.get(found) if found is not None else None
        if session is None:
            session = self._new_session(keys[0] if keys else f"address:{address}")
        self._join(facts, session)
        return session

    def _join(self, facts: ConnectionFacts, session: Session) -> None:
        facts.session = session.id
        session.open.add(facts.connection)
        session.connections += 1
        session.options += facts.options
        self._learn(session, facts)

    def _learn(self, session: Session, facts: ConnectionFacts) -> None:
        """Add what ``facts`` show about the SBC to its session's identity and names."""
        address = _host(facts.peer)
        if address not in session.addresses and len(session.addresses) < MAX_ADDRESSES:
            session.addresses.append(address)
        certificate = facts.certificate if facts.direction == "inbound" else None
        if certificate is not None:
            session.subject = certificate.subject
            session.sans = certificate.sans
            session.not_after = certificate.not_after
        if facts.direction == "inbound":
            session.contact = facts.contact_host or session.contact
            session.sni = facts.sni or session.sni
            session.user_agent = facts.user_agent or session.user_agent
        elif facts.dialled and not _is_ip(facts.dialled) and session.contact is None:
            session.contact = facts.dialled  # what it is dialled by is its FQDN
        names = (certificate.dns_names if certificate else ()) + tuple(
            n for n in (facts.contact_host, facts.dialled) if n)
        if (HEALTHCHECK_FQDN in names or (session.user_agent or "").startswith(
                HEALTHCHECK_USER_AGENT)):
            session.healthcheck = True
        keys = self._keys(facts)
        for key in keys:
            if key not in self._aliases:
                self._aliases[key] = session.id
                session.keys.append(key)
        if keys and facts.direction == "inbound" and not session.healthcheck:
            # the SBC last seen at this address, for its connections that show no identity
            self._by_address[address] = session.id
        session.name = _session_name(session)

    def _new_session(self, key: str) -> Session:
        if len(self._sessions) >= MAX_SESSIONS:
            self._forget_one()
        session = Session(self._next_id, key.partition(":")[2].partition(",")[0])
        self._next_id += 1
        self._sessions[session.id] = session
        self._aliases[key] = session.id
        session.keys.append(key)
        return session

    def _forget_one(self) -> None:
        oldest = next((s for s in self._sessions.values()
                       if not s.open and s.id not in self._awaiting), None)
        if oldest is None:
            return
        del self._sessions[oldest.id]
        for key in oldest.keys:
            self._aliases.pop(key, None)
        for address in [a for a, s in self._by_address.items() if s == oldest.id]:
            del self._by_address[address]

    def _session_of_address(self, address: str) -> Session | None:
        found = self._by_address.get(address, self._aliases.get(f"address:{address}"))
        return self._sessions.get(found) if found is not None else None

    # -- the live view -------------------------------------------------------------------
    def sessions(self) -> list[SessionView]:
        """Every session, newest first, with its open connections."""
        return [self._view(s) for s in reversed(self._sessions.values())]

    def pending(self) -> list[ConnectionView]:
        """Open connections not in a session yet (before their TLS handshake decided)."""
        return [_connection_view(f) for f in self._connections.values() if f.session is None]

    def _view(self, session: Session) -> SessionView:
        verdict = session.verdict
        open_ = tuple(_connection_view(self._connections[c]) for c in sorted(session.open)
                      if c in self._connections)
        dialback = verdict.dialback if verdict else ""
        if session.id in self._awaiting:
            dialback = "Pending (the dial-back has no result yet)"
        return SessionView(
            session=session.id, identity=session.identity(),
            outcome=verdict.outcome if verdict else None,
            cause=verdict.cause if verdict else "", hint=verdict.hint if verdict else "",
            line=verdict_line(verdict) if verdict else "",
            label=verdict.label if verdict else "", dialback=dialback,
            connections=session.connections, options=session.options,
            port_checks=session.port_checks, open=open_)

    def counts(self) -> dict[str, int]:
        """Sessions per current outcome (healthcheck sessions left out)."""
        counted: Counter[str] = Counter(s.verdict.outcome for s in self._sessions.values()
                          if s.verdict is not None and not s.healthcheck)
        return dict(counted)

    def summary_lines(self) -> list[str]:
        """One block per session for Ctrl-C: its verdict line and its counts."""
        lines = []
        for session in self._sessions.values():
            verdict = session.verdict
            head = (verdict_line(verdict) if verdict is not None else
                    f"PENDING {session.name}: not decided yet")
            lines.append(head)
            lines.append(f"  {_many(session.connections, 'connection')}, "
                         f"{_many(session.options, 'OPTIONS')} received"
                         + (f", {_many(session.port_checks, 'port check')}"
                            if session.port_checks else ""))
        if self.port_checks:
            lines.append(f"{_many(self.port_checks, 'connection')} closed before TLS (port "
                         "checks, load balancers): not judged")
        return lines


def _session_name(session: Session) -> str:
    """A DNS name of its certificate, else its Contact FQDN, its subject, its address."""
    dns = next((n for n in session.sans if not _is_ip(n)), None)
    contact = session.contact if session.contact and not _is_ip(session.contact) else None
    return dns or contact or session.subject or (session.addresses[0] if session.addresses
                                                   else session.name)


def _got_2xx(facts: ConnectionFacts) -> bool:
    """fakepeer answered the SBC's OPTIONS with 2xx: what starts a dial-back."""
    last = facts.last_options
    return last is not None and last.status is not None and 200 <= last.status < 300


def _many(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 or noun.endswith("S") else "s")


def _dialback_state(outbound: Decided | None) -> str:
    if outbound is None:
        return ""
    state = "Active" if outbound.decision.outcome in PASSED else (
        "Not tried" if outbound.decision.outcome == "INCOMPLETE" else "Error")
    return f"{state} ({outbound.decision.cause})"


def _connection_view(facts: ConnectionFacts) -> ConnectionView:
    if facts.failure is not None:
        state = "tls-failed"
    elif facts.established is None:
        state = "tcp"
    elif facts.sip_seen:
        state = "sip"
    else:
        state = "tls"
    last = facts.last_options
    answer = ""
    if last is not None:
        answer = f"{last.status} {last.reason}".strip() if last.status else last.fate
    decision = facts.decision
    return ConnectionView(
        connection=facts.connection, direction=facts.direction, peer=facts.peer,
        started=facts.started, state=state,
        served=facts.served.chain if facts.served else "", sni=facts.sni, tls=facts.tls,
        options=facts.options, keepalives=facts.keepalives,
        last_options_at=facts.last_options_at, last_answer=answer,
        outcome=decision.outcome if decision else None,
        cause=decision.cause if decision else "")


def judge_all(records: Iterable[Record], *, window: float = DEFAULT_JUDGEMENT_WINDOW,
              until: datetime | None = None) -> list[SessionVerdict]:
    """Every verdict a record stream gives (a finished log, a test table); ``until``
    ends the windows still open at that time."""
    verdicts: list[SessionVerdict] = []
    judge = SessionJudge(verdicts.append, window=window)
    for record in records:
        judge(record)
    if until is not None:
        judge.tick(until)
    return verdicts
