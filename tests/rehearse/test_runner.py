"""The step logic of a rehearsal, in memory: a fake clock, fake ports, the real
SipListeners and phases, and events fed in where the network would produce them."""

from __future__ import annotations

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.defer import succeed
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock

from fakepeer.rehearse.plan import Plan, PlanStep
from fakepeer.rehearse.runner import (
    ABORT_GRACE,
    DRAIN_TIMEOUT,
    Rehearsal,
    RunRecord,
    prepare_steps,
)
from fakepeer.report.events import Event
from tests.conftest import make_pki


class _Port:
    def __init__(self, host: str, port: int) -> None:
        self.address = IPv4Address("TCP", host, port)
        self.stopped = False

    def getHost(self) -> IPv4Address:  # noqa: N802 - IListeningPort's name
        return self.address

    def stopListening(self):  # noqa: N802 - IListeningPort's name
        self.stopped = True
        return succeed(None)


class PortReactor(MemoryReactorClock):
    """A memory reactor whose ports resolve port 0 to a fresh number and can be stopped,
    and which refuses the addresses in ``busy``."""

    def __init__(self, busy: tuple[tuple[str, int], ...] = ()) -> None:
        super().__init__()
        self.busy = busy
        self.next_port = 40000
        self.ports: list[_Port] = []

    def listenTCP(self, port, factory, backlog=50, interface=""):  # noqa: N802 - IReactorTCP
        if (interface, port) in self.busy:
            raise CannotListenError(interface, port, OSError(98, "Address already in use"))
        if port == 0:
            self.next_port += 1
            port = self.next_port
        self.tcpServers.append((port, factory, backlog, interface))
        self.ports.append(_Port(interface, port))
        return self.ports[-1]

    def sink(self):
        """The sink the current step's listeners report to (where the network would)."""
        return self.tcpServers[-1][1].wrappedFactory.sink


def ev(kind: str, connection: int, **data: object) -> Event:
    return Event(kind, connection, f"127.0.0.1:{50000 + connection}", kind, dict(data))


@pytest.fixture(scope="module")
def prepared(session_store, catalogue):
    """Two realised steps: baseline-microsoft-2026 for 10 s, expired-leaf until 2 judged."""
    plan = Plan("memory", (PlanStep("baseline-microsoft-2026", duration=10),
                           PlanStep("expired-leaf", until_connections=2)))
    return prepare_steps(plan, catalogue, make_pki(session_store))


def start(reactor, steps, addresses=(("127.0.0.1", 0),)):
    seen: list[tuple[int, Event]] = []
    rehearsal = Rehearsal(reactor, steps, list(addresses),
                          lambda step, event: seen.append((step, event)),
                          clock=lambda: _now(reactor))
    results: list[RunRecord] = []
    rehearsal.run().addCallback(results.append)
    return rehearsal, results, seen


def _now(reactor):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(1_790_000_000 + reactor.seconds(), UTC)


def test_prepared_steps_carry_their_phases(prepared):
    """Each step is realised before anything listens, with its timeline described."""
    assert [p.step.scenario for p in prepared] == ["baseline-microsoft-2026", "expired-leaf"]
    assert all(len(p.phases) == 1 and len(p.phase_info) == 1 for p in prepared)
    assert prepared[1].phase_info[0].expect == "SBC rejects (certificate_expired)"


def test_steps_run_in_order_on_the_port_the_first_one_bound(prepared):
    """Port 0 is bound once; the next step listens again on that same port."""
    reactor = PortReactor()
    _, results, seen = start(reactor, prepared)
    assert [s[0] for s in reactor.tcpServers] == [40001]
    reactor.advance(10)
    assert [s[0] for s in reactor.tcpServers] == [40001, 40001]
    assert reactor.ports[0].stopped and not reactor.ports[1].stopped
    sink = reactor.sink()
    for connection in (1, 2):
        sink(ev("tcp-accepted", connection))
        sink(ev("verdict", connection, outcome="PASS"))
    assert not results
    reactor.advance(0)
    (run,) = results
    assert [(s.number, s.ended_by) for s in run.steps] == [(1, "duration"), (2, "connections")]
    assert run.steps[0].listening == run.steps[1].listening == ["127.0.0.1:40001"]
    assert run.steps[1].ended is not None and run.ended is not None
    assert not run.interrupted and run.error is None
    assert [(step, e.kind) for step, e in seen if e.kind in ("listening", "stopped")] == [
        (1, "listening"), (1, "stopped"), (2, "listening"), (2, "stopped")]
    assert [e.kind for e in run.steps[1].events].count("verdict") == 2


