"""``postgresql://user@host:port/db``: a PostgreSQL database shared by any number of processes.

- Every op is one transaction (READ COMMITTED) on a connection of a psycopg pool. A write
  takes a transaction-level advisory lock per namespace before it first reads that
  namespace (:meth:`_PgTxn.lock`): writers of one namespace run one after another, and each
  statement after the lock sees every commit of the writers before it. Compare-and-set and
  first-wins are then exact across processes and replicas, revisions gap-free, and a
  namespace's events commit in revision order. Writers of different namespaces do not
  wait for each other. A deadlock (ops over several namespaces) or a serialization failure
  is retried here; a connection lost before COMMIT is retried once on a fresh connection.
- Reads run in autocommit (each statement its own snapshot) and take no lock; their audit
  records are buffered and written with the next write (or within 0.2 s), as on SQLite.
- Watchers: a write NOTIFYs ``hivemem_<schema>`` with each namespace it changed (sent at
  COMMIT); one listener connection per store wakes that namespace's watchers (reading the
  notifications without a query), and :meth:`Backend.follow` polls the event table every
  ``poll_interval`` besides. A server's event streams rely on the listener alone
  (``supports_change_token``: the token moves when it reconnects, waking every watcher).
- Tables live in one schema (``?schema=name`` in the URL, default ``hivemem``), created by
  the first process that opens it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import select
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
import psycopg
import psycopg_pool
from psycopg import errors as pg_errors

from hivemem import _codec
from hivemem.backends.base import Backend
from hivemem.engine.apply import DEFAULT_NAMESPACE, SYSTEM_AGENT, execute
from hivemem.engine.ops import AccessLogQuery, CreateNamespace, Op, Stats
from hivemem.engine.txn import (
    KEY_EVENT_TYPES,
    NS_WIPE_TYPES,
    STORE_BYTES_EVERY,
    Result,
    Settings,
    Stored,
    Txn,
)
from hivemem.errors import BackendUnavailable, HivememError, InternalError, InvalidArgument
from hivemem.types import AccessLogEntry, Event, NamespaceInfo

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["PostgresBackend"]

#: 2: events carry the key they changed (``k``, indexed): a key's history is a range read.
SCHEMA_VERSION = 2
DEFAULT_SCHEMA = "hivemem"
#: Schema names we accept: plain identifiers (so ``hivemem_<schema>`` is a valid channel).
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,49}")
#: Attempts of an op that hit a deadlock or a serialization failure.
MAX_RETRIES = 20
#: Old events are trimmed once every TRIM_STEP revisions of a namespace (or fewer).
TRIM_STEP = 64
#: Most audit rows past ``max_log_size`` one trim waits for.
AUDIT_TRIM_STEP = 1024
#: Seconds a read's audit record may wait in the buffer.
AUDIT_FLUSH_SECONDS = 0.2


#: Most writes one group commit holds (one transaction, one fsync).
GROUP_MAX_OPS = 64


class _NoConnection(BackendUnavailable):
    """The pool gave no connection in time: the server is down, or every connection busy."""


#: Seconds an op waits for a pooled connection (all busy with other ops).
_POOL_WAIT = 5.0
#: Seconds it waits instead within _FAILING_FOR s of a failed connection: the pool has none
#: to give until the server is back (reconnecting in the background), so fail fast (503).
_FAILING_WAIT = 0.25
_FAILING_FOR = 10.0
#: Seconds the listener waits for a notification before it checks its connection.
LISTEN_CHECK_SECONDS = 5.0

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT COLLATE "C" PRIMARY KEY, config TEXT NOT NULL, created_by TEXT);
CREATE INDEX IF NOT EXISTS namespaces_creator ON namespaces (created_by);
CREATE TABLE IF NOT EXISTS revisions (ns TEXT COLLATE "C" PRIMARY KEY, rev BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    ns TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, value TEXT NOT NULL,
    owner TEXT NOT NULL, version BIGINT NOT NULL, revision BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION, PRIMARY KEY (ns, key));
CREATE INDEX IF NOT EXISTS entries_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS events (
    ns TEXT COLLATE "C" NOT NULL, rev BIGINT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (ns, rev));
ALTER TABLE events ADD COLUMN IF NOT EXISTS k TEXT COLLATE "C";
CREATE INDEX IF NOT EXISTS events_key ON events (ns, k, rev) WHERE k IS NOT NULL;
CREATE TABLE IF NOT EXISTS audit (
    id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, agent TEXT NOT NULL, ns TEXT,
    key TEXT, action TEXT NOT NULL, success BOOLEAN NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS idem (
    key BYTEA PRIMARY KEY, at DOUBLE PRECISION NOT NULL, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, until DOUBLE PRECISION NOT NULL)
"""

