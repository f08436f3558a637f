"""When a memory holds: validity intervals, supersession and slots (SPEC §20).

Every record holds from ``valid_from`` (inclusive) to ``valid_to`` (exclusive; ``None``:
still holds). ``valid_from`` defaults to when the remembered thing happened
(``occurred_at`` if the record has one, else ``created_at``); a record stored before
validity existed reads the same way, so old data stays valid.

A record that replaces another *supersedes* it: in one atomic step the new record is
added with ``supersedes = <old id>`` and the old one is closed with
``valid_to = <new valid_from>`` and ``superseded_by = <new id>``. The chain is these two
fields, on the records themselves (no separate link entries): a record supersedes at most
one and is superseded by at most one, so the chain of a slot is one line.

A *slot* (``"<subject>/<attribute>"``, e.g. ``"alice/city"``) names a fact that has one
current value. Its index entry (an internal record beside the records, see
:mod:`hivemem.memories.layout`) is ``{slot, current, valid_from, count}``; a record added
with ``slot=`` is written in the same ``Transact`` as the slot entry (compare-and-set on
its version) and the closing of the record it names, so of two agents stating a slot at
once one wins and the other retries on top of it: never two current records, never a fork.
One entry per slot rather than one per namespace: unrelated slots never contend, and the
entry stays small however many slots the namespace holds.

Times along a chain strictly increase: a new record's default ``valid_from`` is its own
time, but at least just after (``math.nextafter``) the record it supersedes, so every
record of a chain holds for a non-empty interval and at every instant after the first
exactly one of them holds. An explicit ``valid_from`` not after the superseded record's is
refused (``ConflictError``): it would open the chain in the middle.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hivemem.errors import ConflictError, InvalidArgument
from hivemem.memories import layout

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "SLOT_PATTERN",
    "SLOT_PREFIX",
    "after",
    "check_slot",
    "check_time",
    "holds",
    "occurred_at",
    "seconds",
    "slot_key",
    "span",
    "valid_from",
]

#: Where a slot's index entry lives: an internal key (:mod:`hivemem.memories.layout`).
SLOT_PREFIX = layout.SLOT
_SLOT_CHARS = 200
#: A slot's shape (``wire.schemas.SLOT`` says the same to HTTP clients).
SLOT_PATTERN = re.compile("^[^/\x00-\x1f\x7f]+/[^\x00-\x1f\x7f]+$")


def seconds(value: Any) -> Any:
    """A time as unix seconds: a ``datetime`` converted (naive means UTC), else as given.

    A float that is not finite is refused here, on the caller's side: JSON would carry it
    to a server as ``null``, which means "not given".
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgument("a time must be finite unix seconds or a datetime")
    return value


def check_time(value: Any, name: str) -> float:
    """A finite time in unix seconds (or a ``datetime``), else ``InvalidArgument``."""
    value = seconds(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"{name} must be a time: unix seconds (a finite number) or datetime")
    return float(value)


def check_slot(value: Any) -> str:
    """A slot name ``"<subject>/<attribute>"``: both parts non-empty, at most 200 characters.

    No control characters (as in keys: the slot's index entry is keyed by it).
    """
    if type(value) is not str or len(value) > _SLOT_CHARS or not SLOT_PATTERN.match(value):
        raise InvalidArgument(
            f"slot {value!r} must be '<subject>/<attribute>': both non-empty, no control "
            f"characters, at most {_SLOT_CHARS} characters"
        )
    return value


def slot_key(slot: str) -> str:
    """The key of a slot's index entry."""
    return SLOT_PREFIX + slot


def occurred_at(record: Mapping[str, Any]) -> float:
    """When the remembered thing happened: ``occurred_at``, else ``created_at``.

    Records of versions before ``occurred_at`` existed read as having happened when added.
    """
    for name in ("occurred_at", "created_at"):
        when = record.get(name)
        if isinstance(when, int | float) and not isinstance(when, bool) and math.isfinite(when):
            return float(when)
    return 0.0


def valid_from(record: Mapping[str, Any]) -> float:
    """When a stored record starts to hold (``valid_from``, else occurred_at, else created)."""
    for name in ("valid_from", "occurred_at", "created_at"):
        when = record.get(name)
        if isinstance(when, int | float) and not isinstance(when, bool) and math.isfinite(when):
            return float(when)
    return 0.0


def span(record: Mapping[str, Any]) -> tuple[float, float]:
    """``(from, to)`` of a stored record; ``to`` is ``inf`` while it still holds."""
    to = record.get("valid_to")
    end = float(to) if isinstance(to, int | float) and not isinstance(to, bool) else math.inf
    return valid_from(record), end


def holds(record: Mapping[str, Any], at: float) -> bool:
    """Whether a stored record holds at ``at`` (``from <= at < to``)."""
    start, end = span(record)
    return start <= at < end


def after(previous: float, wanted: float | None, default: float) -> float:
    """The ``valid_from`` of a record superseding one that started at ``previous``.

    ``wanted`` (given by the caller) must be later than ``previous``; the ``default`` is
    moved to just after ``previous`` if it is not later. A ``wanted`` time that is not
    later conflicts with the stored record (``ConflictError``, 409).
    """
    if wanted is not None:
        if wanted <= previous:
            raise ConflictError(
                f"valid_from {wanted!r} is not after the superseded record's ({previous!r}): "
                "a record can only supersede one that started before it"
            )
        return wanted
    return max(default, math.nextafter(previous, math.inf))
