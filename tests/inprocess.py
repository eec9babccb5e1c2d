"""fakepeer's commands run inside the test's own reactor (pytest-twisted's), with deadlines.

pytest-twisted runs every test inside the reactor, so a test that drives a command is an
``async`` test (``@pytest_twisted.ensureDeferred``) and awaits: the command's job, an
event, or a blocking real client (openssl, sipsak, a socket) run with :func:`in_thread`.
Anything blocking called directly would stop the reactor, and with it the command under
test. Plain fixtures run outside the reactor: they wait with :func:`block`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest_twisted
from twisted.internet import reactor, task, threads
from twisted.internet.defer import Deferred, succeed

from fakepeer.cli.environment import Environment
from fakepeer.cli.main import launch, report
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import FakepeerError

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


def in_thread(function: Callable[..., T], *args: Any, timeout: float = 60.0,
              **kwargs: Any) -> Deferred[T]:
    """``function(*args, **kwargs)`` on a worker thread while the reactor serves."""
    return within(threads.deferToThread(function, *args, **kwargs), timeout)


def pause(seconds: float) -> Deferred[None]:
    """A sleep that lets the reactor run."""
    return task.deferLater(reactor, seconds, lambda: None)


def start_command(argv: Sequence[str], env: Environment) -> Deferred[ExitStatus]:
    """``fakepeer ARGV`` started on the test's reactor; fires with the exit status and
    writes the error line :func:`fakepeer.cli.main.main` would write. A usage error or
    bad input fires at once, as main() would return."""
    try:
        job = launch(list(argv), env, reactor)
    except FakepeerError as exc:
        return succeed(report(env, exc))
    except SystemExit as exc:  # argparse on a usage error, as main() answers it
        return succeed(ExitStatus(exc.code if isinstance(exc.code, int) else ExitStatus.USAGE))
    if isinstance(job, ExitStatus):
        return succeed(job)

    def failed(reason: Any) -> ExitStatus:
        reason.trap(FakepeerError)
        return report(env, reason.value)

    return job.start().addCallbacks(ExitStatus, failed)


async def run_command(argv: Sequence[str], env: Environment,
                      timeout: float = COMMAND_TIMEOUT) -> ExitStatus:
    """``fakepeer ARGV`` on the test's reactor until it ends (see :func:`start_command`)."""
    return await within(start_command(argv, env), timeout)

