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
    "Lease",
    "Level",
    "Lock",
    "MemoryRecord",
    "Message",
    "NamespaceInfo",
    "Page",
    "Presence",
    "QueueInfo",
    "RECORD_TIERS",
    "ScoredMemory",
    "Session",
    "TIERS",
    "Version",
    "Task",
    "Webhook",
    "WebhookDelivery",
    "TxnResult",
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
    # task queues (SPEC §19, hivemem.engine.queues)
    "task:put",
    "task:claimed",
    "task:acked",
    "task:nacked",
    "task:extended",
    "task:returned",
    "task:dead",
    # coordination (SPEC §19): leases, presence, locks
    "memory:deleted",
    "presence:joined",
    "presence:left",
    "lock:acquired",
    "lock:released",
    "lock:expired",
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
        group: The transaction group given at creation (``create_namespace(group=...)``), or
            ``None``. On Redis Cluster, namespaces of one group share a hash slot, so one
            transaction may span them; elsewhere it is only recorded. Never changes.
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
    group: str | None = None

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
            "group": self.group,
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
    "group",
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
        source: Where it came from: a free-form JSON object (conversation and message ids,
            a run id, a URL...); ``{}`` if none was given.
        occurred_at: Unix seconds when the remembered thing happened (default: when it
            was added, ``created_at``).
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
    source: dict[str, Any] = field(default_factory=dict)
    occurred_at: float = 0.0

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
            source=dict(data.get("source") or {}),
            occurred_at=validity.occurred_at(data),
        )


