"""Custom resolvers that run in the client: read, resolve, compare-and-set, repeat.

A callable resolver cannot travel to a server (or into a Redis script). When the store
answers a write with ``resolver_unavailable``, the client runs the resolver itself:

1. read the live entry;
2. absent: write the incoming value with ``expected_version=0``; present: call
   ``resolver(existing, incoming, key)`` and write its choice with
   ``expected_version=existing.version`` and ``resolved=True``;
3. if another writer got in between (``version_mismatch``), go back to 1.

The result is the same as the embedded engine's: the resolver sees the entry its choice
replaces, and a rejection raises ``ConflictError(reason="rejected_by_resolver")`` with a
local ``memory:conflict`` event.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem.engine import ops as o
from hivemem.engine.conflicts import REJECT, call_resolver
from hivemem.engine.txn import Result
from hivemem.errors import ConflictError, HivememError
from hivemem.types import Entry, Event

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hivemem.engine.txn import Settings

__all__ = ["MAX_ROUNDS", "needs_client_resolution", "resolve_in_client", "aresolve_in_client"]

#: Read-resolve-write rounds before giving up under contention.
MAX_ROUNDS = 100


def needs_client_resolution(op: o.Op[Any], result: Result, settings: Settings) -> Any:
    """The local resolver to run if the store could not resolve ``op``, else ``None``."""
    err = result.error
    if not isinstance(op, o.Put) or op.resolved or err is None:
        return None
    if err.details.get("reason") != "resolver_unavailable":
        return None
    name = err.details.get("resolver")
    return settings.resolvers.get(name) if isinstance(name, str) else None


def _round(op: o.Put, current: Entry | None, resolver: Any, settings: Settings) -> o.Put | Result:
    """The next write to try, or the refusal."""
    key = uuid.uuid4().hex
    version = current.version if current is not None else 0
    if op.expected_version is not None and op.expected_version != version:
        error = ConflictError(
            f"key {op.key!r} is at version {version}, not {op.expected_version}",
            reason="version_mismatch",
            current_version=version,
        )
        return Result(error=error)
    if current is None:
        return dataclasses.replace(op, expected_version=0, resolved=True, idempotency_key=key)
    now = settings.clock()
    ttl = op.ttl
    incoming = Entry(
        op.ns,
        op.key,
        _codec.decode(op.value_json),
        op.agent,
        0,
        0,
        now,
        now,
        now + ttl if ttl is not None else None,
    )
    chosen = call_resolver(resolver, current, incoming)
    if chosen is None or chosen is current or chosen is REJECT:
        error = ConflictError(
            f"the resolver of namespace {op.ns!r} rejected the write to {op.key!r}",
            reason="rejected_by_resolver",
            current_version=current.version,
        )
        event = Event(
            "memory:conflict",
            op.ns,
            0,
            now,
            op.agent,
            key=op.key,
            value=incoming.value,
            version=current.version,
            reason="rejected_by_resolver",
        )
        return Result(error=error, events=[event])
    value = chosen.value if isinstance(chosen, Entry) else chosen
    return dataclasses.replace(
        op,
        value_json=_codec.encode_value(value, settings.max_value_bytes),
        expected_version=current.version,
        resolved=True,
        idempotency_key=key,
    )


def _retry(result: Result) -> bool:
    err = result.error
    return isinstance(err, ConflictError) and err.reason == "version_mismatch"


def resolve_in_client(
    execute: Callable[[o.Op[Any]], Result], op: o.Put, resolver: Any, settings: Settings
) -> Result:
    """Run ``op`` with a client-side resolver over ``execute`` (see the module docstring)."""
    get = o.Get(agent=op.agent, admin=op.admin, ns=op.ns, key=op.key)
    for _ in range(MAX_ROUNDS):
        read = execute(get)
        if read.error is not None:
            return read
        try:
            step = _round(op, read.value, resolver, settings)
        except HivememError as exc:
            return Result(error=exc)
        if isinstance(step, Result):
            return step
        result = execute(step)
        if not _retry(result) or op.expected_version is not None:
            return result
    return Result(error=ConflictError("too much contention on the key", reason="contention"))


async def aresolve_in_client(
    execute: Callable[[o.Op[Any]], Awaitable[Result]],
    op: o.Put,
    resolver: Any,
    settings: Settings,
) -> Result:
    """Async twin of :func:`resolve_in_client`."""
    get = o.Get(agent=op.agent, admin=op.admin, ns=op.ns, key=op.key)
    for _ in range(MAX_ROUNDS):
        read = await execute(get)
        if read.error is not None:
            return read
        try:
            step = _round(op, read.value, resolver, settings)
        except HivememError as exc:
            return Result(error=exc)
        if isinstance(step, Result):
            return step
        result = await execute(step)
        if not _retry(result) or op.expected_version is not None:
            return result
    return Result(error=ConflictError("too much contention on the key", reason="contention"))
