"""``memory://``: everything in this process's memory, nothing persisted.

One lock serialises mutations; an undo log gives each op its own rollback, so a refused op
(or a refused item of ``write_many``) leaves nothing behind.
"""

from __future__ import annotations

import bisect
import heapq
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from hivemem.backends.base import Backend
from hivemem.engine.apply import DEFAULT_NAMESPACE, SYSTEM_AGENT, execute
from hivemem.engine.ops import CreateNamespace, Op
from hivemem.engine.txn import Result, Settings, Stored, Txn, changes_key, filter_audit
from hivemem.errors import InternalError

if TYPE_CHECKING:
    from collections.abc import Callable

    from hivemem.types import AccessLogEntry, Event, NamespaceInfo

__all__ = ["MemoryBackend"]


class MemoryBackend(Backend, Txn):
    """In-process store; it is its own transaction (under its lock)."""

    name = "memory"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._lock = threading.RLock()
        self._ns: dict[str, NamespaceInfo] = {}
        self._revs: dict[str, int] = {}
        self._entries: dict[str, dict[str, Stored]] = {}
        self._sorted: dict[str, list[str]] = {}
        self._events: dict[str, deque[Event]] = {}
        self._audit: deque[AccessLogEntry] = deque(maxlen=settings.max_log_size)
        self._idem: dict[str, tuple[float, Any]] = {}
        self._expiry: list[tuple[float, str, str]] = []
        self._undo: list[Callable[[], None]] | None = None
        self.execute(
            CreateNamespace(agent=SYSTEM_AGENT, ns=DEFAULT_NAMESPACE, exist_ok=True, permissions={})
        )

    # -- Backend
    def execute(self, op: Op[Any]) -> Result:
        with self._lock:
            try:
                result = execute(self, op, self.settings)
            except Exception as exc:  # the engine contains an op's errors; this is a bug in it
                self._undo = None
                result = Result(error=InternalError.of(exc, f"op {type(op).__name__}"))
        if result.events and result.error is None and op.mutates:
            self.notifier.notify_events(result.events)
        return result

    def close(self) -> None:
        """Nothing to release."""

    # -- Txn brackets
    def savepoint(self) -> None:
        self._undo = []

    def release(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        undo, self._undo = self._undo or [], None
        for fn in reversed(undo):
            fn()

    def _remember(self, fn: Callable[[], None]) -> None:
        if self._undo is not None:
            self._undo.append(fn)

    # -- namespaces
    def ns_get(self, name: str) -> NamespaceInfo | None:
        return self._ns.get(name)

    def ns_put(self, info: NamespaceInfo) -> None:
        old = self._ns.get(info.name)
        self._ns[info.name] = info
        self._entries.setdefault(info.name, {})
        self._remember(lambda: self._restore(self._ns, info.name, old))

    def ns_delete(self, name: str) -> None:
        old = self._ns.pop(name, None)
        self._remember(lambda: self._restore(self._ns, name, old))

    def ns_list(self) -> list[NamespaceInfo]:
        return [self._ns[n] for n in sorted(self._ns)]

    def rev_get(self, ns: str) -> int:
        return self._revs.get(ns, 0)

    def rev_next(self, ns: str) -> int:
        rev = self._revs.get(ns, 0) + 1
        self._revs[ns] = rev
        self._remember(lambda: self._revs.__setitem__(ns, rev - 1))
        return rev

    def rev_set(self, ns: str, rev: int) -> None:
        old = self._revs.get(ns, 0)
        self._revs[ns] = rev
        self._remember(lambda: self._revs.__setitem__(ns, old))

    @staticmethod
    def _restore(d: dict[str, Any], key: str, old: Any) -> None:
        if old is None:
            d.pop(key, None)
        else:
            d[key] = old

    # -- entries
    def entry_get(self, ns: str, key: str) -> Stored | None:
        entries = self._entries.get(ns)
        return entries.get(key) if entries is not None else None

    def entry_put(self, ns: str, key: str, stored: Stored, new: bool | None = None) -> None:
        entries = self._entries.setdefault(ns, {})
        old = entries.get(key)
        entries[key] = stored
        if old is None:
            self._sorted.pop(ns, None)
        if stored.expires_at is not None:
            heapq.heappush(self._expiry, (stored.expires_at, ns, key))
        self._remember(lambda: self._restore_entry(ns, key, old))

    def _restore_entry(self, ns: str, key: str, old: Stored | None) -> None:
        entries = self._entries.setdefault(ns, {})
        if old is None:
            entries.pop(key, None)
        else:
            entries[key] = old
        self._sorted.pop(ns, None)

    def entry_delete(self, ns: str, key: str) -> None:
        entries = self._entries.get(ns)
        old = entries.pop(key, None) if entries is not None else None
        if old is not None:
            self._sorted.pop(ns, None)
            self._remember(lambda: self._restore_entry(ns, key, old))

    def entry_count(self, ns: str) -> int:
        return len(self._entries.get(ns, ()))

    def entries_clear(self, ns: str) -> list[tuple[str, Stored]]:
        old = self._entries.get(ns, {})
        self._entries[ns] = {}
        self._sorted.pop(ns, None)

        def undo() -> None:
            self._entries[ns] = old
            self._sorted.pop(ns, None)

        self._remember(undo)
        return list(old.items())

    def entries_scan(
        self, ns: str, prefix: str, after: str | None, limit: int | None
    ) -> list[tuple[str, Stored]]:
        entries = self._entries.get(ns, {})
        keys = self._sorted.get(ns)
        if keys is None:
            keys = self._sorted[ns] = sorted(entries)
        start = max(prefix, after) if after is not None else prefix
        i = (
            bisect.bisect_right(keys, start)
            if after is not None and after >= prefix
            else (bisect.bisect_left(keys, start))
        )
        out: list[tuple[str, Stored]] = []
        while i < len(keys) and (limit is None or len(out) < limit):
            key = keys[i]
            if not key.startswith(prefix):
                break
            out.append((key, entries[key]))
            i += 1
        return out

    def expired_scan(self, now: float, limit: int, ns: str | None = None) -> list[tuple[str, str]]:
        if ns is not None:
            return [
                (ns, k)
                for k, s in self._entries.get(ns, {}).items()
                if s.expires_at is not None and s.expires_at <= now
            ][:limit]
        out: list[tuple[str, str]] = []
        heap = self._expiry
        while heap and heap[0][0] <= now and len(out) < limit:
            at, n, k = heapq.heappop(heap)
            s = self.entry_get(n, k)
            if s is not None and s.expires_at == at:
                out.append((n, k))
        return out

    def ns_bytes(self, ns: str) -> int:
        return sum(len(s.value_json.encode()) for s in self._entries.get(ns, {}).values())

    # -- events
    def event_append(self, event: Event) -> None:
        log = self._events.get(event.namespace)
        if log is None:
            log = self._events[event.namespace] = deque(maxlen=self.settings.event_retention)
        dropped = log[0] if len(log) == log.maxlen else None
        log.append(event)

        def undo() -> None:
            log.pop()
            if dropped is not None:
                log.appendleft(dropped)

        self._remember(undo)

    def events_after(self, ns: str, since: int, limit: int) -> list[Event]:
        with self._lock:
            log = self._events.get(ns)
            if not log:
                return []
            start = max(0, since + 1 - log[0].revision)
            return [log[i] for i in range(start, min(len(log), start + limit))]

    def events_oldest(self, ns: str) -> int | None:
        log = self._events.get(ns)
        return log[0].revision if log else None

    def events_clear(self, ns: str) -> None:
        old = self._events.pop(ns, None)
        if old is not None:
            self._remember(lambda: self._events.__setitem__(ns, old))

    def key_events(
        self, ns: str, key: str, before: int | None, limit: int, oldest_first: bool = False
    ) -> list[Event]:
        log = self._events.get(ns)
        out: list[Event] = []
        if not log or limit <= 0:
            return out
        # Revisions are consecutive in the log: index straight to the one below `before`.
        end = len(log) if before is None else max(0, min(len(log), before - log[0].revision))
        indexes = range(end) if oldest_first else range(end - 1, -1, -1)
        for i in indexes:  # at most the retained log
            event = log[i]
            if changes_key(event, key):
                out.append(event)
                if len(out) >= limit:
                    break
        return out

    # -- audit
    def audit_append(self, record: AccessLogEntry) -> None:
        self._audit.append(record)

    def audit_query(
        self,
        agent_id: str | None,
        ns: str | None,
        action: str | None,
        success: bool | None,
        since: float | None,
        limit: int,
        visible: Callable[[str | None], bool] | None,
    ) -> list[AccessLogEntry]:
        return filter_audit(
            reversed(self._audit), agent_id, ns, action, success, since, limit, visible
        )

    def audit_count(self) -> int:
        return len(self._audit)

    # -- idempotency
    def idem_get(self, key: str, now: float) -> Any:
        hit = self._idem.get(key)
        if hit is None or hit[0] < now - self.settings.idempotency_ttl:
            return None
        return hit[1]

    def idem_put(self, key: str, value: Any, now: float) -> None:
        if len(self._idem) > 10_000:
            cutoff = now - self.settings.idempotency_ttl
            self._idem = {k: v for k, v in self._idem.items() if v[0] >= cutoff}
        self._idem[key] = (now, value)
        self._remember(lambda: self._restore(self._idem, key, None))
