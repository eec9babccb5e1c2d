# -*- test-case-name: tests.rehearse.test_plan -*-
"""Rehearsal plans: which catalogue scenarios to serve, in which order, for how long.

A plan is a TOML file, read as strictly as a scenario file: an unknown key, a value of the
wrong type or an unknown scenario name is a :class:`PlanError` that names the file, the
key path and what is allowed::

    migration.toml: steps[1].scenario: unknown scenario 'expird-leaf' (did you mean
    'expired-leaf'?); see `fakepeer scenarios list`

The format (see ``plans/migration-2026.toml``)::

    title = "Teams 2026 PKI migration"      # optional; default: the file's stem
    listen = "0.0.0.0:5061"                 # or an array of HOST:PORT; this is the default

    [[steps]]                               # one or more, run in this order
    scenario = "baseline-microsoft-2026"    # a name from `fakepeer scenarios list`
    until_connections = 1                   # judged connections; or: duration = seconds
    note = "free text for the report"       # optional

Every step listens on the same address(es), so the SBC keeps dialling one target while
fakepeer changes what it serves underneath, as the real proxies did.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from fakepeer.addresses import listen_address
from fakepeer.errors import FakepeerError
from fakepeer.scenario.load import Catalogue, unknown_scenario
from fakepeer.scenario.toml_file import TomlDocument, load_toml, parse_toml

#: Where Teams and Genesys expect SBCs to connect (SIP over TLS, RFC 5630 port 5061).
DEFAULT_LISTEN = "0.0.0.0:5061"
#: Where an installed wheel keeps the shipped plans (pyproject's force-include).
INSTALLED_DIR_NAME = "_plans"
SUFFIX = ".toml"
#: Bounds that catch typos (a duration in milliseconds, a connection count in the
#: millions) without limiting any real rehearsal: a week, and the listener's own
#: connection cap.
MAX_DURATION = 7 * 24 * 3600.0
MAX_CONNECTIONS = 1_000_000
#: Titles and notes end up in a one-line table cell and a ticket's HTML page.
MAX_TITLE_LENGTH = 200
MAX_NOTE_LENGTH = 2000

PLAN_KEYS = ("title", "listen", "steps")
_WHAT = "rehearsal plan"
STEP_KEYS = ("scenario", "duration", "until_connections", "note")


class PlanError(FakepeerError):
    """A plan file (or the plan a command line describes) is invalid; names file and key."""


class PlanValueError(PlanError, ValueError):
    """An invalid plan value: ``key`` is its place in the plan (``steps[1].duration``)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem

    def within(self, prefix: str) -> PlanValueError:
        return PlanValueError(f"{prefix}.{self.key}" if self.key else prefix, self.problem)


def _kind(value: object) -> str:
    """A TOML value's type in words, with the value where it is short."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a date/time ({value})"


def _text(key: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise PlanValueError(key, f"expected a string, got {_kind(value)}")
    if len(value) > limit:
        raise PlanValueError(key, f"longer than {limit} characters")
    return value


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One scenario, served for ``duration`` seconds or ``until_connections`` judged
    connections (a connection is judged when it closes and gets its verdict)."""

    scenario: str
    duration: float | None = None
    until_connections: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        _text("scenario", self.scenario, 200)
        if (self.duration is None) == (self.until_connections is None):
            raise PlanValueError("", "give duration = SECONDS or until_connections = N "
                                     "(exactly one)")
        if self.duration is not None:
            if isinstance(self.duration, bool) or not isinstance(self.duration, int | float):
                raise PlanValueError("duration", "expected a number of seconds, got "
                                     f"{_kind(self.duration)}")
            if not (math.isfinite(self.duration) and 0 < self.duration <= MAX_DURATION):
                raise PlanValueError("duration", f"{self.duration} is not a number of "
                                     f"seconds between 0 and {MAX_DURATION:g} (a week)")
            object.__setattr__(self, "duration", float(self.duration))
        if self.until_connections is not None:
            value = self.until_connections
            if type(value) is not int:
                raise PlanValueError("until_connections", "expected a whole number of "
                                     f"connections, got {_kind(value)}")
            if not 1 <= value <= MAX_CONNECTIONS:
                raise PlanValueError("until_connections", f"{value} is not between 1 and "
                                     f"{MAX_CONNECTIONS}")
        _text("note", self.note, MAX_NOTE_LENGTH)

    def rule(self) -> str:
        """When the step ends, in words: ``for 90 s``, ``until 1 judged connection``."""
        if self.duration is not None:
            return f"for {self.duration:g} s"
        plural = "" if self.until_connections == 1 else "s"
        return f"until {self.until_connections} judged connection{plural}"


@dataclass(frozen=True, slots=True)
class Plan:
    """A rehearsal: its steps in order and the address(es) every step listens on."""

    title: str
    steps: tuple[PlanStep, ...]
    listen: tuple[str, ...] = (DEFAULT_LISTEN,)
    source: Path | None = field(default=None, compare=False)
    #: How the file was read, one line each (a byte-order mark), for the command to show.
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        _text("title", self.title, MAX_TITLE_LENGTH)
        if not self.steps:
            raise PlanValueError("steps", "a plan needs at least one [[steps]] table")
        if not self.listen:
            raise PlanValueError("listen", f"give at least one HOST:PORT, e.g. {DEFAULT_LISTEN}")
        for index, text in enumerate(self.listen):
            try:
                listen_address(_text(f"listen[{index}]", text, 300))
            except ValueError as exc:
                if isinstance(exc, PlanValueError):
                    raise
                raise PlanValueError(f"listen[{index}]", str(exc)) from None

    def addresses(self) -> list[tuple[str, int]]:
        return [listen_address(text) for text in self.listen]


