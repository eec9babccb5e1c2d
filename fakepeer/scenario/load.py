"""Read scenario files (``scenarios/*.toml`` and user folders), strictly.

This is the only code that reads scenario files. An unknown key, a value of the wrong type
or an unknown name is a :class:`~fakepeer.errors.ScenarioError` that names the file, the
key path and what is allowed::

    expired-leaf.toml: tls.client_certificate: 'maybe' is not one of required, optional, off

The file format, key by key (every key is optional; see ``scenarios/*.toml``)::

    name, description, profile, era, path, defects = [...]
    [tls]     min_version, max_version, ciphers = [...], groups = [...],
              client_certificate, ca_list, tolerate_missing_client_auth,
              insecure_security_level
    [sip]     options_status, invite_status, tenant_domains = [...], dialback,
              options_delay, options_action
    [expect]  reaction, alert, by, sip_status, reason, purpose, setup
              (or the short form: expect = "reject:unknown_ca")
    [names."sip2.pstnhub.microsoft.com"]  era, path, defects, expect (as above: what a
              correct SBC does against this name)
    [[phases]]  name, description, duration | until_connections, era, path, defects,
                tls = {...}, sip = {...}, names = {...}, expect

A phase's ``tls`` and ``sip`` tables are merged over the scenario's, so a phase writes only
what changes. ``profile`` defaults to the era's; ``name`` to the file's stem.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

from fakepeer import vocabulary
from fakepeer.errors import ScenarioError
from fakepeer.scenario.model import (
    Expectation,
    LeafSpec,
    NameOverride,
    Phase,
    Scenario,
    SipSpec,
    TlsSpec,
)
from fakepeer.scenario.toml_file import load_toml, parse_toml
from fakepeer.scenario.validate import ScenarioValueError, join_key, key_part, kind_of, one_of

#: The scenario ``fakepeer serve`` serves when given no options.
DEFAULT_SCENARIO = "baseline-microsoft-2026"
#: Where an installed wheel keeps the shipped files (pyproject's force-include).
INSTALLED_DIR_NAME = "_scenarios"
SUFFIX = ".toml"

Converter = Callable[[object, str], object]
T = TypeVar("T")


# --- type checks for TOML values -------------------------------------------------------


def _string(value: object, key: str) -> object:
    if not isinstance(value, str):
        raise ScenarioValueError(key, f"expected a string, got {kind_of(value)}")
    return value


def _integer(value: object, key: str) -> object:
    if type(value) is not int:
        raise ScenarioValueError(key, f"expected an integer, got {kind_of(value)}")
    return value


def _number(value: object, key: str) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioValueError(key, f"expected a number, got {kind_of(value)}")
    return value


def _boolean(value: object, key: str) -> object:
    if type(value) is not bool:
        raise ScenarioValueError(key, f"expected true or false, got {kind_of(value)}")
    return value


def _string_array(value: object, key: str) -> object:
    if not isinstance(value, list):
        raise ScenarioValueError(key, f"expected an array of strings, got {kind_of(value)}")
    for index, item in enumerate(value):
        _string(item, f"{key}[{index}]")
    return tuple(value)


def _table(value: object, key: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ScenarioValueError(key, f"expected a table, got {kind_of(value)}")
    return value


_BY_HINT: dict[object, Converter] = {
    str: _string, str | None: _string, int: _integer, int | None: _integer,
    float: _number, float | None: _number, bool: _boolean,
    tuple[str, ...]: _string_array, tuple[str, ...] | None: _string_array,
    # A Literal is checked against its values by the spec itself.
    vocabulary.ClientCertificateMode | None: _string,
}


def _scalar_keys(cls: type) -> dict[str, Converter]:
    """The TOML keys of a flat spec: its dataclass fields, each with its type check."""
    hints = typing.get_type_hints(cls)
    keys = {}
    for spec in fields(cls):
        try:
            keys[spec.name] = _BY_HINT[hints[spec.name]]
        except KeyError:
            raise TypeError(f"{cls.__name__}.{spec.name}: no TOML type for "
                            f"{hints[spec.name]}") from None
    return keys


_TLS_KEYS = _scalar_keys(TlsSpec)
_SIP_KEYS = _scalar_keys(SipSpec)
_EXPECT_KEYS = _scalar_keys(Expectation)
_LEAF_KEYS = _scalar_keys(LeafSpec)
_COMMON_KEYS = ("description", "era", "path", "defects", "tls", "sip", "names", "expect")
_SCENARIO_KEYS = ("name", "profile", *_COMMON_KEYS, "leaf", "phases")
_PHASE_KEYS = ("name", "duration", "until_connections", *_COMMON_KEYS)


def _check_keys(table: Mapping[str, object], allowed: Iterable[str], key: str) -> None:
    allowed = tuple(allowed)
    for name in table:
        if name not in allowed:
            raise ScenarioValueError(join_key(key, key_part(name)),
                                     f"unknown key; allowed keys: {one_of(allowed)}")


def _converted(table: Mapping[str, object], keys: Mapping[str, Converter],
               key: str) -> dict[str, object]:
    _check_keys(table, keys, key)
    return {name: keys[name](value, join_key(key, key_part(name)))
            for name, value in table.items()}


def _parent(key: str, section: str) -> str:
    """``phases[0]`` for ``phases[0].tls``; ``""`` for ``tls``."""
    return key[: -len(section)].rstrip(".")


def _build(cls: Callable[..., T], arguments: Mapping[str, object], key: str,
           section: str) -> T:
    """Construct a section's spec; its errors name keys from the section (``tls.x``) and
    are moved under the section's parent (``phases[0].tls.x``)."""
    try:
        return cls(**arguments)
    except ScenarioValueError as exc:
        raise exc.within(_parent(key, section)) from None


