"""Typed records: every kind checks its values when built and names the field it
refuses; the vocabularies match the layers that produce them."""

from __future__ import annotations

import contextlib
import dataclasses
import typing
from pathlib import Path

import pytest

from fakepeer.report import events as ev
from fakepeer.report.jsonl import JsonLinesSink
from fakepeer.report.legacy import KINDS, TYPED_KINDS
from fakepeer.tls.observation import FailureReason, SniOutcome
from tests.report.wire import T0, Dial, Wire, link, served

W = Wire()
D = Dial()
EXAMPLES = [W.accepted(), W.established(), W.failed(), W.options(), W.keepalives(),
            W.idle(3.0, 3.0), W.closed(), D.started(), D.connect_failed(), D.check(),
            D.check(0.2, "expired"), D.sent(), D.answered(), link(W, 1.0),
            link(W, 1.0, outbound=None, problem="cannot resolve")]


@pytest.mark.parametrize(("build", "message"), [
    (lambda: dataclasses.replace(W.accepted(), connection=0),
     "tcp-accepted.connection: 0 is not an id"),
    (lambda: dataclasses.replace(W.accepted(), peer="192.0.2.1"),
     "tcp-accepted.peer: '192.0.2.1' is not HOST:PORT"),
    (lambda: dataclasses.replace(W.accepted(), peer="192.0.2.1:70000"), "is not HOST:PORT"),
    (lambda: dataclasses.replace(W.accepted(), time=T0.replace(tzinfo=None)),
     "tcp-accepted.time: expected a timezone-aware datetime"),
    (lambda: dataclasses.replace(W.failed(), alert="unknown_cx"),
     "tls-failed.alert: 'unknown_cx' is not a TLS alert name"),
    (lambda: dataclasses.replace(W.failed(), failed_by="peer"),
     "tls-failed.failed_by: str 'peer' is not one of sbc, fakepeer, unknown"),
    (lambda: dataclasses.replace(W.failed(), served=None), "tls-failed.served: an inbound"),
    (lambda: dataclasses.replace(W.options(), status=None),
     "sip-request.status: None does not fit fate 'answered'"),
    (lambda: dataclasses.replace(W.options(), status=99), "sip-request.status: 99 is not in"),
    (lambda: dataclasses.replace(W.options(), answer_reason="great"),
     "sip-request.answer_reason: 'great' is not an answer reason"),
    (lambda: dataclasses.replace(W.options(), cseq="1"), "sip-request.cseq: expected an integer"),
    (lambda: dataclasses.replace(W.keepalives(), count=0), "keepalives.count: 0"),
    (lambda: dataclasses.replace(D.check(), problems=("x",)), "certificate-check.problems"),
    (lambda: dataclasses.replace(D.answered(), final=False), "options-answered.final"),
    (lambda: dataclasses.replace(link(W, 1.0), problem="and a problem"), "dialback.problem"),
    (lambda: dataclasses.replace(W.established(), chain="CN=x"),
     "tls-established.chain: expected a sequence"),
    (lambda: served("reject:unknown_ca", by="nobody"), "served.by: 'nobody' is not sbc, fakepeer"),
    (lambda: served("accept", by="fakepeer"), "served.expectation: expect.by"),
    (lambda: served("reject:unknown_cx"), "served.expectation: expect: 'reject:unknown_cx'"),
    (lambda: dataclasses.replace(W.idle(1.0, 1.0), seconds=float("nan")),
     "limit.seconds: expected a finite number"),
])
def test_a_wrong_value_cannot_be_built(build, message):
    """Each rule refuses at construction, naming the kind and the field."""
    with pytest.raises(ev.RecordError) as caught:
        build()
    assert message in str(caught.value)


def test_sequences_and_numbers_are_normalised():
    """Lists become tuples (records stay hashable and frozen); ints become floats."""
    record = dataclasses.replace(D.check(0.2, "a"), problems=["a", "b"])
    assert record.problems == ("a", "b")
    assert isinstance(dataclasses.replace(W.idle(1.0, 1.0), seconds=3).seconds, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.accepted = True  # type: ignore[misc]


@pytest.mark.parametrize("record", EXAMPLES, ids=lambda r: r.kind)
def test_every_record_has_a_console_summary(record):
    """The console prints one line per record; none is empty or multi-line."""
    assert record.summary and "\n" not in record.summary


def test_the_tls_vocabulary_matches_the_tls_layer():
    """report/ sits below tls/, so it spells the failure reasons and SNI outcomes out;
    they must stay the ones tls/ reports."""
    reasons = set(typing.get_args(ev.TlsFailureReason))
    assert reasons - {"stalled"} == {r.value for r in FailureReason}
    assert set(typing.get_args(ev.SniOutcome)) == set(typing.get_args(SniOutcome))


def test_every_kind_of_today_has_a_typed_home():
    """Every kind the code emits today maps to typed kinds that exist."""
    assert set(TYPED_KINDS) == set(KINDS)
    assert {k for kinds in TYPED_KINDS.values() for k in kinds} <= set(ev.KIND_TYPES)
    assert len(ev.KIND_TYPES) == len(ev.RECORD_TYPES)


def test_kinds_are_unique_and_named():
    """Each record type has its own kind string."""
    kinds = [cls.kind for cls in ev.RECORD_TYPES]
    assert len(set(kinds)) == len(kinds) and all(kinds)


def test_a_failing_sink_is_reported_once_and_its_losses_counted(tmp_path):
    """Issue 12 item 11: a sink on a full disk is named once; the others get every
    record; what it lost is a count, not a growing list of errors."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine")
    kept: list[ev.Record] = []
    failures: list[tuple[str, Exception]] = []
    with Path("/dev/full").open("a", buffering=1) as full:
        fanout = ev.Fanout(JsonLinesSink(full, "the events file /dev/full"), kept.append,
                           on_failure=lambda name, error: failures.append((name, error)))
        for _ in range(1000):
            fanout(ev.Stopped(time=T0))
        assert len(kept) == 1000
        assert [(name, type(error)) for name, error in failures] == [
            ("the events file /dev/full", OSError)]
        assert fanout.loss_lines() == [
            "1000 records lost: the events file /dev/full could not take them"]
        with contextlib.suppress(OSError):
            full.close()
