"""What ``Memory`` and ``AsyncMemory`` share: argument checks, op building, listeners, sweeper.

The sync and async classes are thin shells: each method builds an op here, hands it to
the backend (``execute`` or ``aexecute``) and passes the result back through
:meth:`Core.finish`, which dispatches events to in-process listeners and raises errors.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem import _validate as v
from hivemem.engine import ops as o
from hivemem.engine import queues as q
from hivemem.engine.history import MAX_HISTORY
from hivemem.engine.leases import LEASE_HOME
from hivemem.engine.locks import MAX_LIST as MAX_LOCK_LIST
from hivemem.engine.locks import TICKET_LEN
from hivemem.errors import InvalidArgument
from hivemem.memories.registry import save_snapshots
from hivemem.types import (
    EVENT_TYPES,
    Event,
    Lease,
    Lock,
    Task,
)

if TYPE_CHECKING:
    from hivemem.backends.base import Backend
    from hivemem.engine.txn import Result, Settings

__all__ = ["CLIENT_RESOLVER_PREFIX", "NOT_GIVEN", "Core"]

log = logging.getLogger("hivemem")

#: Marks an argument the caller did not pass, where ``None`` means something.
NOT_GIVEN: Any = type("NotGiven", (), {"__repr__": lambda self: "NOT_GIVEN"})()

#: Names of resolvers that run in a client (callables given to a remote store): the store
#: keeps the name, and the client resolves and writes with ``resolved=True``.
CLIENT_RESOLVER_PREFIX = "client:"

#: The agent of calls that name none, on a connection opened without ``agent=``.
DEFAULT_AGENT = "local"

Listener = Callable[[Event], Any]


class _Registry:
    """The in-process listeners, shared by a store's handle and its ``as_agent`` views."""

    __slots__ = ("listeners",)

    def __init__(self) -> None:
        self.listeners: dict[str, list[Listener]] = {}


