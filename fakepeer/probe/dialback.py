# -*- test-case-name: tests.probe.test_dialback -*-
"""Dial-back inside ``serve``: after a 200 OK to an SBC's OPTIONS, dial its Contact.

The real proxy does exactly this (real-peers.md section 3): once the SBC's OPTIONS got
200 OK, the proxy opens its own TLS connection to the FQDN and port in the SBC's Contact,
presents its certificate as a client certificate, sends OPTIONS, and only a 200 OK there
makes the SBC "Active". :class:`DialBack` is the callable ``serve`` puts in
``ServeSettings.on_options_accepted``; it resolves the Contact FQDN (an ``--sbc``
mapping first, else the system resolver), dials with :func:`fakepeer.probe.verdicts.attempt`
and reports one ``dialback`` event on the *inbound* connection whose summary is
``Active (...)`` or ``Error (reason)``, which :func:`fakepeer.report.verdict.judge_connection`
puts into that connection's verdict as "outbound ...".

The outbound connection's own events (``probe`` ... ``verdict``) go to the same sink
under a connection id of their own, taken from the listener's counter once
:meth:`DialBack.attach` has been called, so both directions read as one log.

Not every OPTIONS causes a dial: an SBC pings once a minute on a persistent connection,
and so does the proxy on its own connection. So each inbound connection is dialled back
once, a Contact dialled less than ``min_interval`` ago reuses that result, and concurrent
requests for the same Contact share one dial.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from fakepeer.addresses import is_ip_address
from fakepeer.net.dialer import DEFAULT_TIMEOUT, DialTarget
from fakepeer.net.reactors import IDialReactor
from fakepeer.probe.caller import Caller
from fakepeer.probe.pinger import DEFAULT_INTERVAL
from fakepeer.probe.verdicts import DialResult, attempt
from fakepeer.report.events import ConnectionIds, Event, Sink, utc_now
from fakepeer.sip.grammar import normalise_host

_log = Logger()

Clock = Callable[[], dt.datetime]
Resolver = Callable[[str], Deferred[str]]

#: Ids for outbound connections when no listener is attached: far from the listener's
#: 1, 2, 3... so that the two never collide in one log.
_DETACHED_FIRST_ID = 100_001


@dataclass
class _Pending:
    """One dial in flight and the inbound connections waiting for its result."""

    waiting: list[int] = field(default_factory=list)


class DialBack:
    """``on_options_accepted`` for ``serve`` (see the module docstring).

    ``sink`` receives the events; without one they go to the attached listener's sink
    (so a DialBack can be built before the listener is). ``sbc_map`` maps Contact FQDNs
    to (address, port) for labs without DNS; the mapped port replaces the Contact's.
    ``resolve`` (default: the reactor's system resolver) turns other names into
    addresses. ``options_anyway``, ``timeout`` and ``now`` are
    :func:`~fakepeer.net.dialer.dial`'s.
    """

    def __init__(self, reactor: IDialReactor, caller: Caller, sink: Sink | None = None, *,
                 sbc_map: Mapping[str, tuple[str, int]] | None = None,
                 resolve: Resolver | None = None, timeout: float = DEFAULT_TIMEOUT,
                 min_interval: float = DEFAULT_INTERVAL, options_anyway: bool = False,
                 clock: Clock = utc_now, now: dt.datetime | None = None) -> None:
        self.reactor = reactor
        self.caller = caller
        self.sink = sink
        self.sbc_map = {normalise_host(k): v for k, v in (sbc_map or {}).items()}
        self._resolve = resolve or reactor.resolve
        self.timeout = timeout
        self.min_interval = min_interval
        self.options_anyway = options_anyway
        self.clock = clock
        self.now = now
        self.results: list[DialResult] = []
        self._factory: Any = None
        self._ids = ConnectionIds()
        self._offset = _DETACHED_FIRST_ID - 1
        self._dialled: set[int] = set()
        #: The inbound connection's address while its dial-back runs.
        self._peers: dict[int, str] = {}
        self._pending: dict[tuple[str, int], _Pending] = {}
        self._recent: dict[tuple[str, int], tuple[float, DialResult]] = {}

    def attach(self, factory: Any) -> None:
        """Report through ``factory`` (a ``SipServerFactory``): dialback events join the
        inbound connection's own events and verdict, and outbound connections take their
        ids from the listener's counter."""
        self._factory = factory

    def _sink(self, event: Event) -> None:
        sink = self.sink or getattr(self._factory, "sink", None)
        if sink is None:
            _log.error("DialBack has no sink (pass sink= or call attach()); lost: {line}",
                       line=event.console_line())
            return
        sink(event)

    # -- the hook ------------------------------------------------------------------------
    def __call__(self, connection_id: int, host: str, port: int) -> None:
        """Dial the SBC back for inbound connection ``connection_id`` (Contact host:port)."""
        if connection_id in self._dialled:
            return
        self._dialled.add(connection_id)
        inbound = self._inbound(connection_id)
        if inbound is not None:  # its address, for a result that comes after it closed
            self._peers[connection_id] = inbound.peer
        key = (normalise_host(host), port)
        recent = self._recent.get(key)
        if recent is not None and self.reactor.seconds() - recent[0] < self.min_interval:
            age = self.reactor.seconds() - recent[0]
            self._report(connection_id, key, recent[1], cached=age)
            return
        pending = self._pending.get(key)
        if pending is not None:
            pending.waiting.append(connection_id)
            return
        self._pending[key] = _Pending([connection_id])
        located = self._locate(key)
        located.addCallbacks(self._dial, self._unresolved, callbackArgs=(key,),
                             errbackArgs=(key,))
        located.addErrback(self._crashed, key)

    # -- resolving -----------------------------------------------------------------------
    def _locate(self, key: tuple[str, int]) -> Deferred[tuple[str, int]]:
        host, port = key
        mapped = self.sbc_map.get(host)
        if mapped is not None:
            return succeed(mapped)
        if is_ip_address(host):
            return succeed((host.strip("[]"), port))
        return self._resolve(host).addCallback(lambda address: (address, port))

    def _unresolved(self, reason: Failure, key: tuple[str, int]) -> None:
        host, port = key
        summary = (f"Error ({host}:{port}: cannot resolve {host}: {reason.getErrorMessage()}; "
                   "map it with --sbc FQDN=ADDRESS:PORT)")
        for connection_id in self._pending.pop(key, _Pending()).waiting:
            self._emit(connection_id, f"{host}:{port}", summary,
                       {"target": f"{host}:{port}", "status": "Error",
                        "reason": f"cannot resolve {host}"})

    def _crashed(self, reason: Failure, key: tuple[str, int]) -> None:
        """A bug or a refused configuration must not vanish into an unhandled Deferred."""
        host, port = key
        message = reason.getErrorMessage()
        for connection_id in self._pending.pop(key, _Pending()).waiting:
            self._emit(connection_id, f"{host}:{port}",
                       f"Error ({host}:{port}: fakepeer could not dial: {message})",
                       {"target": f"{host}:{port}", "status": "Error", "reason": message})

    # -- dialling ------------------------------------------------------------------------
    def _dial(self, where: tuple[str, int], key: tuple[str, int]) -> Deferred[None]:
        address, port = where
        host = key[0]
        target = DialTarget(address, port, None if is_ip_address(host) else host,
                            f"{host}")
        started = self.reactor.seconds()
        done = attempt(self.reactor, self.caller, target, sink=self._sink,
                       connection_id=self._next_id(), timeout=self.timeout,
                       options_anyway=self.options_anyway, clock=self.clock, now=self.now)
        return done.addCallback(self._dialled_back, key, started)

    def _dialled_back(self, result: DialResult, key: tuple[str, int], started: float) -> None:
        self.results.append(result)
        self._recent[key] = (started, result)
        for connection_id in self._pending.pop(key, _Pending()).waiting:
            self._report(connection_id, key, result)

    def _next_id(self) -> int:
        if self._factory is not None:
            return int(self._factory.ids.next())
        return self._offset + self._ids.next()

    # -- reporting -----------------------------------------------------------------------
    def _report(self, connection_id: int, key: tuple[str, int], result: DialResult,
                cached: float | None = None) -> None:
        summary = result.outbound_summary()
        if cached is not None:
            summary = f"{summary}, as dialled {cached:.0f} s ago"
        verdict = result.verdict
        self._emit(connection_id, f"{key[0]}:{key[1]}", summary, {
            "target": f"{key[0]}:{key[1]}", "address": result.target.peer,
            "outbound_connection": result.connection,
            "status": "Active" if result.ok else "Error",
            "reason": "" if result.ok else result.first_problem(),
            "tls": verdict.tls, "certificate": verdict.certificate,
            "options": verdict.options,
            "findings": (result.certificate_check.to_json()
                         if result.certificate_check is not None else []),
            "cached": cached is not None,
        })

    def _emit(self, connection_id: int, target: str, summary: str,
              data: dict[str, Any]) -> None:
        protocol = self._inbound(connection_id)
        peer = self._peers.pop(connection_id, target)
        if protocol is not None:
            protocol.emit("dialback", summary, **data)
            return
        # The SBC closed before the result: still say which of its connections it is for.
        self._sink(Event("dialback", connection_id, peer, summary, data, self.clock()))

    def _inbound(self, connection_id: int) -> Any:
        """The inbound connection's protocol while it is still open, else ``None``."""
        if self._factory is None:
            return None
        for protocol in self._factory.active:
            if protocol.connection_id == connection_id:
                return protocol
        return None
