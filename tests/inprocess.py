"""fakepeer's commands run inside the test's own reactor (pytest-twisted's), with deadlines.

pytest-twisted runs every test inside the reactor, so a test that drives a command is an
``async`` test (``@pytest_twisted.ensureDeferred``) and awaits: the command's job, an
event, or a blocking real client (openssl, sipsak, a socket) run with :func:`in_thread`.
Anything blocking called directly would stop the reactor, and with it the command under
test. Plain fixtures run outside the reactor: they wait with :func:`block`.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest_twisted
from twisted.internet import reactor, task, threads
from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from fakepeer.app.runner import Job
from fakepeer.cli.environment import Environment
from fakepeer.cli.main import launch, report
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import FakepeerError
from tests.peers.kamailio import Kamailio, kamailio

T = TypeVar("T")

#: The longest any one command may run in a test before the test fails.
COMMAND_TIMEOUT = 120.0


def within(deferred: Deferred[T], timeout: float) -> Deferred[T]:
    """``deferred``, cancelled (``TimeoutError``) if it has not fired in ``timeout`` s."""
    return deferred.addTimeout(timeout, reactor)


def block(deferred: Deferred[T], timeout: float) -> T:
    """From a plain fixture (outside the reactor): let the reactor run until ``deferred``
    fires, at most ``timeout`` seconds; its result, or its error raised."""
    result: T = pytest_twisted.blockon(within(deferred, timeout))
    return result


def in_thread(function: Callable[..., T], *args: Any, deadline: float = 60.0,
              **kwargs: Any) -> Deferred[T]:
    """``function(*args, **kwargs)`` on a worker thread while the reactor serves; the
    test fails if it takes longer than ``deadline`` seconds."""
    return within(threads.deferToThread(function, *args, **kwargs), deadline)


def pause(seconds: float) -> Deferred[None]:
    """A sleep that lets the reactor run."""
    return task.deferLater(reactor, seconds, lambda: None)


class Command:
    """``fakepeer ARGV`` running on the test's reactor: :attr:`done` fires with its exit
    status (with the error line :func:`fakepeer.cli.main.main` would write); bad input or
    a usage error ends it at once, as main() would. :meth:`interrupt` is SIGINT,
    :meth:`reload` SIGHUP."""

    def __init__(self, argv: Sequence[str], env: Environment) -> None:
        self.env = env
        self.job: Job | None = None
        try:
            launched = launch(list(argv), env, reactor)
        except FakepeerError as exc:
            self.done: Deferred[ExitStatus] = succeed(report(env, exc))
            return
        except SystemExit as exc:  # argparse on a usage error, as main() answers it
            self.done = succeed(ExitStatus(exc.code if isinstance(exc.code, int)
                                           else ExitStatus.USAGE))
            return
        if isinstance(launched, ExitStatus):
            self.done = succeed(launched)
            return
        self.job = launched
        self.done = launched.start().addCallbacks(ExitStatus, self._failed)

    def _failed(self, reason: Failure) -> ExitStatus:
        reason.trap(FakepeerError)
        return report(self.env, reason.value)

    def interrupt(self) -> None:
        if self.job is not None and not self.done.called:
            self.job.interrupt()

    def reload(self) -> None:
        if self.job is not None and not self.done.called:
            self.job.reload()


async def run_command(argv: Sequence[str], env: Environment,
                      timeout: float = COMMAND_TIMEOUT) -> ExitStatus:
    """``fakepeer ARGV`` on the test's reactor until it ends (see :class:`Command`)."""
    return await within(Command(argv, env).done, timeout)


def run_process(argv: Sequence[str], *, timeout: float = 60.0,
                **options: Any) -> Deferred[subprocess.CompletedProcess[Any]]:
    """``subprocess.run(argv, timeout=timeout, **options)`` on a worker thread."""
    return in_thread(subprocess.run, list(argv), timeout=timeout, deadline=timeout + 10,
                     **options)


@asynccontextmanager
async def kamailio_running(*args: Any, **kwargs: Any) -> AsyncIterator[Kamailio]:
    """:func:`tests.peers.kamailio.kamailio` for an async test: started and stopped on a
    worker thread, so the reactor (and the fakepeer it pings) keeps running meanwhile."""
    manager = kamailio(*args, **kwargs)
    server = await in_thread(manager.__enter__, deadline=30)
    try:
        yield server
    finally:
        await in_thread(manager.__exit__, None, None, None, deadline=30)
