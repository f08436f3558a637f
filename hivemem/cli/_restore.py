"""Import of a version 2 export file: every namespace restored as it was (SPEC §20).

Records stream through :class:`Restorer` one at a time; entries and events are sent in
``Restore`` ops of at most :data:`~hivemem.engine.restore.MAX_BATCH` records or
:data:`MAX_BATCH_BYTES` of values, so memory stays flat however large the file.

What happens to a namespace the target already holds (one with entries or history of its
own; a namespace that was only created, as ``default`` in a new store, counts as empty) is
the ``merge`` mode's choice:

- ``None`` (the default): refused with ``AlreadyExists`` before anything of it is written.
  (``hivemem import FILE`` checks every namespace of the file first, so nothing at all is
  written; from stdin the check happens as each namespace is reached.)
- ``"skip"``: the target's namespace stays as it is; the file's records of it are skipped.
- ``"overwrite"``: the file's config and entries replace the target's (entries keep their
  exported version, owner and times; entries only the target holds stay); each replaced
  entry is a new revision of the target with a ``memory:write`` event, so its watchers see
  the change; the target's history stays and the file's events of it are skipped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hivemem.engine import ops as o
from hivemem.engine.restore import (
    MAX_BATCH,
    config_from_record,
    encode_parsed,
    event_from_record,
    stored_from_record,
)
from hivemem.errors import AlreadyExists, HivememError, InvalidArgument

if TYPE_CHECKING:
    import hivemem
    from hivemem.engine.txn import Stored
    from hivemem.types import Event

__all__ = ["MAX_BATCH_BYTES", "MERGE_MODES", "Restorer", "namespaces_in_use"]

#: ``--merge`` values (see the module docstring).
MERGE_MODES = ("skip", "overwrite")
#: Most bytes of values one ``Restore`` op carries (unless one value is larger): well under
#: a server's default body limit (2 MiB).
MAX_BATCH_BYTES = 1 << 20

_RESTORE, _SKIP, _REPLACE = "restore", "skip", "replace"


@dataclass
class Restorer:
    """Restore the records of a version 2 export file into a store.

    Attributes:
        mem: The target store (embedded, or a server with its admin token).
        merge: What to do with namespaces the target holds already (module docstring).
        counts: What happened, by outcome.
    """

    mem: hivemem.Memory
    merge: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    end: dict[str, Any] | None = None
    _ns: str | None = None
    _mode: str = _RESTORE
    _entries: list[tuple[str, Stored]] = field(default_factory=list)
    _events: list[Event] = field(default_factory=list)
    _bytes: int = 0

    def _count(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + n

    def _run(self, op: o.Op[Any]) -> Any:
        return self.mem._run(dataclasses.replace(op, admin=True))

    def add(self, record: dict[str, Any]) -> None:
        """Import one record (the header is the caller's to check).

        Raises:
            InvalidArgument: a malformed record, or one out of place.
            AlreadyExists: a namespace the target holds, without a merge mode.
            HivememError: the store refused a write (the import stops there).
        """
        kind = record.get("kind")
        if kind == "namespace":
            self.flush()
            self._namespace(record)
        elif kind in ("entry", "event"):
            if record.get("namespace") != self._ns or self._ns is None:
                raise InvalidArgument(f"an {kind} of a namespace other than the one before it")
            if kind == "entry":
                self._entry(record)
            else:
                self._event(record)
        elif kind == "end":
            self.flush()
            self.end = record
        elif kind == "header":
            raise InvalidArgument("a second header")
        else:
            self._count("skipped")

    def _namespace(self, r: dict[str, Any]) -> None:
        config = config_from_record({"name": r.get("name"), **(r.get("config") or {})})
        ns = self._ns = config.name
        try:
            self._run(o.Restore(agent=self.mem.agent, ns=ns, config=config))
            self._mode = _RESTORE
            self._count("namespaces_restored")
        except AlreadyExists:
            if self.merge is None:
                raise
            if self.merge == "skip":
                self._mode = _SKIP
                self._count("namespaces_skipped")
            else:
                self._run(o.Restore(agent=self.mem.agent, ns=ns, config=config, replace=True))
                self._mode = _REPLACE
                self._count("namespaces_replaced")

    def _entry(self, r: dict[str, Any]) -> None:
        if self._mode == _SKIP:
            self._count("entries_skipped")
            return
        if "value" not in r:
            raise InvalidArgument(f"entry {r.get('key')!r} has no value")
        value_json = encode_parsed(r["value"])
        if self._entries and self._bytes + len(value_json) > MAX_BATCH_BYTES:
            self.flush()  # (a batch stays under a server's body limit)
        self._entries.append(stored_from_record(r, value_json))
        self._bytes += len(value_json)
        if len(self._entries) >= MAX_BATCH:
            self.flush()

    def _event(self, r: dict[str, Any]) -> None:
        if self._mode != _RESTORE:
            self._count("events_skipped")
            return
        self._events.append(event_from_record({k: v for k, v in r.items() if k != "kind"}))
        if len(self._events) >= MAX_BATCH:
            self.flush()

    def flush(self) -> None:
        """Send the entries and events gathered so far."""
        if not self._entries and not self._events:
            return
        assert self._ns is not None
        entries, events = tuple(self._entries), tuple(self._events)
        self._entries, self._events, self._bytes = [], [], 0
        op = o.Restore(
            agent=self.mem.agent,
            ns=self._ns,
            entries=entries,
            events=events,
            replace=self._mode == _REPLACE,
        )
        self._count("entries_written", self._run(op))
        if events:
            self._count("events_written", len(events))


def namespaces_in_use(mem: hivemem.Memory, names: list[str]) -> list[str]:
    """Which of ``names`` the store holds with entries or history of their own."""
    busy = []
    for name in names:
        try:
            info = mem._run(o.GetNamespace(agent=mem.agent, ns=name, admin=True))
        except HivememError:  # (absent, or unreadable: the restore itself decides)
            continue
        if info.revision > 1:
            busy.append(name)
            continue
        page = mem._run(o.ListEntries(agent=mem.agent, ns=name, limit=1, admin=True))
        if page.items:
            busy.append(name)
    return busy
