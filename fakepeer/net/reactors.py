"""What fakepeer needs of a reactor, as Twisted interfaces.

Every constructor takes the reactor as a parameter (tests pass memory reactors), typed
by the interfaces it uses. Where one object needs several, an interface here combines
them; the real reactor provides them all, and :func:`installed_reactor` says so once.
"""

from __future__ import annotations

from typing import cast

from twisted.internet.interfaces import (
    IReactorCore,
    IReactorFromThreads,
    IReactorPluggableNameResolver,
    IReactorTCP,
    IReactorTime,
)


class IListenReactor(IReactorTCP, IReactorTime):
    """A listener's: TCP ports, and timers for phases, idle connections and delays."""


class IDialReactor(IReactorTCP, IReactorTime, IReactorCore, IReactorPluggableNameResolver):
    """A dialler's: TCP connections, timers, and name resolution (``resolve`` for a
    Contact FQDN, the pluggable resolver ``HostnameEndpoint`` asks)."""


class IRunReactor(IListenReactor, IDialReactor, IReactorFromThreads):
    """A command's: everything above, plus running, stopping, shutdown triggers, and
    ``callFromThread`` for signal handlers."""


def installed_reactor() -> IRunReactor:
    """Twisted's global reactor (installing the default one on first use)."""
    from twisted.internet import reactor

    # Typed by Twisted as a subset of what every real reactor provides: TCP, time, core,
    # threads and the pluggable resolver are all implemented by the default reactor.
    return cast(IRunReactor, reactor)
