"""Public value types: entries, events, namespace info, pages, audit records.

All are frozen, slotted dataclasses: cheap to build, safe to share between threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from hivemem._frozen import fast_init
from hivemem.memories import validity

__all__ = [
    "ARCHIVED",
    "CONFLICT_STRATEGIES",
    "EVENT_TYPES",
    "LEVELS",
    "STREAM_EVENT_TYPES",
    "AccessLogEntry",
    "Entry",
    "Event",
    "Group",
    "Level",
    "MemoryRecord",
    "Message",
    "NamespaceInfo",
    "Page",
    "RECORD_TIERS",
    "ScoredMemory",
    "Session",
    "TIERS",
    "Version",
]

T = TypeVar("T")

Level = Literal["read", "write", "admin"]

#: Permission levels, weakest first.
LEVELS: dict[str, int] = {"read": 1, "write": 2, "admin": 3}

CONFLICT_STRATEGIES = ("latest-wins", "first-wins", "merge", "version", "custom")

#: Every event type. ``memory:read`` and ``memory:conflict`` are local: they reach in-process
#: listeners (``on``) and the audit log, never a namespace's event stream, and take no revision.
EVENT_TYPES = (
    "memory:write",
    "memory:delete",
    "memory:expired",
    "memory:conflict",
    "memory:broadcast",
    "memory:read",
    "memory:archived",
    "memory:restored",
    "namespace:created",
    "namespace:cleared",
    "namespace:deleted",
    "namespace:permissions_updated",
    "namespace:updated",
)

#: The event types that take a revision and go into the namespace's stream.
STREAM_EVENT_TYPES = frozenset(EVENT_TYPES) - {"memory:read", "memory:conflict"}


@fast_init
@dataclass(frozen=True, slots=True)
class Entry:
    """What a key holds.

    Attributes:
        namespace: The namespace the key lives in.
        key: The key.
        value: Any JSON value.
        owner: The agent of the last successful write.
        version: 1 on creation, +1 on every successful write.
        revision: The namespace revision of the change that produced this state.
        created_at: Unix seconds of the write that created the key.
        updated_at: Unix seconds of the last write.
        expires_at: Unix seconds when the entry expires, or ``None``.
    """

    namespace: str
    key: str
    value: Any
    owner: str
    version: int
    revision: int
    created_at: float
    updated_at: float
    expires_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as a JSON-ready dict."""
        return {
            "namespace": self.namespace,
            "key": self.key,
            "value": self.value,
            "owner": self.owner,
            "version": self.version,
            "revision": self.revision,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        """Build an entry from :meth:`to_dict` output."""
        fields: dict[str, Any] = {k: data.get(k) for k in _ENTRY_FIELDS}
        return cls(**fields)


_ENTRY_FIELDS = (
    "namespace",
    "key",
    "value",
    "owner",
    "version",
    "revision",
    "created_at",
    "updated_at",
    "expires_at",
)


@fast_init
@dataclass(frozen=True, slots=True)
class Version:
    """One retained version of an entry (``mem.history``), or its deletion.

    Attributes:
        value: The value this version held (``None`` for a deletion).
        version: The entry's version (for a deletion: the version it deleted).
        revision: The namespace revision of the change.
        agent_id: Who made the change (``system`` for an expiry).
        updated_at: Unix seconds of the change.
        deleted: True when the change removed the entry (a delete, an expiry, a clear of
            the namespace or its deletion).
    """

    value: Any
    version: int
    revision: int
    agent_id: str
    updated_at: float
    deleted: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the version as a JSON-ready dict."""
        return {
            "value": self.value,
            "version": self.version,
            "revision": self.revision,
            "agent_id": self.agent_id,
            "updated_at": self.updated_at,
            "deleted": self.deleted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Version:
        """Build a version from :meth:`to_dict` output."""
        return cls(
            data.get("value"),
            data["version"],
            data["revision"],
            data["agent_id"],
            data["updated_at"],
            bool(data.get("deleted", False)),
        )


@fast_init
@dataclass(frozen=True, slots=True)
class Event:
    """A change (or local notification) in a namespace.

    Stream events carry the namespace revision that the change took; local events
    (``memory:read``, ``memory:conflict``) carry revision 0.
    """

    type: str
    namespace: str
    revision: int
    timestamp: float
    agent_id: str
    key: str | None = None
    value: Any = None
    version: int | None = None
    reason: str | None = None
    message: Any = None

    @property
    def action(self) -> str:
        """The short action name, as seed subscriptions use it: ``write``, ``delete``..."""
        return self.type.split(":", 1)[1]

    def to_dict(self) -> dict[str, Any]:
        """Return the event as a JSON-ready dict."""
        return {
            "type": self.type,
            "namespace": self.namespace,
            "revision": self.revision,
            "timestamp": self.timestamp,
            "agent_id": self.agent_id,
            "key": self.key,
            "value": self.value,
            "version": self.version,
            "reason": self.reason,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Build an event from :meth:`to_dict` output."""
        fields: dict[str, Any] = {k: data.get(k) for k in _EVENT_FIELDS}
        return cls(**fields)


_EVENT_FIELDS = (
    "type",
    "namespace",
    "revision",
    "timestamp",
    "agent_id",
    "key",
    "value",
    "version",
    "reason",
    "message",
)


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    """A namespace's configuration and counters.

    Attributes:
        name: The namespace name.
        default_permission: Level of agents without an override (``None`` = no access).
        permissions: Per-agent overrides; ``None`` as a value means no access.
        conflict_strategy: One of :data:`CONFLICT_STRATEGIES`.
        resolver: Name of the custom resolver, or ``None``.
        ttl: Default time-to-live in seconds, or ``None``.
        max_entries: Cap on live entries, or ``None``.
        description: Free text.
        created_by: The agent that created the namespace.
        created_at: Unix seconds of creation.
        revision: The namespace's current revision.
        kind: ``"memories"`` once the memories API wrote to it (then only that API writes
            its entries), else ``None``. Set by the store, not by ``update_namespace``.
    """

    name: str
    default_permission: str | None = "write"
    permissions: dict[str, str | None] = field(default_factory=dict)
    conflict_strategy: str = "latest-wins"
    resolver: str | None = None
    ttl: float | None = None
    max_entries: int | None = None
    description: str = ""
    created_by: str = ""
    created_at: float = 0.0
    revision: int = 0
    kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the namespace as a JSON-ready dict."""
        return {
            "name": self.name,
            "default_permission": self.default_permission,
            "permissions": dict(self.permissions),
            "conflict_strategy": self.conflict_strategy,
            "resolver": self.resolver,
            "ttl": self.ttl,
            "max_entries": self.max_entries,
            "description": self.description,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "revision": self.revision,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NamespaceInfo:
        """Build a namespace info from :meth:`to_dict` output."""
        fields: dict[str, Any] = {k: data[k] for k in _NAMESPACE_FIELDS if k in data}
        return cls(**fields)


_NAMESPACE_FIELDS = (
    "name",
    "default_permission",
    "permissions",
    "conflict_strategy",
    "resolver",
    "ttl",
    "max_entries",
    "description",
    "created_by",
    "created_at",
    "revision",
    "kind",
)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next one."""

    items: list[T]
    next_cursor: str | None = None

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class AccessLogEntry(NamedTuple):
    """One audited operation attempt (denied ones included).

    A named tuple: every op writes one (reads too, with ``log_reads``), and a tuple is
    built in a third of a frozen dataclass's time and goes into SQL as it is.
    """

    timestamp: float
    agent_id: str
    namespace: str | None
    key: str | None
    action: str
    success: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict."""
        return {
            "timestamp": self.timestamp,
            "agent_id": self.agent_id,
            "namespace": self.namespace,
            "key": self.key,
            "action": self.action,
            "success": self.success,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccessLogEntry:
        """Build a record from :meth:`to_dict` output."""
        return cls(
            data["timestamp"],
            data["agent_id"],
            data.get("namespace"),
            data.get("key"),
            data["action"],
            data["success"],
            data.get("error"),
        )


@fast_init
@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation.

    Attributes:
        id: A unique id (hex).
        role: Who spoke: ``user``, ``assistant``, ``system``, a tool name...
        content: The message (any JSON value, usually text).
        metadata: Free-form JSON object.
        timestamp: Unix seconds when it was added.
    """

    id: str
    role: str
    content: Any
    metadata: dict[str, Any]
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        """Return the message as a JSON-ready dict."""
        return {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "metadata": self.metadata,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        """Build a message from :meth:`to_dict` output."""
        return cls(
            str(data["id"]),
            str(data["role"]),
            data.get("content"),
            dict(data.get("metadata") or {}),
            float(data["timestamp"]),
        )


#: Memory tiers, shortest-lived first: the tiers a record decays in.
TIERS = ("short", "medium", "long")
#: The tier of an archived record (``archive``/``restore``, a namespace's forgetting
#: policy): not a decay tier, skipped by searches unless asked for.
ARCHIVED = "archived"
#: Every tier a stored record can be in.
RECORD_TIERS = (*TIERS, ARCHIVED)


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """One long-term memory (SPEC §10).

    Attributes:
        id: The record id (hex); also its key in the namespace.
        namespace: Where it lives.
        content: The text.
        memory_type: Free-form kind (``general``, ``fact``, ``preference``...).
        tier: ``short``, ``medium`` or ``long``: sets how fast it fades; ``archived`` once
            archived (by hand or by the namespace's forgetting policy) until restored.
        importance: 0..1, given by the writer; slows decay.
        strength: 0..1, how well it is remembered now (see :mod:`hivemem.memories.decay`).
        metadata: Free-form JSON object.
        tags: Labels.
        parent_id: The record it belongs under, if any.
        session_id: The session it was recorded in, if any.
        agent_id: The agent that added it.
        created_at: Unix seconds.
        updated_at: Unix seconds of the last change of content or fields.
        last_accessed_at: Unix seconds of the last read (``get``) or reinforcement.
        access_count: How many times it was read or reinforced.
        stability: Multiplies the tier's half-life; each reinforcement raises it.
        forgotten: True while archived (the name of earlier versions; same as
            ``tier == "archived"``).
        valid_from: Unix seconds from which the fact holds (default: when it happened,
            ``occurred_at``, else ``created_at``); see :mod:`hivemem.memories.validity`.
        valid_to: Unix seconds from which it no longer holds (``None``: still holds); set
            when a newer record supersedes it.
        supersedes: The id of the record this one replaced, if any.
        superseded_by: The id of the record that replaced this one, if any.
        slot: The ``"<subject>/<attribute>"`` slot it states, if any.
    """

    id: str
    namespace: str
    content: str
    memory_type: str
    tier: str
    importance: float
    strength: float
    metadata: dict[str, Any]
    tags: list[str]
    parent_id: str | None
    session_id: str | None
    agent_id: str
    created_at: float
    updated_at: float
    last_accessed_at: float
    access_count: int
    stability: float = 1.0
    forgotten: bool = False
    valid_from: float = 0.0
    valid_to: float | None = None
    supersedes: str | None = None
    superseded_by: str | None = None
    slot: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any], namespace: str | None = None) -> MemoryRecord:
        """Build a record from :meth:`to_dict` output (``namespace`` overrides)."""
        return cls(
            id=str(data["id"]),
            namespace=str(namespace if namespace is not None else data.get("namespace", "")),
            content=str(data["content"]),
            memory_type=str(data.get("memory_type", "general")),
            tier=str(data.get("tier", "short")),
            importance=float(data.get("importance", 0.5)),
            strength=float(data.get("strength", 1.0)),
            metadata=dict(data.get("metadata") or {}),
            tags=list(data.get("tags") or []),
            parent_id=data.get("parent_id"),
            session_id=data.get("session_id"),
            agent_id=str(data.get("agent_id", "")),
            created_at=float(data.get("created_at", 0.0)),
            updated_at=float(data.get("updated_at", 0.0)),
            last_accessed_at=float(data.get("last_accessed_at", 0.0)),
            access_count=int(data.get("access_count", 0)),
            stability=float(data.get("stability", 1.0)),
            forgotten=bool(data.get("forgotten", False)),
            valid_from=validity.valid_from(data),
            valid_to=None if data.get("valid_to") is None else float(data["valid_to"]),
            supersedes=data.get("supersedes"),
            superseded_by=data.get("superseded_by"),
            slot=data.get("slot"),
        )


