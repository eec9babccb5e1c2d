# -*- test-case-name: tests.scenario.test_model -*-
"""The checks every scenario value runs on itself, each naming the key that is wrong.

A key is relative to the value being built (``tls.min_version``, ``phases[1].path``);
:meth:`ScenarioValueError.within` moves an error under its parent's key and
``fakepeer.scenario.load`` adds the file. Imports nothing from fakepeer but its errors
and :mod:`fakepeer.vocabulary`.
"""

from __future__ import annotations

import re
from datetime import date, time

from fakepeer import vocabulary
from fakepeer.errors import ScenarioError

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


class ScenarioValueError(ScenarioError, ValueError):
    """An invalid scenario value. ``key`` is where it sits inside the scenario
    (``tls.ciphers[0]``, ``phases[1].era``); ``problem`` says what is wrong and what is
    allowed. A ``ValueError`` too, so callers that wrap ``ValueError`` keep working."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem

    def __reduce__(self) -> tuple[type[ScenarioValueError], tuple[str, str]]:
        return type(self), (self.key, self.problem)

    def within(self, prefix: str) -> ScenarioValueError:
        """The same error one level down: ``tls.x`` within ``phases[0]``."""
        return ScenarioValueError(join_key(prefix, self.key), self.problem)


def join_key(prefix: str, key: str) -> str:
    if not prefix:
        return key
    if not key:
        return prefix
    return f"{prefix}{key}" if key.startswith("[") else f"{prefix}.{key}"


def key_part(name: str) -> str:
    """A table key as TOML writes it in a dotted path: bare, or quoted when it has dots."""
    return name if _BARE_KEY.match(name) else '"' + name.replace('"', '\\"') + '"'


def one_of(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(values)


def kind_of(value: object) -> str:
    """A value's TOML type in words, with the value: ``a string ('503')``."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, date | time):  # datetime is a date
        return f"a date/time ({value})"
    return type(value).__name__


def check_string(key: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise ScenarioValueError(key, f"expected a string, got {kind_of(value)}")


def check_choice(key: str, value: object, choices: tuple[str, ...], *,
            optional: bool = False) -> None:
    if value is None and optional:
        return
    check_string(key, value)
    if value not in choices:
        hint = vocabulary.did_you_mean(value, choices) if isinstance(value, str) else ""
        raise ScenarioValueError(key, f"{value!r} is not one of {one_of(choices)}{hint}")


def check_int(key: str, value: object, low: int, high: int, *, optional: bool = False,
         what: str = "") -> None:
    if value is None and optional:
        return
    if type(value) is not int:
        raise ScenarioValueError(key, f"expected an integer, got {kind_of(value)}")
    if not low <= value <= high:
        raise ScenarioValueError(key, f"{value} is not {what or f'in {low}-{high}'}")


def check_bool(key: str, value: object) -> None:
    if type(value) is not bool:
        raise ScenarioValueError(key, f"expected true or false, got {kind_of(value)}")


def check_line(key: str, value: object, limit: int | None = None) -> None:
    check_string(key, value)
    assert isinstance(value, str)
    if "\n" in value:
        raise ScenarioValueError(key, "must be one line")
    if limit is not None and len(value) > limit:
        raise ScenarioValueError(key, f"{len(value)} characters; keep it to {limit} or fewer")


def check_strings(owner: object, attribute: str, key: str, *, optional: bool = False,
             allow_empty: bool = True) -> tuple[str, ...] | None:
    """Check (and store as a tuple) a sequence of non-empty strings without spaces."""
    value = getattr(owner, attribute)
    if value is None and optional:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ScenarioValueError(key, f"expected an array of strings, got {kind_of(value)}")
    items = tuple(value)
    if not items and not allow_empty:
        raise ScenarioValueError(key, "must not be empty")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ScenarioValueError(f"{key}[{index}]", f"expected a string, got {kind_of(item)}")
        if not item or item != item.strip() or ":" in item or " " in item:
            raise ScenarioValueError(f"{key}[{index}]", f"{item!r} is not a single name "
                                     "(one name per array item, no spaces or colons)")
    object.__setattr__(owner, attribute, items)
    return items


def check_dns_name(key: str, value: object) -> str:
    check_string(key, value)
    assert isinstance(value, str)
    if not vocabulary.is_dns_name(value):
        raise ScenarioValueError(key, f"{value!r} is not a DNS host name")
    return value.lower().rstrip(".")


def check_defects(defects: tuple[str, ...], era: str, key: str = "defects") -> None:
    """The defects of one served chain, checked by :func:`fakepeer.vocabulary.check_defects`;
    the error names the defect's place under ``key``."""
    try:
        vocabulary.check_defects(defects, era)
    except vocabulary.DefectError as exc:
        where = key if exc.index is None else f"{key}[{exc.index}]"
        raise ScenarioValueError(where, exc.problem) from None


def check_path(path: str | None, era: str, key: str = "path") -> None:
    if path is not None and path not in vocabulary.ERAS[era].paths:
        elsewhere = [name for name, terms in vocabulary.ERAS.items() if path in terms.paths]
        hint = (f" ({path} is a path of {one_of(elsewhere)})" if elsewhere
                else vocabulary.did_you_mean(path, vocabulary.ERAS[era].paths))
        raise ScenarioValueError(key, f"era {era} has no chain path {path!r}{hint}; known: "
                                 f"{one_of(vocabulary.ERAS[era].paths)}")
