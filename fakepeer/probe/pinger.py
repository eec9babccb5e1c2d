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

from twisted.internet.defer import Deferred

from fakepeer.net.dialer import DEFAULT_TIMEOUT, DialTarget
from fakepeer.net.reactors import IDialReactor
from fakepeer.probe.caller import Caller
from fakepeer.probe.verdicts import DialResult, attempt
from fakepeer.report.events import Sink, utc_now

#: real-peers.md section 3: "the SBC should send OPTIONS about once a minute"; the proxy
#: pings at the same pace.
DEFAULT_INTERVAL = 60.0


def ping(reactor: IDialReactor, caller: Caller, target: DialTarget, *, sink: Sink, count: int = 1,
         interval: float = DEFAULT_INTERVAL, timeout: float = DEFAULT_TIMEOUT,
         options_anyway: bool = False, clock: Callable[[], dt.datetime] = utc_now,
         now: dt.datetime | None = None,
         first_connection: int = 1,
         on_result: Callable[[DialResult], None] | None = None) -> Deferred[list[DialResult]]:
    """Dial ``count`` times (0: until the reactor stops), ``interval`` s from start to start.

    Fires with every result, in order; connection ids count up from ``first_connection``.
    ``on_result`` sees each result as it comes (the only way to see them with count 0).
    """
    if count < 0:
        raise ValueError(f"count must be 0 (forever) or more, not {count}")
    if interval <= 0:
        raise ValueError(f"interval must be positive, not {interval}")
    results: list[DialResult] = []
    finished: Deferred[list[DialResult]] = Deferred()

    def next_attempt() -> None:
        started = reactor.seconds()
        number = first_connection + len(results)
        done = attempt(reactor, caller, target, sink=sink, connection_id=number,
                       timeout=timeout, options_anyway=options_anyway, clock=clock, now=now)
        done.addCallback(ended, started)

    def ended(result: DialResult, started: float) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)
        if count and len(results) >= count:
            finished.callback(results)
            return
        wait = max(0.0, started + interval - reactor.seconds())
        reactor.callLater(wait, next_attempt)

    next_attempt()
    return finished
