"""``redis://``, ``rediss://`` and ``redis+cluster://``: the store in Redis, shared by replicas.

Every key of a namespace carries the hash tag ``{ns}``, so a namespace lives in one cluster
slot::

    P{ns}:cfg        namespace config (JSON)          P{ns}:rev   revision counter
    P{ns}:e:<key>    entry (hash: v o ver rev c u x)  P{ns}:k     key index (zset, by name)
    P{ns}:x          expiry index (zset, by time)     P{ns}:ev    events (stream, id 0-<rev>)
    P{ns}:au         audit records (stream)           P{ns}:i:<h> idempotency outcomes
    P:ns             namespace names (set)            P:au        audit of store-wide ops

How an op runs (optimistic, one Lua commit): the engine (:mod:`hivemem.engine.apply`) runs
over a :class:`_RedisTxn` that serves reads from a snapshot fetched beforehand and records
every write. A read the snapshot lacks raises :class:`_Miss`; the driver fetches it (one
round trip, MULTI/EXEC for a consistent view) and runs the op again. The recorded writes
then go to Redis as ONE Lua script (``redis_commit.lua``) that first checks that what the
op read is unchanged (the entry's revision, the config, the idempotency key; the revision
counter for whole-namespace ops), then takes the op's revisions (INCRBY), writes, and
appends its events to the namespace's stream. A failed check means another writer got in
between: the op runs again on fresh data. The sync and asyncio twins share all of this
and differ only in how they talk to Redis (redis-py's two clients), so neither costs a
thread hop.

Revisions are taken by the script, so the engine works with placeholders
(:data:`_PLACEHOLDER` + i) that are replaced in the op's result once the commit returns.
TTL: an entry's ``expires_at`` decides (invisible from that instant); the key also gets a
native Redis expiry one grace period later, so memory is reclaimed even when no sweeper runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import threading
import time
import uuid
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from hivemem.backends.base import Backend
from hivemem.backends.redis_call import ThreadConnections
from hivemem.engine import fast, locks
from hivemem.engine import ops as o
from hivemem.engine.apply import DEFAULT_NAMESPACE, SYSTEM_AGENT, entry_cap, execute
from hivemem.engine.txn import (
    STORE_BYTES_EVERY,
    Result,
    Settings,
    Stored,
    Txn,
    changes_key,
    filter_audit,
)
from hivemem.errors import (
    BackendUnavailable,
    HivememError,
    InternalError,
    InvalidArgument,
)
from hivemem.types import (
    AccessLogEntry,
    Entry,
    Event,
    Lock,
    NamespaceInfo,
    TxnResult,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator

__all__ = ["RedisBackend"]

#: Revisions the engine sees before the commit assigns real ones: _PLACEHOLDER + j *
#: _NS_STRIDE + i, the op's i-th revision of the j-th namespace it takes revisions in.
_PLACEHOLDER = -(1 << 60)
_NS_STRIDE = 1 << 32
#: Marks a field of an event template (see _event_template).
_SLOT = "@hivemem-field:"
#: Seconds a key outlives its expiry (so the sweeper can still announce it).
_GRACE = 3600.0
#: Fail fast while Redis is down: the API answers 503 instead of hanging.
_TIMEOUTS: dict[str, Any] = {"socket_timeout": 5.0, "socket_connect_timeout": 2.0}
#: Optimistic rounds before an op gives up under contention.
_ROUNDS = 1000
#: The version of ``redis_write.lua``'s argument table (the script checks it).
_WRITE_ARGS = 2
#: Seconds between background flushes of buffered audit records (reads, refused ops).
_AUDIT_FLUSH = 0.2
#: Buffered audit records that trigger a flush at once.
_AUDIT_BATCH = 512
#: Seconds between the change listener's checks for watchers in this process.
_LISTEN_TICK = 0.05
#: Seconds the change listener stays subscribed after the last watcher stopped waiting.
_LISTEN_LINGER = 5.0


class _Config(NamedTuple):
    """A namespace's config as read from Redis: its text (what the scripts compare) and parsed."""

    text: str
    info: NamespaceInfo


class _Scripts(NamedTuple):
    """The Lua scripts registered on one asyncio client."""

    commit: Any
    write: Any
    read: Any


class _Miss(Exception):
    """The snapshot lacks something the engine asked for."""

    def __init__(self, *need: tuple[Any, ...]) -> None:
        super().__init__()
        self.need = need


class _Keys:
    """Redis key names of one store (prefix ``P``).

    A namespace's keys carry its hash tag: ``{ns}``, or on a cluster ``{group}/ns`` for a
    namespace created with ``group=`` (``/`` is not in namespace names, so the two forms
    never meet). ``tags`` holds the tags known for good (a namespace's group never changes);
    ``lookup`` finds another one (a cluster asks the store-wide groups hash).
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.tags: dict[str, str] = {}
        self.lookup: Callable[[str], str] | None = None

    def tag(self, ns: str) -> str:
        """The hash tag of namespace ``ns`` (braces included)."""
        tag = self.tags.get(ns)
        if tag is None:
            tag = f"{{{ns}}}" if self.lookup is None else self.lookup(ns)
        return tag

    def groups(self) -> str:
        """The store-wide hash of namespace name -> group ("" for none); cluster only."""
        return f"{self.prefix}groups"

    def cfg(self, ns: str) -> str:
        return f"{self.prefix}{self.tag(ns)}:cfg"

    def rev(self, ns: str) -> str:
        return f"{self.prefix}{self.tag(ns)}:rev"

    def entry(self, ns: str, key: str) -> str:
        return f"{self.prefix}{self.tag(ns)}:e:{key}"

    def index(self, ns: str) -> str:
        return f"{self.prefix}{self.tag(ns)}:k"

    def expiry(self, ns: str) -> str:
        return f"{self.prefix}{self.tag(ns)}:x"

    def events(self, ns: str) -> str:
        return f"{self.prefix}{self.tag(ns)}:ev"

    def audit(self) -> str:
        return f"{self.prefix}au"

    def idem(self, ns: str, key: str) -> str:
        digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.prefix}{self.tag(ns)}:i:{digest}"

    def names(self) -> str:
        return f"{self.prefix}ns"

    def changes(self) -> str:
        """The pub/sub channel every commit that takes revisions publishes on."""
        return f"{self.prefix}chg"


def _stored(h: dict[str, str] | None) -> Stored | None:
    if not h:
        return None
    x = h.get("x", "")
    return Stored(
        h["v"],
        h["o"],
        int(h["ver"]),
        int(h["rev"]),
        float(h["c"]),
        float(h["u"]),
        float(x) if x else None,
    )


def _change_message(sender: str, namespaces: Iterable[str]) -> str:
    """What a commit publishes on the change channel: ``"<sender> <ns> <ns>..."``.

    Namespace names hold no spaces; a message of the sender alone (an older replica) means
    "something changed" and wakes every watcher.
    """
    return " ".join((sender, *namespaces))


def _info(text: str | None) -> NamespaceInfo | None:
    if text is None:
        return None
    data = orjson.loads(text)
    data.pop("revision", None)
    return NamespaceInfo.from_dict(data)


def _event_json(event: Event) -> str:
    data = event.to_dict()
    del data["revision"]
    return orjson.dumps(data).decode()


def _event_template(type_: str, agent: str | None, value: bool) -> list[str]:
    """An event's JSON as :func:`_event_json` renders it, split around the script's fields.

    Literal text and field names alternately: ``redis_write.lua`` puts each field's JSON
    text in its place. ``agent``: the event's fixed agent (else a field); ``value``:
    whether the value is a field (else null).
    """
    fields = {"namespace", "timestamp", "key", "version"}
    if agent is None:
        fields.add("agent_id")
    if value:
        fields.add("value")
    data = Event(type_, "", 0, 0.0, agent or "").to_dict()
    data.update({name: f"{_SLOT}{name}" for name in fields})
    event = Event.from_dict(data)
    parts = re.split(f'"{_SLOT}(\\w+)"', _event_json(event))
    assert set(parts[1::2]) == fields, parts  # each field once, as a whole JSON value
    return parts


def _lua_text(text: str) -> str:
    """``text`` as a Lua string literal (a long bracket its text does not close)."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def _write_script(source: str) -> str:
    """``redis_write.lua`` with its event renderers.

    Each template (see :func:`_event_template`) becomes one Lua concatenation of its text
    and its fields.
    """
    templates = {
        "memory:write": _event_template("memory:write", None, True),
        "memory:delete": _event_template("memory:delete", None, False),
        "memory:expired": _event_template("memory:expired", SYSTEM_AGENT, False),
    }
    renderers = []
    for name, parts in templates.items():
        pieces = [
            f"fields.{part}" if i % 2 else _lua_text(part) for i, part in enumerate(parts) if part
        ]
        renderers.append(f'["{name}"] = function(fields) return {" .. ".join(pieces)} end')
    assert source.count("EVENT_TEMPLATES") == 1
    return source.replace("EVENT_TEMPLATES", "{\n  " + ",\n  ".join(renderers) + "\n}")


