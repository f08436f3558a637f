"""The in-process vector index of one namespace's memories: cosine search by int label.

Vectors are L2-normalised float32, so cosine similarity is the inner product. Every
vector lives in a growable float32 matrix indexed by label (capacity doubling) with a
live mask beside it: exact search is one matrix-vector product (numpy releases the GIL
for it), masked with ``-inf`` and cut with ``argpartition``.

Once the live count reaches ``hnsw_threshold`` an hnswlib graph (space ``"ip"``) is kept
as well: built in one multi-threaded ``add_items`` call when the threshold is crossed,
then maintained incrementally (re-adding a label updates it in place, also after
``mark_deleted``; removals are ``mark_deleted``). It is dropped again when the live count
falls below half the threshold.

Filtered search with the graph (``allowed`` selecting ``s`` of ``n`` live vectors):

* the graph would be asked for ``k' = ceil(2 k n / s) + 10`` neighbours (its search
  breadth is then ``max(ef_search, k')``);
* if gathering the ``s`` allowed rows is cheaper than that (``s`` at most
  ``max(4k, gather_max, gather_per_fetch * k')``; a gathered row costs about an eighth of
  a graph candidate), or ``k'`` exceeds ``n / 4``, the allowed rows are scored exactly;
* otherwise the graph's ``k'`` neighbours are filtered by the mask, and if fewer than
  ``k`` survive (a filter that excludes the query's neighbourhood) the search falls
  back to a graph walk that only collects allowed vectors (hnswlib's filter callback)
  when ``s`` is at least ``walk_min``, else, or if the walk finds fewer than ``k``, to
  exact masked scoring.

Thread safety: mutations are serialised by an ``RLock``; a readers-writer lock lets any
number of searches run together (hnswlib's ``knn_query`` is safe with other queries but
not with ``add_items``) while a mutation waits for them and excludes new ones. The graph
built when the threshold is crossed is built aside and published at the end, so
searches go on (exactly) meanwhile.

Persistence (:meth:`VectorIndex.save`) is one file written to a temporary name and
renamed: a JSON header, the vectors and live mask, and the hnswlib graph's own pickle
state arrays; :meth:`VectorIndex.load` maps the file and restores the graph from those
arrays without rebuilding it.
"""

from __future__ import annotations

import json
import math
import os
import struct
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: the server runs without the semantic extra
    from hivemem.memories._numpy import np

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

__all__ = ["VectorIndex"]

_MAGIC = b"HMVECIDX"
_FORMAT = 1
_ALIGN = 64
_INITIAL_CAPACITY = 64
#: Batches at least this long are added to the graph with all cores.
_PARALLEL_BATCH = 256


class _RWLock:
    """Many readers or one writer; a waiting writer holds back new readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold the lock shared."""
        with self._cond:
            while self._writer or self._waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock exclusively."""
        with self._cond:
            self._waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)


def _top(scores: np.ndarray, labels: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` finite scores, best first (ties by label); ``labels`` None = positions."""
    m = scores.shape[0]
    pick = np.argpartition(scores, m - k)[m - k :] if k < m else np.arange(m)
    best = scores[pick]
    finite = best > -np.inf
    if not finite.all():
        pick, best = pick[finite], best[finite]
    labs = pick.astype(np.int64) if labels is None else labels[pick].astype(np.int64)
    order = np.lexsort((labs, -best))
    return labs[order], best[order].astype(np.float32, copy=False)


