"""The in-process search index of one namespace's memories: BM25, vectors, filter columns.

The index is a view derived from the store, never a second source of truth: it is built
by one scan of the namespace's records and one of its vectors, then kept current by
applying the namespace's change events after its revision (``EventsAfter``) before each
search. Vectors are internal records, which emit no events: a record's write event that
adds it or changes its content marks its vector wanted (:meth:`NamespaceIndex.want_vector`)
and the catch-up reads the wanted vectors from the store (the vector is written in the same
atomic step as the record, so it is there). So every process and every replica over Redis
answers from the same stored records and vectors; an index that fell further behind than
the retained events rebuilds itself. Vectors are read from the store, never recomputed: a
restart re-reads them without re-embedding.

Labels: each record id gets a dense int label; filter columns are numpy arrays indexed
by label, so a filter is a vector operation even at a million records.
"""

from __future__ import annotations

import base64
import logging
import math
import threading
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: the server runs without the semantic extra
    from hivemem.memories._numpy import np

from hivemem.engine.reserved import INTERNAL
from hivemem.errors import InvalidArgument
from hivemem.memories import layout, validity
from hivemem.memories.bm25 import BM25
from hivemem.memories.decay import DecayPolicy, curve_terms, is_archived
from hivemem.memories.match import check_source_filter, source_pairs
from hivemem.memories.rank import PREVIOUS_KEYWORD, KeywordScale, moment
from hivemem.types import ARCHIVED, RECORD_TIERS, TIERS, MemoryRecord

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hivemem.memories.match import Boosts
    from hivemem.memories.vectors import VectorIndex
    from hivemem.types import Event

__all__ = [
    "FILTER_KEYS",
    "VECTOR_PREFIX",
    "NamespaceIndex",
    "check_filters",
    "decode_vector",
    "encode_vector",
    "is_record",
]

#: Where a record's vector lives: an internal key (:mod:`hivemem.memories.layout`).
VECTOR_PREFIX = layout.VECTOR
#: Filters of ``semantic_search`` and ``search`` (SPEC §10).
FILTER_KEYS = frozenset(
    {
        "memory_type",
        "tier",
        "tags",
        "parent_id",
        "session_id",
        "agent_id",
        "created_after",
        "created_before",
        "updated_after",
        "updated_before",
        "occurred_after",
        "occurred_before",
        "metadata",
        "source",
        "include_archived",
        "include_forgotten",
        "slot",
        "as_of",
        "include_superseded",
    }
)
#: Filters that take true or false (``include_forgotten``: the name of earlier versions).
_FLAGS = ("include_archived", "include_forgotten")
_CODED = ("memory_type", "tier", "agent_id", "session_id", "parent_id", "slot")
_RECENCY_HALF_LIFE = 30 * 86_400.0
_DEFAULT_POLICY = DecayPolicy()
log = logging.getLogger("hivemem")


def is_record(key: str, value: Any) -> bool:
    """Whether a stored value is a well-formed memory record stored under its own id.

    Anyone with write access can put any JSON under any key; such entries are not records,
    and every plan and the index skip them.
    """
    if not isinstance(value, dict) or value.get("id") != key:
        return False
    if type(value.get("content")) is not str or value.get("tier", "short") not in RECORD_TIERS:
        return False
    if value.get("archived_from", "short") not in TIERS:
        return False
    if any(type(value.get(c)) not in (str, type(None)) for c in _CODED if c != "tier"):
        return False  # the index codes these columns: they must be hashable text
    tags = value.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(type(t) is str for t in tags)):
        return False
    if any(type(value.get(c)) not in (str, type(None)) for c in ("supersedes", "superseded_by")):
        return False
    source = value.get("source")
    if source is not None and not isinstance(source, dict):
        return False
    for name in ("valid_from", "valid_to", "occurred_at"):
        when = value.get(name)
        if when is not None and (
            isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when)
        ):
            return False
    count = value.get("access_count", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 2**53:
        return False
    try:
        MemoryRecord.from_dict(value)
        _DEFAULT_POLICY.strength_at(value, float(value.get("created_at", 0.0)))
        float(value.get("decayed_at", 0.0))
        float(value.get("updated_at", 0.0))
    except (KeyError, TypeError, ValueError, OverflowError, ZeroDivisionError):
        return False
    return True


def encode_vector(vector: np.ndarray, model: str) -> dict[str, Any]:
    """A vector as stored: model name, dimension, float32 bytes in base64."""
    data = np.ascontiguousarray(vector, dtype="<f4")
    return {"m": model, "d": int(data.shape[0]), "v": base64.b64encode(data.tobytes()).decode()}


def decode_vector(value: Any) -> tuple[str, np.ndarray] | None:
    """``(model, vector)`` of a stored vector, or ``None`` if it is not one."""
    try:
        raw = base64.b64decode(value["v"])
        vec = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        if vec.shape[0] != int(value["d"]):
            return None
        return str(value["m"]), vec
    except (KeyError, TypeError, ValueError):
        return None


def _str_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(x, str) for x in value):
        return list(value)
    raise InvalidArgument(f"filter {name!r} takes a string or a list of strings")


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidArgument(f"filter {name!r} takes a number (unix seconds)")
    return float(value)


