"""Transactions (SPEC §19): compares, then one branch of ops, in one atomic step.

``mem.transaction()`` builds one :class:`~hivemem.engine.ops.Transaction` op; the backend
runs it like any op, inside its atomic step, so it needs nothing of its own: this handler
evaluates every compare, then runs the chosen branch by calling the ordinary handlers
(:func:`hivemem.engine.apply.put`, ``delete``, ``get``). Each write therefore keeps its
usual permission check, conflict strategy, TTL, events and audit record, and a refusal of
any of them (a conflict, a permission, a full namespace) undoes the whole transaction.

Rules where the spec is silent (also in docs/coordination.md, "Transactions"):

- At most :data:`MAX_TXN_OPS` compares and ops in all (both branches counted): one
  transaction is one atomic step, and a step's size must stay bounded.
- Permissions are checked up front for both branches and every compare: read on every
  namespace a compare or a read names, write where a write or delete is, so whether a
  compare holds never decides whether a permission error shows. A namespace that does not
  exist yet is checked when a write creates it (as ``mem.write`` does).
- A compare on a missing namespace or key sees no entry (version 0, ``exists=False``); an
  expired entry is no entry. ``value=`` compares JSON values (``1 == 1.0``, ``true != 1``).
- A branch names each key at most once among its writes and deletes (``duplicate_key``).
- Namespaces are first read in name order: backends that lock per namespace (PostgreSQL's
  advisory locks) then always lock in one order, so two transactions never deadlock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem.engine import apply
from hivemem.engine import ops as o
from hivemem.engine.permissions import READ, WRITE, require
from hivemem.errors import InvalidArgument
from hivemem.types import AccessLogEntry, TxnResult

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["HANDLERS", "KINDS", "MAX_TXN_OPS", "TARGETS", "check_shape", "same_value"]

#: Most compares and ops (both branches) one transaction may hold.
MAX_TXN_OPS = 128
#: What a compare may test.
TARGETS = ("version", "value", "exists")
#: What a branch's op may be.
KINDS = ("write", "delete", "read")
_ACTIONS = {"write": "write", "delete": "delete", "read": "read"}


def check_shape(
    compares: tuple[o.TxnCompare, ...],
    success: tuple[o.TxnStep, ...],
    failure: tuple[o.TxnStep, ...],
) -> None:
    """Refuse a malformed transaction (size, unknown targets or kinds, duplicate keys).

    Raises:
        InvalidArgument: with ``reason`` ``too_many_ops``, ``unknown_op`` or
            ``duplicate_key``.
    """
    total = len(compares) + len(success) + len(failure)
    if total > MAX_TXN_OPS:
        raise InvalidArgument(
            f"a transaction holds at most {MAX_TXN_OPS} compares and ops, this one {total}: "
            "split it",
            reason="too_many_ops",
            limit=MAX_TXN_OPS,
        )
    for c in compares:
        if c.target not in TARGETS:
            raise InvalidArgument(
                f"unknown compare {c.target!r}: use version, value or exists", reason="unknown_op"
            )
    for branch in (success, failure):
        seen: set[tuple[str, str]] = set()
        for step in branch:
            if step.kind not in KINDS:
                raise InvalidArgument(
                    f"unknown transaction op {step.kind!r}: use write, delete or read",
                    reason="unknown_op",
                )
            if step.kind == "read":
                continue
            if (step.ns, step.key) in seen:
                raise InvalidArgument(
                    f"a branch writes or deletes {step.key!r} of {step.ns!r} twice",
                    reason="duplicate_key",
                    namespace=step.ns,
                    key=step.key,
                )
            seen.add((step.ns, step.key))


def same_value(a: Any, b: Any) -> bool:
    """Whether two decoded JSON values are equal as JSON (``true`` is not ``1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def _holds(ctx: apply.Ctx, c: o.TxnCompare, exists: bool) -> bool:
    raw = ctx.tx.entry_get(c.ns, c.key) if exists else None
    live = raw if raw is not None and (raw.expires_at is None or raw.expires_at > ctx.now) else None
    if c.target == "version":
        return bool((live.version if live is not None else 0) == c.expected)
    if c.target == "exists":
        return bool((live is not None) == c.expected)
    return live is not None and same_value(
        _codec.decode(live.value_json), _codec.decode(c.expected)
    )


def transaction(ctx: apply.Ctx, op: o.Transaction) -> TxnResult:
    check_shape(op.compares, op.success, op.failure)
    needed: dict[str, int] = {}
    for c in op.compares:
        needed[c.ns] = max(needed.get(c.ns, 0), READ)
    for step in (*op.success, *op.failure):
        level = READ if step.kind == "read" else WRITE
        needed[step.ns] = max(needed.get(step.ns, 0), level)
    present: set[str] = set()
    for ns in sorted(needed):  # name order: see the module's docstring (no deadlocks)
        info = ctx.tx.ns_get(ns)
        if info is not None:
            require(info, op.agent, needed[ns], op.admin)
            present.add(ns)
    held = all(_holds(ctx, c, c.ns in present) for c in op.compares)
    results: list[Any] = []
    done: list[tuple[str, str, str]] = []
    common: dict[str, Any] = {"agent": op.agent, "admin": op.admin, "memories": op.memories}
    for step in op.success if held else op.failure:
        if step.kind == "write":
            assert step.value_json is not None
            put = o.Put(
                **common,
                ns=step.ns,
                key=step.key,
                value_json=step.value_json,
                ttl=step.ttl,
                expected_version=step.expected_version,
            )
            results.append(apply.put(ctx, put))
        elif step.kind == "delete":
            delete = o.Delete(
                **common, ns=step.ns, key=step.key, expected_version=step.expected_version
            )
            results.append(apply.delete(ctx, delete))
        else:
            results.append(apply.get(ctx, o.Get(**common, ns=step.ns, key=step.key)))
        done.append((step.ns, step.key, _ACTIONS[step.kind]))
    revisions = {ns: ctx.tx.rev_get(ns) for ns in sorted(needed)}
    if not op.internal:
        # Each op of the branch is audited as itself (the transaction's own record follows).
        for ns, key, action in done:
            if action != "read" or ctx.settings.log_reads:
                ctx.tx.audit_append(AccessLogEntry(ctx.now, op.agent, ns, key, action, True, None))
    return TxnResult(held, results, revisions)


HANDLERS: dict[type, Callable[[apply.Ctx, Any], Any]] = {o.Transaction: transaction}
