"""The export format (JSON Lines) and how a store is written to it.

One JSON object per line, each with a ``kind`` (format version 2, SPEC §20)::

    {"kind": "header", "format": "hivemem-export", "version": 2, "exported_at": ...}
    {"kind": "namespace", "name": ..., "revision": R, "config": {default_permission,
     permissions, conflict_strategy, resolver, ttl, max_entries, description, created_by,
     created_at, kind}}
    {"kind": "entry", "namespace": ..., "key": ..., "value": ..., "owner": ...,
     "version": ..., "revision": ..., "created_at": ..., "updated_at": ...,
     "expires_at": ...}
    {"kind": "event", "type": ..., "namespace": ..., "revision": ..., "timestamp": ...,
     "agent_id": ..., "key": ..., "value": ..., "version": ..., "reason": ...,
     "message": ...}
    {"kind": "end", "namespaces": N, "entries": M, "events": E}

Namespaces come in name order, each followed by its entries (key order; engine-internal
keys (those starting with byte 0x01) included: they are state) and then its retained events
(revision order). Conversations and long-term memories are entries of their namespaces, so
records, vectors and relationships travel as they are stored: nothing is re-embedded. The
``end`` record lets an importer tell a complete file from a truncated one.

Export reads the store page by page (:data:`MAX_BATCH` rows per op), so its memory does not
grow with the store; it is not one snapshot: export a store nobody writes to (entries that
expired by the time their page is read are left out). Reserved namespaces (``_hivemem*``:
a server's tokens), audit records and idempotency records are not exported.

Version 1 files (hivemem before SPEC §20: values, owners, expiry and configs, no versions
or history) are still read, by :class:`Importer` (ordinary writes, idempotent).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hivemem import _codec
from hivemem.engine import ops as o
from hivemem.engine.lists import MAX_RANGE, header_span, is_header, item_position
from hivemem.engine.restore import MAX_BATCH, entry_record
from hivemem.errors import AlreadyExists, HivememError, InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Iterator

    import hivemem
    from hivemem.types import Entry, Event, NamespaceInfo

__all__ = ["FORMAT", "VERSION", "Importer", "export_records", "total_entries"]

FORMAT = "hivemem-export"
#: The version :func:`export_records` writes (1: written before SPEC §20, still read).
VERSION = 2
_PAGE = 500


def _run(mem: hivemem.Memory, op: o.Op[Any]) -> Any:
    """Run an op as the store's owner (admin: no permission checks embedded)."""
    return mem._run(dataclasses.replace(op, admin=True))


def total_entries(mem: hivemem.Memory) -> int | None:
    """How many entries the store holds (for a progress bar), or ``None`` if unknown."""
    try:
        count = mem.stats().get("total_entries")
    except HivememError:
        return None
    return count if isinstance(count, int) else None


def _namespace_record(info: NamespaceInfo) -> dict[str, Any]:
    config = info.to_dict()
    del config["name"], config["revision"]
    return {"kind": "namespace", "name": info.name, "revision": info.revision, "config": config}


def _namespaces(mem: hivemem.Memory) -> Iterator[NamespaceInfo]:
    """Every namespace the exporter may read, by name, a page at a time."""
    after: str | None = None
    while True:
        page: list[NamespaceInfo] = _run(
            mem, o.ListNamespaces(agent=mem.agent, after=after, limit=_PAGE)
        )
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1].name


def export_records(mem: hivemem.Memory) -> Iterator[dict[str, Any]]:
    """Yield every record of the store: header, each namespace with its entries and events, end.

    Pages are bounded (:data:`MAX_BATCH`), so memory stays flat however large the store.
    """
    yield {"kind": "header", "format": FORMAT, "version": VERSION, "exported_at": time.time()}
    namespaces = entries = events = 0
    for info in _namespaces(mem):
        namespaces += 1
        ns = info.name
        yield _namespace_record(info)
        after: str | None = None
        while True:
            rows, after = _run(mem, o.DumpEntries(agent=mem.agent, ns=ns, after=after))
            for key, stored in rows:
                entries += 1
                yield entry_record(ns, key, stored)
            if after is None:
                break
        since = 0
        while True:
            page: list[Event] = _run(mem, o.DumpEvents(agent=mem.agent, ns=ns, since=since))
            for event in page:
                events += 1
                yield {"kind": "event", **event.to_dict()}
            if len(page) < MAX_BATCH:
                break
            since = page[-1].revision
    yield {"kind": "end", "namespaces": namespaces, "entries": entries, "events": events}


