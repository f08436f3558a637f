r"""Where a memories namespace keeps what is not a record (SPEC §10, last paragraph).

A record is a public entry under its own id: listings, the UI and plain exports show it,
its writes are ``memory:*`` events keyed by its id (watchers and every process's search
index follow them). Everything else the memories keep in the namespace (vectors, links,
relationships, groups, slot indexes, the settings) is an engine-internal record
(:mod:`hivemem.engine.reserved`): its key starts with ``"\x01mem/"``, which no caller can
name (keys refuse control characters), which sorts before every caller's key (so no entry
listing, prefix op, UI table or history shows it) and whose writes emit no events. The
faithful export (SPEC §20) copies them like every stored row.

Earlier versions kept them as plain entries under ``_``-prefixed keys (:data:`OLD_KEYS`,
:data:`OLD_MARKER`); :meth:`hivemem.memories.plans.MemoryPlans.upgrade` moves a
namespace's to this layout on first use.
"""

from __future__ import annotations

__all__ = [
    "GROUP",
    "GROUP_MEMBERS",
    "KIND",
    "MARKER",
    "MEMBER_GROUPS",
    "OLD_KEYS",
    "OLD_MARKER",
    "PARENT",
    "PREFIX",
    "RELATED",
    "RELATED_IN",
    "SLOT",
    "VECTOR",
    "upgraded_key",
]

#: The internal kind of every memories record.
KIND = "mem"
#: The first characters of every internal memories key: ``internal_key(KIND, "")`` of
#: :mod:`hivemem.engine.reserved`, spelled out (that package imports this module's
#: importers; ``tests/memories/test_internal_layout.py`` checks they agree).
PREFIX = "\x01" + KIND + "/"
#: ``<VECTOR><id>``: a record's vector {m: model, d: dim, v: base64 float32}.
VECTOR = PREFIX + "v/"
#: ``<PARENT><parent>/<id>``: a child link, for children() and cascade deletes.
PARENT = PREFIX + "p/"
#: ``<RELATED><source>/<target>/<type>``: a relationship {strength, created_at, agent_id}.
RELATED = PREFIX + "r/"
#: ``<RELATED_IN><target>/<source>/<type>``: its reverse, for get_related() of the target.
RELATED_IN = PREFIX + "ri/"
#: ``<GROUP><group>``: a context group {id, name, description, created_at}.
GROUP = PREFIX + "g/"
#: ``<GROUP_MEMBERS><group>/<id>`` and ``<MEMBER_GROUPS><id>/<group>``: membership.
GROUP_MEMBERS = PREFIX + "gm/"
MEMBER_GROUPS = PREFIX + "mg/"
#: ``<SLOT><subject>/<attribute>``: a slot's index (:mod:`hivemem.memories.validity`).
SLOT = PREFIX + "s/"
#: The namespace's marker and memories settings {kind: "memories", forget: ... | null}.
MARKER = PREFIX + "settings"

#: The marker of earlier versions (a plain entry).
OLD_MARKER = "_memories"
#: Prefixes of earlier versions' plain entries, each with its key's prefix here.
OLD_KEYS = {
    "_v/": VECTOR,
    "_p/": PARENT,
    "_r/": RELATED,
    "_ri/": RELATED_IN,
    "_g/": GROUP,
    "_gm/": GROUP_MEMBERS,
    "_mg/": MEMBER_GROUPS,
    "_s/": SLOT,
}


def upgraded_key(old: str) -> str | None:
    """The key here of an earlier version's internal entry ``old``; ``None`` if not one."""
    if old == OLD_MARKER:
        return MARKER
    head, sep, rest = old.partition("/")
    new = OLD_KEYS.get(head + sep)
    return None if new is None or not rest else new + rest
