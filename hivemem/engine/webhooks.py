r"""Webhooks (SPEC §19): their records, permissions and delivery bookkeeping, over Txn.

Every record lives in the reserved namespace :data:`WEBHOOKS_NAMESPACE` of the store itself
(created on demand, no access for any caller), so every process and replica over the store
sees the same webhooks, and they survive restarts:

- ``h/<id>``: the webhook (url, namespaces, event patterns, secret, owner, enabled, the run
  of failures, and per namespace the cursor: the last revision its target acknowledged);
- ``d/<id>/<seq>``: its delivery log, the newest :data:`MAX_LOG` attempts (older ones are
  deleted as new ones are written);
- ``\x01whclaim/<id>``: which delivery worker holds the webhook, until when
  (``Stored.expires_at``: expired means free). A worker takes it with :class:`ClaimWebhook`,
  a compare-and-set inside one atomic step, so at most one worker delivers a webhook at a
  time; every :class:`RecordDelivery` checks the claim first (``claim_lost`` otherwise).

Who may act: a server admin, or an agent that is admin of every namespace of the webhook
(checked when it is added, and again on every listing, removal and log read, so losing
admin on one namespace hides the webhook from that agent).

Written records take the reserved namespace's next revision (no event is emitted): that is
what backends with optimistic commits (Redis) compare, so two claims never both succeed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem._validate import is_reserved
from hivemem.engine import ops as o
from hivemem.engine.permissions import ADMIN, level_of
from hivemem.engine.reserved import internal_key
from hivemem.engine.txn import Stored
from hivemem.errors import ConflictError, NamespaceNotFound, NotFound, PermissionDenied
from hivemem.types import NamespaceInfo, Webhook, WebhookDelivery

if TYPE_CHECKING:
    from collections.abc import Callable

    from hivemem.engine.apply import Ctx

__all__ = ["HANDLERS", "MAX_HOOKS", "MAX_LOG", "WEBHOOKS_NAMESPACE"]

WEBHOOKS_NAMESPACE = "_hivemem.webhooks"
#: Delivery attempts kept per webhook (older ones are deleted as new ones come).
MAX_LOG = 100
#: Most webhooks one store holds (every listing scans them all).
MAX_HOOKS = 1000
_HOOK = "h/"


def _hook_key(hook_id: str) -> str:
    return f"{_HOOK}{hook_id}"


def _log_key(hook_id: str, seq: int) -> str:
    return f"d/{hook_id}/{seq:016x}"


def _claim_key(hook_id: str) -> str:
    return internal_key("whclaim", hook_id)


def _ensure(ctx: Ctx) -> None:
    """Create the reserved namespace (no access for any caller) before its first record."""
    if ctx.tx.ns_get(WEBHOOKS_NAMESPACE) is None:
        ctx.tx.ns_put(
            NamespaceInfo(
                name=WEBHOOKS_NAMESPACE,
                default_permission=None,
                permissions={},
                created_by="system",
                created_at=ctx.now,
            )
        )


def _write(ctx: Ctx, key: str, value: Any, expires_at: float | None = None) -> None:
    old = ctx.tx.entry_get(WEBHOOKS_NAMESPACE, key)
    created = old.created_at if old is not None else ctx.now
    version = old.version + 1 if old is not None else 1
    rev = ctx.tx.rev_next(WEBHOOKS_NAMESPACE)
    stored = Stored(_codec.encode(value), "system", version, rev, created, ctx.now, expires_at)
    ctx.tx.entry_put(WEBHOOKS_NAMESPACE, key, stored)


def _read(ctx: Ctx, hook_id: str) -> dict[str, Any] | None:
    raw = ctx.tx.entry_get(WEBHOOKS_NAMESPACE, _hook_key(hook_id))
    if raw is None:
        return None
    data: dict[str, Any] = _codec.decode(raw.value_json)
    return data


def _may_admin(ctx: Ctx, op: o.Op[Any], namespaces: list[str] | tuple[str, ...]) -> bool:
    """Whether the caller administers every one of ``namespaces`` (server admins do)."""
    if op.admin or op.internal:
        return True
    for name in namespaces:
        info = ctx.tx.ns_get(name)
        if info is None or level_of(info, op.agent, op.admin) < ADMIN:
            return False
    return True


def _public(data: dict[str, Any], secret: bool = False) -> Webhook:
    """The record as a :class:`Webhook`; the secret only when asked (add, the worker)."""
    shown = dict(data)
    if not secret:
        shown["secret"] = None
    return Webhook.from_dict(shown)


def _visible(ctx: Ctx, op: o.Op[Any], hook_id: str) -> dict[str, Any]:
    """The webhook ``hook_id`` if the caller may administer it, else ``NotFound``."""
    data = _read(ctx, hook_id) if isinstance(hook_id, str) and hook_id else None
    if data is None or not _may_admin(ctx, op, data["namespaces"]):
        # One answer for "absent" and "not yours": ids of others' webhooks do not leak.
        raise NotFound(f"no webhook {hook_id!r} you administer: see mem.webhooks()")
    return data


# ---------------------------------------------------------------- public ops


def _add(ctx: Ctx, op: o.AddWebhook) -> Webhook:
    cursors: dict[str, int] = {}
    for name in op.namespaces:
        if is_reserved(name):
            raise PermissionDenied(f"namespace {name!r} is reserved", namespace=name)
        info = ctx.tx.ns_get(name)
        if info is None:
            if not op.admin:
                raise NamespaceNotFound(f"namespace {name!r} does not exist", namespace=name)
            cursors[name] = ctx.tx.rev_get(name)
            continue
        if level_of(info, op.agent, op.admin) < ADMIN:
            raise PermissionDenied(
                f"agent {op.agent!r} needs admin permission on namespace {name!r} to add a "
                "webhook on it",
                namespace=name,
                needed="admin",
            )
        # A new webhook delivers what happens from now on.
        cursors[name] = ctx.tx.rev_get(name)
    _ensure(ctx)
    existing = ctx.tx.entries_scan(WEBHOOKS_NAMESPACE, _HOOK, None, MAX_HOOKS)
    if len(existing) >= MAX_HOOKS:
        raise ConflictError(
            f"the store holds {MAX_HOOKS} webhooks, its limit: remove one first",
            reason="too_many_webhooks",
        )
    hook_id = op.hook_id
    if ctx.tx.entry_get(WEBHOOKS_NAMESPACE, _hook_key(hook_id)) is not None:
        raise ConflictError(f"webhook {hook_id!r} exists", reason="exists")
    data = {
        "id": hook_id,
        "url": op.url,
        "namespaces": list(op.namespaces),
        "events": list(op.events),
        "owner": op.agent,
        "created_at": ctx.now,
        "enabled": True,
        "failures": 0,
        "cursors": cursors,
        "last_error": None,
        "secret": op.secret,
        "seq": 0,
    }
    _write(ctx, _hook_key(hook_id), data)
    return _public(data, secret=True)


def _list(ctx: Ctx, op: o.ListWebhooks) -> list[Webhook]:
    rows = ctx.tx.entries_scan(WEBHOOKS_NAMESPACE, _HOOK, None, MAX_HOOKS)
    out = []
    for _key, stored in rows:
        data = _codec.decode(stored.value_json)
        if _may_admin(ctx, op, data["namespaces"]):
            out.append(_public(data, secret=op.internal))
    return out


def _remove(ctx: Ctx, op: o.RemoveWebhook) -> bool:
    _visible(ctx, op, op.hook_id)
    ctx.tx.entry_delete(WEBHOOKS_NAMESPACE, _hook_key(op.hook_id))
    ctx.tx.entry_delete(WEBHOOKS_NAMESPACE, _claim_key(op.hook_id))
    logs = ctx.tx.entries_scan(WEBHOOKS_NAMESPACE, f"d/{op.hook_id}/", None, MAX_LOG + 1)
    for key, _stored in logs:
        ctx.tx.entry_delete(WEBHOOKS_NAMESPACE, key)
    return True


def _deliveries(ctx: Ctx, op: o.WebhookDeliveries) -> list[WebhookDelivery]:
    data = _visible(ctx, op, op.hook_id)
    seq = int(data.get("seq", 0))
    first = max(1, seq - min(op.limit, MAX_LOG) + 1)
    keys = [_log_key(op.hook_id, n) for n in range(seq, first - 1, -1)]
    rows = ctx.tx.entries_get(WEBHOOKS_NAMESPACE, keys) if keys else []
    return [WebhookDelivery.from_dict(_codec.decode(r.value_json)) for r in rows if r is not None]


# ---------------------------------------------------------------- the delivery worker's ops


def _internal(op: o.Op[Any]) -> None:
    if not op.internal:
        raise PermissionDenied("only the store's delivery worker claims and records deliveries")


def _claim(ctx: Ctx, op: o.ClaimWebhook) -> Webhook | None:
    _internal(op)
    data = _read(ctx, op.hook_id)
    if data is None or not data.get("enabled", True):
        return None
    key = _claim_key(op.hook_id)
    raw = ctx.tx.entry_get(WEBHOOKS_NAMESPACE, key)
    live = raw is not None and (raw.expires_at is None or raw.expires_at > ctx.now)
    if live and raw is not None and _codec.decode(raw.value_json)["holder"] != op.holder:
        return None
    _write(ctx, key, {"holder": op.holder}, expires_at=op.until)
    return _public(data, secret=True)


def _holds(ctx: Ctx, hook_id: str, holder: str) -> bool:
    raw = ctx.tx.entry_get(WEBHOOKS_NAMESPACE, _claim_key(hook_id))
    if raw is None or (raw.expires_at is not None and raw.expires_at <= ctx.now):
        return False
    return bool(_codec.decode(raw.value_json)["holder"] == holder)


def _record(ctx: Ctx, op: o.RecordDelivery) -> Webhook:
    _internal(op)
    data = _read(ctx, op.hook_id)
    if data is None or not _holds(ctx, op.hook_id, op.holder):
        raise ConflictError(
            f"webhook {op.hook_id!r} is not claimed by {op.holder!r} any more",
            reason="claim_lost",
        )
    if op.cursor is not None:
        cursors = data.setdefault("cursors", {})
        # Cursors only move forward: a late record never re-delivers acknowledged events.
        cursors[op.namespace] = max(int(cursors.get(op.namespace, 0)), op.cursor)
    if op.ok:
        data["failures"] = 0
        data["last_error"] = None
    else:
        data["failures"] = int(data.get("failures", 0)) + 1
        data["last_error"] = op.error
        if op.max_failures and data["failures"] >= op.max_failures:
            data["enabled"] = False
    if op.delivery_json is not None:
        seq = int(data.get("seq", 0)) + 1
        data["seq"] = seq
        entry = _codec.decode(op.delivery_json)
        entry["seq"] = seq
        _write(ctx, _log_key(op.hook_id, seq), entry)
        if seq > MAX_LOG:
            ctx.tx.entry_delete(WEBHOOKS_NAMESPACE, _log_key(op.hook_id, seq - MAX_LOG))
    _write(ctx, _hook_key(op.hook_id), data)
    return _public(data, secret=True)


HANDLERS: dict[type, Callable[[Ctx, Any], Any]] = {
    o.AddWebhook: _add,
    o.ListWebhooks: _list,
    o.RemoveWebhook: _remove,
    o.WebhookDeliveries: _deliveries,
    o.ClaimWebhook: _claim,
    o.RecordDelivery: _record,
}
