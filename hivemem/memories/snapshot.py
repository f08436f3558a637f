"""Snapshots of namespace vector indexes, so a restart neither re-embeds nor rebuilds graphs.

The vectors live in the store (internal records, :mod:`hivemem.memories.layout`); what a
restart would otherwise redo is the HNSW graph over them, minutes at a million vectors.
When a store has a snapshot directory (``Settings.index_dir``; by default
``<file>.index`` beside a SQLite file), closing it writes each namespace's vector index
there (graph included, only past the HNSW threshold and only if it changed since it was
read or written), and the next scan of the namespace starts from that file:
:meth:`NamespaceIndex.start_rebuild` keeps every snapshot vector the scan finds unchanged
in the store and re-adds or drops the rest. A snapshot is a cache: a stale, foreign or
damaged one costs time, never a wrong answer.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hivemem.memories.index import NamespaceIndex
    from hivemem.memories.vectors import VectorIndex

__all__ = ["load", "path_for", "save"]

log = logging.getLogger("hivemem.memories")

_FORMAT = 1


def path_for(directory: str, ns: str) -> Path:
    """The snapshot file of ``ns`` in ``directory`` (a readable, collision-free name)."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", ns)[:80]
    digest = hashlib.sha256(ns.encode()).hexdigest()[:12]
    return Path(directory) / f"{readable}.{digest}.vec"


def save(idx: NamespaceIndex, directory: str) -> bool:
    """Write ``idx``'s vectors and graph if it has a graph that changed; ``True`` if written."""
    with idx.lock:
        vectors = idx.vectors
        if vectors is None or idx.model is None or vectors.stats()["kind"] != "hnsw":
            return False
        if vectors.version == idx.snapshot_version:
            return False
        extra = {"format": _FORMAT, "ns": idx.ns, "model": idx.model, "ids": list(idx.ids)}
        version = vectors.version
        path = path_for(directory, idx.ns)
        path.parent.mkdir(parents=True, exist_ok=True)
        vectors.save(path, extra)
        idx.snapshot_version = version
    return True


def load(directory: str, ns: str) -> VectorIndex | None:
    """The snapshot of ``ns`` in ``directory``, or ``None`` if there is no usable one."""
    path = path_for(directory, ns)
    if not path.is_file():
        return None
    from hivemem.memories.vectors import VectorIndex

    try:
        snap = VectorIndex.load(path)
        extra = snap.extra
        if extra.get("format") != _FORMAT or extra.get("ns") != ns:
            return None
        if not isinstance(extra.get("model"), str) or not isinstance(extra.get("ids"), list):
            return None
        ids = extra["ids"]
        if len(ids) < snap.stats()["labels"]:
            return None
        if not all(rid is None or type(rid) is str for rid in ids):
            return None
    except Exception as exc:  # a damaged file is only a cache miss
        log.warning("ignoring the vector snapshot %s: %s", path, exc)
        return None
    return snap
