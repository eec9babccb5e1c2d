# -*- test-case-name: tests.sip.test_grammar -*-
"""Header fields as received: an ordered tuple of (name, value) with case-blind lookup.

The spelling and order of names are kept exactly, because fakepeer must write them
back that way (the Teams proxy answers with ``FROM``, ``TO``, ``CSEQ``... in a fixed
order) and because a verdict may want to say "the SBC sent ``i:`` instead of
``Call-ID:``". Lookups ignore case and expand compact forms (RFC 3261 §7.3.1, §7.3.3).

Validation happens once: :class:`Headers` checks every pair it is given, and
:meth:`Headers.trusted` skips that for pairs that were checked already (the parser's,
or values copied out of another ``Headers``). The case-blind index is built on the
first lookup and kept, so the dozen lookups an answer needs cost one pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import itemgetter

from fakepeer.sip.errors import LocalSipError
from fakepeer.sip.grammar import FORBIDDEN_TEXT, canonical_key, is_token

_Index = dict[str, tuple[str, ...]]


class Headers(tuple[tuple[str, str], ...]):
    """An immutable, validated, ordered tuple of ``(name, value)`` pairs.

    It is a real tuple (comparisons, hashing and iteration behave as for the pairs) with
    lookup helpers on top. Values are stored unfolded and without surrounding
    whitespace, which is exactly what the serializer writes back, so parsing what we
    wrote gives the same headers.
    """

    # No __slots__: a tuple subclass cannot have non-empty ones, and the instance dict
    # holds the lookup index (``_index``), built on first use.
    _index: _Index

    def __new__(cls, items: Iterable[tuple[str, str]] = ()) -> Headers:
        pairs = tuple(items)
        for position, pair in enumerate(pairs, start=1):
            check_pair(position, pair)
        return super().__new__(cls, pairs)

    @classmethod
    def trusted(cls, pairs: tuple[tuple[str, str], ...], index: _Index | None = None) -> Headers:
        """Headers from pairs that are already valid, without checking them again.

        Only for pairs that passed :class:`Headers`' checks before: the parser's, or
        values copied out of another ``Headers`` (the responder's copies). ``index`` is
        the lookup index if the caller built it already (canonical key -> values in
        order, see :func:`~fakepeer.sip.grammar.canonical_key`).
        """
        headers = tuple.__new__(cls, pairs)
        if index is not None:
            headers._index = index
        return headers

    def lookup_index(self) -> Mapping[str, tuple[str, ...]]:
        """Canonical key (:func:`~fakepeer.sip.grammar.canonical_key`) -> every value.

        For callers that look up many known names at once (the responder): one mapping
        access per name instead of a method call. Read only; values in received order.
        """
        return self._lookup()

    def _lookup(self) -> _Index:
        """Canonical key -> every value under it, in received order (built once)."""
        index: _Index | None = getattr(self, "_index", None)
        if index is not None:
            return index
        values = tuple(map(itemgetter(1), self))
        keys = list(map(canonical_key, map(itemgetter(0), self)))
        index = dict(zip(keys, zip(values), strict=True))  # one value per key: all in C
        if len(index) != len(keys):  # a name repeats (Via, Contact...): group them
            grouped: dict[str, list[str]] = {}
            for key, value in zip(keys, values, strict=True):
                grouped.setdefault(key, []).append(value)
            index = {key: tuple(group) for key, group in grouped.items()}
        self._index = index
        return index

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the first header called ``name`` (any case or compact form)."""
        values = self._lookup().get(canonical_key(name))
        return values[0] if values else default

    def get_all(self, name: str) -> tuple[str, ...]:
        """Every value of ``name``, in received order, one per header line."""
        return self._lookup().get(canonical_key(name), ())

    def has(self, name: str) -> bool:
        """Whether a header called ``name`` (any case or compact form) is present."""
        return canonical_key(name) in self._lookup()

    def __repr__(self) -> str:
        return f"Headers({tuple(self)!r})"


def check_pair(position: int, pair: object) -> None:
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
