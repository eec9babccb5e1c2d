# -*- test-case-name: tests.report.test_events -*-
"""How records check themselves: from their type hints, once per class.

A record type is a frozen dataclass whose fields are typed with ``str``, ``int``,
``float``, ``bool``, ``datetime``, ``Literal[...]``, ``X | None``, ``tuple[X, ...]`` or
another such dataclass (a field's metadata may add ``choices`` and ``what``: the names
a string must be one of). :func:`validate` checks every field, normalises lists to
tuples and ints to floats, and raises :class:`RecordError` naming ``kind.field``;
:func:`field_hints` gives the resolved types to the JSON writer and reader and to the
docs test.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

_PEER = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):\d{1,5}\Z")


class RecordError(ValueError):
    """A record built with a value its kind does not allow; the message names both."""


# --- self-checking: one compiled checker per field, from the type hints -----------------

Checker = Callable[[str, Any], Any]


def _kind_of(value: object) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


def _compile(hint: Any, choices: Mapping[str, Any]) -> Checker:
    """A function that checks (and, for lists and ints, normalises) one field's value;
    ``choices`` is the field's metadata (``choices`` and ``what`` for names)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        inner = _compile(next(a for a in get_args(hint) if a is not type(None)), choices)
        return lambda where, value: None if value is None else inner(where, value)
    if origin is Literal:
        allowed = get_args(hint)

        def literal(where: str, value: Any) -> Any:
            if value not in allowed or not isinstance(value, str):
                raise RecordError(f"{where}: {_kind_of(value)} is not one of "
                                  f"{', '.join(allowed)}")
            return value
        return literal
    if origin is tuple:
        item = _compile(get_args(hint)[0], choices)

        def sequence(where: str, value: Any) -> Any:
            if isinstance(value, str) or not isinstance(value, tuple | list):
                raise RecordError(f"{where}: expected a sequence, got {_kind_of(value)}")
            return tuple(item(f"{where}[{i}]", v) for i, v in enumerate(value))
        return sequence
    if hint is str:
        names = choices.get("choices")

        def text(where: str, value: Any) -> Any:
            if not isinstance(value, str):
                raise RecordError(f"{where}: expected a string, got {_kind_of(value)}")
            if names is not None and value not in names:
                raise RecordError(f"{where}: {value!r} is not {choices['what']}")
            return value
        return text
    if hint is bool:
        def boolean(where: str, value: Any) -> Any:
            if type(value) is not bool:
                raise RecordError(f"{where}: expected true or false, got {_kind_of(value)}")
            return value
        return boolean
    if hint is int:
        def integer(where: str, value: Any) -> Any:
            if type(value) is not int:
                raise RecordError(f"{where}: expected an integer, got {_kind_of(value)}")
            return value
        return integer
    if hint is float:
        def number(where: str, value: Any) -> Any:
            if type(value) not in (int, float) or not math.isfinite(value):
                raise RecordError(f"{where}: expected a finite number, got {_kind_of(value)}")
            return float(value)
        return number
    if hint is datetime:
        def moment(where: str, value: Any) -> Any:
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise RecordError(f"{where}: expected a timezone-aware datetime, got "
                                  f"{_kind_of(value)}")
            return value
        return moment
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        def nested(where: str, value: Any) -> Any:
            if not isinstance(value, hint):
                raise RecordError(f"{where}: expected {hint.__name__}, got {_kind_of(value)}")
            return value
        return nested
    raise TypeError(f"no checker for type {hint!r}")  # pragma: no cover - a schema bug


_HINTS: dict[type, Mapping[str, Any]] = {}
#: Per class, one generated function that checks every field (see _validator).
_VALIDATORS: dict[type, Callable[[Any, str], None]] = {}


def field_hints(cls: type) -> Mapping[str, Any]:
    """Each dataclass field of ``cls`` and its resolved type (JSON and docs use it too)."""
    hints = _HINTS.get(cls)
    if hints is None:
        resolved = get_type_hints(cls)
        hints = _HINTS[cls] = {f.name: resolved[f.name] for f in dataclasses.fields(cls)}
    return hints


def _good(hint: Any, metadata: Mapping[str, Any], v: str, names: dict[str, Any]) -> str:
    """A Python expression, true when ``v`` is plainly a good value for ``hint`` (the
    common case, checked inline); anything else goes to the field's full checker, which
    normalises (lists, ints for floats) or raises with the message."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        inner = next(a for a in get_args(hint) if a is not type(None))
        return f"({v} is None or {_good(inner, metadata, v, names)})"
    if origin is Literal:
        names[f"L{len(names)}"] = frozenset(get_args(hint))
        return f"(type({v}) is str and {v} in L{len(names) - 1})"
    if origin is tuple:
        item = _good(get_args(hint)[0], metadata, "x", names)
        return f"(type({v}) is tuple and all({item} for x in {v}))"
    if hint is str and metadata.get("choices"):
        names[f"L{len(names)}"] = frozenset(metadata["choices"])
        return f"(type({v}) is str and {v} in L{len(names) - 1})"
    if hint is float:
        return f"(type({v}) is float and {v} - {v} == 0.0)"  # finite: inf - inf is nan
    if hint is datetime:
        return f"(type({v}) is datetime and {v}.tzinfo is not None)"
    names[f"T{len(names)}"] = hint
    return f"(type({v}) is T{len(names) - 1})"


def _validator(cls: type) -> Callable[[Any, str], None]:
    """``check(record, label)`` for ``cls``, generated once from its type hints (a
    record is built per SIP message, so its check runs inline, like dataclasses' own
    generated ``__init__``)."""
    check = _VALIDATORS.get(cls)
    if check is not None:
        return check
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    names: dict[str, Any] = {"datetime": datetime, "slow": _slow}
    lines = ["def check(self, label):"]
    for name, hint in field_hints(cls).items():
        names[f"C_{name}"] = _compile(hint, by_name[name].metadata)
        good = _good(hint, by_name[name].metadata, "v", names)
        lines += [f"    v = self.{name}",
                  f"    if not {good}: slow(self, label, {name!r}, v, C_{name})"]
    lines.append("    return None")
    exec("\n".join(lines), names)  # noqa: S102 - the text is built above from type hints
    generated: Callable[[Any, str], None] = names["check"]
    _VALIDATORS[cls] = generated
    return generated


def _slow(value: Any, label: str, name: str, current: Any, check: Checker) -> None:
    checked = check(f"{label}.{name}", current)
    if checked is not current:
        object.__setattr__(value, name, checked)


def validate(value: Any, label: str) -> None:
    """Check (and normalise) every field of ``value``, a record or value type."""
    _validator(type(value))(value, label)


#: Addresses already found well-formed (a connection's records all repeat its peer).
_GOOD_PEERS: set[str] = set()
_GOOD_PEERS_KEPT = 4096


def check_peer(where: str, peer: str) -> None:
    """``peer`` is ``HOST:PORT`` (``[IPv6]:PORT``) with a port in 1-65535."""
    if peer in _GOOD_PEERS:
        return
    if not _PEER.match(peer) or not 0 < int(peer.rpartition(":")[2]) < 65536:
        raise RecordError(f"{where}: {peer!r} is not HOST:PORT ([IPv6]:PORT)")
    if len(_GOOD_PEERS) >= _GOOD_PEERS_KEPT:
        _GOOD_PEERS.clear()
    _GOOD_PEERS.add(peer)


def check_range(where: str, value: int | None, low: int, high: int) -> None:
    """``value`` (unless ``None``) is in ``low``-``high``."""
    if value is not None and not low <= value <= high:
        raise RecordError(f"{where}: {value} is not in {low}-{high}")
