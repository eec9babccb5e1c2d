"""The one runner: a job's exit status comes back, its error is raised again, SIGINT and
SIGTERM stop it cleanly (a second one at once), SIGHUP reloads it, and the handlers that
were there before come back. Each test runs a fresh reactor of its own in this process
and signals itself."""

from __future__ import annotations

import os
import signal

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.selectreactor import SelectReactor

from fakepeer.app.runner import ServiceJob, Work, run
from fakepeer.errors import ConfigError


class Recorder:
    """A job that ends only when interrupted, and says what it was asked."""

    def __init__(self, reactor: SelectReactor, status: int = 0) -> None:
        self.reactor = reactor
        self.status = status
        self.asked: list[str] = []
        self.done: Deferred[int] = Deferred()

    def start(self) -> Deferred[int]:
        self.asked.append("start")
        return self.done

    def interrupt(self) -> None:
        self.asked.append("interrupt")
        # stopping cleanly takes a moment (connections closing): end on a later turn
        self.reactor.callLater(0.05, self.done.callback, self.status)

    def reload(self) -> None:
        self.asked.append("reload")


def _signal_soon(reactor: SelectReactor, *signals: int) -> None:
    for delay, signum in enumerate(signals, start=1):
        reactor.callLater(0.05 * delay, os.kill, os.getpid(), signum)


def test_the_exit_status_of_the_job_comes_back():
    """A job that ends by itself: run returns its status, no signal needed."""
    reactor = SelectReactor()
    assert run(reactor, Work(lambda: _fired(7))) == 7
    assert not reactor.running


def test_an_error_that_ends_the_job_is_raised_again():
    """A job that fails (a port in use, say) makes run raise that error."""
    reactor = SelectReactor()

    async def fails() -> int:
        raise ConfigError("cannot listen: address in use")

    with pytest.raises(ConfigError, match="address in use"):
        run(reactor, Work(fails))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_interrupts_the_job_and_its_status_comes_back(signum):
    """SIGINT and SIGTERM ask the job to stop; run returns once it has."""
    reactor = SelectReactor()
    job = Recorder(reactor, status=130)
    _signal_soon(reactor, signum)
    assert run(reactor, job) == 130
    assert job.asked == ["start", "interrupt"]


def test_sighup_reloads_and_the_job_goes_on():
    """SIGHUP calls reload; the job keeps running until SIGTERM."""
    reactor = SelectReactor()
    job = Recorder(reactor)
    _signal_soon(reactor, signal.SIGHUP, signal.SIGTERM)
    assert run(reactor, job) == 0
    assert job.asked == ["start", "reload", "interrupt"]


def test_a_second_stop_signal_stops_at_once():
    """A job that does not stop: the second SIGINT stops the reactor, as Ctrl-C twice."""
    reactor = SelectReactor()

    class Stubborn(Recorder):
        def interrupt(self) -> None:
            self.asked.append("interrupt")

    job = Stubborn(reactor)
    _signal_soon(reactor, signal.SIGINT, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        run(reactor, job)
    assert job.asked == ["start", "interrupt"]


def test_the_previous_handlers_come_back():
    """After run, SIGINT, SIGTERM and SIGHUP have the handlers they had before, even one
    that ignored SIGINT (a shell's background job): run installs its own regardless."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        reactor = SelectReactor()
        job = Recorder(reactor)
        _signal_soon(reactor, signal.SIGINT)
        assert run(reactor, job) == 0  # the ignored SIGINT still stopped it
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before[signal.SIGINT])
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_service_job_stops_its_service_and_fails_when_it_cannot_start():
    """ServiceJob: interrupted, it stops the service; if ``ready`` fails, the service is
    stopped and the job fails with that error."""
    from twisted.application.service import Service

    reactor = SelectReactor()
    service = Service()
    job = ServiceJob(service, ready=lambda: _failed(ConfigError("cannot listen: busy")))
    with pytest.raises(ConfigError, match="busy"):
        run(reactor, job)
    assert not service.running


def _fired(value: int) -> Deferred[int]:
    done: Deferred[int] = Deferred()
    done.callback(value)
    return done


def _failed(error: Exception) -> Deferred[object]:
    done: Deferred[object] = Deferred()
    done.errback(error)
    return done
