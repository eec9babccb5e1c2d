"""Hypothesis strategies for every record kind, read from the records' own type hints
(so a new field is generated without touching this file)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, timedelta, timezone
from typing import Any, Literal, Union, get_args, get_origin

from hypothesis import strategies as st

from fakepeer.report.events import field_hints
from fakepeer.scenario.model import Expectation

#: Short strings with what JSON must escape or keep: quotes, backslashes, non-ASCII, bidi.
TEXT = st.text(alphabet="az09:@. -\"\\\u00e9\u20ac\u202e\n", max_size=8)
EXPECTATIONS = st.sampled_from([
    Expectation("accept", reason="A correct SBC accepts.\nSecond line.", setup="Set it up."),
    Expectation("reject", alert="unknown_ca"), Expectation("reject", by="fakepeer"),
    Expectation("reject", alert="protocol_version", by="either"),
    Expectation("mark-down", sip_status=503, purpose="A one-line purpose."),
])
CODES = st.sampled_from(["accept", "reject", "reject:unknown_ca", "mark-down",
                         "mark-down:408"])
#: Values the rules beyond the types allow, by field name.
BY_NAME: dict[str, st.SearchStrategy[Any]] = {
    "peer": st.sampled_from(["192.0.2.20:40000", "[2001:db8::5]:5061", "sbc.example:1"]),
    "connection": st.integers(1, 10**6),
    "status": st.integers(100, 699),
    "status_hint": st.integers(400, 699),
    "count": st.integers(1, 10**6),
    "cseq": st.none() | st.integers(0, 2**31 - 1),
    "contact_port": st.none() | st.integers(1, 65535),
    "local_port": st.integers(1, 65535),
    "phase_count": st.integers(1, 5),
    "phase_index": st.integers(0, 0),
    "expectation": CODES,
    "by": st.just("sbc"),
}


def for_hint(hint: Any, metadata: Any) -> st.SearchStrategy[Any]:
    origin = get_origin(hint)
    if origin is Union or (origin is not None and type(None) in get_args(hint)):
        inner = next(a for a in get_args(hint) if a is not type(None))
        return st.none() | for_hint(inner, metadata)
    if origin is Literal:
        return st.sampled_from(get_args(hint))
    if origin is tuple:
        return st.lists(for_hint(get_args(hint)[0], metadata), max_size=3).map(tuple)
    choices = metadata.get("choices")
    if hint is str:
        return st.sampled_from(choices) if choices else TEXT
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(0, 10**6)
    if hint is float:
        return st.floats(0, 1e6, allow_nan=False)
    if hint.__name__ == "datetime":
        zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5))])
        return st.datetimes(timezones=zones)
    if hint is Expectation:
        return EXPECTATIONS
    if dataclasses.is_dataclass(hint):
        return arguments(hint).map(lambda kwargs: hint(**kwargs))
    raise TypeError(hint)  # pragma: no cover


def arguments(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for ``cls`` (a record or value type); combinations a record's
    own rules refuse are for the caller to reject."""
    hints = field_hints(cls)
    strategies = {}
    for spec in dataclasses.fields(cls):
        if spec.name == "expectation" and hints[spec.name] is Expectation:
            strategies[spec.name] = EXPECTATIONS
        elif spec.name in BY_NAME:
            strategies[spec.name] = BY_NAME[spec.name]
        else:
            strategies[spec.name] = for_hint(hints[spec.name], spec.metadata)
    return st.fixed_dictionaries(strategies).map(_consistent)


def _consistent(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Make the drawn fields agree where a record's rules tie them together (a status
    exactly when answered, problems exactly when refused...), so few draws are wasted."""
    if "fate" in kwargs and "status" in kwargs:
        kwargs["status"] = kwargs["status"] if kwargs["fate"] == "answered" else None
    if "final" in kwargs and "status" in kwargs:
        kwargs["final"] = kwargs["status"] >= 200
    if "accepted" in kwargs and "problems" in kwargs:
        kwargs["problems"] = () if kwargs["accepted"] else kwargs["problems"] or ("refused",)
    if "outbound_connection" in kwargs:
        kwargs["problem"] = "" if kwargs["outbound_connection"] is not None else (
            kwargs["problem"] or "cannot resolve it")
    if kwargs.get("direction") == "inbound" and kwargs.get("served", 1) is None:
        kwargs["direction"] = "outbound"
    return kwargs


def _builds(cls: type, kwargs: dict[str, Any]) -> bool:
    try:
        cls(**kwargs)
    except ValueError:
        return False
    return True


def records(cls: type) -> st.SearchStrategy[Any]:
    """Valid instances of ``cls`` (argument sets its own rules refuse are filtered out)."""
    return arguments(cls).filter(lambda kwargs: _builds(cls, kwargs)).map(
        lambda kwargs: cls(**kwargs))
