# -*- test-case-name: tests.app.test_runner -*-
"""The one place that runs the reactor, in the spirit of ``twisted.internet.task.react``.

A command hands :func:`run` a :class:`Job`: something that starts on the running reactor
and fires with the command's exit status. While it runs, SIGINT and SIGTERM ask the job
to stop cleanly (its Deferred fires once it has: connections closed, reports written),
a second one stops the reactor at once, and SIGHUP asks it to reload. The previous
signal handlers come back when the reactor has stopped.

The handlers are fakepeer's own, installed whatever was there before: a shell that
starts a command in the background hands SIGINT down ignored, and Twisted's own handler
would then leave it so (``kill -INT`` must still stop ``serve``). Only the main thread
receives signals; elsewhere :func:`run` installs none.

A job that is already running on a reactor (a test's) needs no runner: call its
:meth:`Job.start` and :meth:`Job.interrupt` directly; that is exactly what the signals do.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import typing
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from twisted.application.service import IService
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.error import ReactorNotRunning
from twisted.logger import Logger
from twisted.python.failure import Failure

from fakepeer.net.reactors import IRunReactor

_log = Logger()

#: The signals a running job answers.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RELOAD_SIGNAL = signal.SIGHUP


class Job(typing.Protocol):
    """A command's work on the reactor (see the module docstring)."""

    def start(self) -> Deferred[int]:
        """Begin on the running reactor; fire with the exit status (or fail with the
        error that ended it)."""

    def interrupt(self) -> None:
        """Stop cleanly (SIGINT/SIGTERM); the Deferred of :meth:`start` fires after."""

    def reload(self) -> None:
        """Re-read what the job serves (SIGHUP); a job with nothing to reload ignores it."""


@dataclass
class Work:
    """A :class:`Job` made of functions: ``begin`` returns a Deferred or a coroutine of
    the exit status; ``on_interrupt`` and ``on_reload`` answer the signals."""

    begin: Callable[[], Deferred[int] | Coroutine[Any, Any, int]]
    on_interrupt: Callable[[], object] = field(default=lambda: None)
    on_reload: Callable[[], object] = field(default=lambda: None)

    def start(self) -> Deferred[int]:
        started = self.begin()
        if isinstance(started, Deferred):
            return started
        return Deferred.fromCoroutine(started)

    def interrupt(self) -> None:
        self.on_interrupt()

    def reload(self) -> None:
        self.on_reload()


class ServiceJob:
    """A :class:`Job` that runs a Twisted service until it is interrupted.

    ``ready`` (called after ``startService``) fires once the service does its work
    (every port listening); if it fails, the service is stopped and the job fails with
    that error. ``on_reload`` answers SIGHUP. Interrupted, the service is stopped and the
    job fires with ``status`` (0).
    """

    def __init__(self, service: IService, *,
                 ready: Callable[[], Deferred[object]] | None = None,
                 on_reload: Callable[[], object] | None = None, status: int = 0) -> None:
        self.service = service
        self.ready = ready
        self.on_reload = on_reload
        self.status = status
        self.done: Deferred[int] = Deferred()
        self._ending = False

    def start(self) -> Deferred[int]:
        self.service.startService()
        if self.ready is not None:
            self.ready().addErrback(self._end)
        return self.done

    def interrupt(self) -> None:
        self._end(self.status)

    def reload(self) -> None:
        if self.on_reload is not None and self.service.running:
            self.on_reload()

    def _end(self, result: int | Failure) -> None:
        """Stop the service once, then fire with ``result`` (a status, or the failure
        that ended the job)."""
        if self._ending:
            return
        self._ending = True
        stopping = maybeDeferred(self.service.stopService)
        stopping.addErrback(lambda reason: _log.failure("stopping the service failed", reason))
        stopping.addBoth(lambda _: self._fire(result))

    def _fire(self, result: int | Failure) -> None:
        if isinstance(result, Failure):
            self.done.errback(result)
        else:
            self.done.callback(result)


def run(reactor: IRunReactor, job: Job) -> int:
    """Run ``reactor`` until ``job`` ends; its exit status, or its error raised again.

    A second SIGINT/SIGTERM, while the job is still stopping, stops the reactor at once
    and raises ``KeyboardInterrupt`` (the command's exit status 130).
    """
    outcome: list[int | Failure] = []
    asked: list[int] = []

    def finished(result: int | Failure) -> None:
        outcome.append(result)
        _stop_now(reactor)

    def begin() -> None:
        maybeDeferred(job.start).addBoth(finished)

    def stop(signum: int, frame: FrameType | None) -> None:
        asked.append(signum)
        if len(asked) == 1:
            reactor.callFromThread(job.interrupt)
        else:
            reactor.callFromThread(_stop_now, reactor)

    def reload(signum: int, frame: FrameType | None) -> None:
        reactor.callFromThread(job.reload)

    reactor.callWhenRunning(begin)
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for stop_signal in STOP_SIGNALS:
            previous[stop_signal] = signal.signal(stop_signal, stop)
        previous[RELOAD_SIGNAL] = signal.signal(RELOAD_SIGNAL, reload)
    try:
        # Every real reactor's run() takes the flag; IReactorCore's declaration omits it.
        reactor.run(installSignalHandlers=False)  # type: ignore[call-arg]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if not outcome:
        raise KeyboardInterrupt  # stopped by a second signal before the job ended
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    assert isinstance(result, int)
    return result


def _stop_now(reactor: IRunReactor) -> None:
    with contextlib.suppress(ReactorNotRunning):  # already stopping: a signal came first
        reactor.stop()
