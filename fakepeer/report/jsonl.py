# -*- test-case-name: tests.report.test_jsonl -*-
"""The JSON-lines event log: one versioned object per line, flushed per record.

Format 2 (``docs/events.md``): every line carries ``"v": 2``, the ``kind``, the
``time`` (ISO 8601 with its UTC offset) and the record's fields by name; a field equal
to its default is left out, nested values are objects, sequences are arrays.
:func:`to_json` and :func:`from_json` are exact inverses for every kind. A line without
``"v"`` was written by fakepeer 0.1 (untyped events); reading one is a clear error, not
a half-read log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Union, get_args, get_origin

from fakepeer.errors import FakepeerError
from fakepeer.report.events import (
    KIND_TYPES,
    Event,
    Record,
    RecordError,
    SessionVerdict,
    field_hints,
)
from fakepeer.report.judging import verdict_line

#: The format of every line this fakepeer writes; readers refuse any other.
FORMAT_VERSION = 2
#: The first fakepeer version that writes format 2 (the lead bumps the package to it).
FORMAT_SINCE = "0.2"


class EventLogError(FakepeerError, ValueError):
    """A line of an event log that cannot be read: names the file, the line and why."""


# --- records <-> JSON objects ----------------------------------------------------------


def to_json(record: Record) -> dict[str, Any]:
    """``record`` as one JSON-ready object: ``v``, ``kind``, then its fields."""
    return {"v": FORMAT_VERSION, "kind": record.kind, **_fields_to_json(record)}


Converter = Callable[[Any], Any]
#: Per class, one generated function: the fields that differ from their defaults, as
#: JSON (a record is written per SIP message, so this runs inline; see _writer).
_WRITERS: dict[type, Converter] = {}


def _converter(hint: Any, v: str = "v") -> str | None:
    """An expression turning the variable ``v`` into JSON; ``None`` when it already is
    (strings, numbers, booleans, vocabulary names)."""
    origin = get_origin(hint)
    if origin is Union or (origin is not None and type(None) in get_args(hint)):
        inner = _converter(next(a for a in get_args(hint) if a is not type(None)), v)
        return None if inner is None else f"(None if {v} is None else {inner})"
    if origin is tuple:
        item = _converter(get_args(hint)[0], "x")
        return f"list({v})" if item is None else f"[{item} for x in {v}]"
    if hint is datetime:
        return f"{v}.isoformat()"
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return f"fields({v})"
    return None


def _writer(cls: type) -> Converter:
    """``write(value) -> dict`` for ``cls``, generated once from its type hints."""
    write = _WRITERS.get(cls)
    if write is not None:
        return write
    hints = field_hints(cls)
    names: dict[str, Any] = {"fields": _fields_to_json}
    lines = ["def write(self):", "    out = {}"]
    for spec in dataclasses.fields(cls):
        convert = _converter(hints[spec.name]) or "v"
        lines.append(f"    v = self.{spec.name}")
        if spec.default is dataclasses.MISSING:
            lines.append(f"    out[{spec.name!r}] = {convert}")
        else:
            names[f"D_{spec.name}"] = spec.default
            lines.append(f"    if v != D_{spec.name}: out[{spec.name!r}] = {convert}")
    lines.append("    return out")
    exec("\n".join(lines), names)  # noqa: S102 - the text is built above from type hints
    generated: Converter = names["write"]
    _WRITERS[cls] = generated
    return generated


def _fields_to_json(value: Any) -> dict[str, Any]:
    written: dict[str, Any] = _writer(type(value))(value)
    return written


def value_to_json(value: Any) -> Any:
    """A record, a value type (a status page view) or a field value as plain JSON."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [value_to_json(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields_to_json(value)
    return value