class OpMetrics:
    """Operation counts, errors and latencies of one store handle (``get_metrics()``)."""

    #: Latencies kept per operation type for the percentiles.
    WINDOW = 1024

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.latency: dict[str, deque[float]] = {}

    def record(self, op: Any, error: Any, seconds: float) -> None:
        """Count one finished op (cheap: a few dict updates)."""
        name = op.action or type(op).__name__
        self.counts[name] = self.counts.get(name, 0) + 1
        if error is not None:
            self.errors[name] = self.errors.get(name, 0) + 1
        window = self.latency.get(name)
        if window is None:
            window = self.latency[name] = deque(maxlen=self.WINDOW)
        window.append(seconds)

    def snapshot(self) -> dict[str, Any]:
        """Counts, errors and p50/p95/p99 latency (ms) per operation."""
        ops: dict[str, Any] = {}
        for name, count in sorted(self.counts.items()):
            lat = sorted(self.latency.get(name, ()))
            ops[name] = {
                "count": count,
                "errors": self.errors.get(name, 0),
                **{
                    f"p{q}_ms": round(lat[min(len(lat) - 1, len(lat) * q // 100)] * 1000, 4)
                    for q in (50, 95, 99)
                    if lat
                },
            }
        total = sum(self.counts.values())
        return {
            "operations": ops,
            "total_operations": total,
            "total_errors": sum(self.errors.values()),
        }


class Core:
    """Shared state of one open store: backend, settings, listeners, sweeper."""

    def __init__(self, backend: Backend, settings: Settings, agent: str | None) -> None:
        self.backend = backend
        self.settings = settings
        self.agent = v.check_agent(agent) if agent is not None else DEFAULT_AGENT
        self._registry = _Registry()
        self.op_metrics = OpMetrics()
        self.subscriptions: set[Any] = set()
        self.closed = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle
    def start_sweeper(self) -> None:
        """Start the background TTL sweeper (every ``cleanup_interval`` seconds)."""
        if self.settings.cleanup_interval and self.settings.cleanup_interval > 0:
            self._sweeper = threading.Thread(
                target=self._sweep_loop, name="hivemem-sweeper", daemon=True
            )
            self._sweeper.start()

    def _sweep_loop(self) -> None:
        while not self.closed.wait(self.settings.cleanup_interval):
            try:
                # Stores shared by replicas sweep on one of them at a time (a lease).
                if self.backend.sweep_lease(2 * self.settings.cleanup_interval + 5):
                    removed = self.sweep()
                    # (A line per pass that removed something: an idle store logs nothing.)
                    if removed:
                        log.info("hivemem: TTL sweep removed %d expired entries", removed)
            except Exception:  # the sweeper must survive a failing backend
                log.exception("hivemem: TTL sweep failed")

    def sweep(self) -> int:
        """Delete every expired entry now; return how many were removed."""
        total = 0
        while True:
            op = o.Sweep(agent=v.SYSTEM_AGENT, admin=True)
            count: int = self.finish(self.backend.execute(op))
            total += count
            if count == 0:  # a store may sweep one namespace per call (Redis: one slot)
                return total

    def close(self) -> None:
        """Stop background work and close the backend (idempotent)."""
        if self.closed.is_set():
            return
        self.closed.set()
        self.backend.notifier.notify()
        for sub in list(self.subscriptions):
            sub.unsubscribe()
        if self._sweeper is not None and self._sweeper is not threading.current_thread():
            self._sweeper.join(timeout=5)
        save_snapshots(self.backend)
        self.backend.close()

    @property
    def listeners(self) -> dict[str, list[Listener]]:
        """Listeners by event type (replaced, never mutated, on every change)."""
        return self._registry.listeners

    @listeners.setter
    def listeners(self, value: dict[str, list[Listener]]) -> None:
        self._registry.listeners = value

    # ------------------------------------------------------------ results and events
    def finish(self, result: Result) -> Any:
        """Dispatch the result's events to listeners; return its value or raise its error."""
        if result.events and self.listeners:
            self.dispatch(result.events)
        if result.error is not None:
            raise result.error
        return result.value

    def dispatch(self, events: list[Event]) -> None:
        """Call the in-process listeners of each event; a failing callback is only logged."""
        listeners = self.listeners
        star = listeners.get("*", ())
        for event in events:
            for cb in (*listeners.get(event.type, ()), *star):
                try:
                    cb(event)
                except Exception:
                    log.exception("hivemem: listener %r failed on %s", cb, event.type)

    def on(self, event_type: str, callback: Listener) -> Callable[[], None]:
        """Register an in-process listener; return a function that removes it."""
        if event_type != "*" and event_type not in EVENT_TYPES:
            raise InvalidArgument(
                f"unknown event type {event_type!r}: use '*' or one of {', '.join(EVENT_TYPES)}"
            )
        if not callable(callback):
            raise InvalidArgument("callback must be callable")
        with self._lock:
            self.listeners = {
                **self.listeners,
                event_type: [*self.listeners.get(event_type, ()), callback],
            }
            self._update_read_events()

        def off() -> None:
            with self._lock:
                cbs = [cb for cb in self.listeners.get(event_type, ()) if cb is not callback]
                self.listeners = {
                    k: val for k, val in {**self.listeners, event_type: cbs}.items() if val
                }
                self._update_read_events()

        return off

    def _update_read_events(self) -> None:
        self.settings.read_events = bool(
            self.listeners.get("memory:read") or self.listeners.get("*")
        )
        self.settings.listening = bool(self.listeners)

    # ------------------------------------------------------------ op builders
    def who(self, agent: str | None) -> str:
        """The agent of a call: the one given, else the connection's default."""
        return self.agent if agent is None else v.check_agent(agent)

    @staticmethod
    def ns(name: str) -> str:
        """Check a namespace name."""
        return v.check_namespace(name)

    def encode(self, value: Any) -> str:
        """Validate and encode a value to store."""
        return _codec.encode_value(value, self.settings.max_value_bytes)

    def create_namespace(
        self,
        name: str,
        agent: str | None,
        default_permission: str | None,
        permissions: Mapping[str, str | None] | None,
        conflict_strategy: str,
        resolver: Any,
        ttl: float | None,
        max_entries: int | None,
        description: str,
        exist_ok: bool,
        group: str | None = None,
    ) -> o.CreateNamespace:
        """Check and build a CreateNamespace op (registering a callable resolver)."""
        return o.CreateNamespace(
            agent=self.who(agent),
            ns=v.check_namespace(name),
            default_permission=v.check_level(default_permission, "default_permission"),
            permissions=self._perms(permissions) if permissions is not None else None,
            conflict_strategy=v.check_strategy(conflict_strategy),
            resolver=self._resolver(resolver, conflict_strategy),
            ttl=v.check_ttl(ttl),
            max_entries=_max_entries(max_entries),
            description=_description(description),
            exist_ok=bool(exist_ok),
            group=_group(group),
        )

    def update_namespace(
        self, name: str, agent: str | None, config: dict[str, Any]
    ) -> o.UpdateNamespace:
        """Check and build an UpdateNamespace op."""
        changes: dict[str, Any] = {}
        for field, value in config.items():
            if field == "default_permission":
                changes[field] = v.check_level(value, field)
            elif field == "permissions":
                changes[field] = self._perms(value)
            elif field == "conflict_strategy":
                changes[field] = v.check_strategy(value)
            elif field == "resolver":
                changes[field] = self._resolver(value, config.get("conflict_strategy", "custom"))
            elif field == "ttl":
                changes[field] = v.check_ttl(value)
            elif field == "max_entries":
                changes[field] = _max_entries(value)
            elif field == "description":
                changes[field] = _description(value)
            else:
                raise InvalidArgument(f"unknown namespace field {field!r}")
        return o.UpdateNamespace(agent=self.who(agent), ns=v.check_namespace(name), changes=changes)

    def update_permissions(
        self, name: str, permissions: Mapping[str, str | None], agent: str | None
    ) -> o.UpdatePermissions:
        """Check and build an UpdatePermissions op."""
        return o.UpdatePermissions(
            agent=self.who(agent), ns=v.check_namespace(name), permissions=self._perms(permissions)
        )

    def _perms(self, permissions: Any) -> dict[str, str | None]:
        if not isinstance(permissions, Mapping):
            raise InvalidArgument("permissions must be a mapping of agent id to level")
        return {v.check_agent(a): v.check_level(lvl) for a, lvl in permissions.items()}

    def _resolver(self, resolver: Any, strategy: str) -> str | None:
        if resolver is None:
            if strategy == "custom":
                raise InvalidArgument("the 'custom' strategy needs a resolver (callable or name)")
            return None
        remote = self.backend.client_resolvers
        if isinstance(resolver, str):
            # A client-side resolver's name, or (remotely) one the server checks.
            if resolver.startswith(CLIENT_RESOLVER_PREFIX) or remote:
                return resolver
            if resolver not in self.settings.resolvers:
                known = ", ".join(sorted(self.settings.resolvers))
                raise InvalidArgument(f"unknown resolver {resolver!r}: known are {known}")
            return resolver
        if callable(resolver):
            name = f"{getattr(resolver, '__module__', '')}.{getattr(resolver, '__qualname__', '')}"
            if remote:
                name = CLIENT_RESOLVER_PREFIX + name
            name = f"{name}:{uuid.uuid4().hex[:8]}" if name in self.settings.resolvers else name
            self.settings.resolvers[name] = resolver
            return name
        raise InvalidArgument("resolver must be a callable or a registered resolver name")

    def put(
        self,
        namespace: str,
        key: str,
        value: Any,
        agent: str | None,
        ttl: Any,
        expected_version: Any,
        idempotency_key: str | None,
        lease: Any = None,
        fence: Any = None,
    ) -> o.Put:
        """Check and build a Put op (``lease``: a lease id; ``fence``: a :class:`Lock`)."""
        op = o.Put(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            key=v.check_key(key),
            value_json=self.encode(value),
            ttl=v.check_ttl(ttl),
            expected_version=v.check_version(expected_version),
            idempotency_key=_idem(idempotency_key),
        )
        if lease is None and fence is None:
            return op
        if lease is not None and op.ttl is not None:
            raise InvalidArgument(
                "give ttl= or lease=, not both: a leased entry lives as its lease"
            )
        return dataclasses.replace(
            op,
            lease=None if lease is None else self.lease_id(lease),
            fence=None if fence is None else self.fence(fence),
        )

    def put_many(
        self,
        namespace: str,
        items: Mapping[str, Any],
        agent: str | None,
        ttl: Any,
        idempotency_key: str | None,
    ) -> o.PutMany:
        """Check and build a PutMany op."""
        if not isinstance(items, Mapping):
            raise InvalidArgument("write_many takes a mapping of key to value")
        return o.PutMany(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            items=tuple((v.check_key(k), self.encode(val)) for k, val in items.items()),
            ttl=v.check_ttl(ttl),
            idempotency_key=_idem(idempotency_key),
        )

    def get(self, namespace: str, key: str, agent: str | None) -> o.Get:
        """Check and build a Get op."""
        return o.Get(agent=self.who(agent), ns=v.check_namespace(namespace), key=v.check_key(key))

    def exists(self, namespace: str, key: str, agent: str | None) -> o.Exists:
        """Check and build an Exists op."""
        return o.Exists(
            agent=self.who(agent), ns=v.check_namespace(namespace), key=v.check_key(key)
        )

    def get_many(self, namespace: str, keys: Any, agent: str | None) -> o.GetMany:
        """Check and build a GetMany op."""
        if isinstance(keys, str):
            raise InvalidArgument("read_many takes a list of keys, not a string")
        return o.GetMany(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            keys=tuple(v.check_key(k) for k in keys),
        )

    def delete(
        self,
        namespace: str,
        key: str,
        agent: str | None,
        expected_version: Any,
        idempotency_key: str | None,
    ) -> o.Delete:
        """Check and build a Delete op."""
        return o.Delete(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            key=v.check_key(key),
            expected_version=v.check_version(expected_version),
            idempotency_key=_idem(idempotency_key),
        )

    def list_entries(
        self, namespace: str, agent: str | None, prefix: Any, limit: Any, cursor: Any
    ) -> o.ListEntries:
        """Check and build a ListEntries op (``limit=None`` lists everything)."""
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidArgument("cursor must be a string from a previous page")
        if cursor is not None:
            v.check_prefix(cursor, "cursor")
        return o.ListEntries(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            prefix=v.check_prefix(prefix),
            limit=None if limit is None else v.check_limit(limit),
            cursor=cursor,
        )

    def history(
        self, namespace: str, key: str, agent: str | None, limit: Any, before: Any
    ) -> o.History:
        """Check and build a History op."""
        return o.History(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            key=v.check_key(key),
            limit=v.check_limit(limit, maximum=MAX_HISTORY),
            before=None if before is None else _revision(before, "before"),
        )

    def read_as_of(self, namespace: str, key: str, agent: str | None, as_of: Any) -> o.ReadAsOf:
        """Check and build a ReadAsOf op (``as_of``: a revision, a datetime or Unix seconds)."""
        revision, at = _as_of(as_of)
        return o.ReadAsOf(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            key=v.check_key(key),
            revision=revision,
            at=at,
        )

    def list_as_of(
        self, namespace: str, agent: str | None, as_of: Any, prefix: Any, limit: Any, cursor: Any
    ) -> o.ListAsOf:
        """Check and build a ListAsOf op."""
        plain = self.list_entries(namespace, agent, prefix, limit, cursor)
        revision, at = _as_of(as_of)
        return o.ListAsOf(
            agent=plain.agent,
            ns=plain.ns,
            revision=revision,
            at=at,
            prefix=plain.prefix,
            limit=plain.limit if plain.limit is not None else 100,
            cursor=plain.cursor,
        )

    def broadcast(
        self, namespace: str, message: Any, agent: str | None, idempotency_key: str | None
    ) -> o.Broadcast:
        """Check and build a Broadcast op."""
        return o.Broadcast(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            message_json=self.encode(message),
            idempotency_key=_idem(idempotency_key),
        )

    # ---------------------------------------------------------------- transactions (§19)
    def txn_compare(
        self, namespace: str, key: str, version: Any, value: Any, exists: Any
    ) -> list[o.TxnCompare]:
        """Check one ``compare(...)`` call; one condition per argument given."""
        ns, key = v.check_namespace(namespace), v.check_key(key)
        out = []
        if version is not NOT_GIVEN:
            checked = v.check_version(version)
            if checked is None:
                raise InvalidArgument("compare(version=...) needs an integer >= 0")
            out.append(o.TxnCompare(ns, key, "version", checked))
        if value is not NOT_GIVEN:
            out.append(o.TxnCompare(ns, key, "value", self.encode(value)))
        if exists is not NOT_GIVEN:
            if not isinstance(exists, bool):
                raise InvalidArgument(f"compare(exists=...) needs True or False, not {exists!r}")
            out.append(o.TxnCompare(ns, key, "exists", exists))
        if not out:
            raise InvalidArgument("compare() needs version=, value= or exists=")
        return out

    def txn_step(
        self,
        kind: str,
        namespace: str,
        key: str,
        value: Any = None,
        ttl: Any = None,
        expected_version: Any = None,
    ) -> o.TxnStep:
        """Check one op of a transaction's branch."""
        return o.TxnStep(
            kind,
            v.check_namespace(namespace),
            v.check_key(key),
            self.encode(value) if kind == "write" else None,
            v.check_ttl(ttl),
            v.check_version(expected_version),
        )

    def transaction(
        self,
        agent: str | None,
        compares: list[o.TxnCompare],
        success: list[o.TxnStep],
        failure: list[o.TxnStep],
        idempotency_key: str | None,
    ) -> o.Transaction:
        """Check and build a Transaction op."""
        from hivemem.engine.transactions import check_shape

        op = o.Transaction(
            agent=self.who(agent),
            compares=tuple(compares),
            success=tuple(success),
            failure=tuple(failure),
            idempotency_key=_idem(idempotency_key),
        )
        check_shape(op.compares, op.success, op.failure)
        return op

    def access_log(
        self,
        agent: str | None,
        agent_id: str | None,
        namespace: str | None,
        action: str | None,
        success: bool | None,
        since: float | None,
        limit: int,
    ) -> o.AccessLogQuery:
        """Check and build an AccessLogQuery op."""
        return o.AccessLogQuery(
            agent=self.who(agent),
            admin=agent is None,
            agent_id=agent_id,
            ns=namespace,
            action_filter=action,
            success=success,
            since=since,
            limit=v.check_limit(limit, maximum=1_000_000),
        )

    # ------------------------------------------------------------ queues (SPEC §19)
    def queue_put(
        self,
        agent: str,
        namespace: str,
        queue: str,
        task: Any,
        priority: Any,
        delay: Any,
        idempotency_key: Any,
    ) -> o.QueuePut:
        """Check and build a QueuePut op (the task's id is chosen here)."""
        return o.QueuePut(
            agent=agent,
            ns=v.check_namespace(namespace),
            queue=q.check_queue(queue),
            task_id=uuid.uuid4().hex,
            value_json=self.encode(task),
            priority=q.check_priority(priority),
            delay=q.check_delay(delay),
            dedupe=q.check_dedupe(idempotency_key),
        )

    def queue_claim(
        self,
        agent: str,
        namespace: str,
        queue: str,
        worker: Any,
        visibility: Any,
        max_attempts: int,
    ) -> o.QueueClaim:
        """Check and build a QueueClaim op."""
        return o.QueueClaim(
            agent=agent,
            ns=v.check_namespace(namespace),
            queue=q.check_queue(queue),
            worker=q.check_worker(worker),
            visibility=q.check_visibility(visibility),
            max_attempts=q.check_max_attempts(max_attempts),
        )

    @staticmethod
    def claim_of(task: Any) -> tuple[str, int]:
        """The id and claim token of a task given to ack, nack or extend."""
        if not isinstance(task, Task):
            raise InvalidArgument(f"pass the Task that claim() returned, not {task!r}")
        return q.check_task_id(task.id), q.check_token(task.token)

    def queue_ack(self, agent: str, namespace: str, queue: str, task: Any) -> o.QueueAck:
        """Check and build a QueueAck op."""
        task_id, token = self.claim_of(task)
        return o.QueueAck(
            agent=agent,
            ns=v.check_namespace(namespace),
            queue=q.check_queue(queue),
            task_id=task_id,
            token=token,
        )

    def queue_nack(
        self, agent: str, namespace: str, queue: str, task: Any, delay: Any, max_attempts: int
    ) -> o.QueueNack:
        """Check and build a QueueNack op."""
        task_id, token = self.claim_of(task)
        return o.QueueNack(
            agent=agent,
            ns=v.check_namespace(namespace),
            queue=q.check_queue(queue),
            task_id=task_id,
            token=token,
            delay=q.check_delay(delay),
            max_attempts=q.check_max_attempts(max_attempts),
        )

    def queue_extend(
        self, agent: str, namespace: str, queue: str, task: Any, visibility: Any
    ) -> o.QueueExtend:
        """Check and build a QueueExtend op."""
        task_id, token = self.claim_of(task)
        return o.QueueExtend(
            agent=agent,
            ns=v.check_namespace(namespace),
            queue=q.check_queue(queue),
            task_id=task_id,
            token=token,
            visibility=q.check_visibility(visibility),
        )

    # ------------------------------------------------------------ webhooks (SPEC §19)
    def add_webhook(
        self, url: str, namespaces: Any, events: Any, secret: str | None, agent: str | None
    ) -> o.AddWebhook:
        """Check and build an AddWebhook op (a secret is made when none is given).

        The target's address is checked by the server (``--allow-webhook-host``) and by
        the delivery worker before every request, not here: a client may not resolve the
        name as the server does.
        """
        from hivemem.webhooks.guard import check_url
        from hivemem.webhooks.sign import check_secret, new_secret

        if isinstance(namespaces, str) or not isinstance(namespaces, list | tuple):
            raise InvalidArgument("namespaces must be a list of namespace names")
        if not 1 <= len(namespaces) <= 32:
            raise InvalidArgument("a webhook watches 1 to 32 namespaces")
        if isinstance(events, str) or not isinstance(events, list | tuple):
            raise InvalidArgument("events must be a list of event type patterns ('memory:*')")
        if not 1 <= len(events) <= 32 or not all(
            isinstance(e, str) and 1 <= len(e) <= 100 for e in events
        ):
            raise InvalidArgument("events: 1 to 32 patterns of 1-100 characters")
        return o.AddWebhook(
            hook_id="wh_" + uuid.uuid4().hex[:24],
            agent=self.who(agent),
            admin=agent is None,
            url=check_url(url),
            namespaces=tuple(dict.fromkeys(v.check_namespace(n) for n in namespaces)),
            events=tuple(events),
            secret=new_secret() if secret is None else check_secret(secret),
        )

    @staticmethod
    def webhook_limit(limit: Any) -> int:
        """Check how many delivery records to return (1-100)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise InvalidArgument(f"invalid limit {limit!r}: 1 to 100")
        return limit

    @staticmethod
    def webhook_id(hook_id: Any) -> str:
        """Check a webhook id."""
        if not isinstance(hook_id, str) or not 1 <= len(hook_id) <= 100:
            raise InvalidArgument(f"invalid webhook id {hook_id!r}")
        return hook_id

    # ------------------------------------------------------------ leases and locks (§19)
    def lease_id(self, lease: Any) -> str:
        """A lease id (or a :class:`Lease`), checked: ``"<home namespace>/<32 hex>"``."""
        if isinstance(lease, Lease):
            lease = lease.id
        if not isinstance(lease, str) or _LEASE_ID.fullmatch(lease) is None:
            raise InvalidArgument(
                f"invalid lease id {lease!r}: pass the id of a Lease from grant_lease"
            )
        home = lease.rpartition("/")[0]
        if home != LEASE_HOME:
            v.check_namespace(home)
        return lease

    def fence(self, lock: Any) -> tuple[str, str, int]:
        """The ``fence=`` of a write: a :class:`Lock` from ``lock``/``try_lock``."""
        if not isinstance(lock, Lock) or not lock.namespace:
            raise InvalidArgument("fence= takes the Lock that lock() or try_lock() returned")
        token = lock.token
        if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token <= v.MAX_INT:
            raise InvalidArgument(f"invalid lock token {token!r}: an integer >= 0")
        return (v.check_namespace(lock.namespace), v.check_key(lock.name), token)

    def grant_lease(self, ttl: Any, namespace: str | None, agent: str | None) -> o.GrantLease:
        """Check and build a GrantLease op (home: ``namespace``, else the reserved one)."""
        home = LEASE_HOME if namespace is None else v.check_namespace(namespace)
        return o.GrantLease(
            agent=self.who(agent), ns=home, ttl=_lease_ttl(ttl), lease_hex=uuid.uuid4().hex
        )

    def keep_alive(self, lease: Any, agent: str | None) -> o.KeepAlive:
        """Check and build a KeepAlive op."""
        lease_id = self.lease_id(lease)
        home = lease_id.rpartition("/")[0]
        return o.KeepAlive(agent=self.who(agent), ns=home, lease_id=lease_id)

    def revoke_lease(self, lease: Any, agent: str | None) -> o.RevokeLease:
        """Check and build a RevokeLease op."""
        lease_id = self.lease_id(lease)
        home = lease_id.rpartition("/")[0]
        return o.RevokeLease(agent=self.who(agent), ns=home, lease_id=lease_id)

    def join(self, namespace: str, lease: Any, info: Any, agent: str | None) -> o.Join:
        """Check and build a Join op."""
        return o.Join(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            lease_id=self.lease_id(lease),
            info_json=self.encode(info),
        )

    def presence(self, namespace: str, agent: str | None) -> o.ListPresence:
        """Check and build a ListPresence op."""
        return o.ListPresence(agent=self.who(agent), ns=v.check_namespace(namespace))

    def try_lock(
        self,
        namespace: str,
        name: str,
        ttl: Any,
        agent: str | None,
        ticket: str | None = None,
        ticket_ttl: float = 2.0,
    ) -> o.TryLock:
        """Check and build a TryLock op (``ticket``: a waiter's place in line)."""
        if ticket is not None and (
            not isinstance(ticket, str) or _TICKET.fullmatch(ticket) is None
        ):
            raise InvalidArgument(f"invalid ticket {ticket!r}: {TICKET_LEN} lowercase hex digits")
        return o.TryLock(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            name=v.check_key(name),
            ttl=_lease_ttl(ttl),
            ticket=ticket,
            ticket_ttl=_lease_ttl(ticket_ttl),
            lease_hex=uuid.uuid4().hex,
        )

    def unlock(self, lock: Any, agent: str | None) -> o.Unlock:
        """Check and build an Unlock op from a :class:`Lock`."""
        ns, name, token = self.fence(lock)
        return o.Unlock(agent=self.who(agent), ns=ns, name=name, token=token)

    def lock_info(self, namespace: str, name: str, agent: str | None) -> o.LockInfo:
        """Check and build a LockInfo op."""
        return o.LockInfo(
            agent=self.who(agent), ns=v.check_namespace(namespace), name=v.check_key(name)
        )

    def list_locks(self, namespace: str, agent: str | None, limit: Any, cursor: Any) -> o.ListLocks:
        """Check and build a ListLocks op."""
        return o.ListLocks(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            limit=v.check_limit(limit, maximum=MAX_LOCK_LIST),
            cursor=_page_cursor(cursor),
        )

    def list_queues(
        self, namespace: str, agent: str | None, limit: Any, cursor: Any
    ) -> o.ListQueues:
        """Check and build a ListQueues op."""
        return o.ListQueues(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            limit=v.check_limit(limit, maximum=q.MAX_QUEUE_LIST),
            cursor=_page_cursor(cursor),
        )

    def lock_turn(self, namespace: str, name: str, ticket: str, agent: str | None) -> o.LockTurn:
        """Check and build a LockTurn op (a waiter's poll)."""
        if not isinstance(ticket, str) or _TICKET.fullmatch(ticket) is None:
            raise InvalidArgument(f"invalid ticket {ticket!r}: {TICKET_LEN} lowercase hex digits")
        return o.LockTurn(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            name=v.check_key(name),
            ticket=ticket,
        )

    @staticmethod
    def new_ticket() -> str:
        """A waiter's ticket: this clock in ns (orders waiters), then 8 random hex digits."""
        return f"{time.time_ns():016x}{uuid.uuid4().hex[:8]}"

    # ------------------------------------------------------------ remote client state
    def breaker_status(self) -> dict[str, Any]:
        """The circuit breaker of a remote store (embedded stores have none: always closed)."""
        return self.backend.breaker_status()

    def reset_breaker(self) -> None:
        """Close a remote store's circuit breaker and forget its failures."""
        self.backend.reset_breaker()

    def clear_cache(self) -> None:
        """Empty a remote store's near-cache (if it has one)."""
        self.backend.clear_cache()

    def metrics(self) -> dict[str, Any]:
        """Operation counts, errors and latency percentiles; near-cache and breaker state."""
        return {
            **self.op_metrics.snapshot(),
            "backend": self.backend.name,
            "cache": self.backend.cache_stats(),
            "circuit_breaker": self.breaker_status(),
            "subscriptions": len(self.subscriptions),
        }

    def stats_extra(self, stats: dict[str, Any]) -> dict[str, Any]:
        """Add what only this process knows (subscriptions, backend name) to store stats."""
        stats["subscriptions"] = len(self.subscriptions)
        stats["listeners"] = sum(len(cbs) for cbs in self.listeners.values())
        stats["backend"] = self.backend.name
        return stats


def since_arg(since: Any) -> int | None:
    """Check a watch's ``since`` revision."""
    if since is None:
        return None
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise InvalidArgument(f"invalid since {since!r}: give a revision (integer >= 0)")
    return since


_LEASE_ID = re.compile(r"[^/]{1,128}/[0-9a-f]{32}")
_TICKET = re.compile(f"[0-9a-f]{{{TICKET_LEN}}}")


#: A ``next_cursor``: base64url of a name, unpadded (at most a key's length, encoded).
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,2048}")


def _page_cursor(cursor: Any) -> str | None:
    """A listing's cursor: ``None`` (the first page) or a ``next_cursor`` handed out."""
    if cursor is None:
        return None
    if not isinstance(cursor, str) or _CURSOR.fullmatch(cursor) is None:
        raise InvalidArgument("cursor must be a next_cursor from a previous page")
    return cursor


def _lease_ttl(ttl: Any) -> float:
    """A lease's or lock's ttl: required, above 0, at most ``MAX_TTL``, finite."""
    if ttl is None:
        raise InvalidArgument("ttl is required: seconds the lease (or lock) lives")
    checked = v.check_ttl(ttl)
    assert checked is not None and math.isfinite(checked)
    return checked


def _idem(key: Any) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise InvalidArgument("idempotency_key must be a string of 1-200 characters")
    return key


def _group(value: Any) -> str | None:
    """A transaction group's name: ``None``, or a name like a namespace's."""
    if value is None:
        return None
    if not isinstance(value, str) or not v.GROUP_NAME.fullmatch(value):
        raise InvalidArgument(
            f"invalid group {value!r}: use 1-128 characters of letters, digits and ._:-"
        )
    return value


def _max_entries(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"invalid max_entries {value!r}: give a positive integer or None")
    return value


def _description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 10_000:
        raise InvalidArgument("description must be a string of at most 10,000 characters")
    return value


def _revision(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"invalid {what} {value!r}: give a revision, an integer >= 0")
    return value


def _as_of(as_of: Any) -> tuple[int | None, float | None]:
    """``(revision, None)`` for an int, ``(None, unix seconds)`` for a datetime or a float.

    A naive datetime is taken as local time (``datetime.timestamp``).
    """
    if isinstance(as_of, datetime.datetime):
        return None, as_of.timestamp()
    if isinstance(as_of, float) and math.isfinite(as_of):
        return None, as_of
    if isinstance(as_of, int) and not isinstance(as_of, bool):
        return _revision(as_of, "as_of"), None
    raise InvalidArgument(
        f"invalid as_of {as_of!r}: give a revision (int), a datetime or Unix seconds (float)"
    )