# --- sections ------------------------------------------------------------------------


def _expectation(value: object, key: str) -> Expectation:
    """``expect = "reject:unknown_ca"`` or an ``[expect]`` table."""
    if isinstance(value, str):
        try:
            return Expectation.parse(value, "expect")
        except ScenarioValueError as exc:
            raise exc.within(_parent(key, "expect")) from None
    table = _converted(_table(value, key), _EXPECT_KEYS, key)
    return _build(Expectation, table, key, "expect")


_NAME_KEYS: dict[str, Converter] = {"era": _string, "path": _string,
                                     "defects": _string_array, "expect": _expectation}


def _names(value: object, key: str) -> tuple[NameOverride, ...]:
    out = []
    for name, body in _table(value, key).items():
        where = join_key(key, key_part(name))
        arguments = _converted(_table(body, where), _NAME_KEYS, where)
        if "expect" in arguments:
            arguments["expectation"] = arguments.pop("expect")
        try:
            out.append(NameOverride(name, **arguments))  # type: ignore[arg-type]
        except ScenarioValueError as exc:
            inner = "" if exc.key == "name" else exc.key
            raise ScenarioValueError(join_key(where, inner), exc.problem) from None
    return tuple(out)


def _phase(value: object, index: int, base_tls: Mapping[str, object],
           base_sip: Mapping[str, object]) -> Phase:
    key = f"phases[{index}]"
    table = _table(value, key)
    _check_keys(table, _PHASE_KEYS, key)
    arguments: dict[str, object] = {}
    for name in ("name", "description", "era", "path"):
        if name in table:
            arguments[name] = _string(table[name], f"{key}.{name}")
    if "duration" in table:
        arguments["duration"] = _number(table["duration"], f"{key}.duration")
    if "until_connections" in table:
        arguments["until_connections"] = _integer(table["until_connections"],
                                                  f"{key}.until_connections")
    if "defects" in table:
        arguments["defects"] = _string_array(table["defects"], f"{key}.defects")
    if "tls" in table:
        own = _converted(_table(table["tls"], f"{key}.tls"), _TLS_KEYS, f"{key}.tls")
        arguments["tls"] = _build(TlsSpec, {**base_tls, **own}, f"{key}.tls", "tls")
    if "sip" in table:
        own = _converted(_table(table["sip"], f"{key}.sip"), _SIP_KEYS, f"{key}.sip")
        arguments["sip"] = _build(SipSpec, {**base_sip, **own}, f"{key}.sip", "sip")
    if "names" in table:
        arguments["names"] = _names(table["names"], f"{key}.names")
    if "expect" in table:
        arguments["expectation"] = _expectation(table["expect"], f"{key}.expect")
    try:
        return Phase(**arguments)  # type: ignore[arg-type]
    except ScenarioValueError as exc:
        raise exc.within(key) from None


