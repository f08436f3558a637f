"""Provenance of long-term memories and what a record matches: ``source``, boosts.

A record's ``source`` (SPEC §10) is a free-form JSON object saying where it came from
(conversation and message ids, a run id, a URL). Searches filter on it by key equality
(``filters={"source": {"run_id": "r1"}}``: records whose source has each given field with an
equal value) and may *boost* records that match some fields, tags or ids
(``semantic_search(..., boosts=...)``) without excluding the others.

Equality is that of the JSON values as Python compares them once decoded: ``1``, ``1.0`` and
``true`` are equal, ``"1"`` is not; objects compare field by field whatever their order.
:func:`canonical` gives every value one text per equality class, so the search index can
keep an inverted index of ``(field, value)`` pairs and filter by set lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from hivemem import _codec
from hivemem.errors import InvalidArgument

__all__ = [
    "BOOST_WEIGHT",
    "MAX_BOOST_FIELDS",
    "MAX_BOOST_VALUES",
    "MAX_SOURCE_BYTES",
    "MAX_SOURCE_FIELDS",
    "MAX_SOURCE_NAME",
    "Boosts",
    "canonical",
    "check_boosts",
    "check_source",
    "check_source_filter",
    "source_pairs",
]

#: Most fields of a record's ``source`` (and of a ``source`` filter).
MAX_SOURCE_FIELDS = 64
#: Most characters of a ``source`` field's name.
MAX_SOURCE_NAME = 200
#: Most bytes of a record's ``source``, serialized as compact JSON: provenance is a few ids
#: and a URL, and the search index keeps a copy of each field's value.
MAX_SOURCE_BYTES = 16_384
#: Default weight of the ``boost`` part of ``semantic_search``: a record matching every
#: clause gains what a cosine similarity higher by 0.1 / 0.6 (the vector weight) gives.
BOOST_WEIGHT = 0.1
#: Most fields a boost's ``metadata`` or ``source`` names, and most tags it lists.
MAX_BOOST_FIELDS = 8
#: Most values one boost clause of ids (``agent_id``, ``session_id``, ``memory_type``) lists.
MAX_BOOST_VALUES = 100
#: Boost selectors that name one record field, matched when the field is any of the values.
_ID_FIELDS = ("agent_id", "session_id", "memory_type")
_BOOST_KEYS = ("metadata", "source", "tags", *_ID_FIELDS, "weight")
_INT_RANGE = float(2**63)


def _plain(value: Any) -> Any:
    """``value`` with integral numbers and booleans as ints (Python's equality of JSON)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < _INT_RANGE:
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(x) for k, x in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(x) for x in value]
    return value


def canonical(value: Any) -> str:
    """One text per JSON value, equal for values that compare equal (``1 == 1.0 == true``)."""
    return orjson.dumps(_plain(value), option=orjson.OPT_SORT_KEYS).decode()


def _fields(value: Any, name: str, most: int) -> dict[str, Any]:
    """A JSON object of at most ``most`` fields with names of 1-200 characters."""
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{name} must be an object of field: value")
    if len(value) > most:
        raise InvalidArgument(f"{name} has {len(value)} fields; at most {most}")
    for key in value:
        if type(key) is not str or not 1 <= len(key) <= MAX_SOURCE_NAME:
            raise InvalidArgument(
                f"{name} field names must be strings of 1-{MAX_SOURCE_NAME} characters"
            )
    return dict(value)


def _json(value: Any, name: str) -> str:
    """``canonical(value)`` of a JSON value (what the store takes), else InvalidArgument."""
    try:
        _codec.encode(value)  # refuses NaN, sets, non-string keys, deep nesting
    except InvalidArgument as exc:
        raise InvalidArgument(f"{name} must hold JSON values: {exc}") from None
    return canonical(value)


def check_source(value: Any) -> dict[str, Any]:
    """A record's ``source``: a JSON object (``None``: ``{}``), bounded in fields and bytes.

    Raises:
        InvalidArgument: if it is not an object, has more than 64 fields, a field name
            that is not 1-200 characters, a value that is not JSON, or is over 16 KiB.
    """
    if value is None:
        return {}
    source = _fields(value, "source", MAX_SOURCE_FIELDS)
    size = len(_json(source, "source").encode())
    if size > MAX_SOURCE_BYTES:
        raise InvalidArgument(
            f"source is {size} bytes serialized; at most {MAX_SOURCE_BYTES} (keep ids and "
            "URLs there, the content elsewhere)"
        )
    return source


def check_source_filter(value: Any) -> dict[str, str]:
    """A ``source`` filter: ``{field: value}``, as ``{field: canonical(value)}``."""
    fields = _fields(value, "filter 'source'", MAX_SOURCE_FIELDS)
    return {key: _json(item, "filter 'source'") for key, item in fields.items()}