@dataclass(frozen=True, slots=True)
class ScoredMemory:
    """A search result: the record, its score (higher is better) and the score's parts.

    ``parts`` maps each scoring component (``keyword``, ``vector``, ``strength``,
    ``recency``) to its weighted contribution; they sum to ``score``.
    """

    memory: MemoryRecord
    score: float
    parts: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict."""
        return {"memory": self.memory.to_dict(), "score": self.score, "parts": self.parts}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoredMemory:
        """Build a result from :meth:`to_dict` output."""
        return cls(
            MemoryRecord.from_dict(data["memory"]),
            float(data["score"]),
            {str(k): float(v) for k, v in dict(data.get("parts") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Group:
    """A context group of memories (``create_group``)."""

    id: str
    name: str
    description: str | None = None
    created_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the group as a JSON-ready dict."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Group:
        """Build a group from :meth:`to_dict` output."""
        return cls(
            str(data["id"]),
            str(data["name"]),
            data.get("description"),
            float(data.get("created_at", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class Session:
    """A session that memories can be recorded in (``create_session``)."""

    id: str
    user_id: str
    session_type: str
    metadata: dict[str, Any]
    created_at: float
    agent_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the session as a JSON-ready dict."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "session_type": self.session_type,
            "metadata": self.metadata,
            "created_at": self.created_at,
            "agent_id": self.agent_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        """Build a session from :meth:`to_dict` output."""
        return cls(
            str(data["id"]),
            str(data["user_id"]),
            str(data.get("session_type", "conversation")),
            dict(data.get("metadata") or {}),
            float(data.get("created_at", 0.0)),
            str(data.get("agent_id", "")),
        )