def test_a_step_waits_for_its_open_connections_to_close(prepared):
    """After its time is up a step stops listening but ends only when its connections did."""
    reactor = PortReactor()
    _, results, _ = start(reactor, prepared[:1])
    reactor.sink()(ev("tcp-accepted", 1))
    reactor.advance(10)
    assert reactor.ports[0].stopped and not results
    reactor.sink()(ev("verdict", 1, outcome="PASS"))
    reactor.advance(0)
    assert results and results[0].steps[0].events[-1].kind == "verdict"


def test_a_connection_that_never_closes_is_abandoned_after_the_drain_timeout(prepared):
    """A stuck connection holds a step for DRAIN_TIMEOUT plus ABORT_GRACE at most."""
    reactor = PortReactor()
    _, results, _ = start(reactor, prepared[:1])
    reactor.sink()(ev("tcp-accepted", 1))
    reactor.advance(10)
    reactor.advance(DRAIN_TIMEOUT)
    assert not results
    reactor.advance(ABORT_GRACE)
    assert results and results[0].steps[0].ended_by == "duration"


def test_interrupt_ends_the_current_step_and_skips_the_rest(prepared):
    """Ctrl-C mid-step: that step ends 'interrupted', later steps never run."""
    reactor = PortReactor()
    rehearsal, results, _ = start(reactor, prepared)
    reactor.advance(3)
    done = rehearsal.interrupt()
    reactor.advance(0)
    assert done.called and results
    (run,) = results
    assert run.interrupted
    assert [(s.number, s.ended_by) for s in run.steps] == [(1, "interrupted")]
    assert len(reactor.tcpServers) == 1
    assert rehearsal.interrupt().called  # after the end it is a no-op


def test_a_busy_port_ends_the_rehearsal_with_an_error(prepared):
    """A port that cannot be bound is reported with the address and the OS's reason."""
    reactor = PortReactor(busy=(("127.0.0.1", 5061),))
    _, results, _ = start(reactor, prepared, [("127.0.0.1", 5061)])
    (run,) = results
    assert run.steps[0].ended_by == "listen-failed"
    assert run.error is not None
    assert "step 1 (baseline-microsoft-2026): cannot listen on 127.0.0.1:5061" in run.error
    assert "Address already in use" in run.error


def test_a_rehearsal_needs_steps_and_addresses(prepared):
    """Nothing to run, or nowhere to listen, is refused when the Rehearsal is built."""
    with pytest.raises(ValueError, match="at least one step"):
        Rehearsal(PortReactor(), [], [("127.0.0.1", 0)], lambda step, event: None)
    with pytest.raises(ValueError, match="at least one address"):
        Rehearsal(PortReactor(), prepared, [], lambda step, event: None)


def test_a_failing_output_sink_does_not_stop_the_step(prepared):
    """A terminal that breaks mid-run (closed pipe) loses lines, not verdicts or counting."""
    reactor = PortReactor()

    def broken(step, event):
        raise BrokenPipeError("stdout closed")

    rehearsal = Rehearsal(reactor, prepared[1:], [("127.0.0.1", 0)], broken,
                          clock=lambda: _now(reactor))
    results: list[RunRecord] = []
    rehearsal.run().addCallback(results.append)
    for connection in (1, 2):
        reactor.sink()(ev("tcp-accepted", connection))
        reactor.sink()(ev("verdict", connection, outcome="PASS"))
    reactor.advance(0)
    assert results and results[0].steps[0].ended_by == "connections"