def _event(rev: int, fields: dict[str, str]) -> Event:
    data = orjson.loads(fields["d"])
    data["revision"] = rev
    return Event.from_dict(data)


def _audit_json(rec: AccessLogEntry) -> str:
    return orjson.dumps(rec.to_dict()).decode()


def _num(value: float) -> str:
    return repr(float(value))


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class _RedisTxn(Txn):
    """The engine's view of Redis for one op: snapshot reads, recorded writes."""

    passthrough = (_Miss,)  # fetch what is missing, then run the op again

    def __init__(self, backend: RedisBackend, op: o.Op[Any], snap: dict[tuple[Any, ...], Any]):
        self.backend = backend
        self.layout = backend.keys
        self.op = op
        self.ns = op.namespace_name
        self.snap = snap
        self.settings = backend.settings
        self.keys: list[str] = []
        self._kidx: dict[str, int] = {}
        self.pre: list[list[Any]] = []
        self._pre_seen: set[str] = set()
        self.writes: list[list[Any]] = []
        self.post: list[tuple[str, str, str]] = []  # store-wide SADD/SREM after the commit
        self.nrev: dict[str, int] = {}
        self.overlay: dict[tuple[Any, ...], Any] = {}
        self.audit: list[AccessLogEntry] = []
        #: Buffered audit records of earlier ops this commit writes ahead of its own.
        self.taken: list[AccessLogEntry] = []
        #: Config texts this op writes (None: deleted), for the backend's cache once committed.
        self.cfg_written: dict[str, str | None] = {}
        self._mark: tuple[int, int, int, dict[str, int], dict[tuple[Any, ...], Any], int] | None
        self._mark = None
        self.whole_ns = False

    # -- snapshot access
    def _get(self, need: tuple[Any, ...]) -> Any:
        if need in self.overlay:
            return self.overlay[need]
        if need not in self.snap:
            raise _Miss(need)
        return self.snap[need]

    def _need_all(self, needs: list[tuple[Any, ...]]) -> None:
        """Ask for everything missing at once (one round trip instead of one per item)."""
        missing = [n for n in needs if n not in self.snap and n not in self.overlay]
        if missing:
            raise _Miss(*missing)

    def _key(self, name: str) -> int:
        i = self._kidx.get(name)
        if i is None:
            self.keys.append(name)
            i = self._kidx[name] = len(self.keys)
        return i

    def _precondition(self, kind: str, name: str, expected: Any, field: str | None = None) -> None:
        if name in self._pre_seen:
            return
        self._pre_seen.add(name)
        item: list[Any] = [kind, self._key(name), expected]
        if field is not None:
            item.append(field)
        self.pre.append(item)

    def _rev_arg(self, value: int) -> Any:
        if value <= _PLACEHOLDER // 2:
            return {"r": value - _PLACEHOLDER}
        return str(value)

    # -- brackets
    def savepoint(self) -> None:
        self._mark = (
            len(self.writes),
            len(self.post),
            len(self.pre),
            dict(self.nrev),
            dict(self.overlay),
            len(self.keys),
        )

    def release(self) -> None:
        self._mark = None

    def rollback(self) -> None:
        if self._mark is None:
            return
        nw, npost, _npre, nrev, overlay, _nkeys = self._mark
        del self.writes[nw:]
        del self.post[npost:]
        self.nrev = nrev
        self.overlay = overlay
        self._mark = None

    # -- namespaces
    def ns_get(self, name: str) -> NamespaceInfo | None:
        text = self._get(("cfg", name))
        if self.op.mutates and ("cfg", name) not in self.overlay:
            self._precondition("get", self.layout.cfg(name), text)
        return text if isinstance(text, NamespaceInfo) else _info(text)

    def ns_put(self, info: NamespaceInfo) -> None:
        data = info.to_dict()
        data.pop("revision", None)
        text = orjson.dumps(data).decode()
        self.writes.append(["SET", self._key(self.layout.cfg(info.name)), text])
        self.cfg_written[info.name] = text
        self.overlay["cfg", info.name] = info
        self.post.append(("SADD", self.layout.names(), info.name))

    def ns_delete(self, name: str) -> None:
        self.writes.append(["DEL", self._key(self.layout.cfg(name))])
        self.cfg_written[name] = None
        self.overlay["cfg", name] = None
        self.post.append(("SREM", self.layout.names(), name))

    def ns_list(self) -> list[NamespaceInfo]:
        names: list[str] = self._get(("names",))
        self._need_all([("cfg", n) for n in names])
        infos = []
        for name in sorted(names):
            info = self._get(("cfg", name))
            info = info if isinstance(info, NamespaceInfo) or info is None else _info(info)
            if info is not None:
                infos.append(info)
        return infos

    def rev_get(self, ns: str) -> int:
        taken = self.nrev.get(ns, 0)
        if taken:
            return _PLACEHOLDER + list(self.nrev).index(ns) * _NS_STRIDE + taken
        rev: int = self._get(("rev", ns))
        return rev

    def rev_next(self, ns: str) -> int:
        # Each namespace (in the order the op first takes one) has its own placeholder range:
        # the commit turns them into that namespace's revisions (see redis_commit.lua).
        self.nrev[ns] = self.nrev.get(ns, 0) + 1
        return _PLACEHOLDER + list(self.nrev).index(ns) * _NS_STRIDE + self.nrev[ns]

    def rev_set(self, ns: str, rev: int) -> None:
        self._whole(ns)  # (the counter must not have moved since it was read)
        # (0 is an absent counter, as a namespace that never changed has.)
        key = self._key(self.layout.rev(ns))
        self.writes.append(["SET", key, str(rev)] if rev else ["DEL", key])
        self.overlay["rev", ns] = rev

    # -- entries
    def entry_get(self, ns: str, key: str) -> Stored | None:
        need = ("e", ns, key)
        if need in self.overlay:
            stored: Stored | None = self.overlay[need]
            return stored
        h = self._get(need)
        if self.op.mutates:
            self._precondition(
                "hget", self.layout.entry(ns, key), h.get("rev") if h else None, "rev"
            )
        return _stored(h)

    def entries_get(self, ns: str, keys: list[str]) -> list[Stored | None]:
        self._need_all([("e", ns, k) for k in keys])
        return [self.entry_get(ns, k) for k in keys]

    def entry_put(self, ns: str, key: str, stored: Stored, new: bool | None = None) -> None:
        name = self.layout.entry(ns, key)
        if ("e", ns, key) not in self.overlay and self.op.mutates:
            # A blind write still must not race another writer of the key.
            h = self.snap.get(("e", ns, key), _ABSENT)
            if h is _ABSENT:
                raise _Miss(("e", ns, key))
            self._precondition("hget", name, h.get("rev") if h else None, "rev")
        ki = self._key(name)
        fields = [
            "v",
            stored.value_json,
            "o",
            stored.owner,
            "ver",
            str(stored.version),
            "rev",
            self._rev_arg(stored.revision),
            "c",
            _num(stored.created_at),
            "u",
            _num(stored.updated_at),
            "x",
            _num(stored.expires_at) if stored.expires_at is not None else "",
        ]
        self.writes.append(["HSET", ki, *fields])
        self.writes.append(["ZADD", self._key(self.layout.index(ns)), "0", key])
        if stored.expires_at is not None:
            self.writes.append(
                ["ZADD", self._key(self.layout.expiry(ns)), _num(stored.expires_at), key]
            )
            ttl = max(stored.expires_at - self.settings.clock(), 0.0) + _GRACE
            self.writes.append(["PEXPIRE", ki, str(int(ttl * 1000))])
        else:
            self.writes.append(["ZREM", self._key(self.layout.expiry(ns)), key])
            self.writes.append(["PERSIST", ki])
        self.overlay["e", ns, key] = stored

    def entry_delete(self, ns: str, key: str) -> None:
        self.entry_get(ns, key)  # the precondition
        self.writes.append(["DEL", self._key(self.layout.entry(ns, key))])
        self.writes.append(["ZREM", self._key(self.layout.index(ns)), key])
        self.writes.append(["ZREM", self._key(self.layout.expiry(ns)), key])
        self.overlay["e", ns, key] = None

    def _whole(self, ns: str) -> None:
        """Depend on the whole namespace: the revision counter must not move."""
        rev = self._get(("rev", ns))
        self._precondition("get", self.layout.rev(ns), str(rev) if rev else None)

    def entry_count(self, ns: str) -> int:
        if self.op.mutates:
            self._whole(ns)
        count: int = self._get(("count", ns))
        return count + self._count_delta(ns)

    def _count_delta(self, ns: str) -> int:
        delta = 0
        for need, value in self.overlay.items():
            if need[0] == "e" and need[1] == ns:
                before = self.snap.get(need)
                delta += (value is not None) - bool(before)
        return delta

    def entries_clear(self, ns: str) -> list[tuple[str, Stored]]:
        self._whole(ns)
        rows: list[tuple[str, dict[str, str]]] = self._get(("all", ns))
        out = []
        for key, h in rows:
            s = _stored(h)
            if s is not None:
                out.append((key, s))
            self.writes.append(["DEL", self._key(self.layout.entry(ns, key))])
            self.overlay["e", ns, key] = None
        self.writes.append(["DEL", self._key(self.layout.index(ns))])
        self.writes.append(["DEL", self._key(self.layout.expiry(ns))])
        return out

    def entries_scan(
        self, ns: str, prefix: str, after: str | None, limit: int | None
    ) -> list[tuple[str, Stored]]:
        if self.op.mutates:
            self._whole(ns)
        rows: list[tuple[str, dict[str, str]]] = self._get(("scan", ns, prefix, after, limit))
        return [(k, s) for k, h in rows if (s := _stored(h)) is not None]

    def expired_scan(self, now: float, limit: int, ns: str | None = None) -> list[tuple[str, str]]:
        if ns is None:
            found: list[tuple[str, str]] = self._get(("expired_any", now, limit))
        else:
            found = [(ns, k) for k in self._get(("expired", ns, now, limit))]
        self._need_all([("e", n, k) for n, k in found])
        return found

    def ns_bytes(self, ns: str) -> int:
        size: int = self._get(("bytes", ns))
        return size

    def store_bytes(self) -> int | None:
        return self.backend.store_bytes()

    # -- events
    def event_append(self, event: Event) -> None:
        ns = event.namespace
        rev = event.revision
        ident = {"id": rev - _PLACEHOLDER} if rev <= _PLACEHOLDER // 2 else f"0-{rev}"
        self.writes.append(
            [
                "XADD",
                self._key(self.layout.events(ns)),
                "MAXLEN",
                str(self.settings.event_retention),
                ident,
                "d",
                _event_json(event),
            ]
        )

    def events_after(self, ns: str, since: int, limit: int) -> list[Event]:
        events: list[Event] = self._get(("events", ns, since, limit))
        return events

    def events_clear(self, ns: str) -> None:
        self._whole(ns)
        self.writes.append(["DEL", self._key(self.layout.events(ns))])
        self.overlay["oldest", ns] = None

    def events_oldest(self, ns: str) -> int | None:
        oldest: int | None = self._get(("oldest", ns))
        return oldest

    def key_events(
        self, ns: str, key: str, before: int | None, limit: int, oldest_first: bool = False
    ) -> list[Event]:
        events: list[Event] = self._get(("keyev", ns, key, before, limit, oldest_first))
        return events

    # -- audit
    def audit_append(self, record: AccessLogEntry) -> None:
        self.audit.append(record)

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
        records: list[AccessLogEntry] = self._get(("audit", ns))
        return filter_audit(records, agent_id, ns, action, success, since, limit, visible)

    def audit_count(self) -> int:
        count: int = self._get(("audit_count",))
        return count

    # -- idempotency
    def idem_get(self, key: str, now: float) -> Any:
        ns = self.ns or DEFAULT_NAMESPACE
        raw = self._get(("idem", ns, key))
        if self.op.mutates:
            self._precondition("get", self.layout.idem(ns, key), raw)
        if raw is None:
            return None
        at, _, value = raw.partition("|")
        if float(at) < now - self.settings.idempotency_ttl:
            return None
        return value

    def idem_put(self, key: str, value: Any, now: float) -> None:
        ns = self.ns or DEFAULT_NAMESPACE
        ttl = int((self.settings.idempotency_ttl + _GRACE) * 1000)
        text = _PLACEHOLDER_FIELD.sub(_mark_revision, f"{_num(now)}|{value}")
        self.writes.append(
            ["SET", self._key(self.layout.idem(ns, key)), {"sub": text}, "PX", str(ttl)]
        )


