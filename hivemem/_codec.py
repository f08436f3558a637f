"""JSON encoding of stored values, with the checks that keep bad input out of the store.

Values are stored as compact JSON text. Encoding refuses what JSON cannot represent
(sets, NaN, arbitrary objects, non-string object keys), values nested deeper than
``MAX_DEPTH`` and values larger than the configured limit, always with
:class:`~hivemem.errors.InvalidArgument` or :class:`~hivemem.errors.TooLarge`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from hivemem.errors import InvalidArgument, TooLarge

__all__ = ["MAX_DEPTH", "decode", "encode", "encode_value"]

#: Deepest nesting accepted in a stored value.
MAX_DEPTH = 64

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_encode = _encoder.encode
_loads = orjson.loads
_strict = orjson.dumps
_STRICT = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
#: Types whose orjson output needs no round-trip check.
_EXACT = frozenset({str, int, bool, type(None)})


def decode(text: str | bytes) -> Any:
    """Decode stored JSON text (orjson, falling back to ``json`` for integers beyond 64 bits)."""
    try:
        return _loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def encode(value: Any) -> str:
    """Encode any JSON value to compact text (no size check).

    Raises:
        InvalidArgument: if the value is not JSON (sets, NaN, objects, non-string keys) or is
            nested too deeply.
    """
    return _encode_bytes(value)[0]


def encode_value(value: Any, max_bytes: int) -> str:
    """Encode a value to store, checking its serialized size against ``max_bytes``.

    Raises:
        InvalidArgument: if the value is not JSON.
        TooLarge: if the serialized value exceeds ``max_bytes``.
    """
    text, size = _encode_bytes(value)
    if size > max_bytes:
        raise TooLarge(
            f"value is {size} bytes serialized; the limit is {max_bytes} "
            "(raise max_value_bytes to store larger values)"
        )
    return text


def _encode_bytes(value: Any) -> tuple[str, int]:
    """The value's compact JSON text and its size in UTF-8 bytes.

    orjson encodes once; its output is kept when it decodes back to an equal value. It
    refuses what the stdlib encoder would let through (non-string object keys, lone
    surrogates, integers beyond 64 bits); what it would accept but JSON cannot carry as
    given (NaN and infinity become ``null``, enums, UUIDs) does not decode back equal, and
    then the strict stdlib encoder decides (tuples pass there, as lists).
    """
    try:
        raw = _strict(value, option=_STRICT)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidArgument(f"value is not JSON-serializable: {_why(exc)}") from None
    if type(value) in _EXACT or _loads(raw) == value:
        text = raw.decode()
        size = len(raw)
    else:
        try:
            text = _encode(value)
        except (TypeError, ValueError, RecursionError) as exc:
            raise InvalidArgument(f"value is not JSON-serializable: {_why(exc)}") from None
        size = len(text.encode())
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth(value, 0) > MAX_DEPTH:
        raise InvalidArgument(f"value is nested deeper than {MAX_DEPTH} levels")
    return text, size


def _depth(value: Any, level: int) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list | tuple):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _why(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = str(exc)
    if "Out of range float" in text:
        return "NaN and infinity are not JSON"
    if "Exceeds the limit" in text or "64-bit" in text:
        return "integers must fit in 64 bits"
    if "Dict key must be str" in text:
        return "object keys must be strings"
    if "surrogates" in text:
        return "strings must be valid UTF-8 (lone surrogate)"
    return text
