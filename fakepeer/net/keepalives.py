"""CRLF keep-alive pings counted, not reported one by one.

An SBC may ping every few seconds for days, or flood: each ping used to be an event and
a console line (10 MB of pings: 443 MB of events, 246 MB of console, RSS up 630 MB,
issue 12 item 4). A connection counts its pings here and reports the count as one line
per batch: before its next other record, when it closes, and at most every
:data:`KEEPALIVE_REPORT_INTERVAL` seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime

#: The longest a connection's pings go unreported.
KEEPALIVE_REPORT_INTERVAL = 60.0


def keepalive_summary(count: int) -> str:
    return f"{count} CRLF keep-alive ping{'s' if count != 1 else ''} answered with CRLF"


class KeepaliveTally:
    """One connection's pings since the last report; ``report(count)`` says them."""

    def __init__(self, reactor: IReactorTime, report: Callable[[int], None],
                 interval: float = KEEPALIVE_REPORT_INTERVAL) -> None:
        self.reactor = reactor
        self.report = report
        self.interval = interval
        self.count = 0
        self._timer: IDelayedCall | None = None

    def ping(self) -> None:
        self.count += 1
        if self._timer is None:
            self._timer = self.reactor.callLater(self.interval, self.flush)

    def flush(self) -> None:
        """Report the pings counted so far, if any (and stop the interval timer)."""
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None
        if self.count:
            count, self.count = self.count, 0
            self.report(count)
