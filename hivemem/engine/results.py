"""JSON text for op outcomes, so an idempotency key can answer a repeat with the first one."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hivemem.types import Entry, Event, NamespaceInfo, TxnResult

__all__ = ["decode_result", "encode_result"]

_TYPES: dict[str, type] = {"entry": Entry, "event": Event, "namespace": NamespaceInfo}
_TAGS = {cls: tag for tag, cls in _TYPES.items()}


def _wrap(value: Any) -> Any:
    if isinstance(value, TxnResult):
        # Revisions as records, so a backend can find each "revision" field (Redis patches
        # placeholder revisions in remembered outcomes).
        revisions = [{"namespace": k, "revision": v} for k, v in value.revisions.items()]
        return {"$x": [value.succeeded, _wrap(value.results), revisions]}
    tag = _TAGS.get(type(value))
    if tag is not None:
        return {"$t": tag, "v": {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}}
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, dict):
        return {"$d": {k: _wrap(v) for k, v in value.items()}}
    return value


def _unwrap(data: Any) -> Any:
    if isinstance(data, list):
        return [_unwrap(v) for v in data]
    if isinstance(data, dict):
        if "$x" in data:
            succeeded, results, revisions = data["$x"]
            return TxnResult(
                succeeded, _unwrap(results), {r["namespace"]: r["revision"] for r in revisions}
            )
        if "$t" in data:
            return _TYPES[data["$t"]](**data["v"])
        return {k: _unwrap(v) for k, v in data["$d"].items()}
    return data


def encode_result(value: Any) -> str:
    """Encode an op's return value (entries, events, lists, dicts, scalars) as JSON text."""
    return json.dumps(_wrap(value), separators=(",", ":"))


def decode_result(text: str) -> Any:
    """Decode what :func:`encode_result` produced."""
    return _unwrap(json.loads(text))