def scenario_from_mapping(data: Mapping[str, object], *, name: str,
                          source: Path | None = None) -> Scenario:
    """Build a Scenario from a parsed TOML document; errors name the key (not the file)."""
    _check_keys(data, _SCENARIO_KEYS, "")
    arguments: dict[str, object] = {
        "name": _string(data.get("name", name), "name"), "source": source,
    }
    for key in ("description", "era", "path", "profile"):
        if key in data:
            arguments[key] = _string(data[key], key)
    if "profile" not in data:  # the era's own profile: genesys for the genesys era
        era = vocabulary.ERAS.get(str(arguments.get("era")))
        arguments["profile"] = era.profile if era is not None else vocabulary.DEFAULT_PROFILE
    elif "era" not in data:  # the profile's own era, as `serve --profile genesys` has it
        terms = vocabulary.PROFILES.get(str(arguments["profile"]))
        if terms is not None:
            arguments["era"] = terms.default_era
    if "defects" in data:
        arguments["defects"] = _string_array(data["defects"], "defects")
    base_tls = _converted(_table(data.get("tls", {}), "tls"), _TLS_KEYS, "tls")
    base_sip = _converted(_table(data.get("sip", {}), "sip"), _SIP_KEYS, "sip")
    arguments["tls"] = _build(TlsSpec, base_tls, "tls", "tls")
    arguments["sip"] = _build(SipSpec, base_sip, "sip", "sip")
    if "names" in data:
        arguments["names"] = _names(data["names"], "names")
    if "leaf" in data:
        leaf = _converted(_table(data["leaf"], "leaf"), _LEAF_KEYS, "leaf")
        arguments["leaf"] = _build(LeafSpec, leaf, "leaf", "leaf")
    if "expect" in data:
        arguments["expectation"] = _expectation(data["expect"], "expect")
    if "phases" in data:
        phases = data["phases"]
        if not isinstance(phases, list):
            raise ScenarioValueError("phases", f"expected an array of tables ([[phases]]), "
                                     f"got {kind_of(phases)}")
        arguments["phases"] = tuple(_phase(p, i, base_tls, base_sip)
                                    for i, p in enumerate(phases))
    return Scenario(**arguments)  # type: ignore[arg-type]


# --- files ---------------------------------------------------------------------------

def parse_scenario_text(text: str, path: Path) -> Scenario:
    """Parse one scenario file's text; ``path`` names it in errors and gives its name."""
    return _scenario_of(parse_toml(text, path).data, path)


