"""Faithful export and import (SPEC §20): a namespace's stored state read and written as kept.

``DumpEntries``/``DumpEvents`` read a namespace's stored rows and retained events as the
backend keeps them; ``Restore`` writes them back verbatim (values, versions, owners, times,
expiry, revisions, events and the revision counter), so a store exported and imported into
an empty one answers every read, ``watch(since=)`` and compare-and-set as the source did.
Only store admins restore: a restore writes any owner, version and history.

What a file holds is checked here, once, for every door (:func:`stored_from_record`,
:func:`event_from_record`): the CLI and the server build ``Restore`` ops through them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import orjson

from hivemem import _codec
from hivemem.engine import ops as o
from hivemem.engine.apply import _namespace, _public_config
from hivemem.engine.permissions import ADMIN
from hivemem.engine.reserved import INTERNAL
from hivemem.engine.txn import Stored
from hivemem.errors import (
    AlreadyExists,
    InvalidArgument,
    NamespaceNotFound,
    PermissionDenied,
    TooLarge,
)
from hivemem.types import Event, NamespaceInfo

if TYPE_CHECKING:
    from collections.abc import Callable

    from hivemem.engine.apply import Ctx
    from hivemem.engine.txn import Txn

__all__ = [
    "HANDLERS",
    "MAX_BATCH",
    "config_from_record",
    "encode_parsed",
    "entry_record",
    "event_from_record",
    "stored_from_record",
]

#: Most entries, and most events, one ``Restore`` or dump op carries (bounds its memory).
MAX_BATCH = 1000

_NS_FIELDS = frozenset(f.name for f in dataclasses.fields(NamespaceInfo)) - {"revision"}


# ---------------------------------------------------------------- records of a file


def _number(r: dict[str, Any], name: str, optional: bool = False) -> float | None:
    value = r.get(name)
    if type(value) is float and math.isfinite(value):  # (the common case first)
        return value
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"{name} must be a number, not {value!r}")
    return float(value)


def _int(r: dict[str, Any], name: str, least: int) -> int:
    value = r.get(name)
    if type(value) is not int or value < least:
        raise InvalidArgument(f"{name} must be an integer >= {least}, not {value!r}")
    return value


def entry_record(ns: str, key: str, s: Stored) -> dict[str, Any]:
    """The export record of a stored entry (its value the stored JSON text, unparsed)."""
    return {
        "kind": "entry",
        "namespace": ns,
        "key": key,
        "value": orjson.Fragment(s.value_json),
        "owner": s.owner,
        "version": s.version,
        "revision": s.revision,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "expires_at": s.expires_at,
    }


def encode_parsed(value: Any) -> str:
    """The JSON text of a value parsed from a file or a body: the text it was parsed from.

    (Integers beyond 64 bits, which orjson does not write, take the store's own encoder.)
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _codec.encode(value)


def stored_from_record(r: dict[str, Any], value_json: str | None = None) -> tuple[str, Stored]:
    """``(key, Stored)`` of an exported entry record; ``value_json``: its value encoded.

    Raises:
        InvalidArgument: a field is missing or of the wrong type.
    """
    key = r.get("key")
    owner = r.get("owner")
    if type(key) is not str or not key:
        raise InvalidArgument(f"an entry needs a non-empty string key, not {key!r}")
    if type(owner) is not str:
        raise InvalidArgument(f"entry {key!r}: owner must be a string, not {owner!r}")
    if "value" not in r:
        raise InvalidArgument(f"entry {key!r} has no value")
    if value_json is None:
        value_json = encode_parsed(r["value"])
    created = _number(r, "created_at")
    updated = _number(r, "updated_at")
    assert created is not None and updated is not None
    stored = Stored(
        value_json,
        owner,
        _int(r, "version", 1),
        _int(r, "revision", 0),
        created,
        updated,
        _number(r, "expires_at", optional=True),
    )
    return key, stored


def event_from_record(r: dict[str, Any]) -> Event:
    """The :class:`Event` of an exported event record (``Event.to_dict`` output).

    Raises:
        InvalidArgument: a field is missing or of the wrong type.
    """
    if not isinstance(r.get("type"), str) or not isinstance(r.get("namespace"), str):
        raise InvalidArgument("an event needs a string type and namespace")
    if not isinstance(r.get("agent_id"), str):
        raise InvalidArgument("an event needs a string agent_id")
    _int(r, "revision", 1)
    _number(r, "timestamp")
    return Event.from_dict(r)


def config_from_record(r: dict[str, Any]) -> NamespaceInfo:
    """The :class:`NamespaceInfo` of a namespace's name and exported config.

    Its ``kind`` is the namespace's (``memories`` or ``None``); unknown fields are refused.

    Raises:
        InvalidArgument: an unknown field, or a name or permissions of the wrong type.
    """
    fields = {k: v for k, v in r.items() if k != "revision"}
    unknown = set(fields) - _NS_FIELDS
    if unknown:
        raise InvalidArgument(f"unknown namespace fields: {', '.join(sorted(unknown))}")
    if not isinstance(fields.get("name"), str) or not fields["name"]:
        raise InvalidArgument("a namespace needs a non-empty string name")
    if not isinstance(fields.get("permissions", {}), dict):
        raise InvalidArgument("namespace permissions must be an object")
    return NamespaceInfo(**fields)


# ---------------------------------------------------------------- handlers


def dump_entries(ctx: Ctx, op: o.DumpEntries) -> tuple[list[tuple[str, Stored]], str | None]:
    _namespace(ctx, op, op.ns, ADMIN, entries=False)
    limit = max(1, min(op.limit, MAX_BATCH))
    rows = ctx.tx.entries_scan(op.ns, "", op.after, limit)
    now = ctx.now
    live = [(k, s) for k, s in rows if s.expires_at is None or s.expires_at > now]
    return live, (rows[-1][0] if len(rows) == limit else None)


def dump_events(ctx: Ctx, op: o.DumpEvents) -> list[Event]:
    _namespace(ctx, op, op.ns, ADMIN, entries=False)
    return ctx.tx.events_after(op.ns, max(op.since, 0), max(1, min(op.limit, MAX_BATCH)))


def _untouched(tx: Txn, ns: str, info: NamespaceInfo | None) -> bool:
    """Whether a restore may replace the namespace whole.

    So it may when the namespace is absent and never used, or only created (``default`` in
    a new store: no entries, its creation the only revision).
    """
    rev = tx.rev_get(ns)
    if info is None:
        return rev == 0
    return rev <= 1 and tx.entry_count(ns) == 0


def _check_size(ctx: Ctx, key: str, s: Stored) -> None:
    limit = ctx.settings.max_value_bytes
    if len(s.value_json) * 4 > limit and len(s.value_json.encode()) > limit:
        raise TooLarge(
            f"entry {key!r} is {len(s.value_json.encode())} bytes serialized; this store's "
            f"limit is {limit} (raise max_value_bytes)"
        )


def restore(ctx: Ctx, op: o.Restore) -> int:
    if not op.admin:
        raise PermissionDenied(
            "restoring exported state needs a store admin (an embedded store, or the "
            "server's admin token)"
        )
    if len(op.entries) > MAX_BATCH or len(op.events) > MAX_BATCH:
        raise InvalidArgument(f"a restore carries at most {MAX_BATCH} entries and events")
    tx, ns = ctx.tx, op.ns
    if op.config is not None and op.config.name != ns:
        raise InvalidArgument(f"the config is of namespace {op.config.name!r}, not {ns!r}")
    info = tx.ns_get(ns)
    if op.replace:
        return _replace(ctx, op, info)
    if op.config is not None:
        if not _untouched(tx, ns, info):
            raise AlreadyExists(
                f"namespace {ns!r} holds data or history already; import with "
                "--merge=skip (keep it) or --merge=overwrite (replace its entries)",
                namespace=ns,
            )
        tx.events_clear(ns)
        tx.rev_set(ns, 0)
        tx.ns_put(dataclasses.replace(op.config, revision=0))
    elif info is None:
        raise NamespaceNotFound(f"namespace {ns!r} does not exist", namespace=ns)
    keys = [k for k, _ in op.entries]
    if len(set(keys)) != len(keys):
        raise InvalidArgument(f"a key appears twice in one restore of namespace {ns!r}")
    olds = tx.entries_get(ns, keys) if keys else []
    for (key, s), old in zip(op.entries, olds, strict=True):
        if old is not None:
            raise AlreadyExists(
                f"entry {key!r} of namespace {ns!r} exists already (twice in the file?)",
                namespace=ns,
            )
        _check_size(ctx, key, s)
        tx.entry_put(ns, key, s, new=True)
    if op.events:
        last = tx.rev_get(ns)
        for event in op.events:
            if event.namespace != ns or event.revision <= last:
                raise InvalidArgument(
                    f"events of namespace {ns!r} come in increasing revisions above {last}; "
                    f"got revision {event.revision} of {event.namespace!r}"
                )
            tx.event_append(event)
            last = event.revision
        tx.rev_set(ns, last)
    return len(op.entries)


def _replace(ctx: Ctx, op: o.Restore, info: NamespaceInfo | None) -> int:
    """``--merge=overwrite``: replace config and entries; the target's history continues."""
    if op.events:
        raise InvalidArgument("a replacing restore carries no events (the target's stay)")
    tx, ns = ctx.tx, op.ns
    if op.config is not None:
        new = dataclasses.replace(op.config, revision=0)
        tx.ns_put(new)
        kind = "namespace:updated" if info is not None else "namespace:created"
        ctx.emit(kind, ns, op.agent, message=_public_config(new))
    elif info is None:
        raise NamespaceNotFound(f"namespace {ns!r} does not exist", namespace=ns)
    keys = [k for k, _ in op.entries]
    if len(set(keys)) != len(keys):
        raise InvalidArgument(f"a key appears twice in one restore of namespace {ns!r}")
    olds = tx.entries_get(ns, keys) if keys else []
    for (key, s), old in zip(op.entries, olds, strict=True):
        _check_size(ctx, key, s)
        if key.startswith(INTERNAL):  # (no event: see engine/reserved.py)
            tx.entry_put(ns, key, s, new=old is None)
            continue
        value = _codec.decode(s.value_json)
        event = ctx.emit("memory:write", ns, s.owner, key=key, value=value, version=s.version)
        tx.entry_put(ns, key, s._replace(revision=event.revision), new=old is None)
    return len(op.entries)


HANDLERS: dict[type, Callable[[Ctx, Any], Any]] = {
    o.DumpEntries: dump_entries,
    o.DumpEvents: dump_events,
    o.Restore: restore,
}
