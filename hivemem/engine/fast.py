"""The common write, done without the engine's general machinery.

Most writes are a plain Put or Delete by an agent with write permission, in a namespace
whose strategy decides on versions alone (latest-wins, first-wins, version). A backend may
do those in one step of its own (Redis: one Lua script; SQLite: the writer's transaction,
without the engine's per-op brackets), deciding them as :mod:`hivemem.engine.decide` does,
and hand everything else — a refusal, a full namespace, an idempotency key, an expired
entry to replace — to the engine (:func:`hivemem.engine.apply.execute`), which words every
refusal and emits every event. ``tests/test_fast_paths.py`` proves a fast path ends each
write as the engine does.

This module holds what the fast paths share: whether an op qualifies, and the
:class:`Result` the engine would have returned for what the backend wrote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hivemem import _codec
from hivemem.engine.apply import SYSTEM_AGENT
from hivemem.engine.decide import DELETED, EXPIRED
from hivemem.engine.ops import Delete, Put
from hivemem.engine.permissions import WRITE, level_of
from hivemem.engine.reserved import INTERNAL, maybe_reserved
from hivemem.engine.txn import Result
from hivemem.types import Entry, Event

if TYPE_CHECKING:
    from hivemem.types import NamespaceInfo

__all__ = ["STRATEGIES", "delete_result", "qualifies", "put_result"]

#: Strategies a fast path decides by itself (they look at versions, never at values).
STRATEGIES = frozenset({"latest-wins", "first-wins", "version"})


def qualifies(op: Put | Delete, info: NamespaceInfo) -> bool:
    """Whether a fast path may try ``op`` in the namespace ``info`` describes.

    Idempotent ops (they record their result), pre-resolved writes, writes with a lease or a
    fence (they read and write engine records), strategies that run a
    resolver, values that may be reserved (list headers), namespaces of a kind (memories)
    callers without write permission (the refusal is the engine's to word and audit) and
    engine-internal keys (they emit no events) go to the engine.
    """
    if (
        op.idempotency_key is not None
        or info.kind is not None  # (a memories namespace: the engine decides)
        or level_of(info, op.agent, op.admin) < WRITE
        or op.key.startswith(INTERNAL)
    ):
        return False
    return type(op) is Delete or (
        info.conflict_strategy in STRATEGIES
        and not op.resolved  # type: ignore[union-attr]
        and op.lease is None  # type: ignore[union-attr]
        and op.fence is None  # type: ignore[union-attr]
        and not maybe_reserved(op.value_json)  # type: ignore[union-attr]
    )


def put_result(
    op: Put,
    now: float,
    expires_at: float | None,
    revision: int,
    version: int,
    created_at: float,
    expired_version: int = 0,
) -> Result:
    """What the engine returns for a Put the backend wrote at ``revision``.

    ``expired_version``: the version of an expired entry the write replaced (its
    ``memory:expired`` event took the revision before).
    """
    ns, key, agent = op.ns, op.key, op.agent
    value = _codec.decode(op.value_json)
    events: list[Event] = []
    if expired_version:
        events.append(
            Event("memory:expired", ns, revision - 1, now, SYSTEM_AGENT, key=key,
                  version=expired_version)
        )  # fmt: skip
    events.append(
        Event("memory:write", ns, revision, now, agent, key=key, value=value, version=version)
    )
    entry = Entry(ns, key, value, agent, version, revision, created_at, now, expires_at)
    return Result(value=entry, events=events)


def delete_result(op: Delete, now: float, revision: int, outcome: int, version: int) -> Result:
    """What the engine returns for a Delete the backend did.

    ``outcome``: :data:`~hivemem.engine.decide.ABSENT`, ``EXPIRED`` or ``DELETED``;
    ``version`` is the entry's.
    """
    events: list[Event] = []
    if outcome == EXPIRED:
        events.append(
            Event("memory:expired", op.ns, revision, now, SYSTEM_AGENT, key=op.key,
                  version=version)
        )  # fmt: skip
    elif outcome == DELETED:
        events.append(
            Event("memory:delete", op.ns, revision, now, op.agent, key=op.key, version=version)
        )
    return Result(value=outcome == DELETED, events=events)
