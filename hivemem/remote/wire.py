"""How each op travels over HTTP: its route, arguments and body, and how to read the answer.

One function per op type turns the op into a :class:`Call` on a route of the route table
(:mod:`hivemem.wire.table`: verb, path, idempotency header and whether a resend is safe
come from there); the call's ``decode`` turns the JSON answer back into what the embedded
engine returns for that op (entries, pages, namespace infos...), so ``Memory`` over
``http://`` gives the same values. Memories ops go through :func:`hivemem.memories.wire.
memory_call`, built from the same table.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import orjson

from hivemem.engine import ops as o
from hivemem.engine.leases import LEASE_HOME
from hivemem.engine.restore import entry_record, stored_from_record
from hivemem.memories.wire import MemoryCall, memory_call
from hivemem.types import (
    AccessLogEntry,
    Entry,
    Event,
    Lease,
    Lock,
    NamespaceInfo,
    Page,
    Presence,
    QueueInfo,
    Task,
    TxnResult,
    Version,
    Webhook,
    WebhookDelivery,
)
from hivemem.wire.call import Call
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from collections.abc import Callable

    from hivemem.engine.txn import Stored

__all__ = ["Call", "call_for"]


def _call(
    name: str,
    op: Any,
    /,
    *,
    params: dict[str, Any] | None = None,
    body: bytes | None = None,
    decode: Callable[[Any], Any] = lambda data: data,
    missing_ok: bool = False,
    headers: dict[str, str] | None = None,
    idempotent: bool | None = None,
    **path: Any,
) -> Call:
    """A call on route ``name`` of the table; the path's ``ns`` is ``op.ns`` unless given.

    The route's ``Idempotency-Key`` is sent (the op's own, else a new one) unless
    ``idempotent`` is ``False``.
    """
    route = BY_NAME[name]
    if "ns" in route.path_names and "ns" not in path:
        path["ns"] = op.ns
    extra = dict(headers or {})
    if route.idempotency_key if idempotent is None else idempotent:
        extra["Idempotency-Key"] = op.idempotency_key or uuid.uuid4().hex
    return Call(
        route.verb,
        route.url(**path),
        params=params or {},
        body=body,
        retry_safe=route.retry_safe,
        decode=decode,
        missing_ok=missing_ok,
        headers=extra,
    )


def _ns(ns: str) -> str:
    return BY_NAME["get_namespace"].url(ns=ns)


#: The header asking the events route for its JSON forms.
_JSON = {"Accept": "application/json"}


def _json(data: Any) -> bytes:
    return orjson.dumps(data)


def _info(data: Any) -> NamespaceInfo:
    return NamespaceInfo.from_dict(data)


def _raw(value_json: str) -> Any:
    return orjson.Fragment(value_json)


def _create(op: o.CreateNamespace) -> Call:
    body: dict[str, Any] = {
        "name": op.ns,
        "default_permission": op.default_permission,
        "conflict_strategy": op.conflict_strategy,
        "resolver": op.resolver,
        "ttl": op.ttl,
        "max_entries": op.max_entries,
        "description": op.description,
        "exist_ok": op.exist_ok,
    }
    if op.group is not None:
        body["group"] = op.group
    if op.permissions is not None:
        body["permissions"] = op.permissions
    return _call("create_namespace", op, body=_json(body), decode=_info)


def _get_ns(op: o.GetNamespace) -> Call:
    return _call("get_namespace", op, decode=_info)


def _list_ns(op: o.ListNamespaces) -> Call:
    return _call("list_namespaces", op, decode=lambda d: [_info(i) for i in d["namespaces"]])


def _update_ns(op: o.UpdateNamespace) -> Call:
    return _call("update_namespace", op, body=_json(op.changes), decode=_info)


def _update_perms(op: o.UpdatePermissions) -> Call:
    body = _json({"permissions": op.permissions})
    return _call("update_permissions", op, body=body, decode=_info)


def _clear(op: o.ClearNamespace) -> Call:
    return _call("clear_namespace", op, decode=lambda d: d["cleared"])


def _delete_ns(op: o.DeleteNamespace) -> Call:
    return _call("delete_namespace", op, decode=lambda d: None)


def _entry(data: Any) -> Entry | None:
    return None if data is None else Entry.from_dict(data)


def _get(op: o.Get) -> Call:
    return _call("get_entry", op, key=op.key, decode=_entry, missing_ok=True)


def _exists(op: o.Exists) -> Call:
    return _call("exists", op, key=op.key, decode=lambda d: d["exists"])


def _get_many(op: o.GetMany) -> Call:
    if not op.keys:
        return _call("get_namespace", op, decode=lambda d: {})
    body = _json({"atomic": True, "ops": [{"op": "get", "key": k} for k in op.keys]})
    keys = op.keys

    def decode(data: Any) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for key, result in zip(keys, data["results"], strict=True):
            if result.get("entry") is not None:
                out[key] = Entry.from_dict(result["entry"])
        return out

    return _call("batch", op, body=body, decode=decode, idempotent=False)


def _list(op: o.ListEntries) -> Call:
    params: dict[str, Any] = {"prefix": op.prefix, "limit": op.limit or 1000}
    if op.cursor is not None:
        params["cursor"] = op.cursor

    def decode(data: Any) -> Page[Entry]:
        return Page([Entry.from_dict(e) for e in data["items"]], data["next_cursor"])

    return _call("list_entries", op, params=params, decode=decode)


def _as_of(op: o.ReadAsOf | o.ListAsOf) -> dict[str, Any]:
    return {"revision": op.revision} if op.revision is not None else {"at": op.at}


def _history(op: o.History) -> Call:
    params: dict[str, Any] = {"limit": op.limit}
    if op.before is not None:
        params["before"] = op.before
    return _call(
        "history",
        op,
        key=op.key,
        params=params,
        decode=lambda d: [Version.from_dict(v) for v in d["versions"]],
    )


def _read_as_of(op: o.ReadAsOf) -> Call:
    def decode(data: Any) -> Entry | None:
        return None if data["entry"] is None else Entry.from_dict(data["entry"])

    return _call("read_as_of", op, key=op.key, params=_as_of(op), decode=decode)


def _list_as_of(op: o.ListAsOf) -> Call:
    params: dict[str, Any] = {**_as_of(op), "prefix": op.prefix, "limit": op.limit}
    if op.cursor is not None:
        params["cursor"] = op.cursor

    def decode(data: Any) -> Page[Entry]:
        return Page([Entry.from_dict(e) for e in data["items"]], data["next_cursor"])

    return _call("list_as_of", op, params=params, decode=decode)


def _put(op: o.Put) -> Call:
    body: dict[str, Any] = {"value": _raw(op.value_json)}
    if op.ttl is not None:
        body["ttl"] = op.ttl
    if op.expected_version is not None:
        body["expected_version"] = op.expected_version
    if op.resolved:
        body["resolved"] = True
    if op.lease is not None:
        body["lease"] = op.lease
    if op.fence is not None:
        ns, name, token = op.fence
        body["fence"] = {"namespace": ns, "name": name, "token": token}
    return _call("put_entry", op, key=op.key, body=_json(body), decode=Entry.from_dict)


def _put_many(op: o.PutMany) -> Call:
    body: dict[str, Any] = {
        "atomic": True,
        "ops": [{"op": "put", "key": k, "value": _raw(v)} for k, v in op.items],
    }
    if op.ttl is not None:
        body["ttl"] = op.ttl

    def decode(data: Any) -> list[Entry]:
        return [Entry.from_dict(r["entry"]) for r in data["results"]]

    return _call("batch", op, body=_json(body), decode=decode)


def _delete(op: o.Delete) -> Call:
    params = {} if op.expected_version is None else {"expected_version": op.expected_version}
    return _call("delete_entry", op, key=op.key, params=params, decode=lambda d: d["deleted"])


def _broadcast(op: o.Broadcast) -> Call:
    body = _json({"message": _raw(op.message_json)})
    return _call("broadcast", op, body=body, decode=Event.from_dict)


def _start_watch(op: o.StartWatch) -> Call:
    # The JSON form of the events route checks permission and retention and returns at once.
    params: dict[str, Any] = {"limit": 1}
    if op.since is not None:
        params["since"] = op.since
    params["probe"] = "subscribe" if op.subscribe else "watch"
    return _call("events", op, params=params, decode=lambda d: d["revision"], headers=_JSON)


def _events_after(op: o.EventsAfter) -> Call:
    params = {"since": op.since, "limit": op.limit}
    return _call(
        "events",
        op,
        params=params,
        decode=lambda d: [Event.from_dict(e) for e in d["events"]],
        headers=_JSON,
    )


def _audit(op: o.AccessLogQuery) -> Call:
    params: dict[str, Any] = {"limit": op.limit}
    for name, value in (
        ("agent_id", op.agent_id),
        ("namespace", op.ns),
        ("action", op.action_filter),
        ("since", op.since),
    ):
        if value is not None:
            params[name] = value
    if op.success is not None:
        params["success"] = "true" if op.success else "false"
    return _call(
        "audit",
        op,
        params=params,
        decode=lambda d: [AccessLogEntry.from_dict(r) for r in d["items"]],
    )


def _stats(op: o.Stats) -> Call:
    return _call("stats", op)


def _sweep(op: o.Sweep) -> Call:
    return _call("sweep", op, decode=lambda d: d["removed"])


def _list_push(op: o.ListPush) -> Call:
    body: dict[str, Any] = {"items": [_raw(i) for i in op.items]}
    if op.ttl is not None:
        body["ttl"] = op.ttl
    return _call("list_push", op, key=op.key, body=_json(body), decode=lambda d: d["length"])


def _list_pop(op: o.ListPop) -> Call:
    body = _json({"index": op.index})
    return _call("list_pop", op, key=op.key, body=body, decode=lambda d: d["value"])


def _list_insert(op: o.ListInsert) -> Call:
    body: dict[str, Any] = {"index": op.index, "item": _raw(op.item)}
    if op.ttl is not None:
        body["ttl"] = op.ttl
    return _call("list_insert", op, key=op.key, body=_json(body), decode=lambda d: d["length"])


def _list_remove(op: o.ListRemove) -> Call:
    body = _json({"item": _raw(op.item)})
    return _call("list_remove", op, key=op.key, body=body, decode=lambda d: d["length"])


def _list_range(op: o.ListRange) -> Call:
    params: dict[str, Any] = {"start": op.start}
    if op.stop is not None:
        params["stop"] = op.stop
    return _call(
        "list_range", op, key=op.key, params=params, decode=lambda d: (d["items"], d["length"])
    )


def _expire_prefix(op: o.ExpirePrefix) -> Call:
    body = _json({"prefix": op.prefix, "ttl": op.ttl})
    return _call("expire_prefix", op, body=body, decode=lambda d: d["count"])


def _delete_prefix(op: o.DeletePrefix) -> Call:
    body = _json({"prefix": op.prefix})
    return _call("delete_prefix", op, body=body, decode=lambda d: d["count"])


def _dump_entries(op: o.DumpEntries) -> Call:
    params: dict[str, Any] = {"limit": op.limit}
    if op.after is not None:
        params["after"] = op.after

    def decode(d: Any) -> tuple[list[tuple[str, Stored]], str | None]:
        return [stored_from_record(r) for r in d["entries"]], d["after"]

    return _call("dump_entries", op, params=params, decode=decode)


def _dump_events(op: o.DumpEvents) -> Call:
    params = {"since": op.since, "limit": op.limit}
    decode = lambda d: [Event.from_dict(e) for e in d["events"]]  # noqa: E731
    return _call("dump_events", op, params=params, decode=decode)


def _restore(op: o.Restore) -> Call:
    config = None
    if op.config is not None:
        config = op.config.to_dict()
        del config["name"], config["revision"]
    body = {
        "config": config,
        "entries": [entry_record(op.ns, k, s) for k, s in op.entries],
        "events": [e.to_dict() for e in op.events],
        "replace": op.replace,
    }
    return _call("restore", op, body=_json(body), decode=lambda d: d["count"])


# ---------------------------------------------------------------- task queues


def _queue_put(op: o.QueuePut) -> Call:
    body: dict[str, Any] = {"task": _raw(op.value_json), "priority": op.priority}
    if op.delay:
        body["delay"] = op.delay
    if op.dedupe is not None:
        body["idempotency_key"] = op.dedupe
    return _call("queue_put", op, queue=op.queue, body=_json(body), decode=Task.from_dict)


def _queue_claim(op: o.QueueClaim) -> Call:
    body = {"worker": op.worker, "visibility": op.visibility, "max_attempts": op.max_attempts}
    return _call(
        "queue_claim",
        op,
        queue=op.queue,
        body=_json(body),
        decode=lambda d: Task.from_dict(d["task"]) if d["task"] is not None else None,
    )


def _queue_ack(op: o.QueueAck) -> Call:
    body = _json({"token": op.token})
    return _call(
        "queue_ack", op, queue=op.queue, task_id=op.task_id, body=body, decode=lambda d: None
    )


def _queue_nack(op: o.QueueNack) -> Call:
    body = _json({"token": op.token, "delay": op.delay, "max_attempts": op.max_attempts})
    return _call(
        "queue_nack", op, queue=op.queue, task_id=op.task_id, body=body, decode=lambda d: None
    )


def _queue_extend(op: o.QueueExtend) -> Call:
    body = _json({"token": op.token, "visibility": op.visibility})
    return _call(
        "queue_extend", op, queue=op.queue, task_id=op.task_id, body=body, decode=Task.from_dict
    )


def _queue_stats(op: o.QueueStats) -> Call:
    return _call("queue_stats", op, queue=op.queue)


def _queue_dead_letters(op: o.QueueDeadLetters) -> Call:
    return _call(
        "queue_dead_letters",
        op,
        queue=op.queue,
        params={"limit": op.limit},
        decode=lambda d: [Task.from_dict(t) for t in d["items"]],
    )


# ---------------------------------------------------------------- webhooks (SPEC §19)


def _add_webhook(op: o.AddWebhook) -> Call:
    body = {
        "url": op.url,
        "namespaces": list(op.namespaces),
        "events": list(op.events),
        "secret": op.secret,
    }
    return _call("add_webhook", op, body=_json(body), decode=Webhook.from_dict)


def _list_webhooks(op: o.ListWebhooks) -> Call:
    return _call(
        "list_webhooks", op, decode=lambda d: [Webhook.from_dict(h) for h in d["webhooks"]]
    )


def _remove_webhook(op: o.RemoveWebhook) -> Call:
    return _call("remove_webhook", op, hook_id=op.hook_id, decode=lambda d: d["removed"])


def _webhook_deliveries(op: o.WebhookDeliveries) -> Call:
    return _call(
        "webhook_deliveries",
        op,
        hook_id=op.hook_id,
        params={"limit": op.limit},
        decode=lambda d: [WebhookDelivery.from_dict(r) for r in d["deliveries"]],
    )


# ---------------------------------------------------------------- leases and locks (§19)


def _grant_lease(op: o.GrantLease) -> Call:
    body: dict[str, Any] = {"ttl": op.ttl}
    if op.ns != LEASE_HOME:
        body["namespace"] = op.ns
    return _call("grant_lease", op, body=_json(body), decode=Lease.from_dict)


def _keep_alive(op: o.KeepAlive) -> Call:
    body = _json({"lease_id": op.lease_id})
    return _call("keep_alive", op, body=body, decode=Lease.from_dict)


def _revoke_lease(op: o.RevokeLease) -> Call:
    return _call("revoke_lease", op, body=_json({"lease_id": op.lease_id}), decode=lambda d: None)


def _join(op: o.Join) -> Call:
    body = _json({"lease_id": op.lease_id, "info": _raw(op.info_json)})
    return _call("join", op, body=body, decode=Presence.from_dict)


def _presence(op: o.ListPresence) -> Call:
    return _call("presence", op, decode=lambda d: [Presence.from_dict(p) for p in d["items"]])


def _maybe_lock(data: Any) -> Lock | None:
    return None if data["lock"] is None else Lock.from_dict(data["lock"])


def _lock_turn(op: o.LockTurn) -> Call:
    params = {"ticket": op.ticket}
    return _call("lock_turn", op, key=op.name, params=params, decode=lambda d: d["turn"])


def _try_lock(op: o.TryLock) -> Call:
    body: dict[str, Any] = {"ttl": op.ttl}
    if op.ticket is not None:
        body["ticket"] = op.ticket
        body["ticket_ttl"] = op.ticket_ttl
    return _call("try_lock", op, key=op.name, body=_json(body), decode=_maybe_lock)


def _unlock(op: o.Unlock) -> Call:
    body = _json({"token": op.token})
    return _call("unlock", op, key=op.name, body=body, decode=lambda d: d["released"])


def _lock_info(op: o.LockInfo) -> Call:
    return _call("lock_info", op, key=op.name, decode=_maybe_lock)


def _list_locks(op: o.ListLocks) -> Call:
    params: dict[str, Any] = {"limit": op.limit}
    if op.cursor is not None:
        params["cursor"] = op.cursor
    return _call(
        "list_locks",
        op,
        params=params,
        decode=lambda d: Page([Lock.from_dict(x) for x in d["items"]], d["next_cursor"]),
    )


def _list_queues(op: o.ListQueues) -> Call:
    params: dict[str, Any] = {"limit": op.limit}
    if op.cursor is not None:
        params["cursor"] = op.cursor
    return _call(
        "list_queues",
        op,
        params=params,
        decode=lambda d: Page([QueueInfo.from_dict(x) for x in d["items"]], d["next_cursor"]),
    )


_CALLS: dict[type, Callable[[Any], Call]] = {
    o.CreateNamespace: _create,
    o.GetNamespace: _get_ns,
    o.ListNamespaces: _list_ns,
    o.UpdateNamespace: _update_ns,
    o.UpdatePermissions: _update_perms,
    o.ClearNamespace: _clear,
    o.DeleteNamespace: _delete_ns,
    o.Get: _get,
    o.Exists: _exists,
    o.History: _history,
    o.ReadAsOf: _read_as_of,
    o.ListAsOf: _list_as_of,
    o.GetMany: _get_many,
    o.ListEntries: _list,
    o.Put: _put,
    o.PutMany: _put_many,
    o.Delete: _delete,
    o.Broadcast: _broadcast,
    o.StartWatch: _start_watch,
    o.EventsAfter: _events_after,
    o.AccessLogQuery: _audit,
    o.Stats: _stats,
    o.Sweep: _sweep,
    o.ListPush: _list_push,
    o.ListPop: _list_pop,
    o.ListInsert: _list_insert,
    o.ListRemove: _list_remove,
    o.ListRange: _list_range,
    o.ExpirePrefix: _expire_prefix,
    o.DeletePrefix: _delete_prefix,
    o.DumpEntries: _dump_entries,
    o.DumpEvents: _dump_events,
    o.Restore: _restore,
    MemoryCall: memory_call,
    o.QueuePut: _queue_put,
    o.QueueClaim: _queue_claim,
    o.QueueAck: _queue_ack,
    o.QueueNack: _queue_nack,
    o.QueueExtend: _queue_extend,
    o.QueueStats: _queue_stats,
    o.QueueDeadLetters: _queue_dead_letters,
    o.AddWebhook: _add_webhook,
    o.ListWebhooks: _list_webhooks,
    o.RemoveWebhook: _remove_webhook,
    o.WebhookDeliveries: _webhook_deliveries,
    o.GrantLease: _grant_lease,
    o.KeepAlive: _keep_alive,
    o.RevokeLease: _revoke_lease,
    o.Join: _join,
    o.ListPresence: _presence,
    o.LockTurn: _lock_turn,
    o.TryLock: _try_lock,
    o.Unlock: _unlock,
    o.LockInfo: _lock_info,
    o.ListLocks: _list_locks,
    o.ListQueues: _list_queues,
}


# ---------------------------------------------------------------- transactions (§19)


def _txn_step(step: o.TxnStep) -> dict[str, Any]:
    item: dict[str, Any] = {"op": step.kind, "namespace": step.ns, "key": step.key}
    if step.value_json is not None:
        item["value"] = _raw(step.value_json)
    if step.ttl is not None:
        item["ttl"] = step.ttl
    if step.expected_version is not None:
        item["expected_version"] = step.expected_version
    return item


def _transaction(op: o.Transaction) -> Call:
    compares = [
        {
            "namespace": c.ns,
            "key": c.key,
            c.target: _raw(c.expected) if c.target == "value" else c.expected,
        }
        for c in op.compares
    ]
    body = {
        "compares": compares,
        "success": [_txn_step(s) for s in op.success],
        "failure": [_txn_step(s) for s in op.failure],
    }

    def decode(data: Any) -> TxnResult:
        steps = op.success if data["succeeded"] else op.failure
        results = [
            Entry.from_dict(r) if isinstance(r, dict) else r
            for r, _ in zip(data["results"], steps, strict=True)
        ]
        return TxnResult(data["succeeded"], results, dict(data["revisions"]))

    return _call("transaction", op, body=_json(body), decode=decode)


_CALLS[o.Transaction] = _transaction


def call_for(op: o.Op[Any]) -> Call:
    """The HTTP call that carries ``op``."""
    return _CALLS[type(op)](op)