_ABSENT: Any = object()
#: Reads of several steps (``RedisBackend._fetch_special``: every kind it serves is here),
#: fetched after the others.
_SPECIAL = frozenset({"scan", "all", "bytes", "expired_any", "audit", "audit_count", "keyev"})

#: A placeholder revision inside an idempotent outcome's JSON (encode_result's compact form).
_PLACEHOLDER_FIELD = re.compile(r'"revision":(-\d{19})')


def _mark_revision(match: re.Match[str]) -> str:
    value = int(match.group(1))
    if value > _PLACEHOLDER // 2:
        return match.group(0)
    return f'"revision":"@R{value - _PLACEHOLDER}@"'


def _real(rev: int, bases: list[int]) -> int:
    """The revision a placeholder stands for, given each namespace's base from the commit."""
    if rev > _PLACEHOLDER // 2:
        return rev
    j, i = divmod(rev - _PLACEHOLDER, _NS_STRIDE)
    return bases[j] + i


def _patch(value: Any, bases: list[int]) -> Any:
    """Replace placeholder revisions in an op's result by real ones."""
    if isinstance(value, Entry | Event | NamespaceInfo):
        if value.revision <= _PLACEHOLDER // 2:
            return dataclasses.replace(value, revision=_real(value.revision, bases))
        return value
    if isinstance(value, Lock) and value.token <= _PLACEHOLDER // 2:
        return dataclasses.replace(value, token=_real(value.token, bases))
    if isinstance(value, TxnResult):
        revisions = {ns: _real(rev, bases) for ns, rev in value.revisions.items()}
        return TxnResult(value.succeeded, _patch(value.results, bases), revisions)
    if isinstance(value, list):
        return [_patch(v, bases) for v in value]
    if isinstance(value, dict):
        return {k: _patch(v, bases) for k, v in value.items()}
    return value


