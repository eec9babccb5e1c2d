"""docs/scenario-format.md stays true: every key the loader accepts, in each table, is
documented with its type; nothing is documented that the loader refuses; the allowed
values and ranges written are the ones the loader enforces; every TOML example loads, and
every documented error is the loader's own line.

The truth comes from the loader itself: its key sets (``_SCENARIO_KEYS``, ``_TLS_KEYS``...),
its type checks, and what it answers when given a wrong type, an unknown name or a value
just outside a range. So a key, a name or a limit added to the code fails here until the
page says it."""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from pathlib import Path
from types import UnionType

import pytest

from fakepeer import vocabulary
from fakepeer.errors import ScenarioError
from fakepeer.scenario import load, model
from fakepeer.scenario.load import load_scenario, scenario_from_mapping
from fakepeer.scenario.toml_file import MAX_TOML_BYTES
from fakepeer.scenario.validate import ScenarioValueError

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "scenario-format.md").read_text(
    encoding="utf-8")

TOP, TLS, SIP, EXPECT, LEAF, NAMES, PHASES = (
    "Top-level keys", "`[tls]`", "`[sip]`", "`[expect]`", "`[leaf]`",
    '`[names."<dns name>"]`', "`[[phases]]`")
#: The DNS name the probes put a ``[names."..."]`` table under.
PROBE_NAME = "sip.lab.example"

#: The type word of each loader type check.
CONVERTER_WORDS = {load._string: "string", load._integer: "integer", load._number: "number",
                   load._boolean: "boolean", load._string_array: "array of strings",
                   load._expectation: "string or table"}


def hint_word(hint: object) -> str:
    """The type word of a Scenario or Phase field, as the loader reads its key."""
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint is model.Expectation:
        return "string or table"  # the short form or an [expect] table
    if hint in (model.TlsSpec, model.SipSpec, model.LeafSpec):
        return "table"
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        return {str: "array of strings", model.NameOverride: "table",  # keyed by DNS name
                model.Phase: "array of tables"}[item]
    return {str: "string", int: "integer", float: "number", bool: "boolean"}[hint]


def field_words(cls: type, keys: tuple[str, ...]) -> dict[str, str]:
    hints = typing.get_type_hints(cls)
    return {key: hint_word(hints["expectation" if key == "expect" else key]) for key in keys}


def converter_words(keys: Mapping[str, object]) -> dict[str, str]:
    return {key: CONVERTER_WORDS[converter] for key, converter in keys.items()}


#: Each documented table: the keys the loader accepts there, with their type words.
LOADER_KEYS = {
    TOP: field_words(model.Scenario, load._SCENARIO_KEYS),
    TLS: converter_words(load._TLS_KEYS),
    SIP: converter_words(load._SIP_KEYS),
    EXPECT: converter_words(load._EXPECT_KEYS),
    LEAF: converter_words(load._LEAF_KEYS),
    NAMES: converter_words(load._NAME_KEYS),
    PHASES: field_words(model.Phase, load._PHASE_KEYS),
}


