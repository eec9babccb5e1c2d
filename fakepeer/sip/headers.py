# -*- test-case-name: tests.sip.test_grammar -*-
"""Header fields as received: an ordered tuple of (name, value) with case-blind lookup.

The spelling and order of names are kept exactly, because fakepeer must write them
back that way (the Teams proxy answers with ``FROM``, ``TO``, ``CSEQ``... in a fixed
order) and because a verdict may want to say "the SBC sent ``i:`` instead of
``Call-ID:``". Lookups ignore case and expand compact forms (RFC 3261 §7.3.1, §7.3.3).
"""

from __future__ import annotations

from collections.abc import Iterable

from fakepeer.sip.errors import LocalSipError
from fakepeer.sip.grammar import FORBIDDEN_TEXT, canonical_key, is_token


class Headers(tuple[tuple[str, str], ...]):
    """An immutable, validated, ordered tuple of ``(name, value)`` pairs.

    It is a real tuple (comparisons, hashing and iteration behave as for the pairs) with
    lookup helpers on top. Values are stored unfolded and without surrounding
    whitespace, which is exactly what the serializer writes back, so parsing what we
    wrote gives the same headers.
    """

    __slots__ = ()

    def __new__(cls, items: Iterable[tuple[str, str]] = ()) -> Headers:
        pairs = tuple(items)
        for position, pair in enumerate(pairs, start=1):
            _check_pair(position, pair)
        return super().__new__(cls, pairs)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the first header called ``name`` (any case or compact form)."""
        key = canonical_key(name)
        for field_name, value in self:
            if canonical_key(field_name) == key:
                return value
        return default

    def get_all(self, name: str) -> tuple[str, ...]:
        """Every value of ``name``, in received order, one per header line."""
        key = canonical_key(name)
        return tuple(value for field_name, value in self if canonical_key(field_name) == key)

    def has(self, name: str) -> bool:
        """Whether a header called ``name`` (any case or compact form) is present."""
        return self.get(name) is not None

    def __repr__(self) -> str:
        return f"Headers({tuple(self)!r})"


def _check_pair(position: int, pair: object) -> None:
    """Refuse a pair the serializer could not write and the parser read back the same."""
    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise LocalSipError(f"header {position} is not a (name, value) pair: {pair!r}")
    name, value = pair
    if not isinstance(name, str) or not isinstance(value, str):
        raise LocalSipError(f"header {position} name and value must be str: {pair!r}")
    if not is_token(name):
        raise LocalSipError(f"header {position} has an invalid name {name!r} (not a token)")
    if FORBIDDEN_TEXT.search(value):
        raise LocalSipError(f"header {position} ({name}) has a control character: {value!r}")
    if value != value.strip(" \t"):
        raise LocalSipError(
            f"header {position} ({name}) starts or ends with whitespace: {value!r}"
        )
