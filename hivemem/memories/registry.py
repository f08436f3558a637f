"""Which search indexes a process holds: one per (backend, namespace), shared by every handle.

Handles of one store (``as_agent`` views, the server's requests) share its backend object,
so they share its indexes; the registry holds them weakly by backend.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hivemem.memories.index import NamespaceIndex

__all__ = ["Indexes", "indexes_for", "save_snapshots"]

log = logging.getLogger("hivemem.memories")


class Indexes:
    """The namespace indexes of one backend."""

    def __init__(self, directory: str | None = None) -> None:
        #: Where vector snapshots are kept (``hivemem.memories.snapshot``), or ``None``.
        self.directory = directory
        self._lock = threading.Lock()
        self._by_ns: dict[str, NamespaceIndex] = {}
        self._marked: set[str] = set()
        self._upgraded: set[str] = set()

    def marked(self, ns: str) -> bool:
        """Whether this process already wrote ``ns``'s memories marker."""
        return ns in self._marked

    def mark(self, ns: str) -> None:
        """Remember that ``ns``'s marker is written."""
        self._marked.add(ns)

    def upgraded(self, ns: str) -> bool:
        """Whether this process found ``ns`` in this version's layout (``plans.upgrade``)."""
        return ns in self._upgraded

    def mark_upgraded(self, ns: str) -> None:
        """Remember that ``ns`` holds no entry of an earlier version's layout."""
        self._upgraded.add(ns)

    def get(self, ns: str) -> NamespaceIndex | None:
        """The index of ``ns``, if one was built."""
        return self._by_ns.get(ns)

    def put(self, ns: str, index: NamespaceIndex) -> None:
        """Install a (re)built index, unless a newer one is already there."""
        with self._lock:
            current = self._by_ns.get(ns)
            if current is None or current.revision <= index.revision:
                self._by_ns[ns] = index

    def stats(self) -> dict[str, Any]:
        """Sizes of every index."""
        return {ns: idx.stats() for ns, idx in sorted(self._by_ns.items())}


_REGISTRY: weakref.WeakKeyDictionary[Any, Indexes] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def indexes_for(backend: Any, directory: str | None = None) -> Indexes:
    """The indexes of ``backend`` (created on first use, with snapshots in ``directory``)."""
    with _LOCK:
        found = _REGISTRY.get(backend)
        if found is None:
            found = _REGISTRY[backend] = Indexes(directory)
        return found


def save_snapshots(backend: Any) -> int:
    """Snapshot the changed vector indexes of ``backend`` (at close); how many were written.

    Failures are logged, never raised: a missing snapshot only makes the next start slower.
    """
    with _LOCK:
        found = _REGISTRY.get(backend)
    if found is None or not found.directory:
        return 0
    from hivemem.memories import snapshot

    written = 0
    for idx in list(found._by_ns.values()):
        try:
            written += snapshot.save(idx, found.directory)
        except Exception as exc:
            log.warning("could not snapshot the vectors of %r: %s", idx.ns, exc)
    return written