class RedisBackend(Backend):
    """The store in Redis (single server or cluster)."""

    name = "redis"
    shared_between_processes = True
    supports_change_token = True
    poll_interval = 0.05
    supports_cluster = True

    def __init__(self, url: str, settings: Settings, *, prefix: str = "hivemem:") -> None:
        super().__init__(settings)
        try:
            import redis
        except ModuleNotFoundError:  # pragma: no cover - depends on the environment
            raise HivememError(
                "redis:// stores need redis-py: pip install 'hivemem[redis]'"
            ) from None
        self.url = url
        self.keys = _Keys(prefix)
        self.cluster = url.startswith("redis+cluster://")
        if self.cluster:
            self.keys.lookup = self._lookup_tag
        self._redis = redis
        self.client: Any = self._make_client(url, asyncio=False)
        self._aclients: dict[Any, Any] = {}
        self._ascripts: dict[Any, _Scripts] = {}
        here = resources.files("hivemem.backends")
        self._script_texts = tuple(
            here.joinpath(name).read_text()
            for name in ("redis_commit.lua", "redis_write.lua", "redis_read.lua")
        )
        commit, write, read = self._script_texts
        self._script_texts = (commit, _write_script(write), read)
        self._script, self._wscript, self._rscript = (
            self.client.register_script(text) for text in self._script_texts
        )
        #: The write and read scripts' calls, packed by hand (not on a cluster's client).
        self._calls = None if self.cluster else ThreadConnections(self.client, redis.exceptions)
        #: Namespace configs as last seen in Redis: name -> (text, parsed). The write and read
        #: scripts compare the text with Redis's, so a stale entry is noticed, never trusted.
        self._cfgs: dict[str, _Config] = {}
        self._audit_buffer: list[AccessLogEntry] = []
        self._audit_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._flush_wake = threading.Event()
        self._flusher: threading.Thread | None = None
        self._closed = False
        self._lease_id = uuid.uuid4().hex
        #: When the store's size was measured, and the size (see store_bytes).
        self._size: tuple[float, int | None] = (float("-inf"), None)
        #: Commits publish this store's id on the change channel; the listener skips its own.
        self._changes = self.keys.changes()
        self._listener: threading.Thread | None = None
        self._listen_gen = 0
        self.execute(
            o.CreateNamespace(
                agent=SYSTEM_AGENT, ns=DEFAULT_NAMESPACE, exist_ok=True, permissions={}
            )
        ).unwrap()

    def _make_client(self, url: str, *, asyncio: bool) -> Any:
        redis = self._redis
        if self.cluster:
            nodes = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
            startup = []
            for node in nodes.split(","):
                host, _, port = node.rpartition(":")
                startup.append((host or "127.0.0.1", int(port or 6379)))
            if asyncio:
                from redis.asyncio.cluster import ClusterNode as ANode
                from redis.asyncio.cluster import RedisCluster as ACluster

                return ACluster(
                    startup_nodes=[ANode(h, p) for h, p in startup],
                    decode_responses=True,
                    **_TIMEOUTS,
                )
            from redis.cluster import ClusterNode, RedisCluster

            members = [ClusterNode(h, p) for h, p in startup]  # type: ignore[no-untyped-call]
            return RedisCluster(startup_nodes=members, decode_responses=True, **_TIMEOUTS)
        if asyncio:
            import redis.asyncio as aredis

            return aredis.from_url(url, decode_responses=True, **_TIMEOUTS)
        return redis.Redis.from_url(url, decode_responses=True, **_TIMEOUTS)

    # ------------------------------------------------------------ reads for the snapshot
    def _plan(self, op: o.Op[Any]) -> list[tuple[Any, ...]]:
        """What an op will read, fetched before it runs (saves a round trip per miss)."""
        ns = op.namespace_name
        need: list[tuple[Any, ...]] = []
        if ns is None:
            return need
        need.append(("cfg", ns))
        key = op.key_name
        if key is not None:
            need.append(("e", ns, key))
        if isinstance(op, o.PutMany):
            need.extend(("e", ns, k) for k, _ in op.items)
        elif isinstance(op, o.Transact):
            need.extend(("e", ns, k) for k, _, _ in op.puts)
            need.extend(("e", ns, k) for k, _ in op.deletes)
        elif isinstance(op, o.GetMany):
            need.extend(("e", ns, k) for k in op.keys)
        elif isinstance(op, o.Restore):
            need.extend(("e", ns, k) for k, _ in op.entries)
            need.extend((("rev", ns), ("count", ns)))

        elif isinstance(op, o.Transaction):
            for name in op.namespaces:
                need.extend((("cfg", name), ("rev", name)))
            items: tuple[o.TxnCompare | o.TxnStep, ...] = (*op.compares, *op.success, *op.failure)
            need.extend(dict.fromkeys(("e", i.ns, i.key) for i in items))
        elif isinstance(op, o.StartWatch | o.GetNamespace):
            need.append(("rev", ns))
        elif isinstance(op, o.EventsAfter):
            # Watchers ask for this on every change: the events with the rest, one round trip.
            need.append(("rev", ns))
            need.append(("events", ns, op.since, op.limit))
        elif isinstance(op, o.TryLock | o.Unlock | o.LockInfo | o.LockTurn):
            keys, scans = locks.reads(op)
            need.extend(("e", ns, k) for k in keys)
            if scans:
                if op.mutates:
                    need.append(("rev", ns))
                need.append(("scan", ns, locks.ticket_prefix(op.name), None, locks.MAX_TICKET_SCAN))
        idem = getattr(op, "idempotency_key", None)
        if idem is not None:
            need.append(("idem", ns, f"{op.agent}\x00{idem}"))
        return need

    def _queue(self, pipe: Any, need: tuple[Any, ...]) -> Callable[[Any], Any]:
        """Queue the commands that answer ``need``; return how to read their reply."""
        k = self.keys
        kind = need[0]
        if kind == "cfg":
            ns = need[1]
            pipe.get(k.cfg(ns))
            return lambda r: self._remember(ns, r)
        if kind == "e":
            pipe.hgetall(k.entry(need[1], need[2]))
            return lambda r: r or None
        if kind == "rev":
            pipe.get(k.rev(need[1]))
            return lambda r: int(r) if r else 0
        if kind == "idem":
            pipe.get(k.idem(need[1], need[2]))
            return lambda r: r
        if kind == "count":
            pipe.zcard(k.index(need[1]))
            return int
        if kind == "names":
            pipe.smembers(k.names())
            return self._names_read
        if kind == "events":
            _, ns, since, limit = need
            pipe.xrange(k.events(ns), min=f"0-{since + 1}", max="+", count=limit)
            return lambda r: [_event(int(i.split("-")[1]), f) for i, f in r]
        if kind == "oldest":
            pipe.xrange(k.events(need[1]), min="-", max="+", count=1)
            return lambda r: int(r[0][0].split("-")[1]) if r else None
        if kind == "expired":
            _, ns, now, limit = need
            pipe.zrangebyscore(k.expiry(ns), "-inf", repr(now), start=0, num=min(limit, 1 << 30))
            return list
        raise AssertionError(f"cannot queue {need!r}")

    def _key_events(self, need: tuple[Any, ...], client: Any) -> list[Event]:
        """A key's changes: the namespace's stream read backwards (or forwards) in chunks.

        Redis keeps no index of them: the scan reads at most the whole stream, which
        ``MAXLEN`` bounds at ``event_retention`` events (see docs/design.md, History).
        """
        _, ns, key, before, limit, oldest_first = need
        out: list[Event] = []
        if limit <= 0 or (before is not None and before <= 1):
            return out
        stream = self.keys.events(ns)
        edge = f"0-{before - 1}" if before is not None else "+"
        lo, hi = "-", edge
        for _ in range(self.settings.event_retention // _KEY_SCAN + 2):  # the stream's length
            if oldest_first:
                batch = client.xrange(stream, min=lo, max=hi, count=_KEY_SCAN)
            else:
                batch = client.xrevrange(stream, max=hi, min=lo, count=_KEY_SCAN)
            for ident, fields in batch:
                event = _event(int(ident.split("-")[1]), fields)
                if changes_key(event, key):
                    out.append(event)
                    if len(out) >= limit:
                        return out
            if len(batch) < _KEY_SCAN:
                break
            last = int(batch[-1][0].split("-")[1])
            if oldest_first:
                lo = f"0-{last + 1}"
            elif last <= 1:
                break
            else:
                hi = f"0-{last - 1}"
        return out

    def _names_read(self, reply: Any) -> set[str]:
        names = set(reply)
        if self.cluster:
            self._learn_tags(names)
        return names

    def _fetch_special(self, need: tuple[Any, ...], client: Any) -> Any:
        """Reads that take several steps (scans over a namespace, store-wide queries)."""
        k = self.keys
        kind = need[0]
        if kind == "scan":
            _, ns, prefix, after, limit = need
            if after is not None and after >= prefix:
                start = f"({after}"
            else:
                start = f"[{prefix}" if prefix else "-"
            want = limit if limit is not None else 1000
            rows: list[tuple[str, dict[str, str]]] = []
            while True:
                batch = client.zrangebylex(k.index(ns), start, "+", start=0, num=want)
                keys = []
                past = False
                for key in batch:
                    if not key.startswith(prefix):
                        past = True
                        break
                    keys.append(key)
                if keys:
                    pipe = client.pipeline(transaction=False)
                    for key in keys:
                        pipe.hgetall(k.entry(ns, key))
                    rows.extend((key, h) for key, h in zip(keys, pipe.execute(), strict=True) if h)
                if limit is not None or past or len(batch) < want:
                    return rows
                start = f"({batch[-1]}"
        if kind == "all":
            ns = need[1]
            keys = client.zrange(k.index(ns), 0, -1)
            if not keys:
                return []
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(k.entry(ns, key))
            return [(key, h) for key, h in zip(keys, pipe.execute(), strict=True)]
        if kind == "bytes":
            ns = need[1]
            keys = client.zrange(k.index(ns), 0, -1)
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.hstrlen(k.entry(ns, key), "v")
            return sum(int(n) for n in pipe.execute()) if keys else 0
        if kind == "expired_any":
            _, now, limit = need
            for ns in sorted(self._names_read(client.smembers(k.names()))):
                keys = client.zrangebyscore(k.expiry(ns), "-inf", repr(now), start=0, num=limit)
                if keys:
                    return [(ns, key) for key in keys]
            return []
        if kind == "audit":
            self.flush_audit()
            return [
                AccessLogEntry.from_dict(orjson.loads(fields["d"]))
                for _, fields in client.xrevrange(k.audit(), count=self.settings.max_log_size)
            ]
        if kind == "audit_count":
            self.flush_audit()
            return int(client.xlen(k.audit()))
        if kind == "keyev":
            return self._key_events(need, client)
        return _NOT_SPECIAL

    def _groups(self, needs: list[tuple[Any, ...]]) -> dict[Any, list[tuple[Any, ...]]]:
        """Reads by round trip (``None``: the store-wide names, outside a MULTI).

        One MULTI for every namespace on one server (a consistent snapshot, even of a
        transaction over several); one per slot (hash tag) on a cluster.
        """
        groups: dict[Any, list[tuple[Any, ...]]] = {}
        for need in needs:
            group: str | None = None
            if need[0] != "names":
                group = self.keys.tag(need[1]) if self.cluster else ""
            groups.setdefault(group, []).append(need)
        return groups

    def _fetch(self, needs: list[tuple[Any, ...]], snap: dict[tuple[Any, ...], Any]) -> None:
        simple = [n for n in needs if n not in snap and n[0] not in _SPECIAL]
        # One slot per MULTI in a cluster: group reads by namespace.
        groups = self._groups(simple)
        for ns, group in groups.items():
            pipe = self.client.pipeline(transaction=ns is not None and not self.cluster)
            readers = [self._queue(pipe, need) for need in group]
            for need, read, reply in zip(group, readers, pipe.execute(), strict=True):
                snap[need] = read(reply)
        # Multi-step reads after the others: a scan must not be older than the revision
        # its op depends on (read just above), or a commit in between would go unseen.
        for need in needs:
            if need not in snap and need[0] in _SPECIAL:
                snap[need] = self._fetch_special(need, self.client)

    # ------------------------------------------------------------ one round trip per op
    # Put and Delete under latest-wins, first-wins and version run as ONE script
    # (redis_write.lua) that decides as engine/decide.py does and writes server-side; Get is
    # one script reading the entry and checking the config. Both use the namespace config
    # cached here, and both compare it with Redis's, so a config changed by another replica
    # is noticed at once (the op runs again with the new one). Anything else, or anything the
    # script declines (a conflict, a full namespace, an idempotency key), runs through the
    # engine as before.
    def _remember(self, ns: str, text: str | None) -> str | None:
        """Keep a config text just read from Redis (and its parsed form) for later ops."""
        if text is None:
            self._cfgs.pop(ns, None)
        else:
            cached = self._cfgs.get(ns)
            if cached is None or cached.text != text:
                info = _info(text)
                assert info is not None
                self._cfgs[ns] = _Config(text, info)
        return text

    def _write_call(
        self, op: o.Put | o.Delete
    ) -> tuple[list[str], list[str | bytes], float, float | None, list[AccessLogEntry]] | None:
        """KEYS and ARGV of ``redis_write.lua`` for ``op``; ``None``: the engine runs it."""
        ns = op.ns
        cached = self._cfgs.get(ns)
        if cached is None:
            return None
        text, info = cached
        if not fast.qualifies(op, info):
            return None  # the engine decides (and words any refusal)
        limit = self.settings.max_store_bytes
        if limit is not None and isinstance(op, o.Put):
            size = self.store_bytes()
            if size is not None and size >= limit:
                return None  # over the byte quota: the engine words the refusal
        now = self.settings.clock()
        expires: float | None = None
        key, agent = op.key, op.agent
        k = self.keys
        keys = [k.cfg(ns), k.rev(ns), k.entry(ns, key), k.index(ns), k.expiry(ns), k.events(ns)]
        try:
            table: dict[str, Any] = {
                "schema": _WRITE_ARGS,
                "op": "put" if isinstance(op, o.Put) else "delete",
                "config": text,
                "now": _num(now),
                "strategy": info.conflict_strategy,
                "owner": agent,
                "member": key,
                "retention": str(self.settings.event_retention),
                "audit_retention": str(self.settings.max_log_size),
                "slots": {
                    "namespace": _json(ns),
                    "timestamp": _json(now),
                    "agent_id": _json(agent),
                    "key": _json(key),
                },
                "channel": self._changes,
                "message": _change_message(self._lease_id, (ns,)),
            }
        except orjson.JSONEncodeError:  # text JSON cannot carry: the engine path copes
            return None
        if op.expected_version is not None:
            table["expected"] = op.expected_version
        if isinstance(op, o.Put):
            action, value = "write", op.value_json
            ttl = op.ttl if op.ttl is not None else info.ttl
            if ttl is not None:
                expires = now + ttl
                table["expires_at"] = _num(expires)
                table["pexpire"] = str(int((max(ttl, 0.0) + _GRACE) * 1000))
            cap = entry_cap(info, self.settings)
            if cap is not None:
                table["cap"] = cap
        else:
            action, value = "delete", ""
        try:
            params = orjson.dumps(table)
        except orjson.JSONEncodeError:
            return None
        args: list[str | bytes] = [params, value]
        taken: list[AccessLogEntry] = []
        if not self.cluster:  # (a cluster's audit stream is in another slot)
            keys.append(k.audit())
            # Buffered records (reads, refusals) go first: the stream stays in op order.
            taken = self._take_audit()
            args.extend(_audit_json(rec) for rec in taken)
            if not op.internal:
                args.append(
                    _json(
                        {
                            "timestamp": now,
                            "agent_id": op.agent,
                            "namespace": ns,
                            "key": key,
                            "action": action,
                            "success": True,
                            "error": None,
                        }
                    )
                )
        return keys, args, now, expires, taken

    def _write_done(
        self, op: o.Put | o.Delete, reply: Any, now: float, expires: float | None
    ) -> Result:
        """The Result the engine would have given for what the script did."""
        if isinstance(reply, str):  # a put: "rev version created_at expired_version"
            reply = [1, *reply.split(" ")]
        rev = int(reply[1])
        if isinstance(op, o.Put):
            result = fast.put_result(
                op, now, expires, rev, int(reply[2]), float(reply[3]), int(reply[4])
            )
            action = "write"
        else:
            result = fast.delete_result(op, now, rev, int(reply[2]), int(reply[3]))
            action = "delete"
        ns, key, agent = op.ns, op.key, op.agent
        if self.cluster and not op.internal:
            self._buffer_audit([AccessLogEntry(now, agent, ns, key, action, True, None)])
        if result.events:
            self.notifier.notify(ns)
        return result

    def _script_call(
        self, script: Any, keys: list[str], args: list[str | bytes], *, reads_only: bool = False
    ) -> Any:
        if self._calls is None:
            return script(keys=keys, args=args)
        return self._calls.evalsha(script, keys, args, reads_only=reads_only)

    def _fast_write(self, op: o.Put | o.Delete) -> Result | None:
        for _ in range(3):
            call = self._write_call(op)
            if call is None:
                return None
            keys, args, now, expires, taken = call
            try:
                reply = self._script_call(self._wscript, keys, args)
            except BaseException:
                self._return_audit(taken)
                raise
            if isinstance(reply, str) or reply[0] == 1:
                return self._write_done(op, reply, now, expires)
            self._return_audit(taken)
            if reply[0] == 0:
                return None
            self._remember(op.ns, reply[1] or None)  # another replica changed the config
        return None

    async def _afast_write(self, client: Any, op: o.Put | o.Delete) -> Result | None:
        for _ in range(3):
            call = self._write_call(op)
            if call is None:
                return None
            keys, args, now, expires, taken = call
            try:
                reply = await self._ascripts[client].write(keys=keys, args=args)
            except BaseException:
                self._return_audit(taken)
                raise
            if isinstance(reply, str) or reply[0] == 1:
                return self._write_done(op, reply, now, expires)
            self._return_audit(taken)
            if reply[0] == 0:
                return None
            self._remember(op.ns, reply[1] or None)
        return None

    def _get_done(self, op: o.Get, cached: _Config, reply: list[Any]) -> Result:
        state, meta = reply[0], reply[1]
        info: NamespaceInfo | None
        if state == 1:
            info = cached.info
        elif state == 0:
            self._cfgs.pop(op.ns, None)
            info = None
        else:
            self._remember(op.ns, state)
            info = self._cfgs[op.ns].info
        h = None
        if meta:
            ver, rev, c, u, x = meta.split(" ")
            h = {"v": reply[2], "o": reply[3], "ver": ver, "rev": rev, "c": c, "u": u, "x": x}
        tx = _RedisTxn(self, op, {("cfg", op.ns): info, ("e", op.ns, op.key): h})
        result = execute(tx, op, self.settings)
        self._record_audit(tx)
        return result

    def _fast_get(self, op: o.Get) -> Result | None:
        cached = self._cfgs.get(op.ns)
        if cached is None:
            return None
        keys = [self.keys.cfg(op.ns), self.keys.entry(op.ns, op.key)]
        return self._get_done(
            op, cached, self._script_call(self._rscript, keys, [cached.text], reads_only=True)
        )

    async def _afast_get(self, client: Any, op: o.Get) -> Result | None:
        cached = self._cfgs.get(op.ns)
        if cached is None:
            return None
        keys = [self.keys.cfg(op.ns), self.keys.entry(op.ns, op.key)]
        reply = await self._ascripts[client].read(keys=keys, args=[cached.text])
        return self._get_done(op, cached, reply)

    # ------------------------------------------------------------ cluster: groups
    # On a cluster a namespace's keys carry the tag of its group (see _Keys), so the backend
    # must know the group before it names a key. The store-wide hash P:groups maps each
    # namespace name to its group ("" for none) from the first mutation that names it on,
    # for good: a namespace deleted and created again keeps its group (its revision counter
    # lives under that tag and must go on), so asking for another is refused
    # (group_mismatch). Being immutable, an entry is cached for the process's life; a name
    # the hash lacks (no namespace was ever created under it through a cluster-aware
    # replica) has the plain tag {ns}, and is not cached: a later creation may claim it.
    def _lookup_tag(self, ns: str) -> str:
        group = self.client.hget(self.keys.groups(), ns)
        return f"{{{ns}}}" if group is None else self._known_tag(ns, group)

    def _known_tag(self, ns: str, group: str) -> str:
        tag = f"{{{group}}}/{ns}" if group else f"{{{ns}}}"
        self.keys.tags[ns] = tag
        return tag

    def _learn_tags(self, names: Iterable[str]) -> None:
        """Look up the groups of many namespaces at once (listings, the sweeper)."""
        unknown = [n for n in names if n not in self.keys.tags]
        if unknown:
            for ns, group in zip(
                unknown, self.client.hmget(self.keys.groups(), unknown), strict=True
            ):
                if group is not None:
                    self._known_tag(ns, group)

    def _claim(self, names: list[str], group: str = "") -> dict[str, str]:
        """Bind each name to ``group`` unless it has one already; return every name's group."""
        pipe = self.client.pipeline(transaction=False)
        for ns in names:
            pipe.hsetnx(self.keys.groups(), ns, group)
            pipe.hget(self.keys.groups(), ns)
        replies = pipe.execute()
        found = dict(zip(names, replies[1::2], strict=True))
        for ns, bound in found.items():
            self._known_tag(ns, bound)
        return found

    def _cluster_tags(self, op: o.Op[Any]) -> None:
        """Before a cluster runs ``op``: the tags of what it changes, and one slot for them."""
        if isinstance(op, o.CreateNamespace):
            wanted = op.group or ""
            bound = self._claim([op.ns], wanted)[op.ns]
            if bound != wanted and self.client.get(self.keys.cfg(op.ns)) is None:
                raise InvalidArgument(
                    f"namespace {op.ns!r} was created before with group {bound or None!r}; "
                    "a namespace keeps its group (its revisions go on under it): create it "
                    "with that group",
                    reason="group_mismatch",
                    namespace=op.ns,
                    group=bound or None,
                )
            return
        if not op.mutates:
            return
        one = op.namespace_name
        names = op.namespaces if isinstance(op, o.Transaction) else [one] if one else []
        unknown = [n for n in names if n not in self.keys.tags]
        if unknown:
            self._claim(unknown)
        if isinstance(op, o.Transaction):
            self._one_slot([self.keys.cfg(ns) for ns in names])

    # ------------------------------------------------------------ running ops
    def execute(self, op: o.Op[Any]) -> Result:
        if self._closed:  # (redis-py would reconnect: a closed store refuses, as SQLite does)
            return Result(error=BackendUnavailable("the store is closed"))
        try:
            return self._execute(op)
        except self._redis.exceptions.RedisError as exc:
            return Result(error=BackendUnavailable(f"Redis is unavailable: {exc}"))
        except HivememError as exc:
            return Result(error=exc)
        except Exception as exc:  # a bug outside the engine (fast paths, decoding): this op's
            return Result(error=InternalError.of(exc, f"Redis op {type(op).__name__}"))

    def _execute(self, op: o.Op[Any]) -> Result:
        if self.cluster:
            self._cluster_tags(op)
        if isinstance(op, o.Get):
            got = self._fast_get(op)
            if got is not None:
                return got
        elif isinstance(op, o.Put | o.Delete):
            wrote = self._fast_write(op)
            if wrote is not None:
                return wrote
        needs = self._plan(op)
        for _ in range(_ROUNDS):
            snap: dict[tuple[Any, ...], Any] = {}
            now = self.settings.clock()  # one time per attempt: reruns must ask the same
            while True:
                self._fetch(needs, snap)
                tx = _RedisTxn(self, op, snap)
                try:
                    result = execute(tx, op, self.settings, now)
                except _Miss as miss:
                    needs = [*needs, *miss.need]
                    continue
                break
            if not tx.writes and not (isinstance(op, o.Transaction) and tx.pre):
                self._record_audit(tx)
                return result
            done, bases = self._commit(tx)
            if done:
                return self._finish(tx, result, bases)
        return Result(error=BackendUnavailable("too much contention: the op kept conflicting"))

    # ------------------------------------------------------------ the asyncio twin
    def _aclient(self) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            for old in [lp for lp in self._aclients if lp.is_closed()]:
                del self._aclients[old]
            client = self._aclients[loop] = self._make_client(self.url, asyncio=True)
            commit, write, read = (client.register_script(t) for t in self._script_texts)
            self._ascripts[client] = _Scripts(commit, write, read)
        return client

    async def aexecute(self, op: o.Op[Any]) -> Result:
        if self._closed:
            return Result(error=BackendUnavailable("the store is closed"))
        try:
            return await self._aexecute(op)
        except self._redis.exceptions.RedisError as exc:
            return Result(error=BackendUnavailable(f"Redis is unavailable: {exc}"))
        except HivememError as exc:
            return Result(error=exc)
        except Exception as exc:  # a bug outside the engine (fast paths, decoding): this op's
            return Result(error=InternalError.of(exc, f"Redis op {type(op).__name__}"))

    async def _aexecute(self, op: o.Op[Any]) -> Result:
        client = self._aclient()
        if self.cluster:
            self._cluster_tags(op)  # (sync: at most once per namespace and process)
        if isinstance(op, o.Get):
            got = await self._afast_get(client, op)
            if got is not None:
                return got
        elif isinstance(op, o.Put | o.Delete):
            wrote = await self._afast_write(client, op)
            if wrote is not None:
                return wrote
        needs = self._plan(op)
        for _ in range(_ROUNDS):
            snap: dict[tuple[Any, ...], Any] = {}
            now = self.settings.clock()  # one time per attempt: reruns must ask the same
            while True:
                await self._afetch(client, needs, snap)
                tx = _RedisTxn(self, op, snap)
                try:
                    result = execute(tx, op, self.settings, now)
                except _Miss as miss:
                    needs = [*needs, *miss.need]
                    continue
                break
            if not tx.writes and not (isinstance(op, o.Transaction) and tx.pre):
                self._record_audit(tx)
                return result
            keys, program = self._program(tx)
            try:
                ok, *bases = await self._ascripts[client].commit(keys=keys, args=[program])
            except BaseException:
                self._return_audit(tx.taken)
                raise
            if not ok:
                self._return_audit(tx.taken)
            if ok:
                return self._finish(tx, result, [int(b) for b in bases])
        return Result(error=BackendUnavailable("too much contention: the op kept conflicting"))

    async def _afetch(
        self, client: Any, needs: list[tuple[Any, ...]], snap: dict[tuple[Any, ...], Any]
    ) -> None:
        simple = [n for n in needs if n not in snap and n[0] not in _SPECIAL]
        groups = self._groups(simple)
        for ns, group in groups.items():
            pipe = client.pipeline(transaction=ns is not None and not self.cluster)
            readers = [self._queue(pipe, need) for need in group]
            replies = await pipe.execute()
            for need, read, reply in zip(group, readers, replies, strict=True):
                snap[need] = read(reply)
        # Multi-step reads (scans, store-wide queries) are rare: they run on the sync
        # client, inline, like SQLite's reads; after the others (see _fetch).
        for need in needs:
            if need not in snap and need[0] in _SPECIAL:
                snap[need] = self._fetch_special(need, self.client)

    def _program(self, tx: _RedisTxn) -> tuple[list[str], str]:
        # Each namespace's revisions, in the order of their placeholder ranges.
        revs = [[tx._key(self.keys.rev(ns)), n] for ns, n in tx.nrev.items()]
        if self.cluster:
            self._one_slot(tx.keys)
        else:
            # One server: the store-wide audit stream joins the commit, buffered records
            # first. (In a cluster it lives in another slot and follows the commit.)
            tx.taken = self._take_audit()
            for rec in [*tx.taken, *tx.audit]:
                tx.writes.append(
                    [
                        "XADD",
                        tx._key(self.keys.audit()),
                        "MAXLEN",
                        str(self.settings.max_log_size),
                        "*",
                        "d",
                        _audit_json(rec),
                    ]
                )
            tx.audit = []
        program: dict[str, Any] = {"pre": tx.pre, "revs": revs, "w": tx.writes}
        if revs:
            program["pub"] = [self._changes, _change_message(self._lease_id, tx.nrev)]
        return tx.keys, orjson.dumps(program).decode()

    def _commit(self, tx: _RedisTxn) -> tuple[bool, list[int]]:
        keys, program = self._program(tx)
        try:
            ok, *bases = self._script(keys=keys, args=[program])
        except BaseException:
            self._return_audit(tx.taken)
            raise
        if not ok:
            self._return_audit(tx.taken)
        return bool(ok), [int(b) for b in bases]

    def _one_slot(self, keys: list[str]) -> None:
        """Refuse a cluster commit whose keys live in several slots (one script, one slot)."""
        from redis.crc import key_slot

        slots = {key_slot(key.encode()) for key in keys}
        if len(slots) > 1:
            raise InvalidArgument(
                "this op touches namespaces in different Redis Cluster slots: create them "
                "with the same group= (create_namespace(..., group=...)) to use them together",
                reason="cross_slot",
            )

    def _finish(self, tx: _RedisTxn, result: Result, bases: list[int]) -> Result:
        self._record_audit(tx)
        for ns, text in tx.cfg_written.items():
            self._remember(ns, text)
        if tx.post:
            pipe = self.client.pipeline(transaction=False)
            for cmd, key, member in tx.post:
                pipe.execute_command(cmd, key, member)
            pipe.execute()
        if tx.nrev:
            result.value = _patch(result.value, bases)
            result.events = _patch(result.events, bases)
            self.notifier.notify_events(result.events)
        return result

    def _record_audit(self, tx: _RedisTxn) -> None:
        if tx.audit:
            self._buffer_audit(tx.audit)

    def _take_audit(self) -> list[AccessLogEntry]:
        """Buffered audit records, for a commit to write ahead of its own."""
        if not self._audit_buffer:
            return []
        with self._audit_lock:
            records, self._audit_buffer = self._audit_buffer, []
        return records

    def _return_audit(self, records: list[AccessLogEntry]) -> None:
        """Put back records :meth:`_take_audit` gave a commit that did not happen."""
        if records:
            with self._audit_lock:
                self._audit_buffer[:0] = records

    def _buffer_audit(self, records: list[AccessLogEntry]) -> None:
        """Queue audit records (reads, refused ops; a cluster's writes) for the flusher.

        A background thread writes them every :data:`_AUDIT_FLUSH` seconds (at once past
        :data:`_AUDIT_BATCH` records), and every audit query flushes first, as SQLite does:
        a read costs one round trip, not two.
        """
        with self._audit_lock:
            self._audit_buffer.extend(records)
            pending = len(self._audit_buffer)
            if self._flusher is None and not self._closed:
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="hivemem-redis-audit", daemon=True
                )
                self._flusher.start()
        if pending >= _AUDIT_BATCH:
            self._flush_wake.set()

    def _flush_loop(self) -> None:
        while not self._closed:
            self._flush_wake.wait(_AUDIT_FLUSH)
            self._flush_wake.clear()
            try:
                self.flush_audit()
            except Exception:  # Redis away: the records stay buffered for the next try
                time.sleep(_AUDIT_FLUSH)

    def flush_audit(self) -> None:
        """Write buffered audit records to their stream (in order, one flush at a time)."""
        with self._flush_lock:
            with self._audit_lock:
                records, self._audit_buffer = self._audit_buffer, []
            if not records:
                return
            pipe = self.client.pipeline(transaction=False)
            for rec in records:
                pipe.xadd(
                    self.keys.audit(),
                    {"d": _audit_json(rec)},
                    maxlen=self.settings.max_log_size,
                    approximate=False,
                )
            try:
                pipe.execute()
            except Exception:
                with self._audit_lock:
                    self._audit_buffer[:0] = records[-self.settings.max_log_size :]
                raise

    def store_bytes(self) -> int | None:
        """Redis's ``used_memory``, asked at most every ``STORE_BYTES_EVERY`` seconds."""
        now = time.monotonic()
        measured, size = self._size
        if now - measured < STORE_BYTES_EVERY:
            return size
        try:
            size = int(self.client.info("memory")["used_memory"])
        except Exception:  # a server that hides INFO: no byte quota can apply
            size = None
        self._size = (now, size)
        return size

    # ------------------------------------------------------------ changes by other replicas
    def change_token(self) -> int:
        """For the server's change poller: the token moves when the change listener (re)connects.

        Starts the listener, which wakes watchers itself as soon as another process commits.
        """
        self._ensure_listener()
        return self._listen_gen

    def follow(
        self, agent: str, ns: str, since: int, timeout: float | None, stop: threading.Event
    ) -> Iterator[Event]:
        self._ensure_listener()
        return super().follow(agent, ns, since, timeout, stop)

    def afollow(
        self, agent: str, ns: str, since: int, timeout: float | None, stop: threading.Event
    ) -> AsyncIterator[Event]:
        self._ensure_listener()
        return super().afollow(agent, ns, since, timeout, stop)

    def _ensure_listener(self) -> None:
        if self._listener is not None or self._closed:
            return
        with self._audit_lock:
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name="hivemem-redis-changes", daemon=True
                )
                self._listener.start()

    def _watched(self) -> bool:
        """Whether anyone in this process waits on the notifier (a watcher, an SSE stream)."""
        return self.notifier.watched

    def _listen(self) -> None:
        """Wake this process's watchers when another process (replica) commits.

        Every commit that takes revisions publishes its store's id and the namespaces it
        changed on one channel (this process wakes only their watchers). The
        listener subscribes only while someone in this process watches (and for
        :data:`_LISTEN_LINGER` seconds after), so replicas without watchers pay nothing per
        write of the others; on subscribing it wakes every watcher once, which covers
        whatever was published before.
        """
        own = self._lease_id
        while not self._closed:
            if not self._watched():
                time.sleep(_LISTEN_TICK)
                continue
            pubsub = None
            try:
                pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self._changes)
                self._listen_gen += 1
                self.notifier.notify()  # whatever happened while nobody listened
                idle_since = None
                while not self._closed:
                    msg = pubsub.get_message(timeout=_LISTEN_TICK)
                    changed: set[str | None] = set()
                    while msg is not None:
                        sender, *names = str(msg.get("data")).split(" ")
                        if sender != own:
                            changed.update(names or (None,))  # no names: anything changed
                        msg = pubsub.get_message(timeout=0.0)
                    if None in changed:
                        self.notifier.notify()
                    else:
                        for ns in changed:
                            self.notifier.notify(ns)
                    if self._watched():
                        idle_since = None
                    elif idle_since is None:
                        idle_since = time.monotonic()
                    elif time.monotonic() - idle_since > _LISTEN_LINGER:
                        break
            except Exception:  # Redis away: retry; the poller's token moves on reconnect
                time.sleep(0.2)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()

    def sweep_lease(self, seconds: float, name: str = "sweeper") -> bool:
        """Take or renew the store-wide lease of job ``name`` (one replica runs it at a time)."""
        key = f"{self.keys.prefix}{name}"
        try:
            if self.client.set(key, self._lease_id, nx=True, px=int(seconds * 1000)):
                return True
            if self.client.get(key) == self._lease_id:
                self.client.pexpire(key, int(seconds * 1000))
                return True
        except self._redis.exceptions.RedisError:
            return False
        return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._flush_wake.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(2.0)
        with contextlib.suppress(Exception):  # Redis gone: nothing more to save
            self.flush_audit()
        if self._calls is not None:
            self._calls.close()
        self.client.close()
        for loop, client in list(self._aclients.items()):
            if not loop.is_closed() and not loop.is_running():
                with contextlib.suppress(Exception):  # best effort: the loop may be gone
                    loop.run_until_complete(client.aclose())
        self._aclients.clear()

    async def aclose(self) -> None:
        """Close the asyncio client of the running loop, then everything else."""
        import asyncio

        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        self.close()


_NOT_SPECIAL: Any = object()
#: Stream entries read per step of a key's history scan.
_KEY_SCAN = 1024