# --- reading -----------------------------------------------------------------------------


def _check_keys(table: Mapping[str, object], allowed: tuple[str, ...], key: str) -> None:
    for name in table:
        if name not in allowed:
            where = f"{key}.{name}" if key else name
            raise PlanValueError(where, f"unknown key; allowed keys: {', '.join(allowed)}")


def _unknown_scenario(name: str, known: Collection[str]) -> str:
    return unknown_scenario(name, known)


def _step(value: object, index: int, scenarios: Collection[str]) -> PlanStep:
    key = f"steps[{index}]"
    if not isinstance(value, dict):
        raise PlanValueError(key, f"expected a table, got {_kind(value)}")
    _check_keys(value, STEP_KEYS, key)
    if "scenario" not in value:
        raise PlanValueError(f"{key}.scenario", "missing: every step names a scenario")
    try:
        step = PlanStep(**value)
    except PlanValueError as exc:
        raise exc.within(key) from None
    broken = scenarios.broken.get(step.scenario) if isinstance(scenarios, Catalogue) else None
    if broken is not None:
        raise PlanValueError(f"{key}.scenario", f"scenario {step.scenario!r} cannot be used: "
                             f"{broken.error}")
    if step.scenario not in scenarios:
        raise PlanValueError(f"{key}.scenario", _unknown_scenario(step.scenario, scenarios))
    return step


def plan_from_mapping(data: Mapping[str, object], *, name: str, scenarios: Collection[str],
                      source: Path | None = None) -> Plan:
    """Build a Plan from a parsed TOML document. ``scenarios`` are the names a step may
    use (a :class:`Catalogue`, whose broken files a step names with their error);
    errors name the key, not the file."""
    _check_keys(data, PLAN_KEYS, "")
    listen = data.get("listen", DEFAULT_LISTEN)
    if isinstance(listen, str):
        listen = [listen]
    if not isinstance(listen, list):
        raise PlanValueError("listen", "expected HOST:PORT or an array of them, got "
                             f"{_kind(listen)}")
    steps = data.get("steps")
    if steps is None:
        raise PlanValueError("steps", "missing: a plan needs at least one [[steps]] table")
    if not isinstance(steps, list):
        raise PlanValueError("steps", f"expected an array of tables ([[steps]]), got "
                             f"{_kind(steps)}")
    return Plan(title=data.get("title", name),  # type: ignore[arg-type]  # checked by Plan
                steps=tuple(_step(s, i, scenarios) for i, s in enumerate(steps)),
                listen=tuple(listen), source=source)


def parse_plan_text(text: str, path: Path, scenarios: Collection[str]) -> Plan:
    """Parse one plan file's text; ``path`` names it in errors and gives the default title."""
    return _plan_of(parse_toml(text, path, PlanError, _WHAT), path, scenarios)


def load_plan(path: Path, scenarios: Collection[str]) -> Plan:
    """Read and validate one plan file against the scenario names that exist; the file
    rules (size, type, encoding, nesting) are :mod:`fakepeer.scenario.toml_file`'s."""
    return _plan_of(load_toml(path, PlanError, _WHAT), path, scenarios)


def _plan_of(document: TomlDocument, path: Path, scenarios: Collection[str]) -> Plan:
    try:
        plan = plan_from_mapping(document.data, name=path.stem, scenarios=scenarios,
                                 source=path)
    except PlanValueError as exc:
        raise PlanError(f"{path}: {exc}") from None
    return replace(plan, notes=document.notes)


def shipped_plans_dir(package_dir: Path | None = None) -> Path | None:
    """The example plans that come with fakepeer: ``fakepeer/_plans`` in an installed
    wheel, else ``<checkout>/plans``; None when neither exists."""
    package = package_dir or Path(__file__).resolve().parent.parent
    for candidate in (package / INSTALLED_DIR_NAME, package.parent / "plans"):
        if candidate.is_dir():
            return candidate
    return None


def shipped_plans(package_dir: Path | None = None) -> dict[str, Path]:
    folder = shipped_plans_dir(package_dir)
    if folder is None:
        return {}
    return {p.stem: p for p in sorted(folder.glob(f"*{SUFFIX}")) if not p.name.startswith(".")}


def find_plan(text: str, cwd: Path, package_dir: Path | None = None) -> Path:
    """A plan named on the command line: a file, else a shipped plan by name
    (``migration-2026``), so an installed fakepeer can rehearse without a checkout."""
    path = Path(text)
    path = path if path.is_absolute() else cwd / path
    if path.exists():  # a folder or a FIFO too: reading it says what is wrong
        return path
    shipped = shipped_plans(package_dir)
    if text in shipped:
        return shipped[text]
    known = ", ".join(shipped) or "none"
    raise PlanError(f"{text}: no such plan file (shipped plans: {known})")
