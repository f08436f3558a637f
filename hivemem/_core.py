"""What ``Memory`` and ``AsyncMemory`` share: argument checks, op building, listeners, sweeper.

The sync and async classes are thin shells: each method builds an op here, hands it to
the backend (``execute`` or ``aexecute``) and passes the result back through
:meth:`Core.finish`, which dispatches events to in-process listeners and raises errors.
"""

from __future__ import annotations

import datetime
import logging
import math
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem import _validate as v
from hivemem.engine import ops as o
from hivemem.engine.history import MAX_HISTORY
from hivemem.errors import InvalidArgument
from hivemem.memories.registry import save_snapshots
from hivemem.types import EVENT_TYPES, Event

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
    ) -> o.Put:
        """Check and build a Put op."""
        return o.Put(
            agent=self.who(agent),
            ns=v.check_namespace(namespace),
            key=v.check_key(key),
            value_json=self.encode(value),
            ttl=v.check_ttl(ttl),
            expected_version=v.check_version(expected_version),
            idempotency_key=_idem(idempotency_key),
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


def _idem(key: Any) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise InvalidArgument("idempotency_key must be a string of 1-200 characters")
    return key


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
