"""What only list operations may write, and how many entries one op may scan.

A value whose top level is an object with the key ``"$list"`` is a list header
(:mod:`hivemem.engine.lists`): every other write refuses it (:func:`check_value`). The
rule sits below both the write path (:mod:`hivemem.engine.apply`) and the list ops, which
import it from here.
"""

from __future__ import annotations

from typing import Any

from hivemem import _codec
from hivemem.errors import InvalidArgument

__all__ = ["HEADER", "MAX_PREFIX", "check_value", "is_header", "maybe_reserved"]

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