def source_pairs(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The ``(field, canonical value)`` pairs of a stored record's source (none if malformed)."""
    source = record.get("source")
    if not isinstance(source, dict):
        return []
    try:
        return [(key, canonical(item)) for key, item in source.items()]
    except (TypeError, orjson.JSONEncodeError):
        return []


_ABSENT = object()


@dataclass(frozen=True, slots=True)
class Boosts:
    """What ``semantic_search(boosts=...)`` rewards, checked (see :func:`check_boosts`).

    Attributes:
        weight: The ``boost`` part of a record matching every clause.
        metadata: Fields of ``metadata`` that must equal the values (one clause each).
        source: Fields of ``source`` that must equal the values (one clause each).
        tags: Tags the record must carry (one clause each).
        ids: ``(field, values)``: ``agent_id``, ``session_id`` or ``memory_type`` among the
            values (one clause each).
    """

    weight: float
    metadata: tuple[tuple[str, Any], ...] = ()
    source: tuple[tuple[str, Any], ...] = ()
    tags: tuple[str, ...] = ()
    ids: tuple[tuple[str, frozenset[str]], ...] = ()

    @property
    def clauses(self) -> int:
        """How many clauses the boost has."""
        return len(self.metadata) + len(self.source) + len(self.tags) + len(self.ids)

    def signal(self, record: Mapping[str, Any]) -> float:
        """The share of the clauses ``record`` matches (0 to 1; 0 without clauses)."""
        if not self.clauses:
            return 0.0
        hits = 0
        for field, pairs in (("metadata", self.metadata), ("source", self.source)):
            if pairs:
                held = record.get(field)
                held = held if isinstance(held, dict) else {}
                hits += sum(1 for key, want in pairs if _equal(held.get(key, _ABSENT), want))
        if self.tags:
            tags = record.get("tags")
            carried = set(tags) if isinstance(tags, list) else set()
            hits += sum(1 for tag in self.tags if tag in carried)
        hits += sum(1 for field, values in self.ids if record.get(field) in values)
        return hits / self.clauses


def _equal(held: Any, want: Any) -> bool:
    """Equality of two JSON values, as :func:`canonical` decides it."""
    if held is _ABSENT:
        return False
    try:
        return canonical(held) == canonical(want)
    except (TypeError, orjson.JSONEncodeError):
        return False


def _values(value: Any, name: str) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset((value,))
    if (
        isinstance(value, list | tuple)
        and len(value) <= MAX_BOOST_VALUES
        and all(isinstance(x, str) for x in value)
    ):
        return frozenset(value)
    raise InvalidArgument(
        f"boost {name!r} takes a string or a list of at most {MAX_BOOST_VALUES} strings"
    )


def check_boosts(boosts: Any) -> Boosts | None:
    """Validate ``semantic_search``'s ``boosts`` (``None``: no boost part).

    ``{"metadata": {field: value}, "source": {field: value}, "tags": [tag, ...],
    "agent_id" | "session_id" | "memory_type": value or [values], "weight": 0.1}``: every
    field of ``metadata`` and ``source``, every tag and every id field is one clause; the
    ``boost`` part of a result is ``weight`` times the share of the clauses its record
    matches. At most 8 fields of ``metadata``, 8 of ``source`` and 8 tags; ``weight``
    from 0 to 1 (default 0.1).

    Raises:
        InvalidArgument: naming what is wrong.
    """
    if boosts is None:
        return None
    if not isinstance(boosts, Mapping):
        raise InvalidArgument("boosts must be an object of selector: value (and a weight)")
    unknown = set(boosts) - set(_BOOST_KEYS)
    if unknown:
        raise InvalidArgument(
            f"unknown boosts: {', '.join(sorted(map(str, unknown)))} "
            f"(known: {', '.join(_BOOST_KEYS)})"
        )
    weight = boosts.get("weight", BOOST_WEIGHT)
    if weight is None:
        weight = BOOST_WEIGHT
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
        raise InvalidArgument("boost weight must be a number from 0 to 1")
    pairs: dict[str, tuple[tuple[str, Any], ...]] = {}
    for field in ("metadata", "source"):
        given = boosts.get(field)
        fields = {} if given is None else _fields(given, f"boost {field!r}", MAX_BOOST_FIELDS)
        for item in fields.values():
            _json(item, f"boost {field!r}")
        pairs[field] = tuple(fields.items())
    tags = boosts.get("tags")
    if tags is None:
        tags = []
    if (
        not isinstance(tags, list | tuple)
        or len(tags) > MAX_BOOST_FIELDS
        or not all(type(t) is str for t in tags)
    ):
        raise InvalidArgument(f"boost 'tags' takes a list of at most {MAX_BOOST_FIELDS} strings")
    ids = tuple(
        (field, _values(boosts[field], field))
        for field in _ID_FIELDS
        if boosts.get(field) is not None
    )
    return Boosts(
        float(weight), pairs["metadata"], pairs["source"], tuple(dict.fromkeys(tags)), ids
    )
