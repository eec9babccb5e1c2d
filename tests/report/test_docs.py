"""docs/events.md and docs/verdicts.md stay true: every kind and field documented with
its type, nothing documented that does not exist, and the outcome set as the code has it."""

from __future__ import annotations

import dataclasses
import re
import typing
from datetime import datetime
from pathlib import Path

import pytest

from fakepeer.report import events as ev
from fakepeer.report.judging import SEVERITY
from fakepeer.report.legacy import TYPED_KINDS
from fakepeer.report.sessions import (
    DEFAULT_JUDGEMENT_WINDOW,
    HEALTHCHECK_FQDN,
    HEALTHCHECK_USER_AGENT,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
EVENTS = (DOCS / "events.md").read_text(encoding="utf-8")
VERDICTS = (DOCS / "verdicts.md").read_text(encoding="utf-8")

#: The named vocabularies (Literal aliases) of events.py, by their values.
ALIASES = {typing.get_args(value): name for name, value in vars(ev).items()
           if typing.get_origin(value) is typing.Literal}


def type_text(hint: object) -> str:
    """A field's type as the page writes it."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, __import__("types").UnionType):
        inner = next(a for a in args if a is not type(None))
        return f"{type_text(inner)} or null"
    if origin is typing.Literal:
        return ALIASES[args]
    if origin is tuple:
        return f"list of {type_text(args[0])}"
    names = {str: "string", int: "integer", float: "number", bool: "boolean", datetime: "time"}
    if hint in names:
        return names[hint]
    return hint.__name__  # a value type


def sections(text: str) -> dict[str, str]:
    """``### heading`` -> the text up to the next heading."""
    parts = re.split(r"^#{2,3} (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def table(text: str) -> dict[str, list[str]]:
    """The rows of the first field table in ``text``: first cell (unquoted) -> the rest."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.startswith("|"):
            if rows:
                break  # the end of the first table
            continue
        if line.startswith(("| field", "| name", "| 0.1", "|---")):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def own_fields(cls: type) -> list[str]:
    inherited = ev.ConnectionFact if issubclass(cls, ev.ConnectionFact) else ev.Record
    base = {f.name for f in dataclasses.fields(inherited)} if cls is not inherited else set()
    return [f.name for f in dataclasses.fields(cls) if f.name not in base]


SECTIONS = sections(EVENTS)


def documented(heading: str, cls: type) -> None:
    assert heading in SECTIONS, f"docs/events.md has no section {heading}"
    rows = table(SECTIONS[heading])
    hints = ev.field_hints(cls)
    fields = own_fields(cls) if issubclass(cls, ev.Record) else list(hints)
    assert list(rows) == fields, f"{heading}: documented {list(rows)}, the code has {fields}"
    for name in fields:
        written = rows[name][0]
        assert written == type_text(hints[name]), f"{heading}.{name}: {written}"
        assert rows[name][1], f"{heading}.{name} has no meaning written"


@pytest.mark.parametrize("cls", ev.RECORD_TYPES, ids=lambda cls: cls.kind)
def test_every_kind_and_field_is_documented(cls):
    """Each kind has a section with exactly its own fields, typed as the code types them."""
    documented(f"`{cls.kind}`", cls)


@pytest.mark.parametrize("cls", ev.VALUE_TYPES, ids=lambda cls: cls.__name__)
def test_every_value_type_is_documented(cls):
    """Served, Certificate, Identity and Expectation: every field, typed."""
    documented(cls.__name__, cls)


def test_nothing_is_documented_that_does_not_exist():
    """Every kind section names a kind the code has."""
    kinds = {h.strip("`") for h in SECTIONS if h.startswith("`")}
    assert kinds == set(ev.KIND_TYPES)


def test_the_common_fields_are_documented():
    """time on every record; connection and peer on every connection fact."""
    rows = table(SECTIONS["Common fields"])
    assert list(rows) == ["time"]
    rest = SECTIONS["Common fields"].split("also\nhas:")[1]
    assert list(table(rest)) == ["connection", "peer"]
    assert [f.name for f in dataclasses.fields(ev.ConnectionFact)] == ["time", "connection",
                                                                       "peer"]


def test_the_vocabularies_are_the_code_s():
    """Each named vocabulary lists exactly its values."""
    rows = table(SECTIONS["Vocabularies"])
    assert set(rows) == set(ALIASES.values())
    for values, name in ALIASES.items():
        written = [v.strip("` ") for v in rows[name][0].split(",")]
        assert written == list(values), name


def test_the_old_kinds_table_is_the_code_s():
    """The 0.1 -> format 2 table is legacy.TYPED_KINDS."""
    rows = table(SECTIONS["From the untyped events (fakepeer 0.1)"])
    assert {k: tuple(v.strip("`") for v in cells[0].split(", "))
            for k, cells in rows.items()} == TYPED_KINDS


def test_the_verdict_page_has_the_outcome_set_and_the_rules_numbers():
    """docs/verdicts.md lists the code's outcomes, its ranking, window and healthcheck marks."""
    outcomes = table(sections(VERDICTS)["The outcomes"].replace("| outcome |", "| field |"))
    assert list(outcomes) == ["PASS", "FAIL", "OTHER-REASON", "INCOMPLETE", "CHECK"]
    assert set(typing.get_args(ev.Outcome)) == set(SEVERITY)
    assert " > ".join(f"`{o}`" for o in SEVERITY) in VERDICTS
    assert f"default {DEFAULT_JUDGEMENT_WINDOW:g} s" in VERDICTS
    assert f"`{HEALTHCHECK_USER_AGENT}`" in VERDICTS and f"`{HEALTHCHECK_FQDN}`" in VERDICTS