@dataclass(frozen=True, slots=True)
class ScoredMemory:
    """A search result: the record, its score (higher is better) and the score's parts.

    ``parts`` maps each scoring component (``keyword``, ``vector``, ``previous``,
    ``strength``, ``recency``) to its weighted contribution; they sum to ``score``. A record
    that ``expand=`` added after a hit has ``parts == {"context": <the hit's score>}``.
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


@dataclass(frozen=True, slots=True)
class Task:
    """A task of a queue (SPEC §19: ``mem.queue(ns, name)``).

    Attributes:
        id: The task's id (32 hex digits), unique in its queue.
        value: Any JSON value, as put.
        priority: Higher first; FIFO among equal priorities.
        attempts: How many times it was claimed.
        claimed_by: The worker of the current claim, or ``None``.
        visible_at: Unix seconds when it becomes claimable again (a claim's end, a delay's
            end), or ``None`` when ready now.
        enqueued_at: Unix seconds of its ``put``.
        namespace: The namespace of its queue.
        queue: The queue's name.
        token: The claim's token (0 when not claimed): ``ack``/``nack``/``extend`` carry it,
            and only the current claim's token is accepted.
        state: ``ready``, ``delayed``, ``claimed`` or ``dead``.
    """

    id: str
    value: Any
    priority: int
    attempts: int
    claimed_by: str | None
    visible_at: float | None
    enqueued_at: float
    namespace: str = ""
    queue: str = ""
    token: int = 0
    state: str = "ready"

    def to_dict(self) -> dict[str, Any]:
        """Return the task as a JSON-ready dict."""
        return {
            "id": self.id,
            "value": self.value,
            "priority": self.priority,
            "attempts": self.attempts,
            "claimed_by": self.claimed_by,
            "visible_at": self.visible_at,
            "enqueued_at": self.enqueued_at,
            "namespace": self.namespace,
            "queue": self.queue,
            "token": self.token,
            "state": self.state,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        """Build a task from :meth:`to_dict` output."""
        return cls(
            str(data["id"]),
            data.get("value"),
            int(data.get("priority", 0)),
            int(data.get("attempts", 0)),
            data.get("claimed_by"),
            data.get("visible_at"),
            float(data.get("enqueued_at", 0.0)),
            str(data.get("namespace", "")),
            str(data.get("queue", "")),
            int(data.get("token", 0)),
            str(data.get("state", "ready")),
        )


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue of a namespace and its counts (``mem.queues(ns)``; ``Queue.stats()`` per queue).

    Attributes:
        name: The queue's name.
        ready: Tasks claimable now.
        claimed: Tasks under a claim (a lapsed claim counts until a claim returns it).
        delayed: Tasks waiting for their delay to end.
        dead: Dead letters.
        namespace: The namespace of the queue.
    """

    name: str
    ready: int
    claimed: int
    delayed: int
    dead: int
    namespace: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the queue's counts as a JSON-ready dict."""
        return {
            "name": self.name,
            "ready": self.ready,
            "claimed": self.claimed,
            "delayed": self.delayed,
            "dead": self.dead,
            "namespace": self.namespace,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueueInfo:
        """Build a queue's counts from :meth:`to_dict` output."""
        return cls(
            str(data["name"]),
            int(data["ready"]),
            int(data["claimed"]),
            int(data["delayed"]),
            int(data["dead"]),
            str(data.get("namespace", "")),
        )


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook (SPEC §19): where a namespace's events are POSTed, signed.

    ``secret`` (``whsec_<base64>``) is given only by ``add_webhook``; listings show ``None``.
    ``cursors`` holds, per namespace, the last revision the target acknowledged (2xx).
    ``enabled`` turns ``False`` after ``failures`` reached the store's limit in a row.
    """

    id: str
    url: str
    namespaces: tuple[str, ...]
    events: tuple[str, ...]
    owner: str
    created_at: float
    enabled: bool = True
    failures: int = 0
    cursors: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    secret: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the webhook as a JSON-ready dict."""
        return {
            "id": self.id,
            "url": self.url,
            "namespaces": list(self.namespaces),
            "events": list(self.events),
            "owner": self.owner,
            "created_at": self.created_at,
            "enabled": self.enabled,
            "failures": self.failures,
            "cursors": dict(self.cursors),
            "last_error": self.last_error,
            "secret": self.secret,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Webhook:
        """Build a webhook from :meth:`to_dict` output."""
        return cls(
            str(data["id"]),
            str(data["url"]),
            tuple(data["namespaces"]),
            tuple(data["events"]),
            str(data.get("owner", "")),
            float(data.get("created_at", 0.0)),
            bool(data.get("enabled", True)),
            int(data.get("failures", 0)),
            {str(k): int(v) for k, v in (data.get("cursors") or {}).items()},
            data.get("last_error"),
            data.get("secret"),
        )


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One delivery attempt of a webhook: a batch of one namespace's events.

    ``message_id`` is the ``webhook-id`` header (the same on every retry of the batch);
    ``status`` the HTTP status (``None``: no answer, see ``error``).
    """

    seq: int
    message_id: str
    namespace: str
    first_revision: int
    last_revision: int
    events: int
    attempt: int
    at: float
    ok: bool
    status: int | None = None
    error: str | None = None
    duration: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the delivery as a JSON-ready dict."""
        return {
            "seq": self.seq,
            "message_id": self.message_id,
            "namespace": self.namespace,
            "first_revision": self.first_revision,
            "last_revision": self.last_revision,
            "events": self.events,
            "attempt": self.attempt,
            "at": self.at,
            "ok": self.ok,
            "status": self.status,
            "error": self.error,
            "duration": self.duration,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WebhookDelivery:
        """Build a delivery from :meth:`to_dict` output."""
        return cls(
            int(data["seq"]),
            str(data["message_id"]),
            str(data["namespace"]),
            int(data["first_revision"]),
            int(data["last_revision"]),
            int(data["events"]),
            int(data["attempt"]),
            float(data["at"]),
            bool(data["ok"]),
            data.get("status"),
            data.get("error"),
            float(data.get("duration", 0.0)),
        )


# ---------------------------------------------------------------- coordination (SPEC §19)


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease (``grant_lease``): lives ``ttl`` seconds unless kept alive.

    Attributes:
        id: ``"<home namespace>/<32 hex>"``; pass it to ``keep_alive``, ``revoke_lease``,
            ``write(..., lease=)`` and ``join``.
        agent_id: The agent the lease was granted to.
        ttl: Seconds each ``keep_alive`` extends it by.
        expires_at: Unix seconds from which it (and all attached to it) is gone.
    """

    id: str
    agent_id: str
    ttl: float
    expires_at: float

    def to_dict(self) -> dict[str, Any]:
        """Return the lease as a JSON-ready dict."""
        return {
            "id": self.id,
            "agent_id": self.agent_id,
            "ttl": self.ttl,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lease:
        """Build a lease from :meth:`to_dict` output."""
        return cls(
            str(data["id"]), str(data["agent_id"]), float(data["ttl"]), float(data["expires_at"])
        )


@dataclass(frozen=True, slots=True)
class Presence:
    """An agent present in a namespace (``join``), as long as its lease lives.

    Attributes:
        agent_id: Who is present.
        info: What it said about itself (any JSON).
        since: Unix seconds of its first ``join`` under this lease.
        lease_id: The lease its presence lives by.
    """

    agent_id: str
    info: Any
    since: float
    lease_id: str

    def to_dict(self) -> dict[str, Any]:
        """Return the presence record as a JSON-ready dict."""
        return {
            "agent_id": self.agent_id,
            "info": self.info,
            "since": self.since,
            "lease_id": self.lease_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Presence:
        """Build a presence record from :meth:`to_dict` output."""
        return cls(
            str(data["agent_id"]), data.get("info"), float(data["since"]), str(data["lease_id"])
        )


@dataclass(frozen=True, slots=True)
class Lock:
    """A held lock (``lock``, ``try_lock``, ``lock_info``).

    Attributes:
        name: The lock's name.
        holder: The agent holding it.
        token: The fencing token: the revision of its ``lock:acquired`` event, so it grows
            strictly with every grant of any lock of the namespace and never goes back.
        lease_id: The lease the hold lives by (``keep_alive`` it to hold longer).
        namespace: The namespace the lock belongs to.
        expires_at: When the hold ends unless its lease is kept alive.
    """

    name: str
    holder: str
    token: int
    lease_id: str
    namespace: str = ""
    expires_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the lock as a JSON-ready dict."""
        return {
            "name": self.name,
            "holder": self.holder,
            "token": self.token,
            "lease_id": self.lease_id,
            "namespace": self.namespace,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lock:
        """Build a lock from :meth:`to_dict` output."""
        exp = data.get("expires_at")
        return cls(
            str(data["name"]),
            str(data["holder"]),
            int(data["token"]),
            str(data["lease_id"]),
            str(data.get("namespace", "")),
            None if exp is None else float(exp),
        )


@dataclass(frozen=True, slots=True)
class TxnResult:
    """What a transaction did (``mem.transaction()`` ... ``commit()``).

    Attributes:
        succeeded: Whether every compare held (then the ``on_success`` branch ran, else the
            ``on_failure`` branch).
        results: One item per op of the branch that ran, in order: the written
            :class:`Entry` of a write, whether a delete removed a live entry, the
            :class:`Entry` (or ``None``) of a read.
        revisions: Each namespace the transaction named, with its revision once the
            transaction committed.
    """

    succeeded: bool
    results: list[Any]
    revisions: dict[str, int]