@dataclass
class Importer:
    """Write the records of a version 1 file into a store, idempotently.

    A namespace that exists keeps its configuration; an entry whose value and owner already
    match is left alone; others are written with compare-and-set on the version seen, so an
    import never overwrites a change made meanwhile (it is reported instead). A list (its
    header and items) is rebuilt with list pushes of its live items, in order, once its
    namespace is read: only list operations write list headers.

    Attributes:
        mem: The target store.
        keep_owners: Write each entry as its owner (``False``: as ``mem.agent``).
        counts: What happened, by outcome.
        failures: ``(record, error)`` of the records that could not be imported.
    """

    mem: hivemem.Memory
    keep_owners: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[dict[str, Any], HivememError]] = field(default_factory=list)
    skipped_kinds: set[str] = field(default_factory=set)
    header: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    #: Lists met in the namespace being imported, rebuilt by list ops (only they write list
    #: headers): ``(ns, key) -> (header record, {item key: item record})``.
    lists: dict[tuple[str, str], tuple[dict[str, Any], dict[str, dict[str, Any]]]] = field(
        default_factory=dict
    )

    def _count(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def add(self, record: Any) -> None:
        """Import one record (failures are collected, not raised).

        Raises:
            InvalidArgument: the record is not an export record, or the file's format is not
                one this version reads.
        """
        if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
            raise InvalidArgument("not a hivemem export record (an object with a 'kind')")
        kind = record["kind"]
        if kind == "header":
            if record.get("format") != FORMAT or not isinstance(record.get("version"), int):
                raise InvalidArgument("not a hivemem export file (bad header)")
            if record["version"] > 1:
                raise InvalidArgument(
                    f"export format version {record['version']} is newer than this hivemem "
                    f"reads ({VERSION}): upgrade hivemem"
                )
            self.header = record
        elif kind == "end":
            self.finish()
            self.end = record
        elif kind in ("namespace", "entry"):
            if kind == "namespace":
                self.finish()
            try:
                (self._namespace if kind == "namespace" else self._entry)(record)
            except HivememError as exc:
                self._count("failed")
                self.failures.append((record, exc))
            except (KeyError, TypeError) as exc:
                self._count("failed")
                self.failures.append((record, InvalidArgument(f"malformed record: {exc!r}")))
        else:
            self.skipped_kinds.add(kind)
            self._count("skipped")

    def _agent(self, agent: Any) -> str:
        return agent if self.keep_owners and isinstance(agent, str) and agent else self.mem.agent

    def _namespace(self, r: dict[str, Any]) -> None:
        core = self.mem._c
        agent = self._agent(r.get("created_by"))
        perms = dict(r.get("permissions") or {})
        op = core.create_namespace(
            r["name"],
            agent,
            r.get("default_permission"),
            perms,
            r.get("conflict_strategy", "latest-wins"),
            r.get("resolver"),
            r.get("ttl"),
            r.get("max_entries"),
            r.get("description", ""),
            False,
        )
        try:
            info: NamespaceInfo = _run(self.mem, op)
        except AlreadyExists:
            self._count("namespaces_existing")
            return
        extra = {a: None for a in info.permissions if a not in perms}
        if extra and self.keep_owners:  # the creator got admin the export did not have
            _run(self.mem, core.update_permissions(r["name"], extra, agent))
        self._count("namespaces_created")

    def finish(self) -> None:
        """Rebuild the lists met so far (called at each namespace and at the end record)."""
        lists, self.lists = self.lists, {}
        for header, items in lists.values():
            try:
                self._list(header, items)
            except HivememError as exc:
                self._count("failed")
                self.failures.append((header, exc))

    def _list_item(self, r: dict[str, Any]) -> bool:
        """Keep an item of a list met earlier for :meth:`finish`; whether ``r`` was one."""
        base, _, _ = r["key"].rpartition("/")
        found = self.lists.get((r["namespace"], base))
        if found is None:
            return False
        head, tail = header_span(base, found[0]["value"])
        position = item_position(r["key"], len(base) + 1)
        if position is None or not head <= position < tail:
            return False
        found[1][r["key"]] = r
        return True

    def _list(self, header: dict[str, Any], items: dict[str, dict[str, Any]]) -> None:
        """Write a list as pushes of its live items, in order (at new positions)."""
        ns, key = header["namespace"], header["key"]
        agent = self._agent(header.get("owner"))
        now = time.time()
        live = [r for _, r in sorted(items.items()) if (r.get("expires_at") or now + 1) > now]
        self._count_many("entries_expired", len(items) - len(live))
        values = [r["value"] for r in live]
        current = _run(self.mem, self.mem._c.get(ns, key, agent))
        if current is not None:
            got, length = _run(self.mem, o.ListRange(agent=agent, ns=ns, key=key))
            if length == len(values) <= MAX_RANGE and got == values:
                self._count_many("entries_unchanged", 1 + len(values))
                return
            while _run(self.mem, o.DeletePrefix(agent=agent, ns=ns, prefix=key + "/")):
                pass
            _run(self.mem, o.Delete(agent=agent, ns=ns, key=key))
        i = 0
        while i < len(live):  # one push per run of items sharing an expiry (1,000 at most)
            expires = live[i].get("expires_at")
            j = i + 1
            while j < len(live) and j - i < 1000 and live[j].get("expires_at") == expires:
                j += 1
            encoded = tuple(_codec.encode(r["value"]) for r in live[i:j])
            ttl = None if expires is None else expires - now
            _run(self.mem, o.ListPush(agent=agent, ns=ns, key=key, items=encoded, ttl=ttl))
            i = j
        self._count_many("entries_written", 1 + len(live))

    def _count_many(self, outcome: str, n: int) -> None:
        if n:
            self.counts[outcome] = self.counts.get(outcome, 0) + n

    def _entry(self, r: dict[str, Any]) -> None:
        if is_header(r["value"]):
            header_span(r["key"], r["value"])  # (WrongType: an invalid one fails alone)
            self.lists[r["namespace"], r["key"]] = (r, {})
            return
        if self._list_item(r):
            return
        core = self.mem._c
        now = time.time()
        expires = r.get("expires_at")
        if expires is not None and expires <= now:
            self._count("entries_expired")
            return
        ns, key, value = r["namespace"], r["key"], r["value"]
        agent = self._agent(r.get("owner"))
        current: Entry | None = _run(self.mem, core.get(ns, key, agent))
        if current is not None and current.value == value and current.owner == agent:
            self._count("entries_unchanged")
            return
        ttl = None if expires is None else expires - now
        version = 0 if current is None else current.version
        _run(self.mem, core.put(ns, key, value, agent, ttl, version, None))
        self._count("entries_written")
