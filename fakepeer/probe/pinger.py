# -*- test-case-name: tests.probe.test_cli -*-
"""Repeat outbound attempts on a schedule, as the proxy keeps pinging an SBC.

The real proxy sends OPTIONS to each SBC about once a minute (real-peers.md section 3;
the SBC side is told to do the same). Each attempt here is a fresh connection, so a lab
engineer who changes the SBC's certificate or trust store between two pings sees the
effect at the next one. Attempts start ``interval`` seconds apart (from start to start,
like a ping), never overlapping: a slow attempt delays the next one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall

from fakepeer.net.dialer import DEFAULT_TIMEOUT, DialTarget
from fakepeer.net.reactors import IDialReactor
from fakepeer.probe.caller import Caller
from fakepeer.probe.verdicts import DialResult, attempt
from fakepeer.report.events import Sink, utc_now

#: real-peers.md section 3: "the SBC should send OPTIONS about once a minute"; the proxy
#: pings at the same pace.
DEFAULT_INTERVAL = 60.0


class Pinger:
    """Dial ``count`` times (0: until stopped), ``interval`` s from start to start.

    :meth:`start` fires with every result, in order; connection ids count up from
    ``first_connection``; ``on_result`` sees each result as it comes (the only way to see
    them with count 0). :meth:`stop` (SIGINT) hangs up the attempt in flight, makes no
    more, and fires the results so far.
    """

    def __init__(self, reactor: IDialReactor, caller: Caller, target: DialTarget, *,
                 sink: Sink, count: int = 1, interval: float = DEFAULT_INTERVAL,
                 timeout: float = DEFAULT_TIMEOUT, options_anyway: bool = False,
                 clock: Callable[[], dt.datetime] = utc_now, now: dt.datetime | None = None,
                 first_connection: int = 1,
                 on_result: Callable[[DialResult], None] | None = None) -> None:
        if count < 0:
            raise ValueError(f"count must be 0 (forever) or more, not {count}")
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval}")
        self.reactor = reactor
        self.caller = caller
        self.target = target
        self.sink = sink
        self.count = count
        self.interval = interval
        self.timeout = timeout
        self.options_anyway = options_anyway
        self.clock = clock
        self.now = now
        self.first_connection = first_connection
        self.on_result = on_result
        self.results: list[DialResult] = []
        self.finished: Deferred[list[DialResult]] = Deferred()
        self._next: IDelayedCall | None = None
        self._dialling: Deferred[None] | None = None

    def start(self) -> Deferred[list[DialResult]]:
        self._attempt()
        return self.finished

    def stop(self) -> None:
        if self.finished.called:
            return
        if self._next is not None and self._next.active():
            self._next.cancel()
        if self._dialling is not None:
            self._dialling.cancel()
        self.finished.callback(self.results)

    def _attempt(self) -> None:
        started = self.reactor.seconds()
        number = self.first_connection + len(self.results)
        done = attempt(self.reactor, self.caller, self.target, sink=self.sink,
                       connection_id=number, timeout=self.timeout,
                       options_anyway=self.options_anyway, clock=self.clock, now=self.now)
        self._dialling = done.addCallback(self._ended, started)
        self._dialling.addErrback(lambda reason: reason.trap(CancelledError))

    def _ended(self, result: DialResult, started: float) -> None:
        self._dialling = None
        self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)
        if self.count and len(self.results) >= self.count:
            self.finished.callback(self.results)
            return
        wait = max(0.0, started + self.interval - self.reactor.seconds())
        self._next = self.reactor.callLater(wait, self._attempt)
