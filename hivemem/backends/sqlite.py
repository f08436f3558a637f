"""``sqlite:///path.db``: the embedded default, a SQLite file in WAL mode.

- Reads run inline on a per-thread connection (no thread hop, no lock).
- Mutations are group-committed: a caller that finds no commit in progress becomes the
  leader and commits every queued op in one transaction (one savepoint per op, so a refused
  op leaves nothing behind); callers arriving meanwhile wait for that commit. One fsync then
  acknowledges many writers (``durability=full``, the default, syncs the WAL on every commit;
  ``normal`` may lose the last commits on power loss, never on a process crash).
- Several processes may share the file: ``BEGIN IMMEDIATE`` serialises their commits, so
  revisions stay gap-free and compare-and-set stays exact; each process's watchers poll the
  event table for what other processes wrote.
- Audit records of reads are buffered and written with the next commit (or within 0.2 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import orjson

from hivemem import _codec
from hivemem._histogram import Histogram
from hivemem.backends.base import Backend
from hivemem.backends.epoch import SharedCounter
from hivemem.engine import fast
from hivemem.engine.apply import DEFAULT_NAMESPACE, SYSTEM_AGENT, entry_cap, execute
from hivemem.engine.decide import Head, decide_put, state_free
from hivemem.engine.ops import AccessLogQuery, CreateNamespace, Op, Put
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

__all__ = ["SQLiteBackend"]

#: 2: events keyed by one integer (namespace id and revision), see :data:`REV_BITS`.
#: 3: events carry the key they changed (``k``, indexed): a key's history is a range read.
SCHEMA_VERSION = 3
#: An event's row id is ``ns_id << REV_BITS | revision``: the events of a namespace are one
#: range of a rowid table, appended at its end. (A WITHOUT ROWID table keyed by
#: ``(ns, revision)`` cost more per write: rows of a few hundred bytes split its leaf pages
#: often, where a rowid table appends a page; docs/design.md, "Measured choices".)
#: Revisions up to 2**40 per namespace; namespace ids up to 2**23 per file.
REV_BITS = 40
REV_MASK = (1 << REV_BITS) - 1
MAX_NS_ID = (1 << (63 - REV_BITS)) - 1

_META = "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID"
_SCHEMA = f"""
{_META};
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY, config TEXT NOT NULL, token TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
    ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, owner TEXT NOT NULL,
    version INTEGER NOT NULL, revision INTEGER NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, expires_at REAL, PRIMARY KEY (ns, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS namespaces_creator ON namespaces (json_extract(config, '$.created_by'));
CREATE TABLE IF NOT EXISTS ns_ids (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, data TEXT NOT NULL, k TEXT);
CREATE INDEX IF NOT EXISTS events_key ON events (k, id) WHERE k IS NOT NULL;
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, agent TEXT NOT NULL, ns TEXT, key TEXT,
    action TEXT NOT NULL, success INTEGER NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS idem (key TEXT PRIMARY KEY, at REAL NOT NULL, result TEXT NOT NULL)
    WITHOUT ROWID;
"""

#: A namespace's config and one of its entries. The config text comes back only when the
#: namespace's token differs from ?3, the one cached with its parsed config: most reads
#: skip copying it.
_GET = (
    "SELECT CASE WHEN n.token = ?3 THEN NULL ELSE n.config END, n.token, e.value, e.owner, "
    "e.version, e.revision, e.created_at, e.updated_at, e.expires_at FROM namespaces n "
    "LEFT JOIN entries e ON e.ns = n.name AND e.key = ?2 WHERE n.name = ?1"
)
_ENTRY = (
    "SELECT value, owner, version, revision, created_at, updated_at, expires_at "
    "FROM entries WHERE ns = ? AND key = ?"
)
_PEEK = "SELECT value, expires_at FROM entries WHERE ns = ? AND key = ?"
#: A latest-wins put that finds the entry itself: a new entry, or a new version of a live
#: one (an expired one is left alone: no row comes back).
_PUT_LIVE = (
    "INSERT INTO entries VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?6, ?7) ON CONFLICT (ns, key) DO "
    "UPDATE SET value = ?3, owner = ?4, version = version + 1, revision = ?5, updated_at = ?6, "
    "expires_at = ?7 WHERE expires_at IS NULL OR expires_at > ?6 RETURNING version, created_at"
)
#: "Not remembered" (None means "known not to exist").
_UNKNOWN: Any = object()
_NS_ID = "SELECT id FROM ns_ids WHERE name = ?"
_INSERT_EVENT = "INSERT INTO events VALUES (?, ?, ?)"
#: ``k`` of an event that removes every entry of its namespace (keys are never empty).
_WIPE_K = ""
#: A key's changes (``?1``) and its namespace's wipes, in one id range, newest first.
_KEY_EVENTS = {
    order: (
        f"SELECT data FROM (SELECT id, data FROM (SELECT id, data FROM events WHERE k = ?1 AND "
        f"id > ?2 AND id < ?3 ORDER BY id {order} LIMIT ?4) UNION ALL SELECT id, data FROM "
        f"(SELECT id, data FROM events WHERE k = '' AND id > ?2 AND id < ?3 ORDER BY id {order} "
        f"LIMIT ?4) ORDER BY id {order} LIMIT ?4)"
    )
    for order in ("DESC", "ASC")
}
#: An upsert, not ``INSERT OR REPLACE``: replacing deletes the row and inserts it again,
#: dearer than updating it in place (docs/design.md, "Measured choices").
_PUT_ENTRY = (
    "INSERT INTO entries VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (ns, key) DO "
    "UPDATE SET value = ?3, owner = ?4, version = ?5, revision = ?6, created_at = ?7, "
    "updated_at = ?8, expires_at = ?9"
)
_INSERT_AUDIT = (
    "INSERT INTO audit (ts, agent, ns, key, action, success, error) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
#: Most audit records one multi-row ``INSERT`` carries (7 parameters each, under the
#: oldest SQLite's limit of 999). A batch is inserted in chunks of powers of two, so a few
#: cached statements serve every size and each chunk is one ``sqlite3_step``: one GIL
#: release per chunk rather than per row (``executemany``), which kept handing the GIL
#: back and forth with the threads serving reads.
AUDIT_CHUNK = 128
_AUDIT_VALUES = {
    n: "INSERT INTO audit (ts, agent, ns, key, action, success, error) VALUES "
    + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * n)
    for n in (1 << i for i in range(AUDIT_CHUNK.bit_length()))
}
#: Most audit rows past ``max_log_size`` one DELETE waits for (see insert_audit).
AUDIT_TRIM_STEP = 1024
#: Page size of new files. A write dirties three pages (its entry, its event, its audit
#: record), each written whole to the WAL on commit: 2 KiB pages make one writer's commits
#: cheaper than 4 KiB, reads alike (docs/design.md, "Measured choices").
PAGE_SIZE = 2048
#: Entries whose versions the writer remembers between commits (see _WriteTxn.meta).
META_CACHE = 8192
#: Largest number of queued ops one commit takes.
MAX_BATCH = 512
#: Buckets (ops per commit) of :attr:`~hivemem.backends.base.Backend.group_commits`.
GROUP_COMMIT_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, MAX_BATCH)
#: Commits between two background WAL checkpoints.
CHECKPOINT_EVERY = 256
#: WAL pages past which the writer checkpoints by itself (when the background lags).
WRITER_AUTOCHECKPOINT = 8192
#: Old events are trimmed once every TRIM_STEP revisions of a namespace (or fewer).
TRIM_STEP = 64
#: Bytes of the file that connections map into memory (reads skip a read() per page).
MMAP_BYTES = 1 << 30
#: Seconds a read's audit record may wait in the buffer.
AUDIT_FLUSH_SECONDS = 0.2

log = logging.getLogger("hivemem")
_allocate_lock = threading.Lock
_dumps = orjson.dumps
_Fragment = orjson.Fragment
#: Builds a Stored from a row's columns without the NamedTuple's Python-level __new__.
_stored = tuple.__new__
_loads = _codec.decode

#: An entry's head (``None``: there is no entry).
_Meta = Head | None


class _Cache(NamedTuple):
    """What a committed transaction knew, for the next one while no other connection wrote."""

    data_version: int
    revs: dict[str, int]
    counts: dict[str, int]
    ns: dict[str, NamespaceInfo | None]
    #: The heads of recently written entries.
    meta: dict[tuple[str, str], _Meta]

    @classmethod
    def empty(cls, data_version: int = 0) -> _Cache:
        return cls(data_version, {}, {}, {}, {})


class _Waiter:
    """A queued op and its result.

    ``wake`` is a held lock that a follower blocks on until the leader releases it (the
    caller that leads the commit itself needs none). An asyncio caller has a ``fut`` instead
    (an :class:`asyncio.Future` the leader resolves on its loop): it never leads itself.
    """

    __slots__ = ("done", "fut", "op", "result", "wake")

    def __init__(self, op: Op[Any] | None) -> None:
        self.op = op
        self.result: Result | None = None
        self.done = False
        self.wake: Any = None
        self.fut: asyncio.Future[Result] | None = None

    def set(self) -> None:
        if self.wake is not None:
            self.wake.release()


def _resolve_all(done: list[tuple[asyncio.Future[Result], Result]]) -> None:
    for fut, result in done:
        if not fut.done():
            fut.set_result(result)


class _SQLiteTxn(Txn):
    """The Txn primitives over one connection (the writer's inside BEGIN, or a reader's)."""

    #: A driver error may have ended the transaction: it is the whole commit's.
    passthrough: ClassVar[tuple[type[Exception], ...]] = (sqlite3.Error,)

    def __init__(
        self,
        backend: SQLiteBackend,
        conn: sqlite3.Connection,
        writer: bool,
        cur: sqlite3.Cursor | None = None,
    ) -> None:
        self.backend = backend
        self.conn = conn
        #: A cursor kept with the connection, for statements whose rows are taken at once
        #: (no new cursor per statement); statements iterated lazily use ``c.execute``.
        self.cur = cur if cur is not None else conn.cursor()
        self.writer = writer

    # -- brackets
    def savepoint(self) -> None:
        self.conn.execute("SAVEPOINT op")

    def release(self) -> None:
        self.conn.execute("RELEASE op")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK TO op")
        self.conn.execute("RELEASE op")

    # -- namespaces
    def _info(self, name: str, config: str, token: str) -> NamespaceInfo:
        cached = self.backend.ns_cache.get(name)
        if cached is not None and cached[0] == token:
            return cached[1]
        info = NamespaceInfo(name=name, **json.loads(config))
        self.backend.ns_cache[name] = (token, info)
        return info

    def ns_get(self, name: str) -> NamespaceInfo | None:
        row = self.conn.execute(
            "SELECT config, token FROM namespaces WHERE name = ?", (name,)
        ).fetchone()
        return self._info(name, row[0], row[1]) if row else None

    def ns_and_entry(self, ns: str, key: str) -> tuple[NamespaceInfo | None, Stored | None]:
        cached = self.backend.ns_cache.get(ns)
        row = self.cur.execute(_GET, (ns, key, cached[0] if cached else "")).fetchone()
        if row is None:
            return None, None
        info = cached[1] if row[0] is None else self._info(ns, row[0], row[1])  # type: ignore[index]
        return info, (_stored(Stored, row[2:]) if row[2] is not None else None)

    def ns_put(self, info: NamespaceInfo) -> None:
        config = info.to_dict()
        for field in ("name", "revision"):
            config.pop(field)
        self.conn.execute(
            "INSERT INTO namespaces (name, config, token) VALUES (?, ?, ?) ON CONFLICT (name) "
            "DO UPDATE SET config = excluded.config, token = excluded.token",
            (info.name, json.dumps(config), uuid.uuid4().hex),
        )

    def ns_delete(self, name: str) -> None:
        self.conn.execute("DELETE FROM namespaces WHERE name = ?", (name,))

    def ns_list(self) -> list[NamespaceInfo]:
        rows = self.conn.execute("SELECT name, config, token FROM namespaces ORDER BY name")
        return [self._info(*row) for row in rows.fetchall()]

    def ns_count_by(self, agent: str) -> int:
        row = self.conn.execute(
            "SELECT COUNT(*) FROM namespaces WHERE json_extract(config, '$.created_by') = ?",
            (agent,),
        ).fetchone()
        return int(row[0])

    def store_bytes(self) -> int | None:
        return self.backend.store_bytes()

    def ns_base(self, ns: str) -> int | None:
        """The namespace's id shifted by :data:`REV_BITS`; ``None`` while it has no events.

        Its events' ids are this plus their revision. Ids never change once committed, so
        every process keeps those it has seen.
        """
        base = self.backend.ns_ids.get(ns)
        if base is None:
            row = self.cur.execute(_NS_ID, (ns,)).fetchone()
            if row is None:
                return None
            base = self.backend.ns_ids[ns] = row[0] << REV_BITS
        return base

    def rev_get(self, ns: str) -> int:
        # The newest event is never trimmed, so it holds the namespace's revision.
        base = self.ns_base(ns)
        if base is None:
            return 0
        row = self.cur.execute(
            "SELECT MAX(id) FROM events WHERE id > ? AND id <= ?", (base, base | REV_MASK)
        ).fetchone()
        return int(row[0]) - base if row[0] is not None else 0

    def rev_next(self, ns: str) -> int:
        raise NotImplementedError("revisions are taken in the writer's transaction")

    def rev_set(self, ns: str, rev: int) -> None:
        raise NotImplementedError("revisions are taken in the writer's transaction")

    # -- entries
    def entry_get(self, ns: str, key: str) -> Stored | None:
        row = self.cur.execute(_ENTRY, (ns, key)).fetchone()
        return _stored(Stored, row) if row else None

    def entries_get(self, ns: str, keys: list[str]) -> list[Stored | None]:
        if len(keys) < 8:
            return [self.entry_get(ns, key) for key in keys]
        found: dict[str, Stored] = {}
        for i in range(0, len(keys), 500):  # (well under SQLite's bound on parameters)
            chunk = keys[i : i + 500]
            rows = self.conn.execute(
                "SELECT key, value, owner, version, revision, created_at, updated_at, "
                f"expires_at FROM entries WHERE ns = ? AND key IN ({','.join('?' * len(chunk))})",
                (ns, *chunk),
            ).fetchall()
            found.update((row[0], _stored(Stored, row[1:])) for row in rows)
        return [found.get(key) for key in keys]

    def entry_put(self, ns: str, key: str, stored: Stored, new: bool | None = None) -> None:
        raise NotImplementedError("entries are written in the writer's transaction")

    def entry_delete(self, ns: str, key: str) -> None:
        raise NotImplementedError("entries are written in the writer's transaction")

    def entry_count(self, ns: str) -> int:
        row = self.conn.execute("SELECT COUNT(*) FROM entries WHERE ns = ?", (ns,)).fetchone()
        return int(row[0])

    def entries_clear(self, ns: str) -> list[tuple[str, Stored]]:
        raise NotImplementedError("entries are written in the writer's transaction")

    def entries_scan(
        self, ns: str, prefix: str, after: str | None, limit: int | None
    ) -> list[tuple[str, Stored]]:
        sql = (
            "SELECT key, value, owner, version, revision, created_at, updated_at, expires_at "
            "FROM entries WHERE ns = ?"
        )
        args: list[Any] = [ns]
        upper = None
        if after is not None:
            sql += " AND key > ?"
            args.append(after)
        if prefix:
            sql += " AND key >= ?"
            args.append(prefix)
            upper = _prefix_upper(prefix)
            if upper is not None:
                sql += " AND key < ?"
                args.append(upper)
        sql += " ORDER BY key"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        rows = self.conn.execute(sql, args).fetchall()
        if upper is None and prefix:  # no upper bound in SQL: check the prefix here
            rows = [row for row in rows if row[0].startswith(prefix)]
        return [(row[0], _stored(Stored, row[1:])) for row in rows]

    def expired_scan(self, now: float, limit: int, ns: str | None = None) -> list[tuple[str, str]]:
        if ns is None:
            rows = self.conn.execute(
                "SELECT ns, key FROM entries WHERE expires_at <= ? LIMIT ?", (now, limit)
            )
        else:
            rows = self.conn.execute(
                "SELECT ns, key FROM entries WHERE ns = ? AND expires_at <= ? LIMIT ?",
                (ns, now, limit),
            )
        return [(r[0], r[1]) for r in rows.fetchall()]

    def ns_bytes(self, ns: str) -> int:
        row = self.conn.execute(
            "SELECT COALESCE(SUM(length(CAST(value AS BLOB))), 0) FROM entries WHERE ns = ?", (ns,)
        ).fetchone()
        return int(row[0])

    # -- events
    def event_append(self, event: Event) -> None:
        raise NotImplementedError("events are written in the writer's transaction")

    def events_after(self, ns: str, since: int, limit: int) -> list[Event]:
        base = self.ns_base(ns)
        if base is None:
            return []
        rows = self.conn.execute(
            "SELECT data FROM events WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
            (base + min(max(since, 0), REV_MASK), base | REV_MASK, limit),
        ).fetchall()
        return [Event.from_dict(_loads(r[0])) for r in rows]

    def events_clear(self, ns: str) -> None:
        raise NotImplementedError("events are written in the writer's transaction")

    def key_events(
        self, ns: str, key: str, before: int | None, limit: int, oldest_first: bool = False
    ) -> list[Event]:
        base = self.ns_base(ns)
        if base is None or limit <= 0:
            return []
        top = base + min(before, REV_MASK + 1) if before is not None else (base | REV_MASK) + 1
        rows = self.conn.execute(
            _KEY_EVENTS["ASC" if oldest_first else "DESC"], (key, base, top, limit)
        ).fetchall()
        return [Event.from_dict(_loads(r[0])) for r in rows]

    def events_oldest(self, ns: str) -> int | None:
        base = self.ns_base(ns)
        if base is None:
            return None
        row = self.cur.execute(
            "SELECT MIN(id) FROM events WHERE id > ? AND id <= ?", (base, base | REV_MASK)
        ).fetchone()
        return int(row[0]) - base if row[0] is not None else None

    # -- audit
    def audit_append(self, record: AccessLogEntry) -> None:
        if self.writer:
            self.backend.insert_audit(self.conn, [record])
        else:
            self.backend.audit_buffer.append(record)

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
        sql = "SELECT ts, agent, ns, key, action, success, error FROM audit WHERE 1"
        args: list[Any] = []
        for column, value in (("agent", agent_id), ("ns", ns), ("action", action)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        if success is not None:
            sql += " AND success = ?"
            args.append(int(success))
        if since is not None:
            sql += " AND ts >= ?"
            args.append(since)
        # The table may hold a few more than max_log_size rows (trimmed in steps): only the
        # newest max_log_size are the log.
        sql += " AND id > (SELECT MAX(id) FROM audit) - ? ORDER BY id DESC"
        args.append(self.backend.settings.max_log_size)
        out: list[AccessLogEntry] = []
        for row in self.conn.execute(sql, args):
            if visible is None or visible(row[2]):
                out.append(
                    AccessLogEntry(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6])
                )
                if len(out) >= limit:
                    break
        return out

    def audit_count(self) -> int:
        # Ids are contiguous (only the oldest rows are ever deleted): the newest
        # max_log_size rows are the log.
        keep = self.backend.settings.max_log_size
        return int(self.conn.execute("SELECT MIN(COUNT(*), ?) FROM audit", (keep,)).fetchone()[0])

    # -- idempotency
    def idem_get(self, key: str, now: float) -> Any:
        row = self.conn.execute(
            "SELECT result FROM idem WHERE key = ? AND at >= ?",
            (key, now - self.backend.settings.idempotency_ttl),
        ).fetchone()
        return row[0] if row else None

    def idem_put(self, key: str, value: Any, now: float) -> None:
        self.conn.execute("INSERT OR REPLACE INTO idem VALUES (?, ?, ?)", (key, now, value))


class _Redo(Exception):
    """An op of an optimistic batch failed after writing: run the batch again, carefully."""


class _WriteTxn(_SQLiteTxn):
    """The writer's transaction, buffering what a batch appends.

    Revisions, entry counts, events and audit records are kept in memory while the batch runs
    and written once, just before COMMIT; namespace configs and revisions are read once and
    kept from one commit to the next while no other connection commits (the write lock keeps
    other processes out meanwhile, ``PRAGMA data_version`` tells when one got in between).

    An op that starts before anything of the transaction is written needs no SAVEPOINT:
    rolling back the whole transaction (and beginning anew) undoes exactly that op.
    """

    passthrough: ClassVar[tuple[type[Exception], ...]] = (sqlite3.Error, _Redo)

    def __init__(
        self,
        backend: SQLiteBackend,
        conn: sqlite3.Connection,
        cache: _Cache | None = None,
        cur: sqlite3.Cursor | None = None,
        *,
        careful: bool = True,
    ) -> None:
        super().__init__(backend, conn, True, cur)
        if cache is None:
            cache = _Cache.empty()
        self.version = cache.data_version
        self.revs: dict[str, int] = cache.revs
        self.counts: dict[str, int] = cache.counts
        self.ns: dict[str, NamespaceInfo | None] = cache.ns
        #: What a plain put needs of an entry (see :meth:`fast_put`), for entries this
        #: process wrote since another connection last committed (at most META_CACHE;
        #: dropped whenever an op's writes are undone). Every write of an entry goes
        #: through :meth:`entry_put`, :meth:`entry_delete`, :meth:`entries_clear` or
        #: :meth:`fast_put`, which keep it true.
        self.meta: dict[tuple[str, str], _Meta] = cache.meta
        self.events: list[tuple[str, int, str, str | None]] = []
        self.audit: list[AccessLogEntry] = []
        #: Namespace ids this transaction allocated (known to all once it commits). Only
        #: :meth:`flush` allocates, never inside an op's bracket: an op's rollback leaves
        #: them alone.
        self.new_ids: dict[str, int] = {}
        #: Statements that changed the database in this transaction so far.
        self.writes = 0
        #: Whether each op gets a SAVEPOINT (see :meth:`savepoint`).
        self.careful = careful
        #: Whether the current op's bracket is the whole transaction (no SAVEPOINT).
        self._whole = False
        self._saved: tuple[dict[str, int], dict[str, int], int, dict[str, Any], int] | None = None

    def cache(self) -> _Cache:
        """What this transaction knows, for the next one (after COMMIT)."""
        return _Cache(self.version, self.revs, self.counts, self.ns, self.meta)

    def savepoint(self) -> None:
        """Open the op's bracket.

        A batch first runs optimistically (``careful=False``): no op gets a SAVEPOINT, its
        in-memory state (revisions, counts, configs, buffered events) is saved, and an op
        refused before it changed the database is undone in memory alone. One refused after
        it wrote (rare: a namespace created on the fly, then a conflict) raises
        :class:`_Redo`, and the leader runs the batch again in a new transaction with a
        SAVEPOINT per op (``careful=True``) — except for an op that starts before anything
        is written, whose bracket is the whole transaction. Two statements fewer per op
        means two GIL hand-offs fewer for the committing thread.
        """
        n_events = len(self.events)
        self._saved = (dict(self.revs), dict(self.counts), n_events, dict(self.ns), self.writes)
        if not self.careful:
            return
        if not self.writes and not n_events:
            self._whole = True
            return
        self._whole = False
        self.conn.execute("SAVEPOINT op")

    def release(self) -> None:
        if self.careful and not self._whole:
            self.conn.execute("RELEASE op")
        self._whole = False

    def rollback(self) -> None:
        assert self._saved is not None
        revs, counts, n_events, ns, writes = self._saved
        del self.events[n_events:]
        if self.writes != writes:
            if not self.careful:
                raise _Redo
            self.meta.clear()  # the op's writes are undone below
        if self._whole:  # (careful only)
            self._whole = False
            if self.writes:
                # Nothing of earlier ops was written: undo the op with the transaction.
                c = self.conn
                c.execute("ROLLBACK")
                c.execute("BEGIN IMMEDIATE")
                self.writes = 0
                version = c.execute("PRAGMA data_version").fetchone()[0]
                if version != self.version:  # another process committed in between
                    self.version, revs, counts, ns = version, {}, {}, {}
        elif self.careful:
            super().rollback()
        self.revs, self.counts, self.ns = revs, counts, ns

    def ns_get(self, name: str) -> NamespaceInfo | None:
        if name not in self.ns:
            self.ns[name] = super().ns_get(name)
        return self.ns[name]

    def ns_put(self, info: NamespaceInfo) -> None:
        self.writes += 1
        super().ns_put(info)
        self.ns[info.name] = info

    def ns_delete(self, name: str) -> None:
        self.writes += 1
        super().ns_delete(name)
        self.ns[name] = None

    def ns_list(self) -> list[NamespaceInfo]:
        self.ns.clear()
        return super().ns_list()

    def ns_base(self, ns: str, create: bool = False) -> int | None:
        """As for any reader, plus ids this transaction allocated; ``create`` allocates one."""
        base = self.new_ids.get(ns) if self.new_ids else None
        if base is None:
            base = super().ns_base(ns)
            if base is None and create:
                self.writes += 1
                nid = self.cur.execute("INSERT INTO ns_ids (name) VALUES (?)", (ns,)).lastrowid
                if nid is None or nid > MAX_NS_ID:
                    raise InvalidArgument(
                        f"this store has used all {MAX_NS_ID} namespace ids; "
                        "move namespaces to a new store file"
                    )
                base = self.new_ids[ns] = nid << REV_BITS
        return base

    def rev_get(self, ns: str) -> int:
        if ns not in self.revs:
            self.revs[ns] = super().rev_get(ns)
        return self.revs[ns]

    def rev_next(self, ns: str) -> int:
        rev = self.revs[ns] = self.rev_get(ns) + 1
        return rev

    def rev_set(self, ns: str, rev: int) -> None:
        # (The counter is the newest event's revision: the caller appended that event.)
        self.revs[ns] = rev

    def entry_put(self, ns: str, key: str, stored: Stored, new: bool | None = None) -> None:
        self.cur.execute(_PUT_ENTRY, (ns, key, *stored))
        self._wrote(ns, key, stored.version, stored.created_at, stored.expires_at, new)

    def _wrote(
        self,
        ns: str,
        key: str,
        version: int,
        created_at: float,
        expires_at: float | None,
        new: bool | None = None,
    ) -> None:
        """Account for an entry this transaction wrote."""
        self.writes += 1
        meta = self.meta
        if len(meta) >= META_CACHE:
            meta.clear()
        meta[ns, key] = _stored(Head, (version, created_at, expires_at))
        if (version == 1 if new is None else new) and ns in self.counts:
            self.counts[ns] += 1

    def entry_delete(self, ns: str, key: str) -> None:
        self.writes += 1
        self.meta.pop((ns, key), None)
        if (
            self.conn.execute("DELETE FROM entries WHERE ns = ? AND key = ?", (ns, key)).rowcount
            and ns in self.counts
        ):
            self.counts[ns] -= 1

    def entry_count(self, ns: str) -> int:
        if ns not in self.counts:
            self.counts[ns] = super().entry_count(ns)
        return self.counts[ns]

    def entries_clear(self, ns: str) -> list[tuple[str, Stored]]:
        self.writes += 1
        rows = self.conn.execute(
            "DELETE FROM entries WHERE ns = ? RETURNING key, value, owner, version, revision, "
            "created_at, updated_at, expires_at",
            (ns,),
        ).fetchall()
        self.counts[ns] = 0
        self.meta.clear()
        return [(row[0], Stored(*row[1:])) for row in rows]

    def event_append(self, event: Event) -> None:
        self.events.append((event.namespace, event.revision, _event_json(event), _event_k(event)))

    def fast_put(self, op: Put) -> Result | None:
        """Decide and write a plain Put here (see :mod:`hivemem.engine.fast`), or ``None``.

        ``None`` (nothing written) hands the op to the engine: a namespace to create, a
        refusal to word, an expired entry to replace, a full namespace. What is written
        cannot fail afterwards, so the op needs no bracket of its own.
        """
        ns = op.ns
        info = self.ns[ns] if ns in self.ns else self.ns_get(ns)
        if info is None or not fast.qualifies(op, info):
            return None
        now = self.backend.settings.clock()
        key = op.key
        strategy = info.conflict_strategy
        expected = op.expected_version
        ttl = op.ttl if op.ttl is not None else info.ttl
        expires_at = now + ttl if ttl is not None else None
        revs = self.revs
        rev = (revs[ns] if ns in revs else self.rev_get(ns)) + 1
        settings = self.backend.settings
        if settings.max_store_bytes is not None:
            size = self.backend.store_bytes()
            if size is not None and size >= settings.max_store_bytes:
                return None  # the engine words the refusal
        old = self.meta.get((ns, key), _UNKNOWN)
        cap = entry_cap(info, settings)
        counts = self.counts
        # Under a cap, skip the SELECT only while the known count leaves room for one more.
        if (
            old is _UNKNOWN
            and state_free(strategy, expected)
            and (cap is None or (ns in counts and counts[ns] < cap))
        ):
            # No live entry can refuse: the upsert finds the entry itself and writes what
            # decide_put would (P5: version + 1, created_at kept); it leaves an expired one.
            row = self.cur.execute(
                _PUT_LIVE, (ns, key, op.value_json, op.agent, rev, now, expires_at)
            ).fetchone()
            if row is None:
                return None
            version, created_at = row
        else:
            if old is _UNKNOWN:
                old = self.entry_get(ns, key)
            decision = decide_put(old, strategy, expected, now)
            if (
                decision.refusal is not None  # the engine words it
                or decision.expired  # the engine expires it first
                or decision.resolve  # (merge, custom: not qualified) the engine resolves
                or (decision.adds and cap is not None and self.entry_count(ns) >= cap)
            ):  # fmt: skip
                return None
            version, created_at = decision.version, decision.created_at
            self.cur.execute(
                _PUT_ENTRY,
                (ns, key, op.value_json, op.agent, version, rev, created_at, now, expires_at),
            )
        revs[ns] = rev
        self._wrote(ns, key, version, created_at, expires_at)
        result = fast.put_result(op, now, expires_at, rev, version, created_at)
        self.events.append((ns, rev, _event_json(result.events[0], op.value_json), key))
        if not op.internal:
            self.audit.append(AccessLogEntry(now, op.agent, ns, op.key, "write", True, None))
        return result

    def idem_put(self, key: str, value: Any, now: float) -> None:
        self.writes += 1
        super().idem_put(key, value, now)

    def events_after(self, ns: str, since: int, limit: int) -> list[Event]:
        self.flush()
        return super().events_after(ns, since, limit)

    def events_oldest(self, ns: str) -> int | None:
        self.flush()
        return super().events_oldest(ns)

    def events_clear(self, ns: str) -> None:
        self.flush()  # (earlier ops' buffered events: deleted below with the stored ones)
        base = self.ns_base(ns)
        if base is not None:
            self.writes += 1
            self.conn.execute(
                "DELETE FROM events WHERE id > ? AND id <= ?", (base, base | REV_MASK)
            )
        self.revs[ns] = 0

    def key_events(
        self, ns: str, key: str, before: int | None, limit: int, oldest_first: bool = False
    ) -> list[Event]:
        self.flush()
        return super().key_events(ns, key, before, limit, oldest_first)

    def audit_append(self, record: AccessLogEntry) -> None:
        self.audit.append(record)

    def audit_query(self, *args: Any) -> list[AccessLogEntry]:
        self.flush()
        return super().audit_query(*args)

    def audit_count(self) -> int:
        self.flush()
        return super().audit_count()

    def flush(self) -> None:
        """Write what the batch kept in memory (call inside the transaction)."""
        c = self.conn
        events = self.events
        if events:
            self.writes += 1
            # Trim old events once every `step` revisions (at least `retention` are kept).
            retention = self.backend.settings.event_retention
            spans: list[tuple[str, int, int]]
            ns_base = self.ns_base
            if len(events) == 1:  # (the common case, kept short)
                ns, rev, data, k = events[0]
                base = self.backend.ns_ids.get(ns) or ns_base(ns, True)
                self.cur.execute(_INSERT_EVENT, (_event_id(base, ns, rev), data, k))
                spans = [(ns, rev, rev)] if rev > retention else []
            else:
                span: dict[str, tuple[int, int]] = {}
                rows = []
                for ns, rev, data, k in events:
                    rows.append((_event_id(ns_base(ns, True), ns, rev), data, k))
                    seen = span.get(ns)
                    span[ns] = (seen[0] if seen else rev, rev)
                c.executemany(_INSERT_EVENT, rows)
                spans = [(ns, first, last) for ns, (first, last) in span.items()]
            step = max(1, min(TRIM_STEP, retention // 16))
            for ns, first, last in spans:
                if last > retention and last // step != (first - 1) // step:
                    base = ns_base(ns) or 0  # (allocated above)
                    c.execute(
                        "DELETE FROM events WHERE id > ? AND id <= ?",
                        (base, base + last - retention),
                    )
            self.events = []
        b = self.backend
        if b.audit_buffer:  # reads audited before this batch's ops come first
            buffered, b.audit_buffer = b.audit_buffer, []
            self.audit[:0] = buffered
        if self.audit:
            self.writes += 1
            b.insert_audit(self.cur, self.audit)
            self.audit = []


def _migrate_v1(c: sqlite3.Connection) -> None:
    """Schema 1 -> 2, inside the caller's transaction, once the schema 2 tables exist.

    Events keyed by ``(ns, revision)`` (renamed ``events_v1``) move to integer ids (see
    :data:`REV_BITS`).
    """
    c.execute("INSERT INTO ns_ids (name) SELECT DISTINCT ns FROM events_v1 ORDER BY ns")
    c.execute(
        f"INSERT INTO events (id, data) SELECT (n.id << {REV_BITS}) | e.revision, e.data "
        "FROM events_v1 e JOIN ns_ids n ON n.name = e.ns"
    )
    c.execute("DROP TABLE events_v1")


def _event_k(event: Event) -> str | None:
    """An event's ``k`` column: the key it changed, ``""`` for a wipe, else ``None``."""
    if event.type in KEY_EVENT_TYPES:
        return event.key
    return _WIPE_K if event.type in NS_WIPE_TYPES else None


def _migrate_v2(c: sqlite3.Connection) -> None:
    """Schema 2 -> 3: events get their ``k`` column, filled from their data, and its index."""
    columns = {row[1] for row in c.execute("PRAGMA table_info(events)")}
    if "k" not in columns:
        c.execute("ALTER TABLE events ADD COLUMN k TEXT")
    keyed = ", ".join(f"'{t}'" for t in sorted(KEY_EVENT_TYPES))
    wipes = ", ".join(f"'{t}'" for t in sorted(NS_WIPE_TYPES))
    c.execute(
        "UPDATE events SET k = CASE WHEN json_extract(data, '$.type') IN "
        f"({keyed}) THEN json_extract(data, '$.key') WHEN json_extract(data, '$.type') IN "
        f"({wipes}) THEN '' END"
    )
    c.execute("CREATE INDEX IF NOT EXISTS events_key ON events (k, id) WHERE k IS NOT NULL")


def _event_id(base: int | None, ns: str, rev: int) -> int:
    """An event's row id (see :data:`REV_BITS`)."""
    if rev > REV_MASK or base is None:
        raise InvalidArgument(f"namespace {ns!r} has used all {REV_MASK} revisions")
    return base | rev


def _event_json(event: Event, value_json: str | None = None) -> str:
    """The event's row text; ``value_json``: its value as JSON text already (not re-encoded)."""
    data = event.to_dict()
    if value_json is not None:
        data["value"] = _Fragment(value_json)
    try:
        return _dumps(data).decode()
    except TypeError:  # beyond orjson (integers over 64 bits): the stdlib encoder
        data["value"] = event.value
        return json.dumps(data)


def _prefix_upper(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``.

    A valid one (``None``: there is none, every character is U+10FFFF): the next character
    after U+D7FF is U+E000, since surrogates cannot be encoded (keys are valid UTF-8, whose
    byte order is the code point order SQLite compares by).
    """
    for i in range(len(prefix) - 1, -1, -1):
        code = ord(prefix[i]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            return prefix[:i] + chr(code)
    return None


class SQLiteBackend(Backend):
    """A SQLite file in WAL mode; safe to share between threads and processes."""

    name = "sqlite"
    shared_between_processes = True
    supports_change_token = True
    poll_interval = 0.05

    def __init__(self, path: str, settings: Settings, *, durability: str = "full") -> None:
        super().__init__(settings)
        if durability not in ("full", "normal"):
            raise InvalidArgument(f"durability must be 'full' or 'normal', got {durability!r}")
        self.path = str(Path(path).expanduser())
        self.durability = durability
        self.ns_cache: dict[str, tuple[str, NamespaceInfo]] = {}
        #: Namespace ids, shifted by REV_BITS (see _SQLiteTxn.ns_base).
        self.ns_ids: dict[str, int] = {}
        self.audit_buffer: list[AccessLogEntry] = []
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._queue_lock = threading.Lock()
        self._leading = False
        self._closed = False
        self._executor: ThreadPoolExecutor | None = None
        self._cache: _Cache | None = None
        #: Every audit id below this one is deleted (see insert_audit).
        self._audit_floor = 0
        self._commits = 0
        # Written by the one thread committing at a time (the leader): no lock needed.
        self.group_commits = self._sizes = Histogram(GROUP_COMMIT_BUCKETS)
        self._probe: sqlite3.Connection | None = None
        self._probe_lock = threading.Lock()
        self._epoch_file: SharedCounter | bool | None = None
        #: Revisions of the watched namespaces when notify_foreign last looked.
        self._foreign_seen: dict[str, int] = {}
        #: When the store's size was measured, and the size (see store_bytes).
        self._size = (float("-inf"), 0)
        self._writer = self._connect()
        self._wcur = self._writer.cursor()
        self._setup()
        # Checkpoints run in the background (_flush_loop); this is the writer's fallback.
        self._writer.execute(f"PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT}")
        self._bg_wake = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_loop, name="hivemem-audit-flush", daemon=True
        )
        self._stop = threading.Event()
        self._flusher.start()

    def default_index_dir(self) -> str | None:
        """``<file>.index`` beside the database file."""
        return f"{self.path}.index"

    # ------------------------------------------------------------ connections
    def _connect(self, *, tracked: bool = True) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # new files only
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.durability.upper()}")
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # flatter reads as files grow
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"cannot open SQLite store {self.path!r}: {exc}") from exc
        if tracked:
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection.

        Only its own thread ever closes it (on its first use after :meth:`close`): closing
        a connection another thread is reading through (memory-mapped pages included)
        would crash the process.
        """
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if self._closed:
            if conn is not None:
                self._local.conn = self._local.cur = self._local.txn = None
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            raise BackendUnavailable("the store is closed")
        if conn is None:
            conn = self._local.conn = self._connect(tracked=False)
            self._local.cur = conn.cursor()
            self._local.txn = _SQLiteTxn(self, conn, False, self._local.cur)
        return conn

    def _read_txn(self) -> _SQLiteTxn:
        """This thread's read connection as a Txn (made once per connection)."""
        txn: _SQLiteTxn | None = getattr(self._local, "txn", None)
        if txn is None or self._closed:
            self._reader()  # raises once closed
            txn = self._local.txn
        return txn

    def change_token(self) -> int:
        """A number that moves when another connection (another process) commits.

        ``PRAGMA data_version`` on a connection of its own, which never writes: it changes
        when any other connection commits, the writer of this process included. A server
        polls it (:meth:`hivemem.server.app.Hub.poll_changes`) to wake event streams for
        changes made by other processes; this process's own commits wake them directly.
        """
        with self._probe_lock:
            if self._probe is None:
                if self._closed:
                    raise BackendUnavailable("the store is closed")
                self._probe = self._connect()
            version: int = self._probe.execute("PRAGMA data_version").fetchone()[0]
            return version

    def store_bytes(self) -> int:
        """The file's size with its WAL, measured at most every ``STORE_BYTES_EVERY`` s."""
        now = time.monotonic()
        measured, size = self._size
        if now - measured < STORE_BYTES_EVERY:
            return size
        size = 0
        for path in (self.path, f"{self.path}-wal"):
            with contextlib.suppress(OSError):
                size += Path(path).stat().st_size
        self._size = (now, size)
        return size

    def notify_foreign(self) -> None:
        """Wake the watchers of the namespaces whose revision moved since the last call.

        Every mark moves first (silently), so a watcher between its fetch and its sleep
        looks again; then the revision of each watched namespace is read (one indexed
        lookup each) and only those that moved, or were not watched last time, are woken.
        """
        notifier = self.notifier
        notifier.notify(wake=False)
        txn = self._read_txn()
        seen, now = self._foreign_seen, {}
        for ns in notifier.watched_namespaces():
            now[ns] = rev = txn.rev_get(ns)
            if seen.get(ns) != rev:
                notifier.notify(ns)
        self._foreign_seen = now

    def cache_epoch(self) -> int | None:
        """The count in ``<file>-epoch``, a mapped 8-byte file every process shares.

        Created on first use (embedded stores that never serve never make it); ``None``
        when it cannot be (a read-only directory): nothing is cached then.
        """
        counter = self._epoch_file
        if counter is None:
            with self._probe_lock:
                if self._epoch_file is None and not self._closed:
                    try:
                        # Whoever may write the database may bump the counter.
                        mode = Path(self.path).stat().st_mode & 0o666
                        self._epoch_file = SharedCounter(f"{self.path}-epoch", mode)
                    except OSError:
                        self._epoch_file = False
                counter = self._epoch_file
        return counter.value() if isinstance(counter, SharedCounter) else None

    def bump_cache_epoch(self) -> None:
        self.cache_epoch()  # opens the counter file if no one did yet
        if isinstance(self._epoch_file, SharedCounter):
            self._epoch_file.bump()

    async def apeek(self, ns: str, key: str) -> Any:
        """The value of a live entry, read inline (see :meth:`peek`)."""
        return self.peek(ns, key)

    def peek(self, ns: str, key: str) -> Any:
        """The value of a live entry, or ``None``: no permission check, no audit record.

        For the server's token lookup on every request (one indexed read, no engine op).
        """
        try:
            self._reader()  # this thread's connection and cursor
            row = self._local.cur.execute(_PEEK, (ns, key)).fetchone()
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"SQLite read failed: {exc}") from exc
        if row is None or (row[1] is not None and row[1] <= self.settings.clock()):
            return None
        return _loads(row[0])

    def _setup(self) -> None:
        c = self._writer
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute(_META)
            row = c.execute("SELECT v FROM meta WHERE k = 'schema_version'").fetchone()
            found = int(row[0]) if row is not None else SCHEMA_VERSION
            if found > SCHEMA_VERSION:
                raise BackendUnavailable(
                    f"SQLite store {self.path!r} has schema {found}, written by a newer "
                    f"hivemem; this one reads schema {SCHEMA_VERSION} and older"
                )
            if found == 1:  # its events table makes way for the new one
                c.execute("ALTER TABLE events RENAME TO events_v1")
            if found == 2:  # (the schema's index needs the column)
                c.execute("ALTER TABLE events ADD COLUMN k TEXT")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            if found == 1:
                _migrate_v1(c)
            if found in (1, 2):
                _migrate_v2(c)
            c.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            tx = _WriteTxn(self, c)
            execute(
                tx,
                CreateNamespace(
                    agent=SYSTEM_AGENT, ns=DEFAULT_NAMESPACE, exist_ok=True, permissions={}
                ),
                self.settings,
            )
            tx.flush()
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self.ns_ids.update(tx.new_ids)

    # ------------------------------------------------------------ execution
    def execute(self, op: Op[Any]) -> Result:
        if op.mutates or type(op) is AccessLogQuery:
            return self._commit(op)
        # Reads report failures as commits do: in the result (see Backend), never raised.
        try:
            return execute(self._read_txn(), op, self.settings)
        except sqlite3.Error as exc:
            error = BackendUnavailable(f"SQLite read failed: {exc}")
            error.__cause__ = exc
            return Result(error=error)
        except HivememError as exc:  # a closed store
            return Result(error=exc)
        except Exception as exc:  # a bug outside the engine: this op's error
            return Result(error=InternalError.of(exc, f"SQLite read {type(op).__name__}"))

    async def aexecute(self, op: Op[Any]) -> Result:
        if op.mutates or type(op) is AccessLogQuery:
            # Queue the op and await its result: the commit runs in a thread (the leader of
            # the group commit), one thread hop per commit rather than one per op.
            waiter = _Waiter(op)
            fut: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
            waiter.fut = fut
            with self._queue_lock:
                self._queue.append(waiter)
                lead = not self._leading
                self._leading = True
            if lead:
                self._spawn_leader()
            return await fut
        return self.execute(op)

    def _spawn_leader(self) -> None:
        """Commit the queue in a pool thread (asyncio callers never block their loop)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(2, thread_name_prefix="hivemem-commit")
        try:
            self._executor.submit(self._drive)
        except RuntimeError:  # the pool is shut down (closing): commit right here
            self._drive()

    def _drive(self) -> None:
        try:
            self._lead()
        finally:
            self._pass_lead()

    def _pass_lead(self) -> None:
        """After a commit: hand leadership to the oldest waiter, or give it up."""
        with self._queue_lock:
            if not self._queue:
                self._leading = False
                return
            head = self._queue[0]
        if head.fut is None:
            head.set()  # a blocked thread: it leads next
        else:
            self._spawn_leader()

    def _commit(self, op: Op[Any] | None) -> Result:
        """Commit an op as part of a group commit.

        A caller that finds no commit running commits its op at once, alone. One that
        finds a commit running queues its op and waits: the leader hands leadership to the
        oldest waiter when it is done, and that one commits every queued op in one
        transaction (:meth:`_lead`), wakes their callers, and hands on in turn (so no
        thread commits for others forever).
        """
        waiter = None
        with self._queue_lock:
            if self._leading:
                waiter = _Waiter(op)
                waiter.wake = wake = _allocate_lock()
                wake.acquire()
                self._queue.append(waiter)
            else:
                self._leading = True
        if waiter is None:
            try:
                result = self._transact([op])[0]
            finally:
                self._pass_lead()
            if result.events and result.error is None:
                self.notifier.notify_events(result.events)
            return result
        wake.acquire()  # released by the leader: our result is in, or we lead next
        if not waiter.done:
            try:
                self._lead()
            finally:
                self._pass_lead()  # promote the oldest waiter to leader
        assert waiter.result is not None
        return waiter.result

    def _lead(self) -> None:
        """Commit the queued ops (up to MAX_BATCH) in one transaction; wake their callers."""
        with self._queue_lock:
            if len(self._queue) <= MAX_BATCH:
                batch, self._queue = self._queue, []
            else:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            results = self._transact([waiter.op for waiter in batch])
        except BaseException as exc:  # (an interrupt): no waiter may wait forever
            error = InternalError.of(exc, "a SQLite group commit")
            results = [Result(error=error) for _ in batch]
            self._resolve(batch, results)
            raise
        self._resolve(batch, results)

    def _resolve(self, batch: list[_Waiter], results: list[Result]) -> None:
        """Hand each waiter its result and wake it."""
        changed: list[Event] = []
        futures: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Result], Result]]] = {}
        for waiter, result in zip(batch, results, strict=True):
            waiter.result = result
            waiter.done = True
            if waiter.wake is not None:
                waiter.wake.release()
            elif waiter.fut is not None:
                futures.setdefault(waiter.fut.get_loop(), []).append((waiter.fut, result))
            if result.events and result.error is None:
                changed += result.events
        for loop, done in futures.items():  # one wake-up per event loop, not one per op
            with contextlib.suppress(RuntimeError):  # a loop that closed meanwhile
                loop.call_soon_threadsafe(_resolve_all, done)
        if changed:
            self.notifier.notify_events(changed)

    def _transact(self, ops: list[Op[Any] | None]) -> list[Result]:
        """Run ops in one transaction and commit it; a result per op (``None``: no op).

        Never raises an :class:`Exception`: an op's own failure is its result (see
        :func:`~hivemem.engine.apply.execute`); one that breaks the whole transaction (a
        driver error, a failing flush) rolls it back and, for a batch of several ops, commits
        each op alone instead, so the innocent ones land exactly once and only the guilty
        one fails. An unavailable store (busy, full, I/O error) fails them all.
        """
        try:
            results = self._transact_once(ops)
        except sqlite3.OperationalError as exc:
            error = BackendUnavailable(f"SQLite commit failed: {exc}")
            results = [Result(error=error) for _ in ops]
        except Exception as exc:
            if len(ops) > 1 and not self._closed:
                log.warning(
                    "a group commit of %d ops failed (%s: %s); committing them one by one",
                    len(ops),
                    type(exc).__name__,
                    exc,
                )
                return [self._transact([op])[0] for op in ops]
            if not isinstance(exc, HivememError):
                exc = InternalError.of(exc, "a SQLite commit")
            results = [Result(error=exc) for _ in ops]
        self._commits += 1
        self._sizes.observe(len(ops))
        if self._commits % CHECKPOINT_EVERY == 0:
            self._bg_wake.set()
        return results

    def _transact_once(self, ops: list[Op[Any] | None]) -> list[Result]:
        """Run ops in one transaction and commit it, or roll it back and raise."""
        if self._closed:
            raise BackendUnavailable("the store is closed")
        c, cur = self._writer, self._wcur
        cur.execute("BEGIN IMMEDIATE")
        try:
            try:
                tx, results = self._run_batch(ops, careful=False)
            except _Redo:
                c.execute("ROLLBACK")
                self._cache = None  # the optimistic run changed the cached revisions
                cur.execute("BEGIN IMMEDIATE")
                tx, results = self._run_batch(ops, careful=True)
            tx.flush()
            cur.execute("COMMIT")
            if tx.new_ids:
                self.ns_ids.update(tx.new_ids)
        except BaseException:
            self._cache = None
            self._audit_floor = 0
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        self._cache = tx.cache()
        return results

    def _run_batch(
        self, ops: list[Op[Any] | None], *, careful: bool
    ) -> tuple[_WriteTxn, list[Result]]:
        """Run a batch's ops in the open transaction (see :meth:`_WriteTxn.savepoint`)."""
        cur = self._wcur
        tx = _WriteTxn(self, self._writer, self._cache_for(cur), cur, careful=careful)
        settings = self.settings
        results = []
        for op in ops:
            if op is None:
                results.append(Result())
            elif type(op) is Put:
                results.append(tx.fast_put(op) or execute(tx, op, settings))
            else:
                results.append(execute(tx, op, settings))
        return tx, results

    def _cache_for(self, c: sqlite3.Cursor) -> _Cache | None:
        """What the last commit knew (revisions, counts, configs), if still true.

        ``PRAGMA data_version`` moves when another connection (another process) commits;
        inside BEGIN IMMEDIATE it tells whether anything changed since our last commit.
        """
        version = c.execute("PRAGMA data_version").fetchone()[0]
        cache = self._cache
        if cache is not None and cache.data_version == version:
            return cache
        return _Cache.empty(version)

    def insert_audit(
        self, c: sqlite3.Connection | sqlite3.Cursor, records: list[AccessLogEntry]
    ) -> None:
        """Insert audit records and drop the oldest beyond ``max_log_size``.

        Ids only grow, so once every id below ``_audit_floor`` is known to be gone (a
        committed DELETE), the DELETE waits until it can drop a step of rows at once (a
        sixteenth of the bound, at most :data:`AUDIT_TRIM_STEP`): a full log otherwise
        paid a DELETE on every write. Queries see only the newest ``max_log_size``.
        """
        keep = self.settings.max_log_size
        if len(records) == 1:
            last = c.execute(_INSERT_AUDIT, records[0]).lastrowid  # a record is a tuple
            if last is not None and last - keep < self._audit_floor:
                return  # (the common case: nothing to drop yet)
        else:
            flat = list(chain.from_iterable(records))
            done, n = 0, len(records)
            while done < n:
                size = min(AUDIT_CHUNK, 1 << ((n - done).bit_length() - 1))
                c.execute(_AUDIT_VALUES[size], flat[done * 7 : (done + size) * 7])
                done += size
            last = None
        step = max(1, min(AUDIT_TRIM_STEP, keep // 16))
        if last is None or last - keep >= self._audit_floor + step - 1:
            c.execute("DELETE FROM audit WHERE id <= last_insert_rowid() - ?", (keep,))
            last = c.execute("SELECT last_insert_rowid()").fetchone()[0] if last is None else last
            self._audit_floor = last - keep + 1

    def _flush_loop(self) -> None:
        """Background work: flush buffered read audits (every 0.2 s) and checkpoint the WAL.

        Checkpoints run here, on their own connection, so that committers never pay for
        them (the writer's automatic checkpoint only backs this up, at a higher threshold).
        """
        next_flush = time.monotonic() + AUDIT_FLUSH_SECONDS
        checkpointed = 0
        conn: sqlite3.Connection | None = None
        while not self._stop.is_set():
            self._bg_wake.wait(max(0.0, next_flush - time.monotonic()))
            self._bg_wake.clear()
            if self._stop.is_set() or self._closed:
                break
            now = time.monotonic()
            tick = now >= next_flush
            if tick:
                next_flush = now + AUDIT_FLUSH_SECONDS
                if self.audit_buffer:
                    self._commit(None)  # errors land in the (discarded) result
            due = self._commits - checkpointed
            if due >= CHECKPOINT_EVERY or (tick and due):
                checkpointed = self._commits
                try:
                    if conn is None:
                        conn = self._connect()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    pass  # the writer's automatic checkpoint is the fallback

    def close(self) -> None:
        if self._closed:
            return
        self._stop.set()
        self._bg_wake.set()
        self._flusher.join(timeout=5)
        self._commit(None)
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        with self._conns_lock:
            for conn in self._conns:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._conns.clear()
        with self._probe_lock:
            if isinstance(self._epoch_file, SharedCounter):
                self._epoch_file.close()
        own: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if own is not None:  # this thread's reader; other threads close theirs on next use
            self._local.conn = self._local.cur = self._local.txn = None
            with contextlib.suppress(sqlite3.Error):
                own.close()