def check_filters(filters: Any) -> dict[str, Any]:
    """Validate and normalise search filters (unknown keys and wrong types: InvalidArgument)."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise InvalidArgument("filters must be an object")
    unknown = set(filters) - FILTER_KEYS
    if unknown:
        raise InvalidArgument(
            f"unknown filters: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(FILTER_KEYS))})"
        )
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if key in _CODED or key == "tags":
            out[key] = _str_list(value, key)
        elif key == "metadata":
            if not isinstance(value, dict):
                raise InvalidArgument("filter 'metadata' takes an object of field: value")
            out[key] = dict(value)
        elif key == "source":
            out[key] = check_source_filter(value)
        elif key in _FLAGS or key == "include_superseded":
            if not isinstance(value, bool):
                raise InvalidArgument(f"filter {key!r} takes true or false")
            out[key] = value
        else:
            out[key] = _number(value, key)
    if out.get("include_superseded") and "as_of" in out:
        raise InvalidArgument("as_of and include_superseded=True exclude each other")
    return out


class NamespaceIndex:
    """BM25, vectors and filter columns of one namespace at one revision."""

    #: Vector count from which searches use an HNSW graph (``VectorIndex``).
    hnsw_threshold = 20_000

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.revision = 0
        self.lock = threading.RLock()
        self.labels: dict[str, int] = {}
        self.ids: list[str | None] = []
        self._free: list[int] = []
        self.records: dict[int, dict[str, Any]] = {}
        self.bm25 = BM25()
        self.vectors: VectorIndex | None = None
        self.model: str | None = None
        self._codes: dict[str, dict[str, int]] = {c: {} for c in _CODED}
        self._cols: dict[str, np.ndarray] = {}
        self._capacity = 0
        self.tag_labels: dict[str, set[int]] = {}
        #: Labels of the records whose source holds each ``(field, canonical value)``: one
        #: label as an int (most pairs, e.g. message ids, belong to one record: a set each
        #: would double the index's memory), several as a set.
        self.source_labels: dict[tuple[str, str], int | set[int]] = {}
        #: Labels of each session's records; each session's order once asked for (label ->
        #: the labels before and after it, by :func:`~hivemem.memories.rank.moment`, then
        #: content, then id), dropped when the session changes.
        self.session_labels: dict[str, set[int]] = {}
        self._orders: dict[str, dict[int, tuple[int | None, int | None]]] = {}
        #: Keys holding record-like values that are not valid records (written through a
        #: plain entry door): left out of every search and decay pass.
        self.skipped: set[str] = set()
        #: While a scan rebuilds the index (see :meth:`start_rebuild`): vectors to add in
        #: one batch, labels whose stored vector the scan saw, labels a snapshot seeded.
        self._pending: _Rows | None = None
        self._seen_vectors: set[int] = set()
        self._seeded: set[int] = set()
        #: Records whose stored vector must be read (added or changed by an event), each
        #: with the mark of its latest wish: a read answers only the wish it was made for.
        self._wanted: dict[str, int] = {}
        self._marks = 0
        #: ``vectors.version`` when last written to or read from a snapshot (-1: never).
        self.snapshot_version = -1
        self._grow(1024)

    # ------------------------------------------------------------ columns
    def _grow(self, need: int) -> None:
        if need <= self._capacity:
            return
        cap = max(need, self._capacity * 2)
        spec: dict[str, tuple[Any, Any]] = {c: (np.int32, -1) for c in _CODED}
        spec |= {
            "created": (np.float64, 0.0),
            "moment": (np.float64, 0.0),
            "updated": (np.float64, 0.0),
            "vfrom": (np.float64, 0.0),
            "vto": (np.float64, np.inf),
            "live": (np.bool_, False),
            "archived": (np.bool_, False),
            "ref": (np.float64, 0.0),
            "accesses": (np.int64, 0),
            # the forgetting curve's terms (DecayPolicy.strengths), so ranking reads columns
            "strength": (np.float64, 1.0),
            "stable": (np.float64, 1.0),
            "curve": (np.int8, 0),
        }
        for name, (dtype, fill) in spec.items():
            col = np.full(cap, fill, dtype=dtype)
            old = self._cols.get(name)
            if old is not None:
                col[: old.shape[0]] = old
            self._cols[name] = col
        self._capacity = cap

    def _label(self, rid: str) -> int:
        label = self.labels.get(rid)
        if label is None:
            if self._free:
                label = self._free.pop()
                self.ids[label] = rid
            else:
                label = len(self.ids)
                self.ids.append(rid)
                self._grow(label + 1)
            self.labels[rid] = label
        return label

    def _code(self, column: str, value: Any) -> int:
        if value is None:
            return -1
        codes = self._codes[column]
        code = codes.get(value)
        if code is None:
            code = codes[value] = len(codes)
        return code

    # ------------------------------------------------------------ changes
    def put_record(self, rid: str, record: dict[str, Any]) -> None:
        """Index a record (new or changed)."""
        label = self._label(rid)
        old = self.records.get(label)
        if old is None or old.get("content") != record.get("content"):
            self.bm25.upsert(label, str(record.get("content", "")))  # content only (SPEC §10)
        if old is not None:
            for tag in old.get("tags") or ():
                self.tag_labels.get(tag, set()).discard(label)
            self._leave_source(label, old)
            self._leave_session(label, old)
        session = record.get("session_id")
        if session is not None:
            self.session_labels.setdefault(session, set()).add(label)
            self._orders.pop(session, None)
        for tag in record.get("tags") or ():
            self.tag_labels.setdefault(tag, set()).add(label)
        for pair in source_pairs(record):
            held = self.source_labels.setdefault(pair, label)
            if isinstance(held, set):
                held.add(label)
            elif held != label:
                self.source_labels[pair] = {held, label}
        self.records[label] = record
        cols = self._cols
        archived = is_archived(record)
        for column in _CODED:
            value = ARCHIVED if column == "tier" and archived else record.get(column)
            cols[column][label] = self._code(column, value)
        cols["created"][label] = float(record.get("created_at", 0.0))
        cols["moment"][label] = moment(record)
        cols["updated"][label] = float(record.get("updated_at", 0.0))
        cols["vfrom"][label], cols["vto"][label] = validity.span(record)
        cols["archived"][label] = archived
        cols["ref"][label] = float(record.get("decayed_at", record.get("created_at", 0.0)))
        cols["accesses"][label] = int(record.get("access_count", 0))
        cols["strength"][label], cols["stable"][label], cols["curve"][label] = curve_terms(record)
        cols["live"][label] = True

    def _leave_source(self, label: int, record: dict[str, Any]) -> None:
        for pair in source_pairs(record):
            held = self.source_labels.get(pair)
            if held == label:
                del self.source_labels[pair]
            elif isinstance(held, set):
                held.discard(label)
                if len(held) == 1:
                    self.source_labels[pair] = held.pop()

    def _leave_session(self, label: int, record: dict[str, Any]) -> None:
        session = record.get("session_id")
        if session is None:
            return
        members = self.session_labels.get(session)
        if members is not None:
            members.discard(label)
            if not members:
                del self.session_labels[session]
        self._orders.pop(session, None)

    def previous(self, label: int) -> int | None:
        """The record said just before ``label`` in its session (archived ones skipped)."""
        return self._neighbours(label)[0]

    def _neighbours(self, label: int) -> tuple[int | None, int | None]:
        """``(before, after)``: ``label``'s neighbours in its session's order."""
        record = self.records.get(label)
        session = None if record is None else record.get("session_id")
        if session is None:
            return None, None
        order = self._orders.get(session)
        if order is None:
            members = self.session_labels.get(session) or set()
            ranked = sorted(
                (lb for lb in members if not self._cols["archived"][lb]),
                key=lambda lb: (
                    self._cols["moment"][lb],
                    str(self.records[lb].get("content", "")),
                    self.ids[lb] or "",
                ),
            )
            ends: list[int | None] = [None, *ranked, None]
            order = self._orders[session] = {
                lb: (ends[i], ends[i + 2]) for i, lb in enumerate(ranked)
            }
        return order.get(label, (None, None))

    def put_vector(self, rid: str, value: Any) -> None:
        """Index a record's stored vector (ignored if of another model than the index's)."""
        decoded = decode_vector(value)
        if decoded is None or not np.all(np.isfinite(decoded[1])):
            return
        model, vec = decoded
        if self.model is None:
            from hivemem.memories.vectors import VectorIndex

            self.model = model
            self.vectors = VectorIndex(vec.shape[0], hnsw_threshold=self.hnsw_threshold)
        seeded = self._pending is not None and self.snapshot_version >= 0
        if seeded and not self._seen_vectors and model != self.model:
            self._drop_snapshot(model, vec.shape[0])  # saved for another model's vectors
            seeded = False
        if model != self.model or self.vectors is None or vec.shape[0] != self.vectors.dim:
            return
        label = self._label(rid)
        if self._pending is None:
            self.vectors.upsert([label], vec.reshape(1, -1))
            return
        if self._seeded:
            self._seen_vectors.add(label)
        if seeded and label in self._seeded:
            saved = self.vectors.get(label)
            if saved is not None and np.array_equal(saved, vec):
                return
        self._pending.add(label, vec)

    # ------------------------------------------------------------ rebuilding
    def start_rebuild(self, snapshot: VectorIndex | None = None) -> None:
        """Begin indexing a scan of every entry; :meth:`finish_rebuild` ends it.

        Meanwhile vectors are gathered and added in one batch at the end (one graph
        build rather than one insertion per vector). ``snapshot`` (a vector index that
        :func:`hivemem.memories.snapshot.save` wrote, with its labels' record ids) seeds
        the vectors and the labels: a scanned vector equal to the snapshot's row for its
        record is kept without being re-added, so a restart neither re-embeds nor rebuilds
        the graph. The snapshot is only a cache of what the store holds: whatever the scan
        does not confirm is dropped, so a stale or foreign snapshot costs time, never
        correctness.
        """
        self._pending = _Rows()
        if snapshot is None:
            return
        ids: list[str | None] = list(snapshot.extra["ids"])
        self.model = str(snapshot.extra["model"])
        self.vectors = snapshot
        self.ids = ids
        self.labels = {rid: label for label, rid in enumerate(ids) if rid is not None}
        self._free = [label for label, rid in enumerate(ids) if rid is None]
        self._seeded = set(self.labels.values())
        self.snapshot_version = snapshot.version
        self._grow(len(ids))

    def _drop_snapshot(self, model: str, dim: int) -> None:
        from hivemem.memories.vectors import VectorIndex

        self.model, self.vectors = model, VectorIndex(dim, hnsw_threshold=self.hnsw_threshold)
        self.snapshot_version = -1  # its labels stay seeded: unconfirmed ones are freed

    def finish_rebuild(self) -> None:
        """Add the gathered vectors; drop what a snapshot held that the scan did not see."""
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        if self._seeded and self.vectors is not None:
            gone = self._seeded - self._seen_vectors
            if gone:
                self.vectors.remove(np.fromiter(gone, dtype=np.int64, count=len(gone)))
            for label in gone - self.records.keys():
                rid = self.ids[label]
                if rid is not None:
                    del self.labels[rid]
                    self.ids[label] = None
                    self._free.append(label)
        self._seeded, self._seen_vectors = set(), set()
        if pending.labels and self.vectors is not None:
            self.vectors.upsert(*pending.arrays())

    def want_vector(self, rid: str) -> None:
        """Mark ``rid``'s stored vector to be read (see :meth:`vector_read`)."""
        self._marks += 1
        self._wanted[rid] = self._marks

    def wanted_vectors(self) -> dict[str, int]:
        """The records whose vector is wanted, each with its mark."""
        return dict(self._wanted)

    def vector_read(self, rid: str, mark: int, value: Any) -> None:
        """Index the vector read for ``rid``'s wish ``mark`` (``None``: it has none).

        A wish made since (the record changed again) waits for its own read: this one may
        have been made before that change committed.
        """
        if self._wanted.get(rid) != mark:
            return
        del self._wanted[rid]
        if value is not None:
            self.put_vector(rid, value)
        else:
            self._drop_vector(rid)

    def _drop_vector(self, rid: str) -> None:
        label = self.labels.get(rid)
        if label is not None and self.vectors is not None:
            self.vectors.remove([label])

    def remove(self, key: str) -> None:
        """Forget a deleted or expired record or vector."""
        if key.startswith(VECTOR_PREFIX):
            self._drop_vector(key[len(VECTOR_PREFIX) :])
            return
        self.skipped.discard(key)
        self._wanted.pop(key, None)
        label = self.labels.get(key)
        if label is None:
            return
        record = self.records.pop(label, None)
        self.bm25.remove(label)
        for tag in (record or {}).get("tags") or ():
            self.tag_labels.get(tag, set()).discard(label)
        if record is not None:
            self._leave_source(label, record)
            self._leave_session(label, record)
        self._cols["live"][label] = False
        if self.vectors is not None:
            self.vectors.remove([label])
        del self.labels[key]
        self.ids[label] = None
        self._free.append(label)

    def apply_entry(self, key: str, value: Any) -> None:
        """Index one stored entry of the namespace (records and vectors; others ignored).

        A record-like value that is not a valid record (a plain write over a record, say)
        takes the key out of the index and is counted in :attr:`skipped`, logged once.
        """
        if key.startswith(VECTOR_PREFIX):
            self.put_vector(key[len(VECTOR_PREFIX) :], value)
        elif key.startswith(("_", INTERNAL)):
            return  # (other internal records; ``_``: an earlier version's, see layout)
        elif is_record(key, value):
            self.skipped.discard(key)
            label = self.labels.get(key)
            old = None if label is None else self.records.get(label)
            self.put_record(key, value)
            if self._pending is None and (old is None or old.get("content") != value["content"]):
                self.want_vector(key)  # (a scan reads the vectors itself)
        else:
            self.remove(key)
            if isinstance(value, dict) and "content" in value:
                if not self.skipped:
                    log.warning(
                        "hivemem: namespace %r holds malformed memory records (first: %r); "
                        "searches and decay skip them",
                        self.ns,
                        key,
                    )
                self.skipped.add(key)

    def apply_events(self, events: Iterable[Event]) -> bool:
        """Apply change events after the index's revision; ``False`` if a reset is needed."""
        for ev in events:
            if ev.revision <= self.revision:
                continue
            if ev.type == "memory:write" and ev.key is not None:
                self.apply_entry(ev.key, ev.value)
            elif ev.type in ("memory:delete", "memory:expired") and ev.key is not None:
                self.remove(ev.key)
            elif ev.type in ("namespace:cleared", "namespace:deleted"):
                return False
            self.revision = ev.revision
        return True

    # ------------------------------------------------------------ queries
    def mask(self, filters: dict[str, Any]) -> np.ndarray:
        """Labels passing ``filters`` (checked by :func:`check_filters`), as a bool mask."""
        n = len(self.ids)
        cols = self._cols
        keep = cols["live"][:n].copy()
        if not any(filters.get(flag) for flag in _FLAGS) and ARCHIVED not in (
            filters.get("tier") or ()
        ):
            keep &= ~cols["archived"][:n]
        for column in _CODED:
            wanted = filters.get(column)
            if wanted is None:
                continue
            codes = [self._codes[column][w] for w in wanted if w in self._codes[column]]
            keep &= _among(cols[column][:n], codes, len(self._codes[column]))
        for name, column, op in (
            ("created_after", "created", np.greater_equal),
            ("created_before", "created", np.less),
            ("updated_after", "updated", np.greater_equal),
            ("updated_before", "updated", np.less),
            ("occurred_after", "moment", np.greater_equal),  # moment: occurred_at
            ("occurred_before", "moment", np.less),
        ):
            if name in filters:
                keep &= op(cols[column][:n], filters[name])
        at = filters.get("as_of")
        if at is not None and not filters.get("include_superseded"):
            keep &= (cols["vfrom"][:n] <= at) & (at < cols["vto"][:n])  # held at that time
        for tag in filters.get("tags") or ():
            keep &= self._members(self.tag_labels.get(tag), n)
        for pair in (filters.get("source") or {}).items():
            keep &= self._members(self.source_labels.get(pair), n)
        meta = filters.get("metadata")
        if meta:
            for label in np.flatnonzero(keep):
                md = self.records[int(label)].get("metadata") or {}
                if any(md.get(k, _ABSENT) != v for k, v in meta.items()):
                    keep[label] = False
        return keep

    @staticmethod
    def _members(labels: int | set[int] | None, n: int) -> np.ndarray:
        """``labels`` (one or a set) as a bool mask of ``n`` rows."""
        mask = np.zeros(n, dtype=np.bool_)
        if isinstance(labels, int):
            mask[labels] = True
        elif labels:
            mask[np.fromiter(labels, dtype=np.int64, count=len(labels))] = True
        return mask

    def _slot_mask(self, slot: str) -> np.ndarray | None:
        code = self._codes["slot"].get(slot)
        if code is None:
            return None
        n = len(self.ids)
        mask: np.ndarray = self._cols["live"][:n] & (self._cols["slot"][:n] == code)
        return mask

    def slot_history(self, slot: str, limit: int) -> list[int]:
        """Labels of a slot's records, newest ``valid_from`` first (then id), at most ``limit``."""
        mask = self._slot_mask(slot)
        if mask is None:
            return []
        labels = np.flatnonzero(mask)
        ids = np.array([self.ids[label] or "" for label in labels.tolist()])
        order = np.lexsort((ids, -self._cols["vfrom"][labels]))[:limit]
        return [int(label) for label in labels[order]]

    def slot_at(self, slot: str, at: float) -> int | None:
        """The label of the slot's record that held at ``at`` (the latest to start), if any."""
        mask = self._slot_mask(slot)
        if mask is None:
            return None
        n = mask.shape[0]
        mask &= (self._cols["vfrom"][:n] <= at) & (at < self._cols["vto"][:n])
        labels = np.flatnonzero(mask)
        if not labels.shape[0]:
            return None
        return int(labels[int(np.argmax(self._cols["vfrom"][labels]))])

    def due(self, now: float, policy: DecayPolicy) -> tuple[int, list[int]]:
        """What a decay pass at ``now`` finds: ``(decayed, labels to promote)``.

        ``decayed`` counts the records (not archived) whose strength is below what it was
        at their reference time; the labels are those whose accesses reach their tier's
        ``promote_after``. Column arithmetic: a pass with nothing to do costs no loop.
        """
        n = len(self.ids)
        cols = self._cols
        active = cols["live"][:n] & ~cols["archived"][:n]
        decayed = int(np.count_nonzero(active & (cols["ref"][:n] < now)))
        promote = np.zeros(n, dtype=np.bool_)
        for tier, needed in policy.promote_after.items():
            code = self._codes["tier"].get(tier)
            if code is not None:
                promote |= (cols["tier"][:n] == code) & (cols["accesses"][:n] >= needed)
        promote &= active
        return decayed, [int(label) for label in np.flatnonzero(promote)]

    def active(self) -> list[int]:
        """Labels of the records that are not archived."""
        n = len(self.ids)
        keep = self._cols["live"][:n] & ~self._cols["archived"][:n]
        return [int(label) for label in np.flatnonzero(keep)]

    #: The time columns a timeline sorts by, by record field.
    TIME_COLUMNS: ClassVar[dict[str, str]] = {
        "created_at": "created",
        "updated_at": "updated",
        "occurred_at": "moment",
        "valid_from": "vfrom",
    }

    def timeline(
        self, filters: dict[str, Any], field: str, limit: int, after: tuple[float, str] | None
    ) -> tuple[list[int], tuple[float, str] | None]:
        """Labels passing ``filters``, newest ``field`` first (ties: by id), at most ``limit``.

        ``after`` is the ``(time, id)`` of the last record of the previous page; the answer's
        second item is the one of this page's last record when more follow.
        """
        labels = np.flatnonzero(self.mask(filters))
        times = self._cols[self.TIME_COLUMNS[field]][labels]
        ids = np.array([self.ids[label] or "" for label in labels.tolist()])
        if after is not None and labels.shape[0]:
            later = (times < after[0]) | ((times == after[0]) & (ids > after[1]))
            labels, times, ids = labels[later], times[later], ids[later]
        order = np.lexsort((ids, -times))[: limit + 1]
        page = [int(label) for label in labels[order[:limit]]]
        if order.shape[0] <= limit:
            return page, None
        last = order[limit - 1]
        return page, (float(times[last]), str(ids[last]))

    def keyword(
        self, query: str, k: int, filters: dict[str, Any], expand: int = 0
    ) -> list[tuple[int, float, dict[str, float]]]:
        """The ``k`` best BM25 matches passing ``filters`` (ties: newest, content, id).

        ``parts`` is ``{"keyword": score}``; ``expand``: see :meth:`expand`.
        """
        keep = self.mask(filters)
        acc, matched = self.bm25.dense(query, keep)
        hits = [(label, score, {"keyword": score}) for label, score in self.top(acc, matched, k)]
        return self.expand(hits, expand, keep)

    def top(self, scores: np.ndarray, labels: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` of ``labels`` with the highest ``scores[label]``, best first.

        Ties: by :func:`~hivemem.memories.rank.moment` (newest first), then content, then
        id; never by label, which depends on the order a process indexed the records in.
        """
        if k <= 0 or not labels.shape[0]:
            return []
        values = scores[labels]
        if labels.shape[0] > k:
            cut = np.partition(values, labels.shape[0] - k)[labels.shape[0] - k]
            kept = values >= cut  # every tie at the cut stays in the running
            labels, values = labels[kept], values[kept]
        order = np.lexsort((*self._names(labels), -self._cols["moment"][labels], -values))[:k]
        return list(zip(labels[order].tolist(), values[order].tolist(), strict=True))

    def _names(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, contents)`` of ``labels``: the last keys of a deterministic order."""
        listed = labels.tolist()
        ids = np.array([self.ids[label] or "" for label in listed])
        contents = np.array([str(self.records[label].get("content", "")) for label in listed])
        return ids, contents

    def hybrid(
        self,
        query: str,
        qvec: np.ndarray | None,
        k: int,
        filters: dict[str, Any],
        weights: dict[str, float],
        now: float,
        policy: DecayPolicy,
        pool: int = 50,
        boosts: Boosts | None = None,
        expand: int = 0,
    ) -> list[tuple[int, float, dict[str, float]]]:
        """Hybrid ranking: weighted vector + keyword + previous + strength + recency, best first.

        Candidates are the best ``max(pool, 4k)`` by vector similarity and by BM25 (both
        within the filters; BM25 is skipped when the keyword and previous weights are 0 and
        vectors answer), and, with a previous weight, the record said after each of them in
        its session. The parts are the signals of :mod:`hivemem.memories.rank` times their
        weights; the strength part is the record's current strength, the recency part
        ``2 ** (-age / 30 days)`` with age since the last update. With ``boosts``, a
        ``boost`` part: its weight times the share of its clauses the record matches (it
        reorders the candidates, it adds none). Ties: newest, then content, then id.
        ``expand``: see :meth:`expand`.
        """
        keep = self.mask(filters)
        depth = max(pool, 4 * k)
        vectors = self.vectors if qvec is not None else None
        candidates: set[int] = set()
        if vectors is not None and qvec is not None and len(vectors):
            candidates.update(vectors.search(qvec, depth, keep)[0].tolist())
        wv, wk = weights.get("vector", 0.0), weights.get("keyword", 0.0)
        wc = weights.get("previous", 0.0)
        ws, wr = weights.get("strength", 0.0), weights.get("recency", 0.0)
        kw = KeywordScale(np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.int64), 0)
        if wk > 0 or wc > 0 or not candidates:  # otherwise BM25 adds no candidate worth it
            acc, matched = self.bm25.dense(query, keep)
            kw = KeywordScale(acc, matched, int(np.count_nonzero(keep)))
            candidates.update(label for label, _ in self.top(acc, matched, depth))
        if wc > 0:
            candidates.update(self._followers(candidates, keep))
        labels = np.fromiter(
            (lb for lb in candidates if lb in self.records), dtype=np.int64, count=-1
        )
        if not labels.shape[0]:
            return []
        # Every signal as one array over the candidates (a few hundred): no Python loop per
        # candidate but the session lookups.
        n = labels.shape[0]
        before = np.full(n, -1, dtype=np.int64)
        if wc > 0:
            for i, label in enumerate(labels.tolist()):
                prior = self.previous(label)
                if prior is not None:
                    before[i] = prior
        sims = np.zeros(2 * n, dtype=np.float64)
        if vectors is not None:
            assert qvec is not None
            sims = np.maximum(0.0, vectors.similarities(np.concatenate((labels, before)), qvec))
        said_before = np.where(before >= 0, sims[n:] + PREVIOUS_KEYWORD * kw.signals(before), 0.0)
        cols = self._cols
        vector = wv * sims[:n]
        keyword = wk * kw.signals(labels)
        previous = wc * said_before
        strength = ws * policy.strengths(
            cols["strength"][labels],
            cols["ref"][labels],
            cols["stable"][labels],
            cols["curve"][labels],
            now,
        )
        recency = wr * np.exp2(-np.maximum(0.0, now - cols["updated"][labels]) / _RECENCY_HALF_LIFE)
        scores = vector + keyword + previous + strength + recency  # as sum(parts.values())
        boost = np.zeros(n, dtype=np.float64)
        if boosts is not None:  # (matched against each candidate's record: a few hundred)
            records = self.records
            boost = boosts.weight * np.array([boosts.signal(records[lb]) for lb in labels.tolist()])
            scores = scores + boost
        if n > k:  # only the best k and whatever ties with the k-th need the full order
            cut = np.partition(scores, n - k)[n - k]
            best = scores >= cut
            labels, scores = labels[best], scores[best]
            vector, keyword, previous = vector[best], keyword[best], previous[best]
            strength, recency, boost = strength[best], recency[best], boost[best]
        order = np.lexsort((*self._names(labels), -self._cols["moment"][labels], -scores))
        hits = [
            (
                int(labels[i]),
                float(scores[i]),
                {
                    "vector": float(vector[i]),
                    "keyword": float(keyword[i]),
                    "previous": float(previous[i]),
                    "strength": float(strength[i]),
                    "recency": float(recency[i]),
                    **({} if boosts is None else {"boost": float(boost[i])}),
                },
            )
            for i in order[:k].tolist()
        ]
        return self.expand(hits, expand, keep)

    def expand(
        self, hits: list[tuple[int, float, dict[str, float]]], n: int, keep: np.ndarray
    ) -> list[tuple[int, float, dict[str, float]]]:
        """``hits``, each followed by up to ``n`` of its session neighbours (SPEC §10).

        A hit's neighbours are the ``n`` records nearest it in its session's order (see
        :meth:`nearby`); those ``keep`` (the search's filters) excludes and those already
        in the results are left out. A neighbour carries its hit's score as its only part,
        ``{"context": score}``, so the list stays best first and a threshold on the score
        keeps a hit and its context together. At most ``len(hits) * (n + 1)`` results.
        """
        if n <= 0 or not hits:
            return hits
        shown = {label for label, _, _ in hits}
        out: list[tuple[int, float, dict[str, float]]] = []
        for label, score, parts in hits:
            out.append((label, score, parts))
            for near in self.nearby(label, n):
                if near not in shown and keep[near]:
                    shown.add(near)
                    out.append((near, score, {"context": score}))
        return out

    def nearby(self, label: int, n: int) -> list[int]:
        """The ``n`` records nearest ``label`` in its session, nearest first.

        The record said next comes first, then the one said before, then the second next,
        and so on: what answers a matching question usually follows it. Where the session
        ends on one side, the other side goes on. Records without a session have none.
        """
        found: list[int] = []
        before: int | None = label
        after: int | None = label
        while len(found) < n and (before is not None or after is not None):
            if after is not None:
                after = self._neighbours(after)[1]
                if after is not None:
                    found.append(after)
            if before is not None and len(found) < n:
                before = self._neighbours(before)[0]
                if before is not None:
                    found.append(before)
        return found

    def _followers(self, labels: set[int], keep: np.ndarray) -> set[int]:
        """The records said right after ``labels`` in their sessions, passing ``keep``."""
        found: set[int] = set()
        for label in labels:
            after = self._neighbours(label)[1]
            if after is not None and after < keep.shape[0] and keep[after]:
                found.add(after)
        return found

    def stats(self) -> dict[str, Any]:
        """Sizes of the index's parts."""
        return {
            "records": len(self.records),
            "vectors": len(self.vectors) if self.vectors is not None else 0,
            "model": self.model,
            "terms": len(self.bm25.postings),
            "revision": self.revision,
        }


_ABSENT = object()


class _Rows:
    """Vectors gathered for one batch: labels and a float32 matrix grown by doubling."""

    def __init__(self) -> None:
        self.labels: list[int] = []
        self._matrix: np.ndarray | None = None

    def add(self, label: int, vec: np.ndarray) -> None:
        n = len(self.labels)
        if self._matrix is None or n == self._matrix.shape[0]:
            grown = np.empty((max(1024, 2 * n), vec.shape[0]), dtype=np.float32)
            if self._matrix is not None:
                grown[:n] = self._matrix
            self._matrix = grown
        self._matrix[n] = vec
        self.labels.append(label)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, vectors)`` gathered so far."""
        assert self._matrix is not None
        return np.asarray(self.labels, dtype=np.int64), self._matrix[: len(self.labels)]


def _among(col: np.ndarray, codes: list[int], known: int) -> np.ndarray:
    """``col`` (codes, -1 for none) is one of ``codes``: a few compares or a lookup table.

    (``np.isin`` takes 8 ms over a million rows here; one compare takes 0.15 ms.)
    """
    if len(codes) <= 8:
        out = np.zeros(col.shape[0], dtype=np.bool_)
        for code in codes:
            out |= col == code
        return out
    table = np.zeros(known + 1, dtype=np.bool_)  # the last slot answers -1: never chosen
    table[codes] = True
    hit: np.ndarray = table[col]
    return hit