def _scenario_of(data: Mapping[str, object], path: Path) -> Scenario:
    try:
        return scenario_from_mapping(data, name=path.stem, source=path)
    except ScenarioValueError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file."""
    return _scenario_of(load_toml(path).data, path)


def scenario_files(folder: Path) -> list[Path]:
    """The scenario files of one folder: ``*.toml``, not hidden, sorted, not recursive.

    Every such entry is listed, a folder or a FIFO named ``x.toml`` too, so that loading
    reports it instead of passing over it in silence.
    """
    try:
        entries = list(os.scandir(folder))
    except NotADirectoryError:
        raise ScenarioError(f"{folder}: is a file, not a scenario folder; give --scenarios "
                            "the folder that holds the .toml files") from None
    except FileNotFoundError:
        raise ScenarioError(f"{folder}: no such scenario folder") from None
    except OSError as exc:
        raise ScenarioError(f"{folder}: cannot list the scenario folder: "
                            f"{exc.strerror or exc}") from None
    return sorted(folder / e.name for e in entries
                  if e.name.endswith(SUFFIX) and not e.name.startswith("."))


@dataclass(frozen=True, slots=True)
class Override:
    """A scenario in a later folder that replaced one of the same name."""

    name: str
    replaced: Path
    by: Path

    def line(self) -> str:
        return f"scenario {self.name}: {self.by} overrides {self.replaced}"


@dataclass(frozen=True, slots=True)
class BrokenScenario:
    """A scenario file that cannot be used: ``error`` names the file and the problem.

    ``name`` is the scenario it was meant to be (its ``name`` key when that can be
    read, else the file's stem): naming it fails with ``error``, and it hides any
    earlier scenario of that name, which it was meant to replace.
    """

    name: str
    path: Path
    error: str

    def line(self) -> str:
        return f"{self.error} (scenario {self.name!r} is left out until the file is fixed)"


class Catalogue(dict[str, Scenario]):
    """Scenarios by name, plus what happened while loading: the overrides, the files
    that could not be used (``broken``, by scenario name) and notes about the others."""

    def __init__(self, scenarios: Mapping[str, Scenario] | None = None,
                 overrides: Sequence[Override] = (),
                 broken: Sequence[BrokenScenario] = (), notes: Sequence[str] = ()) -> None:
        super().__init__(scenarios or {})
        self.overrides = tuple(overrides)
        self.broken = {b.name: b for b in broken}
        self.notes = tuple(notes)

    def get_scenario(self, name: str) -> Scenario:
        """The scenario called ``name``; the error is the broken file's own, or lists
        the known ones."""
        if name in self.broken:
            raise ScenarioError(self.broken[name].error)
        try:
            return self[name]
        except KeyError:
            raise ScenarioError(unknown_scenario(name, self)) from None


def unknown_scenario(name: str, known: Iterable[str]) -> str:
    """The one wording for a scenario name that is not in the catalogue: a near miss,
    and where the list is (not all names on one line)."""
    names = list(known)
    return (f"unknown scenario {name!r}{vocabulary.did_you_mean(name, names)}; "
            f"`fakepeer scenarios list` shows all {len(names)}")


def load_catalogue(dirs: Sequence[Path]) -> Catalogue:
    """Load every folder in order: the shipped one first, then the users' (``--scenarios
    DIR``). A later folder's scenario replaces an earlier one of the same name (recorded
    in ``overrides``). A file that cannot be used is recorded in ``broken`` and the
    others still load (issue 12 item 12: one broken file blocked every scenario); two
    files of one folder with one name are both left out, as neither can be meant."""
    found: dict[str, Scenario] = {}
    overrides: list[Override] = []
    broken: dict[str, BrokenScenario] = {}
    notes: list[str] = []
    for folder in dirs:
        in_folder: dict[str, Path] = {}
        for path in scenario_files(folder):
            name, loaded = _catalogue_entry(path, notes)
            first = in_folder.get(name)
            in_folder.setdefault(name, path)
            if first is not None:
                loaded = ScenarioError(f"{path}: scenario {name!r} is also defined by {first}; "
                                       "names must be unique within a folder")
            if isinstance(loaded, ScenarioError):
                broken[name] = BrokenScenario(name, path, str(loaded))
                found.pop(name, None)
                continue
            broken.pop(name, None)
            earlier = found.get(name)
            if earlier is not None and earlier.source is not None:
                overrides.append(Override(name, earlier.source, path))
            found[name] = loaded
    return Catalogue(found, overrides, list(broken.values()), notes)


def _catalogue_entry(path: Path, notes: list[str]) -> tuple[str, Scenario | ScenarioError]:
    """The scenario name a file claims and its scenario, or the error that stops it."""
    try:
        document = load_toml(path)
    except ScenarioError as exc:
        return path.stem, exc
    notes.extend(document.notes)
    declared = document.data.get("name")
    name = declared if isinstance(declared, str) and declared else path.stem
    try:
        scenario = _scenario_of(document.data, path)
    except ScenarioError as exc:
        return name, exc
    return scenario.name, scenario


def shipped_scenarios_dir(package_dir: Path | None = None) -> Path:
    """The scenarios that come with fakepeer: ``fakepeer/_scenarios`` in an installed
    wheel, else ``<checkout>/scenarios`` beside the package. ``package_dir`` is the
    ``fakepeer`` package folder (a seam for tests)."""
    package = package_dir or Path(__file__).resolve().parent.parent
    for candidate in (package / INSTALLED_DIR_NAME, package.parent / "scenarios"):
        if candidate.is_dir():
            return candidate
    raise ScenarioError(f"no shipped scenarios: neither {package / INSTALLED_DIR_NAME} nor "
                        f"{package.parent / 'scenarios'} exists (a broken installation?)")


def scenario_dirs(user_dirs: Iterable[Path] = ()) -> list[Path]:
    """The shipped folder, then the user folders, in override order."""
    return [shipped_scenarios_dir(), *user_dirs]