_ENTRY_COLUMNS = "value, owner, version, revision, created_at, updated_at, expires_at"
_PUT_ENTRY = (
    f"INSERT INTO entries (ns, key, {_ENTRY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, owner = excluded.owner, "
    "version = excluded.version, revision = excluded.revision, "
    "created_at = excluded.created_at, updated_at = excluded.updated_at, "
    "expires_at = excluded.expires_at"
)
_INSERT_AUDIT = (
    "INSERT INTO audit (ts, agent, ns, key, action, success, error) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
#: The id of the oldest audit record of the log (the ``max_log_size``-th newest), or 0.
_AUDIT_FLOOR = "COALESCE((SELECT id FROM audit ORDER BY id DESC OFFSET %s LIMIT 1), 0)"

log = logging.getLogger("hivemem")
_stored = tuple.__new__


def _event_json(event: Event) -> str:
    data = event.to_dict()
    try:
        return orjson.dumps(data).decode()
    except TypeError:  # beyond orjson (integers over 64 bits): the stdlib encoder
        return json.dumps(data)


def _prefix_upper(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (code points)."""
    for i in range(len(prefix) - 1, -1, -1):
        code = ord(prefix[i]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            return prefix[:i] + chr(code)
    return None


class _PgTxn(Txn):
    """The Txn primitives over one connection: a write's transaction, or autocommit reads."""

    #: Connection losses, deadlocks and serialization failures end the whole transaction:
    #: the backend retries or reports them. Other driver errors fail the op alone.
    passthrough: ClassVar[tuple[type[Exception], ...]] = (
        psycopg.OperationalError,
        psycopg.InterfaceError,
        pg_errors.InFailedSqlTransaction,
    )

    def __init__(
        self,
        backend: PostgresBackend,
        conn: psycopg.Connection[Any],
        writer: bool,
        grouped: bool = False,
    ):
        self.backend = backend
        self.conn = conn
        self.writer = writer
        #: Several ops share this transaction (group commit): each is bracketed by a
        #: SAVEPOINT, so a refused one undoes only its own writes.
        self.grouped = grouped
        self._saved_locked: set[str] = set()
        self._saved_changed: dict[str, tuple[int, int]] = {}
        #: What :meth:`read_ahead` fetched: (ns, key, config, entry), until the entry is read.
        self._ahead: tuple[str, str, NamespaceInfo, Stored | None] | None = None
        self.locked: set[str] = set()
        self.audit: list[AccessLogEntry] = []
        #: Namespaces whose events this transaction appended, with their newest revision.
        self.changed: dict[str, tuple[int, int]] = {}
        #: Revisions of the namespaces this transaction locked (exact under the lock).
        self.revs: dict[str, int] = {}
        #: Statements whose results nobody needs, sent with the next one that has a result
        #: (one round trip for both): ``(sql, args, is_write)``.
        self.pending: list[tuple[str, Any, bool]] = []
        #: Whether a write of the current op reached the server.
        self.dirty = False
        self._saved: dict[str, int] = {}

    def query(self, sql: str, args: Any = None) -> psycopg.Cursor[Any]:
        """Run a statement (after the pending ones, in one round trip) and return its cursor."""
        c = self.conn
        if not self.pending:
            return c.execute(sql, args)
        pending, self.pending = self.pending, []
        if any(write for _, _, write in pending):
            self.dirty = True
        with c.pipeline():
            for statement, params, _ in pending:
                c.execute(statement, params)
            cur = c.execute(sql, args)
        return cur

    def defer(self, sql: str, args: Any = None, *, write: bool = True) -> None:
        """Queue a statement whose result is not needed (see :meth:`query`)."""
        self.pending.append((sql, args, write))

    def flush(self) -> None:
        """Send the pending statements."""
        if self.pending:
            self.query("SELECT 1")

    def lock(self, name: str) -> None:
        """Hold ``name``'s advisory lock until the transaction ends (writes only).

        Queued, so it travels with the first read after it: that read's snapshot is taken
        after the lock is granted and sees every commit of the writers before.
        """
        if self.writer and name not in self.locked:
            self.defer(
                "SELECT pg_advisory_xact_lock(%s)", (self.backend.lock_key(name),), write=False
            )
            self.locked.add(name)

    # -- brackets: an op alone in its transaction is undone with it; ops of a group each
    # have a savepoint (queued, so a bracket costs no round trip of its own).
    def savepoint(self) -> None:
        self._ahead = None
        self.dirty = False
        self._saved = dict(self.revs)
        if self.grouped:
            self._saved_locked = set(self.locked)
            self._saved_changed = dict(self.changed)
            self.defer("SAVEPOINT op", write=False)

    def release(self) -> None:
        """Keep the op's writes: they commit with the transaction."""
        if self.grouped:
            self.defer("RELEASE SAVEPOINT op", write=False)

    def rollback(self) -> None:
        self._ahead = None
        if self.grouped:
            # Undoes the op's statements; advisory locks it took are released with them.
            self.defer("ROLLBACK TO SAVEPOINT op", write=False)
            self.defer("RELEASE SAVEPOINT op", write=False)
            self.revs = self._saved
            self.locked = self._saved_locked
            self.changed = self._saved_changed
            self.dirty = False
            return
        if self.dirty:
            self.pending = [("ROLLBACK", None, False), ("BEGIN", None, False)]
            self.locked.clear()
            self.revs = {}
            self.dirty = False
        else:  # nothing reached the server: forget what is queued
            self.pending = [p for p in self.pending if not p[2]]
            self.revs = self._saved
        self.changed.clear()  # (events are appended inside the op's bracket only)

    # -- namespaces
    def ns_get(self, name: str) -> NamespaceInfo | None:
        ahead = self._ahead
        if ahead is not None and ahead[0] == name:
            return ahead[2]
        self.lock(name)
        if not self.writer:
            row = self.query("SELECT config FROM namespaces WHERE name = %s", (name,)).fetchone()
            return self.backend.info(name, row[0]) if row else None
        # A write takes the namespace's revision next: read it in the same round trip.
        row = self.query(
            "SELECT (SELECT config FROM namespaces WHERE name = %s), "
            "(SELECT rev FROM revisions WHERE ns = %s)",
            (name, name),
        ).fetchone()
        assert row is not None
        if name not in self.revs:
            self.revs[name] = int(row[1] or 0)
        return self.backend.info(name, row[0]) if row[0] is not None else None

    def read_ahead(self, ns: str, key: str) -> None:
        if self.writer:
            info, stored = self.ns_and_entry(ns, key)
            if info is not None:
                self._ahead = (ns, key, info, stored)

    def ns_and_entry(self, ns: str, key: str) -> tuple[NamespaceInfo | None, Stored | None]:
        self.lock(ns)
        row = self.query(
            "SELECT n.config, (SELECT rev FROM revisions WHERE ns = n.name), e.value, e.owner, "
            "e.version, e.revision, e.created_at, e.updated_at, e.expires_at FROM namespaces n "
            "LEFT JOIN entries e ON e.ns = n.name AND e.key = %s WHERE n.name = %s",
            (key, ns),
        ).fetchone()
        if row is None:
            return None, None
        if self.writer and ns not in self.revs:
            self.revs[ns] = int(row[1] or 0)
        info = self.backend.info(ns, row[0])
        return info, (_stored(Stored, row[2:]) if row[2] is not None else None)

    def ns_put(self, info: NamespaceInfo) -> None:
        self._ahead = None
        self.lock(info.name)
        config = info.to_dict()
        for field in ("name", "revision"):
            config.pop(field)
        self.defer(
            "INSERT INTO namespaces (name, config, created_by) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET config = excluded.config, "
            "created_by = excluded.created_by",
            (info.name, json.dumps(config), info.created_by),
        )

    def ns_delete(self, name: str) -> None:
        self._ahead = None
        self.lock(name)
        self.defer("DELETE FROM namespaces WHERE name = %s", (name,))

    def ns_list(self) -> list[NamespaceInfo]:
        rows = self.query("SELECT name, config FROM namespaces ORDER BY name").fetchall()
        return [self.backend.info(name, config) for name, config in rows]

    def ns_count_by(self, agent: str) -> int:
        self.lock("\x00quota")  # creators counted one at a time: the quota stays exact
        row = self.query(
            "SELECT COUNT(*) FROM namespaces WHERE created_by = %s", (agent,)
        ).fetchone()
        return int(row[0]) if row else 0

    def store_bytes(self) -> int | None:
        return self.backend.store_bytes(self.conn)

    def rev_get(self, ns: str) -> int:
        if ns in self.revs:
            return self.revs[ns]
        self.lock(ns)
        row = self.query("SELECT rev FROM revisions WHERE ns = %s", (ns,)).fetchone()
        rev = int(row[0]) if row else 0
        if self.writer:
            self.revs[ns] = rev
        return rev

    def rev_next(self, ns: str) -> int:
        rev = self.rev_get(ns) + 1
        self.rev_set(ns, rev)
        return rev

    def rev_set(self, ns: str, rev: int) -> None:
        self.lock(ns)
        self.revs[ns] = rev
        self.defer(
            "INSERT INTO revisions (ns, rev) VALUES (%s, %s) ON CONFLICT (ns) "
            "DO UPDATE SET rev = excluded.rev",
            (ns, rev),
        )

    # -- entries
    def entry_get(self, ns: str, key: str) -> Stored | None:
        ahead = self._ahead
        if ahead is not None:
            self._ahead = None  # served once: the op's writes come next
            if ahead[0] == ns and ahead[1] == key:
                return ahead[3]
        self.lock(ns)
        row = self.query(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE ns = %s AND key = %s", (ns, key)
        ).fetchone()
        return _stored(Stored, row) if row else None

    def entries_get(self, ns: str, keys: list[str]) -> list[Stored | None]:
        self.lock(ns)
        rows = self.query(
            f"SELECT key, {_ENTRY_COLUMNS} FROM entries WHERE ns = %s AND key = ANY(%s)",
            (ns, keys),
        ).fetchall()
        found = {row[0]: _stored(Stored, row[1:]) for row in rows}
        return [found.get(key) for key in keys]

    def entry_put(self, ns: str, key: str, stored: Stored, new: bool | None = None) -> None:
        self._ahead = None
        self.lock(ns)
        self.defer(_PUT_ENTRY, (ns, key, *stored))

    def entry_delete(self, ns: str, key: str) -> None:
        self._ahead = None
        self.lock(ns)
        self.defer("DELETE FROM entries WHERE ns = %s AND key = %s", (ns, key))

    def entry_count(self, ns: str) -> int:
        self.lock(ns)
        row = self.query("SELECT COUNT(*) FROM entries WHERE ns = %s", (ns,)).fetchone()
        return int(row[0]) if row else 0

    def entries_clear(self, ns: str) -> list[tuple[str, Stored]]:
        self._ahead = None
        self.lock(ns)
        self.dirty = True
        rows = self.query(
            f"DELETE FROM entries WHERE ns = %s RETURNING key, {_ENTRY_COLUMNS}", (ns,)
        ).fetchall()
        rows.sort(key=lambda row: row[0].encode())
        return [(row[0], _stored(Stored, row[1:])) for row in rows]

    def entries_scan(
        self, ns: str, prefix: str, after: str | None, limit: int | None
    ) -> list[tuple[str, Stored]]:
        self.lock(ns)
        sql = f"SELECT key, {_ENTRY_COLUMNS} FROM entries WHERE ns = %s"
        args: list[Any] = [ns]
        upper = None
        if after is not None:
            sql += " AND key > %s"
            args.append(after)
        if prefix:
            sql += " AND key >= %s"
            args.append(prefix)
            upper = _prefix_upper(prefix)
            if upper is not None:
                sql += " AND key < %s"
                args.append(upper)
        sql += " ORDER BY key"
        if limit is not None:
            sql += " LIMIT %s"
            args.append(limit)
        rows = self.query(sql, args).fetchall()
        if upper is None and prefix:  # no upper bound in SQL: check the prefix here
            rows = [row for row in rows if row[0].startswith(prefix)]
        return [(row[0], _stored(Stored, row[1:])) for row in rows]

    def expired_scan(self, now: float, limit: int, ns: str | None = None) -> list[tuple[str, str]]:
        if ns is None:
            rows = self.query(
                "SELECT ns, key FROM entries WHERE expires_at <= %s ORDER BY expires_at LIMIT %s",
                (now, limit),
            ).fetchall()
        else:
            self.lock(ns)
            rows = self.query(
                "SELECT ns, key FROM entries WHERE ns = %s AND expires_at <= %s LIMIT %s",
                (ns, now, limit),
            ).fetchall()
        # One lock order for every sweeper: namespaces by name.
        return sorted((r[0], r[1]) for r in rows)

    def ns_bytes(self, ns: str) -> int:
        self.lock(ns)
        row = self.query(
            "SELECT COALESCE(SUM(octet_length(value)), 0) FROM entries WHERE ns = %s", (ns,)
        ).fetchone()
        return int(row[0]) if row else 0

    # -- events
    def event_append(self, event: Event) -> None:
        ns, rev = event.namespace, event.revision
        self.lock(ns)
        self.defer(
            "INSERT INTO events (ns, rev, data, k) VALUES (%s, %s, %s, %s)",
            (ns, rev, _event_json(event), _event_k(event)),
        )
        first = self.changed.get(ns, (rev, rev))[0]
        self.changed[ns] = (first, rev)

    def events_after(self, ns: str, since: int, limit: int) -> list[Event]:
        rows = self.query(
            "SELECT data FROM events WHERE ns = %s AND rev > %s ORDER BY rev LIMIT %s",
            (ns, max(since, 0), limit),
        ).fetchall()
        return [Event.from_dict(_codec.decode(r[0])) for r in rows]

    def events_clear(self, ns: str) -> None:
        self.lock(ns)
        self.defer("DELETE FROM events WHERE ns = %s", (ns,))

    def key_events(
        self, ns: str, key: str, before: int | None, limit: int, oldest_first: bool = False
    ) -> list[Event]:
        if limit <= 0:
            return []
        top = before if before is not None else 1 << 62
        order = "ASC" if oldest_first else "DESC"
        rows = self.query(
            f"SELECT data FROM ((SELECT rev, data FROM events WHERE ns = %(ns)s AND k = %(k)s "
            f"AND rev < %(top)s ORDER BY rev {order} LIMIT %(n)s) UNION ALL (SELECT rev, data "
            f"FROM events WHERE ns = %(ns)s AND k = '' AND rev < %(top)s ORDER BY rev {order} "
            f"LIMIT %(n)s)) t ORDER BY rev {order} LIMIT %(n)s",
            {"ns": ns, "k": key, "top": top, "n": limit},
        ).fetchall()
        return [Event.from_dict(_codec.decode(r[0])) for r in rows]

    def events_oldest(self, ns: str) -> int | None:
        row = self.query("SELECT MIN(rev) FROM events WHERE ns = %s", (ns,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    # -- audit
    def audit_append(self, record: AccessLogEntry) -> None:
        if self.writer:
            self.audit.append(record)
        else:
            self.backend.buffer_audit(record)

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
        self.flush_audit()
        sql = "SELECT ts, agent, ns, key, action, success, error FROM audit WHERE TRUE"
        args: list[Any] = []
        for column, value in (("agent", agent_id), ("ns", ns), ("action", action)):
            if value is not None:
                sql += f" AND {column} = %s"
                args.append(value)
        if success is not None:
            sql += " AND success = %s"
            args.append(success)
        if since is not None:
            sql += " AND ts >= %s"
            args.append(since)
        # The table may hold more than max_log_size rows (trimmed in steps): only the newest
        # max_log_size are the log.
        sql += f" AND id >= {_AUDIT_FLOOR} ORDER BY id DESC"
        args.append(self.backend.settings.max_log_size - 1)
        out: list[AccessLogEntry] = []
        self.flush()
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            for row in cur:
                if visible is None or visible(row[2]):
                    out.append(AccessLogEntry(*row))
                    if len(out) >= limit:
                        break
        return out

    def audit_count(self) -> int:
        self.flush_audit()
        row = self.query(
            "SELECT LEAST(COUNT(*), %s) FROM audit", (self.backend.settings.max_log_size,)
        ).fetchone()
        return int(row[0]) if row else 0

    def flush_audit(self) -> None:
        """Write the audit records this transaction holds (and trim the log now and then)."""
        if not self.writer or not self.audit:
            return
        records, self.audit = self.audit, []
        for record in records:
            self.defer(_INSERT_AUDIT, record)
        keep = self.backend.settings.max_log_size
        step = max(1, min(AUDIT_TRIM_STEP, keep // 16))
        if self.backend.count_audit(len(records), step):
            self.defer(f"DELETE FROM audit WHERE id < {_AUDIT_FLOOR}", (keep - 1,))

    # -- idempotency
    def idem_get(self, key: str, now: float) -> Any:
        self.lock("\x00idem\x00" + key)  # one attempt of a key at a time
        row = self.query(
            "SELECT result FROM idem WHERE key = %s AND at >= %s",
            (key.encode(), now - self.backend.settings.idempotency_ttl),
        ).fetchone()
        return row[0] if row else None

    def idem_put(self, key: str, value: Any, now: float) -> None:
        self.defer(
            "INSERT INTO idem (key, at, result) VALUES (%s, %s, %s) ON CONFLICT (key) "
            "DO UPDATE SET at = excluded.at, result = excluded.result",
            (key.encode(), now, value),
        )

    # -- end of a write
    def commit(self) -> None:
        """Send the pending writes, audit records, event trims, NOTIFYs and COMMIT at once."""
        self.flush_audit()
        if self.changed:
            retention = self.backend.settings.event_retention
            step = max(1, min(TRIM_STEP, retention // 16))
            for ns, (first, last) in self.changed.items():
                if last > retention and last // step != (first - 1) // step:
                    self.defer(
                        "DELETE FROM events WHERE ns = %s AND rev <= %s", (ns, last - retention)
                    )
            self.defer(
                "SELECT pg_notify(%s, n) FROM unnest(%s::text[]) AS n",
                (self.backend.channel, list(self.changed)),
            )
        self.query("COMMIT")


class _Pending:
    """An op waiting in :class:`_GroupCommit`: its result, or the turn to lead."""

    __slots__ = ("lead", "op", "result", "wake")

    def __init__(self, op: Op[Any]) -> None:
        self.op = op
        self.result: Result | None = None
        self.lead = False
        self.wake = threading.Event()


class _GroupCommit:
    """Group commit: the writes of concurrent threads share transactions and fsyncs.

    A thread with a write queues it. At most ``leaders`` threads at a time lead: a leader
    takes every queued write (up to ``max_ops``), runs them in one transaction
    (``commit(ops)``), hands each its result, then passes the lead to the oldest write still
    queued (or gives it up); the others wait for their result. A write alone runs at once,
    as before; under contention (writers of one namespace wait for each other's advisory
    lock anyway) one COMMIT acknowledges many. Every waiter gets a result: a failure of
    the group is each op's error (the ops of a group never raise).
    """

    def __init__(
        self, commit: Callable[[list[Any]], list[Result]], leaders: int, max_ops: int
    ) -> None:
        self._commit = commit
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = 0
        self._leaders = leaders
        self._max_ops = max_ops
        #: Ops committed and groups run (for the benchmarks' group sizes).
        self.ops = 0
        self.groups = 0

    def submit(self, op: Op[Any]) -> Result:
        mine = _Pending(op)
        with self._lock:
            self._queue.append(mine)
            if self._leading < self._leaders:
                self._leading += 1
                mine.lead = True
        while True:
            if mine.lead:
                mine.lead = False
                self._lead()
            if mine.result is not None:
                return mine.result
            mine.wake.wait()
            mine.wake.clear()

    def _lead(self) -> None:
        with self._lock:
            group, self._queue = self._queue[: self._max_ops], self._queue[self._max_ops :]
        try:
            if group:
                try:
                    results = self._commit([p.op for p in group])
                except BaseException as exc:  # (the commit never raises; a bug must not hang)
                    error = InternalError.of(exc, "a PostgreSQL group commit")
                    results = [Result(error=error) for _ in group]
                self.ops += len(group)
                self.groups += 1
                for p, result in zip(group, results, strict=True):
                    p.result = result
                    p.wake.set()
        finally:
            with self._lock:
                if self._queue:
                    nxt = self._queue[0]
                    nxt.lead = True
                    nxt.wake.set()
                else:
                    self._leading -= 1


class PostgresBackend(Backend):
    """Tables in one schema of a PostgreSQL database; safe to share between processes."""

    name = "postgres"
    shared_between_processes = True
    # The listener wakes watchers at each NOTIFY; the token only moves when it (re)connects
    # (what was missed meanwhile), so a server's streams need not poll (as over Redis).
    supports_change_token = True

    def __init__(
        self,
        conninfo: str,
        settings: Settings,
        *,
        schema: str = DEFAULT_SCHEMA,
        durability: str = "full",
        pool_size: int = 8,
    ) -> None:
        super().__init__(settings)
        if not _SCHEMA_NAME.fullmatch(schema):
            raise InvalidArgument(
                f"schema must be a lowercase identifier of at most 50 characters, got {schema!r}"
            )
        if durability not in ("full", "normal"):
            raise InvalidArgument(f"durability must be 'full' or 'normal', got {durability!r}")
        self.schema = schema
        self.channel = f"hivemem_{schema}"
        self.conninfo = conninfo
        self._holder = uuid.uuid4().hex
        self._closed = False
        self._audit_lock = threading.Lock()
        self._audit_buffer: list[AccessLogEntry] = []
        self._audit_since_trim = 0
        self._size = (float("-inf"), 0)
        self._failed_at = float("-inf")  # when a connection to the server last failed
        # Half the pool leads groups of writes: the rest stays for reads.
        self._group = _GroupCommit(self._commit_group, max(1, pool_size // 2), GROUP_MAX_OPS)
        self._info_cache: dict[str, tuple[str, NamespaceInfo]] = {}
        sync = "on" if durability == "full" else "off"
        self._kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": 5,
            "options": f"-c search_path={schema} -c synchronous_commit={sync}",
        }
        self._create_schema()  # on a connection of its own: an unreachable server fails fast
        self.pool = psycopg_pool.ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs=self._kwargs,
            timeout=_POOL_WAIT,
            open=False,
            name=f"hivemem-{schema}",
        )
        self.pool.open(wait=False)
        try:
            op = CreateNamespace(
                agent=SYSTEM_AGENT, ns=DEFAULT_NAMESPACE, exist_ok=True, permissions={}
            )
            self.execute(op).unwrap()
        except BaseException:
            self.pool.close()
            raise
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._listen_gen = 0
        self._listener = threading.Thread(
            target=self._listen, name="hivemem-pg-listen", daemon=True
        )
        self._listener.start()
        self._flusher = threading.Thread(
            target=self._flush_loop, name="hivemem-pg-audit", daemon=True
        )
        self._flusher.start()

    # ------------------------------------------------------------ helpers
    def lock_key(self, name: str) -> int:
        """The advisory lock key of ``name`` in this schema (a signed 64-bit hash)."""
        digest = hashlib.blake2b(f"{self.schema}\x00{name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def info(self, name: str, config: str) -> NamespaceInfo:
        """A namespace's config, parsed once per distinct text."""
        cached = self._info_cache.get(name)
        if cached is not None and cached[0] == config:
            return cached[1]
        info = NamespaceInfo(name=name, **json.loads(config))
        if len(self._info_cache) > 10_000:
            self._info_cache.clear()
        self._info_cache[name] = (config, info)
        return info

    def buffer_audit(self, record: AccessLogEntry) -> None:
        with self._audit_lock:
            self._audit_buffer.append(record)

    def _take_audit(self) -> list[AccessLogEntry]:
        with self._audit_lock:
            records, self._audit_buffer = self._audit_buffer, []
        return records

    def count_audit(self, added: int, step: int) -> bool:
        """Count inserted audit records; ``True`` once ``step`` arrived since the last trim."""
        with self._audit_lock:
            self._audit_since_trim += added
            if self._audit_since_trim >= step:
                self._audit_since_trim = 0
                return True
            return False

    def store_bytes(self, conn: psycopg.Connection[Any] | None = None) -> int:
        """The schema's tables and indexes in bytes, measured at most every second."""
        now = time.monotonic()
        measured, size = self._size
        if now - measured < STORE_BYTES_EVERY:
            return size
        sql = (
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'"
        )
        if conn is None:
            with self._connection() as c:
                row = c.execute(sql, (self.schema,)).fetchone()
        else:
            row = conn.execute(sql, (self.schema,)).fetchone()
        size = int(row[0]) if row else 0
        self._size = (now, size)
        return size

    @contextlib.contextmanager
    def _connection(self) -> Any:
        if self._closed:
            raise BackendUnavailable("the store is closed")
        # While the server is known to be failing, a caller waits for a connection only
        # briefly: the pool has none to give until the server is back, so the API answers
        # 503 within a second instead of after the pool's whole timeout.
        failing = time.monotonic() - self._failed_at < _FAILING_FOR
        try:
            with self.pool.connection(timeout=_FAILING_WAIT if failing else _POOL_WAIT) as conn:
                yield conn
        except psycopg_pool.PoolTimeout as exc:
            raise _NoConnection(f"no PostgreSQL connection: {exc}") from exc
        except pg_errors.TransactionRollback:
            raise  # a deadlock or serialization failure: the caller runs the op again
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._failed_at = time.monotonic()
            raise BackendUnavailable(f"PostgreSQL failed: {exc}") from exc

    def _create_schema(self) -> None:
        """Create (or check) the schema and its tables, once per schema across processes."""
        try:
            with psycopg.connect(self.conninfo, **self._kwargs) as conn:
                self._create_tables(conn)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise BackendUnavailable(f"cannot open PostgreSQL store: {exc}") from exc

    def _create_tables(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            # One creator at a time: CREATE ... IF NOT EXISTS races with itself.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key("\x00setup"),))
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            for statement in _TABLES.split(";"):
                conn.execute(statement)
            row = conn.execute("SELECT v FROM meta WHERE k = 'schema_version'").fetchone()
            found = int(row[0]) if row is not None else SCHEMA_VERSION
            if found > SCHEMA_VERSION:
                raise BackendUnavailable(
                    f"PostgreSQL schema {self.schema!r} has version {found}, written by a newer "
                    f"hivemem; this one reads version {SCHEMA_VERSION} and older"
                )
            if found < 2:  # events written before their k column: fill it from their data
                keyed = ", ".join(f"'{t}'" for t in sorted(KEY_EVENT_TYPES))
                wipes = ", ".join(f"'{t}'" for t in sorted(NS_WIPE_TYPES))
                conn.execute(
                    f"UPDATE events SET k = CASE WHEN (data::jsonb ->> 'type') IN ({keyed}) "
                    f"THEN data::jsonb ->> 'key' WHEN (data::jsonb ->> 'type') IN ({wipes}) "
                    "THEN '' END WHERE k IS NULL"
                )
            conn.execute(
                "INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (k) DO UPDATE "
                "SET v = excluded.v",
                (str(SCHEMA_VERSION),),
            )

    # ------------------------------------------------------------ execution
    def execute(self, op: Op[Any]) -> Result:
        # The contract: every failure of an op is its Result's error, never raised.
        try:
            return self._execute(op)
        except HivememError as exc:
            return Result(error=exc)
        except Exception as exc:
            return Result(error=InternalError.of(exc, f"a PostgreSQL op ({type(op).__name__})"))

    def _execute(self, op: Op[Any]) -> Result:
        if op.mutates or type(op) in (AccessLogQuery, Stats):
            result = self._write(op)
            if result.events and result.error is None:
                self.notifier.notify_events(result.events)
            return result
        for attempt in (0, 1):
            try:
                return self._read(op)
            except BackendUnavailable as exc:
                # A pooled connection the server dropped (a restart): reads are safe to retry
                # (no connection at all: not worth it).
                if attempt or self._closed or isinstance(exc, _NoConnection):
                    raise
            except pg_errors.TransactionRollback as exc:  # (a hot standby's recovery conflict)
                if attempt:
                    raise BackendUnavailable(f"PostgreSQL read aborted: {exc}") from exc
        raise AssertionError("unreachable")

    def _read(self, op: Op[Any]) -> Result:
        with self._connection() as conn:
            try:
                return execute(_PgTxn(self, conn, False), op, self.settings)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                raise  # (mapped by _connection)
            except psycopg.Error as exc:
                return Result(
                    error=InternalError.of(exc, f"a PostgreSQL read ({type(op).__name__})")
                )

    async def aexecute(self, op: Op[Any]) -> Result:
        import asyncio

        return await asyncio.to_thread(self.execute, op)

    def _write(self, op: Op[Any] | None) -> Result:
        """Run a write (``None``: only the buffered audit records).

        It commits with the writes of other threads that arrive meanwhile
        (:class:`_GroupCommit`).
        """
        if op is None:
            return self._commit_group([None])[0]
        return self._group.submit(op)

    def _commit_group(self, ops: list[Op[Any] | None]) -> list[Result]:
        """Run ops in ONE transaction and commit once; one Result per op, in order.

        Each op of several has a savepoint, so a refused op undoes only its own writes.
        Deadlocks and serialization failures run the whole group again; so does a lost
        connection, once, when COMMIT was not sent (nothing was done). Any other failure
        of the transaction is every op's error.
        """
        records = self._take_audit()
        lost = 0
        for attempt in range(MAX_RETRIES):
            committing = False
            try:
                with self._connection() as conn:
                    try:
                        tx = _PgTxn(self, conn, True, grouped=len(ops) > 1)
                        tx.defer("BEGIN", write=False)
                        tx.audit = list(records)
                        results = [
                            execute(tx, op, self.settings) if op is not None else Result()
                            for op in ops
                        ]
                        committing = True
                        tx.commit()
                        return results
                    except BaseException:
                        if conn.info.transaction_status != psycopg.pq.TransactionStatus.UNKNOWN:
                            with contextlib.suppress(psycopg.Error):
                                conn.execute("ROLLBACK")
                        raise
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
                time.sleep(min(0.001 * 2**attempt, 0.05))
                continue
            except BackendUnavailable as exc:
                # A lost connection (a stale one after a server restart) is worth one more
                # try on a fresh one; no connection at all is not.
                if committing or lost or self._closed or isinstance(exc, _NoConnection):
                    self._lost_audit(records)
                    return [Result(error=exc) for _ in ops]
                lost += 1
                continue
            except psycopg.Error as exc:
                self._lost_audit(records)
                failed = InternalError.of(exc, "a PostgreSQL transaction")
                return [Result(error=failed) for _ in ops]
        self._lost_audit(records)
        aborted = BackendUnavailable("PostgreSQL kept aborting the transaction")
        return [Result(error=aborted) for _ in ops]

    @staticmethod
    def _lost_audit(records: list[AccessLogEntry]) -> None:
        if records:
            log.warning("%d buffered read audit records were not written", len(records))

    # ------------------------------------------------------------ background
    def _flush_loop(self) -> None:
        """Write buffered read audit records every AUDIT_FLUSH_SECONDS."""
        while not self._stop.wait(AUDIT_FLUSH_SECONDS):
            if self._audit_buffer:
                self._write(None)

    def _listen(self) -> None:
        """Wake the watchers of each namespace another process (or this one) changed."""
        conn: psycopg.Connection[Any] | None = None
        notifier = self.notifier
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(self.conninfo, **self._kwargs)
                    conn.execute(f"LISTEN {self.channel}")
                    self._listen_gen += 1
                    notifier.notify()  # what happened while no one listened
                ready, _, _ = select.select(
                    [conn.fileno(), self._wake_r], [], [], LISTEN_CHECK_SECONDS
                )
                if self._wake_r in ready:
                    break
                if not ready:  # quiet: check that the connection still answers
                    conn.execute("SELECT 1")
                    continue
                # Read what arrived without a query: a round trip per wake would cost every
                # replica (and PostgreSQL) a statement per commit anywhere (docs/scaling.md).
                pgconn = conn.pgconn
                pgconn.consume_input()
                while (note := pgconn.notifies()) is not None:
                    notifier.notify(note.extra.decode())
            except (psycopg.Error, OSError, ValueError):
                if conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        conn.close()
                conn = None
                self._stop.wait(0.5)
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def change_token(self) -> int:
        """For the server's change poller: moves when the listener (re)connects.

        The listener itself wakes the watchers of each namespace another process changed.
        """
        return self._listen_gen

    # ------------------------------------------------------------ server helpers
    def peek(self, ns: str, key: str) -> Any:
        """The value of a live entry, or ``None``: no permission check, no audit record."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT value, expires_at FROM entries WHERE ns = %s AND key = %s", (ns, key)
            ).fetchone()
        if row is None or (row[1] is not None and row[1] <= self.settings.clock()):
            return None
        return _codec.decode(row[0])

    def sweep_lease(self, seconds: float, name: str = "sweeper") -> bool:
        """Grant ``name`` to one process of those sharing the schema at a time."""
        now = time.time()
        with self._connection() as conn:
            row = conn.execute(
                "INSERT INTO leases (name, holder, until) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "until = excluded.until WHERE leases.until < %s OR leases.holder = %s "
                "RETURNING holder",
                (name, self._holder, now + seconds, now, self._holder),
            ).fetchone()
        return row is not None

    def close(self) -> None:
        if self._closed:
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._flusher.join(timeout=5)
        if self._audit_buffer:
            self._write(None)
        self._closed = True
        self._listener.join(timeout=5)
        os.close(self._wake_r)
        os.close(self._wake_w)
        self.pool.close()
        self.notifier.notify()


def _event_k(event: Event) -> str | None:
    """An event's ``k`` column: the key it changed, ``""`` for a wipe, else ``None``.

    Keys are never empty, so ``""`` names no key; rows with ``None`` are not indexed.
    """
    if event.type in KEY_EVENT_TYPES:
        return event.key
    return "" if event.type in NS_WIPE_TYPES else None