def from_json(data: Mapping[str, Any]) -> Record:
    """The record a :func:`to_json` object stands for; a wrong or foreign object raises
    :class:`~fakepeer.report.events.RecordError` naming the kind and field."""
    if not isinstance(data, Mapping):
        raise RecordError(f"expected a JSON object, got {type(data).__name__}")
    if "v" not in data:
        raise RecordError(f'written by fakepeer before {FORMAT_SINCE} (no "v"); re-run '
                          "with this fakepeer to get a readable log, or read it with "
                          "the fakepeer that wrote it")
    if data["v"] != FORMAT_VERSION:
        raise RecordError(f"format v{data['v']!r} is not the one this fakepeer reads "
                          f"(v{FORMAT_VERSION}); read it with the fakepeer that wrote it")
    kind = data.get("kind")
    cls = KIND_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise RecordError(f"unknown kind {kind!r}; known: {', '.join(KIND_TYPES)}")
    fields = {k: v for k, v in data.items() if k not in ("v", "kind")}
    built = _build(cls, fields, cls.kind)
    assert isinstance(built, Record)
    return built


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise RecordError(f"{where}: expected an object, got {type(data).__name__}")
    hints = field_hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise RecordError(f"{where}: unknown field(s) {', '.join(unknown)}")
    missing = [f.name for f in dataclasses.fields(cls)
               if f.name not in data and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise RecordError(f"{where}: missing field(s) {', '.join(missing)}")
    values = {name: _value_from_json(hints[name], value, f"{where}.{name}")
              for name, value in data.items()}
    try:
        return cls(**values)
    except RecordError:
        raise
    except (TypeError, ValueError) as exc:  # a nested type's own check (Expectation)
        raise RecordError(f"{where}: {exc}") from None


def _value_from_json(hint: Any, value: Any, where: str) -> Any:
    origin = get_origin(hint)
    if origin is Union or (origin is not None and type(None) in get_args(hint)):
        if value is None:
            return None
        hint = next(a for a in get_args(hint) if a is not type(None))
        origin = get_origin(hint)
    if origin is tuple and isinstance(value, list):
        return tuple(_value_from_json(get_args(hint)[0], item, f"{where}[{i}]")
                     for i, item in enumerate(value))
    if hint is datetime:
        if not isinstance(value, str):
            raise RecordError(f"{where}: expected an ISO 8601 time, got {value!r}")
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise RecordError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    return value  # the constructor checks it


# --- files and streams ----------------------------------------------------------------


def dumps(record: Record) -> str:
    """One log line (without the newline)."""
    return json.dumps(to_json(record), ensure_ascii=False, separators=(",", ":"))


def read_events(path: Path) -> Iterator[Record]:
    """Read a log back; a damaged, foreign or old line stops the reading with a one-line
    :class:`EventLogError` naming the file and line number."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EventLogError(f"{where}: not a JSON line ({exc.msg})") from None
            try:
                yield from_json(data)
            except RecordError as exc:
                raise EventLogError(f"{where}: {exc}") from None


class JsonLinesSink:
    """Appends each record as one JSON line to a file or stream, flushed at once.

    Today's untyped :class:`~fakepeer.report.events.Event` is still written as before
    (the compatibility path until the wiring task switches the producers)."""

    def __init__(self, stream: IO[str], name: str = "") -> None:
        self.stream = stream
        #: What messages call this sink (the events file's path).
        self.name = name or f"the stream {getattr(stream, 'name', stream)!r}"

    @classmethod
    def open(cls, path: Path) -> JsonLinesSink:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path.open("a", encoding="utf-8", buffering=1), f"the events file {path}")

    def __call__(self, event: Event | Record) -> None:
        if isinstance(event, Record):
            self.stream.write(dumps(event) + "\n")
        else:
            self.stream.write(json.dumps(event.to_json(), default=str) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Close the file; one that cannot take its last lines (a full disk) is closed
        anyway: the failure was reported when it happened."""
        with contextlib.suppress(OSError):
            self.stream.close()


class ConsoleSink:
    """A readable line per record, for the engineer watching the terminal; a verdict
    reads as :func:`fakepeer.report.judging.verdict_line` writes it."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: Event | Record) -> None:
        self.stream.write(console_line(event) + "\n")
        self.stream.flush()


def console_line(event: Event | Record) -> str:
    """``HH:MM:SS.mmm #connection peer  kind  summary`` (a verdict: its verdict line)."""
    if not isinstance(event, Record):
        return event.console_line()
    stamp = event.time.strftime("%H:%M:%S.%f")[:-3]
    if isinstance(event, SessionVerdict):
        return f"{stamp} {verdict_line(event)}"
    connection = getattr(event, "connection", 0)
    who = f"#{connection} {getattr(event, 'peer', '')}" if connection else "-"
    return f"{stamp} {who:<24} {event.kind:<15} {event.summary}"
