"""Conflict strategies: what a write does when its key already holds a value.

Pure functions. :func:`resolve_value` gets the live entry and the incoming one and returns
the value to store, or raises :class:`~hivemem.errors.ConflictError`; everything decided on
versions alone is :mod:`hivemem.engine.decide`'s. The engine calls it inside the backend's
atomic step, so every strategy is atomic with any number of writers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hivemem.errors import ConflictError, HivememError, InvalidArgument
from hivemem.types import Entry

__all__ = [
    "BUILTIN_RESOLVERS",
    "REJECT",
    "Resolver",
    "call_resolver",
    "deep_merge",
    "resolve_value",
]

#: ``resolver(existing, incoming, key)`` returns the Entry or value to store, or
#: ``existing``/``None`` to reject the incoming write.
Resolver = Callable[[Entry, Entry, str], Any]

#: Sentinel a resolver may return (besides ``existing`` or ``None``) to reject a write.
REJECT = object()


def deep_merge(existing: Any, incoming: Any) -> Any:
    """Merge ``incoming`` into ``existing``.

    Objects merge recursively (on a leaf the incoming value wins); arrays concatenate
    (existing, then incoming); anything else is replaced by the incoming value.
    """
    if isinstance(existing, dict) and isinstance(incoming, dict):
        merged = dict(existing)
        for k, v in incoming.items():
            merged[k] = deep_merge(merged[k], v) if k in merged else v
        return merged
    if isinstance(existing, list) and isinstance(incoming, list):
        return existing + incoming
    return incoming


def _max(existing: Entry, incoming: Entry, key: str) -> Any:
    return incoming if _num(incoming.value) > _num(existing.value) else existing


def _min(existing: Entry, incoming: Entry, key: str) -> Any:
    return incoming if _num(incoming.value) < _num(existing.value) else existing


def _sum(existing: Entry, incoming: Entry, key: str) -> Any:
    return _num(existing.value) + _num(incoming.value)


def _union(existing: Entry, incoming: Entry, key: str) -> Any:
    if not isinstance(existing.value, list) or not isinstance(incoming.value, list):
        raise InvalidArgument("the 'union' resolver needs array values")
    out = list(existing.value)
    out.extend(v for v in incoming.value if v not in out)
    return out


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"this resolver needs numeric values, got {value!r}")
    return value


#: Resolvers every store knows by name.
BUILTIN_RESOLVERS: dict[str, Resolver] = {"max": _max, "min": _min, "sum": _sum, "union": _union}


def call_resolver(resolver: Resolver, existing: Entry, incoming: Entry) -> Any:
    """``resolver(existing, incoming, key)``; what it raises is the write's error.

    Raises:
        InvalidArgument: ``reason="resolver_failed"``: the resolver (user code) raised
            something other than a :class:`~hivemem.errors.HivememError`; logged with its
            traceback (logger ``hivemem``).
    """
    try:
        return resolver(existing, incoming, incoming.key)
    except HivememError:
        raise
    except Exception as exc:  # user code: its failure is the write's, not the store's
        logging.getLogger("hivemem").warning(
            "the resolver of namespace %r raised on key %r",
            incoming.namespace,
            incoming.key,
            exc_info=exc,
        )
        raise InvalidArgument(
            f"the resolver of namespace {incoming.namespace!r} raised on key "
            f"{incoming.key!r}: {type(exc).__name__}: {exc}",
            reason="resolver_failed",
        ) from exc


def resolve_value(
    strategy: str, existing: Entry, incoming: Entry, resolver: Resolver | None
) -> Any:
    """The value to store when ``incoming`` meets the live ``existing`` under ``strategy``.

    Only ``merge`` and ``custom`` look at values (case P4 of :mod:`hivemem.engine.decide`,
    which decides every other case, the refusals on versions included).

    Raises:
        ConflictError: ``reason="rejected_by_resolver"``: the custom resolver refused.
        InvalidArgument: ``reason="resolver_failed"``: the custom resolver raised (logged
            with its traceback); ``"resolver_unavailable"``: none is registered.
    """
    if strategy == "merge":
        return deep_merge(existing.value, incoming.value)
    if resolver is None:
        raise InvalidArgument(
            f"namespace {incoming.namespace!r} is 'custom' but its resolver is not registered "
            "in this process: register it (connect(resolvers={name: fn})), or resolve in the "
            "client and write with resolved=True and expected_version",
            reason="resolver_unavailable",
        )
    chosen = call_resolver(resolver, existing, incoming)
    if chosen is None or chosen is existing or chosen is REJECT:
        raise ConflictError(
            f"the resolver of namespace {incoming.namespace!r} rejected the write to "
            f"{incoming.key!r}",
            reason="rejected_by_resolver",
            current_version=existing.version,
        )
    return chosen.value if isinstance(chosen, Entry) else chosen