def sections(text: str) -> dict[str, str]:
    """``## heading`` -> the text up to the next heading."""
    parts = re.split(r"^#{2,3} (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def table(text: str) -> dict[str, list[str]]:
    """The first table in ``text``: first cell (unquoted) -> the other cells."""
    rows: dict[str, list[str]] = {}
    lines = [line for line in text.splitlines() if line.startswith("|")]
    for line in lines[2:]:  # after the header and the |---| line
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


SECTIONS = sections(PAGE)
DOCUMENTED = {heading: table(SECTIONS[heading]) for heading in LOADER_KEYS}
ALL_KEYS = [(heading, key) for heading, keys in LOADER_KEYS.items() for key in keys]


def cell(heading: str, key: str, column: str) -> str:
    assert key in DOCUMENTED[heading], f"docs/scenario-format.md {heading}: no row for {key}"
    columns = {"type": 0, "default": 1, "allowed": 2, "meaning": 3}
    return DOCUMENTED[heading][key][columns[column]]


def allowed_head(heading: str, key: str) -> str:
    """The allowed cell up to its first ``;`` (after it come conditions, not values)."""
    return cell(heading, key, "allowed").split(";", 1)[0]


def backticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


# --- probing the loader ------------------------------------------------------------------

#: What a key needs beside it to be checked at all (alert and by belong to a reject...).
CONTEXT = {(EXPECT, "alert"): {"reaction": "reject"}, (EXPECT, "by"): {"reaction": "reject"},
           (EXPECT, "sip_status"): {"reaction": "mark-down"}}


def document(heading: str, key: str, value: object,
             beside: Mapping[str, object] | None = None) -> dict[str, object]:
    """A scenario document with ``key = value`` in ``heading``'s table."""
    table_ = {**CONTEXT.get((heading, key), {}), **(beside or {}), key: value}
    if heading == TOP:
        return table_
    if heading == NAMES:
        return {"names": {PROBE_NAME: table_}}
    if heading == PHASES:
        return {"phases": [table_]}
    return {heading.strip("`[]"): table_}


def key_path(heading: str, key: str) -> str:
    """The key as the loader names it in an error."""
    return {TOP: key, NAMES: f'names."{PROBE_NAME}".{key}',
            PHASES: f"phases[0].{key}"}.get(heading, f"{heading.strip('`[]')}.{key}")


def refusal(heading: str, key: str, value: object,
            beside: Mapping[str, object] | None = None) -> ScenarioValueError | None:
    """The loader's error for ``key = value`` (None: it loads)."""
    try:
        scenario_from_mapping(document(heading, key, value, beside), name="probe")
    except ScenarioValueError as exc:
        return exc
    return None


#: A value of another type for each type word, and what the loader then says.
WRONG_TYPE = {
    "string": (5, "expected a string"), "integer": ("5", "expected an integer"),
    "number": ("5", "expected a number"), "boolean": ("yes", "expected true or false"),
    "array of strings": ("a", "expected an array of strings"),
    "table": ("a", "expected a table"), "array of tables": ("a", "expected an array of tables"),
    "string or table": (5, "expected a table"),
}

UNKNOWN_NAME = "zz-no-such-name"
CHOICE_LIST = re.compile(r"(?:is not one of|known:) (?P<values>[^;]+)$")


def choices(heading: str, key: str, beside: Mapping[str, object] | None = None
            ) -> list[str] | None:
    """The names the loader allows for ``key`` (from its refusal of an unknown one), or
    None when the key is not a choice among names."""
    value: object = UNKNOWN_NAME
    if LOADER_KEYS[heading][key] == "array of strings":
        value = [UNKNOWN_NAME]
    elif LOADER_KEYS[heading][key] != "string":
        return None
    exc = refusal(heading, key, value, beside)
    if exc is None:
        return None
    match = CHOICE_LIST.search(re.sub(r" \(did you mean [^)]*\)", "", exc.problem))
    return match["values"].split(", ") if match else None


# --- the keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("heading", list(LOADER_KEYS))
def test_each_table_documents_exactly_the_loader_s_keys(heading):
    """Every key the loader accepts in this table has a row, and every row is one."""
    assert heading in SECTIONS, f"docs/scenario-format.md has no section {heading}"
    documented, accepted = list(DOCUMENTED[heading]), list(LOADER_KEYS[heading])
    assert set(documented) - set(accepted) == set(), f"{heading}: documented, not accepted"
    assert set(accepted) - set(documented) == set(), f"{heading}: accepted, not documented"
    assert documented == accepted, f"{heading}: write the keys in the loader's order"


@pytest.mark.parametrize(("heading", "key"), ALL_KEYS, ids=[f"{h}.{k}" for h, k in ALL_KEYS])
def test_each_key_has_the_loader_s_type_and_says_what_it_does(heading, key):
    """The type word is the loader's; a value of another type is refused under this key
    (so the row names a key the loader really reads there); every cell is filled."""
    written = cell(heading, key, "type")
    assert written == LOADER_KEYS[heading][key], f"{heading} {key}: {written}"
    assert all(DOCUMENTED[heading][key]), f"{heading} {key}: an empty cell"
    value, phrase = WRONG_TYPE[written]
    exc = refusal(heading, key, value)
    assert exc is not None, f"{heading} {key} = {value!r} was accepted"
    assert exc.key == key_path(heading, key), exc
    assert exc.problem.startswith(phrase), exc


@pytest.mark.parametrize(("heading", "key"), ALL_KEYS, ids=[f"{h}.{k}" for h, k in ALL_KEYS])
def test_allowed_names_are_the_code_s(heading, key):
    """A key the loader checks against a list of names lists exactly those names (before
    the first ``;`` of its allowed cell), or points at the section that does; a key that
    takes any text lists no names as if they were the only ones."""
    allowed = choices(heading, key)
    head = allowed_head(heading, key)
    if allowed is None:
        if LOADER_KEYS[heading][key] in ("string", "array of strings"):
            assert "(see [" not in head, f"{heading} {key}: a list for a free value"
        return
    reference = re.search(r"\(see \[([^\]]+)\]", head)
    if reference is None:
        assert backticked(head) == allowed, f"{heading} {key}"
    elif reference[1] == "Eras and chain paths":
        assert key == "path"
        for era in vocabulary.ERAS:
            paths = choices(heading, key, {"era": era})
            written = [p.strip("` ") for p in ERAS_TABLE[era][1].split(",")]
            assert written == paths, f"{heading} {key} for era {era}"
    elif reference[1] == "Defects":
        assert list(DEFECTS_TABLE) == allowed
    elif reference[1] == "Alert names":
        assert list(ALERTS) == allowed
    else:
        pytest.fail(f"{heading} {key}: a reference to {reference[1]!r}, which this test "
                    "cannot check")


def test_the_probe_finds_the_code_s_vocabularies():
    """The names the loader's refusals list are the vocabularies' own (a sample), and a
    key that takes any text is not taken for a choice."""
    found = {(h, k): choices(h, k) for h, k in ALL_KEYS}
    assert found[(TLS, "client_certificate")] == list(vocabulary.CLIENT_CERTIFICATE_MODES)
    assert found[(TLS, "ca_list")] == list(vocabulary.CA_LISTS)
    assert found[(TLS, "min_version")] == list(vocabulary.TLS_VERSIONS)
    assert found[(TOP, "era")] == list(vocabulary.ERAS)
    assert found[(TOP, "profile")] == list(vocabulary.PROFILE_NAMES)
    assert found[(TOP, "defects")] == list(vocabulary.DEFECT_NAMES)
    assert found[(EXPECT, "alert")] == list(vocabulary.ALERT_NAMES.values())
    assert found[(TOP, "name")] is None and found[(TLS, "ciphers")] is None


# --- ranges and defaults -----------------------------------------------------------------

RANGE = re.compile(r"(?<![\w.])(\d+)-(\d+)(?![\w.])")
ABOVE = re.compile(r"more than (\d+)")
LENGTH = re.compile(r"at most (\d+) characters")
NUMERIC = [(h, k) for h, k in ALL_KEYS if LOADER_KEYS[h][k] in ("integer", "number")]


@pytest.mark.parametrize(("heading", "key"), NUMERIC, ids=[f"{h}.{k}" for h, k in NUMERIC])
def test_every_range_is_the_loader_s(heading, key):
    """``LOW-HIGH``: both ends load, one past either end is refused under this key.
    ``more than N``: N is refused, a little more loads."""
    head = allowed_head(heading, key)
    span, above = RANGE.search(head), ABOVE.search(head)
    assert span or above, f"{heading} {key}: no range written ({head!r})"
    if span:
        low, high = int(span[1]), int(span[2])
        for inside in (low, high):
            assert refusal(heading, key, inside) is None, f"{heading} {key} = {inside}"
        for outside in (low - 1, high + 1):
            exc = refusal(heading, key, outside)
            assert exc is not None and exc.key == key_path(heading, key), \
                f"{heading} {key} = {outside} was not refused"
    else:
        floor = int(above[1])
        exc = refusal(heading, key, floor)
        assert exc is not None and exc.key == key_path(heading, key)
        assert refusal(heading, key, floor + 0.5) is None


LIMITED = [(h, k) for h, k in ALL_KEYS
           if k in DOCUMENTED[h] and LENGTH.search(cell(h, k, "allowed"))]


@pytest.mark.parametrize(("heading", "key"), LIMITED, ids=[f"{h}.{k}" for h, k in LIMITED])
def test_every_length_limit_is_the_loader_s(heading, key):
    """``at most N characters``: N load, N + 1 are refused."""
    limit = int(LENGTH.search(cell(heading, key, "allowed"))[1])
    assert refusal(heading, key, "x" * limit) is None
    exc = refusal(heading, key, "x" * (limit + 1))
    assert exc is not None and exc.key == key_path(heading, key)


def test_the_purpose_limit_is_documented():
    """``expect.purpose`` (the line ``scenarios list`` shows) and the phase name."""
    assert (EXPECT, "purpose") in LIMITED and (PHASES, "name") in LIMITED
    assert f"at most {model.MAX_PURPOSE_LENGTH} characters" in cell(EXPECT, "purpose", "allowed")


def written_default(value: object) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if value == ():
        return "`[]`"
    return f"`{value}`"


def test_the_defaults_are_what_an_empty_file_gets():
    """Each default written as a value is the one an empty scenario file is given."""
    empty = scenario_from_mapping({}, name="empty")
    owners = {TOP: empty, TLS: empty.tls, SIP: empty.sip, EXPECT: empty.expectation}
    checked = 0
    for heading, owner in owners.items():
        for key, word in LOADER_KEYS[heading].items():
            if word in ("table", "array of tables", "string or table") or key == "name":
                continue
            value = getattr(owner, key)
            default = cell(heading, key, "default")
            if value is None:
                continue
            if value == "":
                assert default.startswith("empty"), f"{heading} {key}: {default}"
            else:
                assert written_default(value) in default, f"{heading} {key}: {default}"
            checked += 1
    assert checked >= 12


# --- the named lists ---------------------------------------------------------------------

ERAS_TABLE = table(SECTIONS["Eras and chain paths"])
DEFECTS_TABLE = table(SECTIONS["Defects"])
ALERTS = dict(re.findall(r"`(\w+)` \((\d+)\)", SECTIONS["Alert names"]))


def test_the_eras_table_is_the_vocabulary_s():
    assert list(ERAS_TABLE) == list(vocabulary.ERAS)
    for name, terms in vocabulary.ERAS.items():
        profile, paths = ERAS_TABLE[name]
        assert profile == f"`{terms.profile}`"
        assert [p.strip("` ") for p in paths.split(",")] == list(terms.paths)


def argument_text(defect: vocabulary.Defect) -> str:
    if not defect.takes_argument:
        return "none"
    need = "required" if defect.argument_required else "optional"
    return f"{defect.argument.upper()} ({need})"


def test_the_defects_table_is_the_vocabulary_s():
    """Every defect, its argument and its summary as the code has them; the two lists in
    the prose (shapes that exclude each other, what needs security level 0) too."""
    assert list(DEFECTS_TABLE) == list(vocabulary.DEFECT_NAMES)
    for name, (argument, summary) in DEFECTS_TABLE.items():
        defect = vocabulary.DEFECTS[name]
        assert (argument, summary) == (argument_text(defect), defect.summary), name
    prose = SECTIONS["Defects"].split("|", 1)[0]
    shapes = re.search(r"after the leaf \(([^)]*)\)", prose)
    assert shapes is not None
    assert backticked(shapes[1]) == [d.name for d in vocabulary.DEFECTS.values()
                                     if d.chooses_shape]
    level_0 = SECTIONS["Defects"].rsplit("|", 1)[1]
    assert set(backticked(level_0.split("security level 0")[0])) == {
        d.name for d in vocabulary.DEFECTS.values() if d.needs_security_level_0}


def test_the_alert_names_are_the_vocabulary_s():
    assert {int(code): name for name, code in ALERTS.items()} == dict(vocabulary.ALERT_NAMES)


# --- the examples ------------------------------------------------------------------------

FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def blocks(text: str) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in FENCE.finditer(text)]


