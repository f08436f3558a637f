"""What only list operations may write, and how many entries one op may scan.

A value whose top level is an object with the key ``"$list"`` is a list header
(:mod:`hivemem.engine.lists`): every other write refuses it (:func:`check_value`). The
rule sits below both the write path (:mod:`hivemem.engine.apply`) and the list ops, which
import it from here.

Keys that start with :data:`INTERNAL` hold the engine's own records of a namespace (locks,
leases, presence, queues, the memories' vectors and links: :mod:`hivemem.memories.layout`):
no caller can name such a key (keys refuse control characters), so only engine handlers
and the memories plans (``Transact`` ops marked ``memories``) write them. They live in the
namespace they serve (on Redis Cluster, in its slot) and sort before every caller's key, so
listings start after :data:`PUBLIC_FLOOR` and never see them; they emit no ``memory:*``
events (their handlers emit their own; a ``Transact`` writes them without an event or a
revision, the row's version standing in for its revision), and an expired one is handed to
its kind's sweeper (:data:`SWEEPERS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem.errors import InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "HEADER",
    "INTERNAL",
    "MAX_PREFIX",
    "PUBLIC_FLOOR",
    "SWEEPERS",
    "check_value",
    "internal_key",
    "internal_kind",
    "is_header",
    "maybe_reserved",
    "public_after",
    "shows_internal",
]

#: The header of a list: ``{"$list": [head, tail]}``.
HEADER = "$list"
#: Most entries one op touches by a scan: a prefix op's entries, or the expired entries a
#: write into a full namespace drops to make room.
MAX_PREFIX = 10_000


def is_header(value: Any) -> bool:
    """Whether a stored value is read as a list header (a reserved value, see the module)."""
    return isinstance(value, dict) and HEADER in value


def maybe_reserved(value_json: str) -> bool:
    """A cheap test of a value's JSON text: ``False`` means it is certainly not reserved.

    (An escaped dollar sign spells the key without the plain text, hence the test of
    escapes.)
    """
    return HEADER in value_json or "\\u" in value_json


def check_value(value_json: str) -> None:
    """Refuse a value only list operations may write (a top-level ``"$list"`` key).

    Raises:
        InvalidArgument: the value is reserved for list headers.
    """
    if maybe_reserved(value_json) and is_header(_codec.decode(value_json)):
        raise InvalidArgument(
            f"values with a top-level {HEADER!r} key are reserved for list headers; "
            "use the list operations (push, insert...) or another key name",
            reason="reserved_value",
        )


#: The first character of an engine-internal key (``"\x01<kind>/<name>"``).
INTERNAL = "\x01"
#: Every caller's key sorts after this (it starts with a printable character), every
#: internal key before it: a listing from the start scans after it.
PUBLIC_FLOOR = "\x02"

#: What the sweeper does with an expired internal record, by kind: ``sweeper(ctx, ns, key,
#: stored)`` (it deletes the record and emits what its kind announces). A kind without one
#: is deleted silently. Filled by the modules that own each kind.
SWEEPERS: dict[str, Callable[[Any, str, str, Any], None]] = {}


def internal_key(kind: str, name: str) -> str:
    """The key of an internal record of ``kind`` (no ``/`` in it) named ``name``."""
    return f"{INTERNAL}{kind}/{name}"


def internal_kind(key: str) -> str | None:
    """The kind of an internal key, or ``None`` for a caller's key."""
    if not key.startswith(INTERNAL):
        return None
    return key[1:].partition("/")[0]


def shows_internal(prefix: str) -> bool:
    """Whether a scan with ``prefix`` would find internal records only.

    A caller's listing with such a prefix finds nothing (no caller's key has it); only the
    memories plans list their own (``ListEntries`` marked ``memories``).
    """
    return prefix[:1] == INTERNAL


def public_after(prefix: str, after: str | None) -> str | None:
    """Where a scan of callers' keys with ``prefix`` starts: past the internal records.

    (A non-empty prefix is a caller's, so it already excludes them.)
    """
    if prefix or (after is not None and after >= PUBLIC_FLOOR):
        return after
    return PUBLIC_FLOOR