class VectorIndex:
    """Cosine-similarity search over L2-normalised float32 vectors keyed by int labels.

    Args:
        dim: Dimension of the vectors.
        hnsw_threshold: Live count from which an HNSW graph serves approximate search
            (below it exact search costs at most a few ms).
        m: HNSW ``M`` (links per node).
        ef_construction: HNSW build breadth.
        ef_search: HNSW search breadth (at least; filtered searches widen it).

    The defaults come from ``benchmarks/memories_vectors.py`` (clustered 384-d data): with
    ``ef_construction=100`` recall@10 stalls near 0.93 at a million vectors whatever the
    search breadth (0.89 at ``ef_search=128``); 200 gives 0.974 at 128 and 0.994 at 256
    for about 0.5 ms a search, for a build about 1.5 times as long. ``M=32`` did not do
    better at equal time.
    """

    #: Filtered searches selecting at most this many vectors score them exactly (gather).
    gather_max = 2_048
    #: ... and so do those selecting at most this many times the graph candidates needed.
    gather_per_fetch = 8
    #: When the over-fetched neighbours hold fewer than ``k`` allowed vectors, a filter of
    #: at least this many vectors is searched by a filtered graph walk; smaller ones exactly.
    walk_min = 50_000

    def __init__(
        self,
        dim: int,
        *,
        hnsw_threshold: int = 20_000,
        m: int = 16,
        ef_construction: int = 200,
        ef_search: int = 512,
    ) -> None:
        if dim <= 0:
            raise ValueError("dim must be positive")
        self.dim = int(dim)
        self.hnsw_threshold = int(hnsw_threshold)
        self.m = int(m)
        self.ef_construction = int(ef_construction)
        self._lock = threading.RLock()
        self._rw = _RWLock()
        self._ef_search = int(ef_search)
        self._matrix = np.zeros((_INITIAL_CAPACITY, self.dim), dtype=np.float32)
        self._live = np.zeros(_INITIAL_CAPACITY, dtype=np.bool_)
        self._n = 0  # label space in use: highest label ever stored + 1
        self._count = 0
        self._hnsw: Any = None
        #: Counts changes (upserts, removals): a snapshot is current while it is unchanged.
        self.version = 0
        #: What :meth:`save` was given as ``extra`` and :meth:`load` read back.
        self.extra: dict[str, Any] = {}

    def __len__(self) -> int:
        return self._count

    @property
    def ef_search(self) -> int:
        """HNSW search breadth (at least); setting it applies to the current graph too."""
        return self._ef_search

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        with self._lock, self._rw.write():
            self._ef_search = int(value)
            if self._hnsw is not None:
                self._hnsw.set_ef(self._ef_search)

    # ------------------------------------------------------------------ changes
    def upsert(self, labels: np.ndarray | Sequence[int], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` under ``labels[i]``, replacing a label's previous vector.

        Vectors are ``(n, dim)`` and already L2-normalised; a label repeated in the
        batch keeps its last vector.
        """
        labs = np.asarray(labels, dtype=np.int64).reshape(-1)
        vecs = np.asarray(vectors, dtype=np.float32)
        if vecs.ndim == 1 and labs.shape[0] == 1:
            vecs = vecs.reshape(1, -1)
        if vecs.ndim != 2 or vecs.shape != (labs.shape[0], self.dim):
            raise ValueError(f"expected vectors of shape ({labs.shape[0]}, {self.dim})")
        if not labs.shape[0]:
            return
        if int(labs.min()) < 0:
            raise ValueError("labels must be non-negative")
        if labs.shape[0] > 1:
            uniq, first = np.unique(labs[::-1], return_index=True)
            if uniq.shape[0] != labs.shape[0]:  # keep each label's last occurrence
                keep = labs.shape[0] - 1 - first
                labs, vecs = labs[keep], vecs[keep]
        vecs = np.ascontiguousarray(vecs)
        with self._lock:
            top = int(labs.max()) + 1
            matrix, live = self._matrix, self._live
            if top > matrix.shape[0]:  # grow aside; searches keep the old arrays meanwhile
                cap = max(top, 2 * matrix.shape[0])
                matrix = np.zeros((cap, self.dim), dtype=np.float32)
                matrix[: self._n] = self._matrix[: self._n]
                live = np.zeros(cap, dtype=np.bool_)
                live[: self._n] = self._live[: self._n]
            with self._rw.write():
                added = int(np.count_nonzero(~live[labs])) if labs.shape[0] else 0
                matrix[labs] = vecs
                live[labs] = True
                self._matrix, self._live = matrix, live
                self._n = max(self._n, top)
                self._count += added
                self.version += 1
                if self._hnsw is not None:
                    self._hnsw_add(self._hnsw, labs, vecs)
            if self._hnsw is None and self._count >= self.hnsw_threshold:
                index = self._build()
                with self._rw.write():
                    self._hnsw = index

    def remove(self, labels: Iterable[int]) -> None:
        """Forget the vectors of ``labels`` (labels not stored are ignored)."""
        with self._lock:
            raw = labels if isinstance(labels, np.ndarray) else list(labels)
            labs = np.asarray(raw, dtype=np.int64).reshape(-1)
            labs = labs[(labs >= 0) & (labs < self._n)]
            if not labs.shape[0]:
                return
            labs = np.unique(labs)
            labs = labs[self._live[labs]]
            if not labs.shape[0]:
                return
            with self._rw.write():
                self._live[labs] = False
                self._matrix[labs] = 0.0
                self._count -= int(labs.shape[0])
                self.version += 1
                if self._hnsw is not None:
                    if self._count < self.hnsw_threshold // 2:
                        self._hnsw = None
                    else:
                        for label in labs.tolist():
                            self._hnsw.mark_deleted(label)

    def get(self, label: int) -> np.ndarray | None:
        """A copy of the vector of ``label``, or ``None`` if it has none."""
        with self._rw.read():
            if 0 <= label < self._n and self._live[label]:
                row: np.ndarray = self._matrix[label].copy()
                return row
        return None

    def similarities(self, labels: np.ndarray, query: np.ndarray) -> np.ndarray:
        """The inner product of ``query`` with each of ``labels``' vectors, in one pass.

        Labels without a vector (negative, unknown, removed) get 0.
        """
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        out = np.zeros(labels.shape[0], dtype=np.float64)
        with self._rw.read():
            ok = (labels >= 0) & (labels < self._n)
            ok[ok] = self._live[labels[ok]]
            if ok.any():
                out[ok] = self._matrix[labels[ok]] @ q
        return out

    # ------------------------------------------------------------------ hnsw
    def _new_hnsw(self, capacity: int) -> Any:
        index = _hnswlib().Index(space="ip", dim=self.dim)
        index.init_index(max_elements=capacity, ef_construction=self.ef_construction, M=self.m)
        index.set_ef(self.ef_search)
        return index

    def _hnsw_add(self, index: Any, labs: np.ndarray, vecs: np.ndarray) -> None:
        """Add or update ``labs`` in ``index`` (caller holds the write lock or owns it)."""
        need = int(index.element_count) + int(labs.shape[0])
        if need > int(index.max_elements):
            index.resize_index(max(need, 2 * int(index.max_elements)))
        threads = -1 if labs.shape[0] >= _PARALLEL_BATCH else 1
        index.add_items(vecs, labs.astype(np.uint64), num_threads=threads)

    def _build(self) -> Any:
        """A graph of every live vector, built while searches go on (caller holds the lock)."""
        n = self._n
        index = self._new_hnsw(max(self._matrix.shape[0], self._count))
        if self._count == n:
            labs = np.arange(n, dtype=np.int64)
            vecs = self._matrix[:n]
        else:
            labs = np.flatnonzero(self._live[:n]).astype(np.int64)
            vecs = self._matrix[labs]
        index.add_items(vecs, labs.astype(np.uint64), num_threads=-1)
        return index

    # ------------------------------------------------------------------ search
    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        exact: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` live labels most similar to ``query``, best first.

        Args:
            query: ``(dim,)`` L2-normalised vector.
            k: Number of results wanted (fewer if fewer vectors qualify).
            allowed: ``None`` or a bool mask indexed by label; labels past its end are
                not allowed.
            exact: Score by brute force even when an HNSW graph exists.

        Returns:
            ``(labels int64, cosine scores float32)``.
        """
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ValueError(f"expected a query of dimension {self.dim}")
        if k <= 0:
            return _empty()
        with self._rw.read():
            n, count = self._n, self._count
            if not count:
                return _empty()
            live = self._live[:n]
            mask: np.ndarray | None = None
            s = count
            if allowed is not None:
                allow = np.asarray(allowed, dtype=np.bool_).reshape(-1)
                mask = np.zeros(n, dtype=np.bool_)
                m = min(n, allow.shape[0])
                np.logical_and(live[:m], allow[:m], out=mask[:m])
                s = int(np.count_nonzero(mask))
                if not s:
                    return _empty()
                if s == count:
                    mask = None
            index = self._hnsw
            if index is None or exact or count <= k:
                return self._exact(q, k, mask, s)
            if mask is None:
                return self._graph(index, q, k, None, 2 * k, s)
            want = math.ceil(2 * k * count / s) + 10
            if 4 * want > count or s <= max(4 * k, self.gather_max, self.gather_per_fetch * want):
                return self._exact(q, k, mask, s)
            return self._graph(index, q, k, mask, want, s)

    def _exact(
        self, q: np.ndarray, k: int, mask: np.ndarray | None, s: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over the live vectors, or those of ``mask`` (``s`` of them)."""
        n, count = self._n, self._count
        if mask is None:
            scores = self._matrix[:n] @ q
            if count < n:
                scores[~self._live[:n]] = -np.inf
            return _top(scores, None, k)
        if 3 * s < n:  # gather the few allowed rows
            labs = np.flatnonzero(mask)
            return _top(self._matrix[labs] @ q, labs, k)
        scores = self._matrix[:n] @ q
        scores[~mask] = -np.inf
        return _top(scores, None, k)

    def _graph(
        self, index: Any, q: np.ndarray, k: int, mask: np.ndarray | None, want: int, s: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """HNSW search for ``want`` neighbours (breadth ``max(ef_search, want)``).

        With ``mask`` the neighbours are post-filtered; exact if fewer than ``k`` survive.
        """
        want = min(want, self._count)
        try:
            found, _ = index.knn_query(q, k=want, num_threads=1)
        except RuntimeError:  # fewer than ``want`` reachable (many deletions)
            return self._exact(q, k, mask, s)
        labs = found[0].astype(np.int64)
        if mask is not None:
            labs = labs[mask[labs]]
            if labs.shape[0] < k:
                walked = self._walk(index, q, k, mask) if s >= self.walk_min else None
                return self._exact(q, k, mask, s) if walked is None else walked
        # Rescore the few found from the matrix: the same scores as the exact path gives.
        return _top(self._matrix[labs] @ q, labs, k)

    def _walk(
        self, index: Any, q: np.ndarray, k: int, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """A graph search that only collects allowed vectors (``None`` if it finds too few).

        For a filter that excludes the query's neighbourhood (a topic's records, an
        agent's): the walk goes past the excluded region instead of gathering every
        allowed row, which costs about 0.5 us a row here (48 ms for 100,000 of 1,000,000).
        """
        try:
            found, _ = index.knn_query(q, k=k, num_threads=1, filter=mask.__getitem__)
        except RuntimeError:  # fewer than ``k`` allowed vectors reachable
            return None
        labs = found[0].astype(np.int64)
        if labs.shape[0] < k:
            return None
        return _top(self._matrix[labs] @ q, labs, k)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> None:
        """Write vectors, live mask and HNSW graph to ``path`` atomically (tmp + rename).

        ``extra`` (JSON) is stored in the header; :meth:`load` gives it back as ``extra``.
        """
        target = Path(path)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with self._lock:  # no mutation meanwhile; searches go on
            n = self._n
            arrays: list[tuple[str, np.ndarray]] = [
                ("vectors", self._matrix[:n]),
                ("live", self._live[:n]),
            ]
            hnsw_params: dict[str, Any] | None = None
            if self._hnsw is not None:
                (state,) = self._hnsw.__getstate__()
                hnsw_params = {}
                for key, value in state.items():
                    if isinstance(value, np.ndarray):
                        arrays.append((f"hnsw.{key}", value))
                    else:
                        hnsw_params[key] = value
            header: dict[str, Any] = {
                "format": _FORMAT,
                "dim": self.dim,
                "n": n,
                "count": self._count,
                "hnsw_threshold": self.hnsw_threshold,
                "m": self.m,
                "ef_construction": self.ef_construction,
                "ef_search": self.ef_search,
                "hnsw": hnsw_params,
                "extra": extra or {},
                "arrays": [],
            }
            try:
                with tmp.open("wb") as f:
                    _write_file(f, header, arrays)
                    f.flush()
                    os.fsync(f.fileno())
                tmp.replace(target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        try:
            fd = os.open(target.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> VectorIndex:
        """An index as :meth:`save` wrote it; the HNSW graph is restored, not rebuilt."""
        path = Path(path)
        with path.open("rb") as f:
            head = f.read(len(_MAGIC) + 8)
            if head[: len(_MAGIC)] != _MAGIC:
                raise ValueError(f"{path} is not a vector index file")
            (size,) = struct.unpack("<Q", head[len(_MAGIC) :])
            header = json.loads(f.read(size))
        if header.get("format") != _FORMAT:
            raise ValueError(f"{path}: unsupported vector index format {header.get('format')}")
        out = cls(
            header["dim"],
            hnsw_threshold=header["hnsw_threshold"],
            m=header["m"],
            ef_construction=header["ef_construction"],
            ef_search=header["ef_search"],
        )
        out.extra = dict(header.get("extra") or {})
        n, dim = int(header["n"]), out.dim
        specs = {a["name"]: a for a in header["arrays"]}
        mapped = np.memmap(path, dtype=np.uint8, mode="r")
        cap = max(n, _INITIAL_CAPACITY)
        out._matrix = np.zeros((cap, dim), dtype=np.float32)
        out._matrix[:n] = _mapped_array(mapped, specs["vectors"])
        out._live = np.zeros(cap, dtype=np.bool_)
        out._live[:n] = _mapped_array(mapped, specs["live"])
        out._n = n
        out._count = int(np.count_nonzero(out._live[:n]))
        if header["hnsw"] is not None:
            hnswlib = _hnswlib()
            state = dict(header["hnsw"])
            for name, spec in specs.items():
                if name.startswith("hnsw."):
                    state[name[len("hnsw.") :]] = _mapped_array(mapped, spec)
            index = hnswlib.Index.__new__(hnswlib.Index)
            index.__setstate__((state,))  # copies the arrays in: the graph, not rebuilt
            index.set_ef(out.ef_search)
            out._hnsw = index
        return out

    # ------------------------------------------------------------------ stats
    def stats(self) -> dict[str, Any]:
        """Count, dimension, kind (``"exact"`` or ``"hnsw"``) and approximate bytes held."""
        with self._rw.read():
            index = self._hnsw
            nbytes = int(self._matrix.nbytes + self._live.nbytes)
            out: dict[str, Any] = {
                "count": self._count,
                "dim": self.dim,
                "kind": "exact" if index is None else "hnsw",
                "capacity": int(self._matrix.shape[0]),
                "labels": self._n,
            }
            if index is not None:
                graph = int(index.index_file_size())
                nbytes += graph
                out["hnsw_bytes"] = graph
                out["hnsw_elements"] = int(index.element_count)
                out["ef_search"] = self.ef_search
            out["bytes"] = nbytes
        return out


def _write_file(f: BinaryIO, header: dict[str, Any], arrays: list[tuple[str, np.ndarray]]) -> None:
    """Header (magic, length, JSON with each array's offset) then each array, aligned."""
    specs = header["arrays"]
    for name, arr in arrays:
        specs.append({"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape), "offset": 0})
    # The offsets depend on the header's own length: reserve digits, then fill them in.
    for spec in specs:
        spec["offset"] = 10**15
    base = len(_MAGIC) + 8 + len(json.dumps(header).encode())
    offset = _aligned(base)
    for spec, (_, arr) in zip(specs, arrays, strict=True):
        spec["offset"] = offset
        offset = _aligned(offset + arr.nbytes)
    blob = json.dumps(header).encode()
    blob += b" " * (base - len(_MAGIC) - 8 - len(blob))
    f.write(_MAGIC + struct.pack("<Q", len(blob)) + blob)
    pos = len(_MAGIC) + 8 + len(blob)
    for spec, (_, arr) in zip(specs, arrays, strict=True):
        f.write(b"\0" * (spec["offset"] - pos))
        data = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
        f.write(data.data)
        pos = spec["offset"] + data.nbytes


def _hnswlib() -> Any:
    """hnswlib, imported on first use (only indexes past the threshold need it)."""
    import hnswlib  # type: ignore[import-untyped]

    return hnswlib


def _mapped_array(mapped: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """The array ``spec`` describes, a view into the mapped file."""
    dtype = np.dtype(spec["dtype"])
    size = math.prod(spec["shape"]) * dtype.itemsize
    raw = mapped[spec["offset"] : spec["offset"] + size]
    out: np.ndarray = raw.view(dtype).reshape(spec["shape"])
    return out


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN
