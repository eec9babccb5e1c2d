"""The versioned JSON-lines format: every kind round-trips, old and foreign lines are
refused in one line naming the file and the line."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings

from fakepeer.report import events as ev
from fakepeer.report.jsonl import (
    FORMAT_VERSION,
    ConsoleSink,
    EventLogError,
    JsonLinesSink,
    dumps,
    from_json,
    read_events,
    to_json,
)
from fakepeer.report.sessions import judge_all
from tests.report.strategies import records
from tests.report.wire import Wire, serving


def _round_trip(cls: type[ev.Record]):
    @settings(max_examples=12, deadline=None,
              suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
    @given(record=records(cls))
    def test(record):
        line = dumps(record)
        assert "\n" not in line
        obj = json.loads(line)
        assert (obj["v"], obj["kind"]) == (FORMAT_VERSION, cls.kind)
        assert from_json(obj) == record

    test.__doc__ = (f"{cls.kind}: to_json then from_json gives the same record back, "
                    "through a real JSON text, with the format version on the line.")
    return test


# One hypothesis test per kind, made here: pytest-twisted cannot run a parametrized one.
for _cls in ev.RECORD_TYPES:
    globals()[f"test_{_cls.kind.replace('-', '_')}_round_trips"] = _round_trip(_cls)


def test_defaults_are_left_out_of_the_line():
    """A field equal to its default is not written; reading puts the default back."""
    wire = Wire()
    record = wire.keepalives(count=3)
    assert to_json(record) == {"v": 2, "kind": "keepalives", "time": record.time.isoformat(),
                               "connection": 1, "peer": "192.0.2.20:40000", "count": 3}


def test_an_old_line_is_a_clear_error(tmp_path):
    """A line of fakepeer 0.1's unversioned format names the file, the line and the way out."""
    log = tmp_path / "events.jsonl"
    good = dumps(serving())
    old = json.dumps({"time": "2026-11-22T12:00:00.000+00:00", "kind": "tcp-accepted",
                      "connection": 1, "peer": "192.0.2.20:40000",
                      "summary": "TCP connection accepted"})
    log.write_text(f"{good}\n\n{good}\n{old}\n", encoding="utf-8")
    with pytest.raises(EventLogError) as caught:
        list(read_events(log))
    message = str(caught.value)
    assert message.startswith('events.jsonl line 4: written by fakepeer before 0.2 (no "v"); '
                              're-run')
    assert "\n" not in message


@pytest.mark.parametrize(("line", "words"), [
    ("not json", "line 1: not a JSON line"),
    ('[1, 2]', "line 1: expected a JSON object"),
    ('{"v": 3, "kind": "stopped", "time": "2026-11-22T12:00:00+00:00"}',
     "format v3 is not the one this fakepeer reads (v2)"),
    ('{"v": 2, "kind": "nonsense", "time": "2026-11-22T12:00:00+00:00"}', "unknown kind"),
    ('{"v": 2, "kind": "stopped", "time": "yesterday"}',
     "stopped.time: 'yesterday' is not an ISO 8601 time"),
    ('{"v": 2, "kind": "stopped", "time": "2026-11-22T12:00:00"}', "timezone-aware"),
    ('{"v": 2, "kind": "stopped", "time": "2026-11-22T12:00:00+00:00", "extra": 1}',
     "stopped: unknown field(s) extra"),
    ('{"v": 2, "kind": "keepalives", "time": "2026-11-22T12:00:00+00:00", "connection": 1,'
     ' "peer": "192.0.2.1:5"}', "keepalives: missing field(s) count"),
    ('{"v": 2, "kind": "tls-failed", "time": "2026-11-22T12:00:00+00:00", "connection": 1,'
     ' "peer": "192.0.2.1:5", "direction": "outbound", "failed_by": "sbc", "reason": '
     '"peer-alert", "alert": "unknown_cx", "detail": ""}',
     "tls-failed.alert: 'unknown_cx' is not a TLS alert name"),
    ('{"v": 2, "kind": "serving", "time": "2026-11-22T12:00:00+00:00", "label": "x", '
     '"scenario": "x", "expectation": {"reaction": "refuse"}}',
     "serving.expectation: expect.reaction: 'refuse' is not one of"),
])
def test_damaged_lines_name_the_problem(tmp_path, line, words):
    """Each kind of damage is one line that says what is wrong, where."""
    log = tmp_path / "events.jsonl"
    log.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(EventLogError, match=None) as caught:
        list(read_events(log))
    assert words in str(caught.value)
    assert str(caught.value).startswith("events.jsonl line 1: ")


def test_the_sink_writes_what_the_reader_reads(tmp_path):
    """JsonLinesSink writes typed records one per line; read_events gives them back."""
    wire = Wire()
    records = [serving(), wire.accepted(), wire.established(), wire.options(), wire.closed()]
    sink = JsonLinesSink.open(tmp_path / "log" / "events.jsonl")
    for record in records:
        sink(record)
    sink.close()
    assert list(read_events(tmp_path / "log" / "events.jsonl")) == records


def test_the_console_prints_a_verdict_as_its_verdict_line():
    """The console sink uses verdict_line for verdicts and the summary for facts."""
    wire = Wire()
    records = [serving(), wire.accepted(), wire.failed(0.2)]
    stream = io.StringIO()
    sink = ConsoleSink(stream)
    for record in [*records[1:2], *judge_all(records)]:
        sink(record)
    first, second = stream.getvalue().splitlines()
    assert first == ("12:00:00.000 #1 192.0.2.20:40000      tcp-accepted    TCP connection "
                     "accepted on 127.0.0.1:5061")
    assert second.startswith("12:00:00.200 FAIL 192.0.2.20 #1: the SBC refused a chain")