def file_name(toml: str, default: str) -> str:
    first = toml.splitlines()[0]
    match = re.match(r"# ([\w.-]+\.toml)\b", first)
    return match[1] if match else default


OUTSIDE_ERRORS = [body for heading, text in SECTIONS.items() if heading != "Errors"
                  for kind, body in blocks(text) if kind == "toml"]
OUTSIDE_ERRORS += [body for kind, body in blocks(PAGE.split("\n## ", 1)[0]) if kind == "toml"]


@pytest.mark.parametrize("toml", OUTSIDE_ERRORS, ids=lambda t: t.splitlines()[0][:30])
def test_every_example_loads(toml, tmp_path):
    """Each TOML example of the page (outside Errors) is a file the real loader accepts."""
    path = tmp_path / file_name(toml, "example.toml")
    path.write_text(toml, encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.name == path.stem


def test_the_complete_example_uses_every_table(tmp_path):
    """The example shows each table of the format (top level, [tls], [sip], [expect],
    [leaf], a per-name table and phases, one with its own sip table and short expect)."""
    toml = next(body for kind, body in blocks(SECTIONS["A complete example"])
                if kind == "toml")
    path = tmp_path / file_name(toml, "example.toml")
    path.write_text(toml, encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.tls != model.TlsSpec() and scenario.sip != model.SipSpec()
    assert scenario.leaf.changes_anything and scenario.names
    assert scenario.expectation.purpose and len(scenario.phases) >= 2
    last = scenario.phases[-1]
    assert last.sip is not None and last.sip.dialback == scenario.sip.dialback  # merged
    assert last.expectation is not None and last.expectation.code.startswith("reject:")


ERROR_PAIRS = list(zip(*[iter(blocks(SECTIONS["Errors"]))] * 2, strict=True))


@pytest.mark.parametrize(("source", "message"), ERROR_PAIRS,
                         ids=[file_name(s[1], "?") for s, _ in ERROR_PAIRS])
def test_every_documented_error_is_the_loader_s(source, message, tmp_path, monkeypatch):
    """Each bad file of the Errors section is refused with exactly the line shown."""
    (kind, toml), (message_kind, text) = source, message
    assert (kind, message_kind) == ("toml", "text")
    name = file_name(toml, "")
    assert name, "each bad example starts with a '# NAME.toml' comment"
    (tmp_path / name).write_text(toml, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(Path(name))
    assert str(caught.value) == text.strip()


def test_the_shipped_scenarios_are_where_the_page_says():
    """``scenarios/*.toml`` beside the package, as the page says."""
    assert load.shipped_scenarios_dir().name == "scenarios"
    assert "`scenarios/`" in PAGE and "`fakepeer scenarios list`" in PAGE
    assert "`fakepeer scenarios show NAME`" in PAGE
    assert f"`{vocabulary.DEFAULT_ERA}`" in cell(TOP, "era", "default")


def test_a_profile_alone_chooses_its_era_and_an_era_its_profile():
    """As the era row says. Before: `profile = "genesys"` alone served microsoft-2026 (a
    Genesys peer with Microsoft's chain), while `serve --profile genesys` served genesys."""
    assert scenario_from_mapping({"profile": "genesys"}, name="x").era == "genesys"
    assert scenario_from_mapping({"profile": "microsoft"}, name="x").era == vocabulary.DEFAULT_ERA
    assert scenario_from_mapping({"era": "genesys"}, name="x").profile == "genesys"
    assert '`profile = "genesys"` alone is enough' in cell(TOP, "era", "meaning")


def test_the_file_size_limit_is_the_reader_s():
    """The Errors section's size limit is ``toml_file.MAX_TOML_BYTES``."""
    assert MAX_TOML_BYTES % (1024 * 1024) == 0
    assert f"larger than {MAX_TOML_BYTES // (1024 * 1024)} MiB" in SECTIONS["Errors"]
