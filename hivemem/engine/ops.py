"""Operations: frozen records of what a caller asked for.

The public API turns each call into one op, once; backends execute ops; the server's
``/batch`` route and the remote client carry them unchanged. Values travel as JSON text
(``value_json``), already validated and size-checked by the caller's side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MUTATIONS",
    "AccessLogQuery",
    "Broadcast",
    "ClearNamespace",
    "CreateNamespace",
    "Delete",
    "DeleteNamespace",
    "EventsAfter",
    "Get",
    "GetMany",
    "GetNamespace",
    "ListEntries",
    "ListNamespaces",
    "Op",
    "Put",
    "PutMany",
    "StartWatch",
    "Stats",
    "Sweep",
    "UpdateNamespace",
    "UpdatePermissions",
]

_OP = {"frozen": True, "slots": True, "kw_only": True}


@dataclass(**_OP)
class Op:
    """Base of every op: who asks, and whether they are a server admin."""

    agent: str
    admin: bool = False

    #: The audit action name; ``None`` for ops that are not audited.
    action = None  # type: str | None
    #: True for ops that change state (they run in a write transaction).
    mutates = False

    @property
    def namespace_name(self) -> str | None:
        """The namespace the op addresses, if any."""
        return getattr(self, "ns", None)

    @property
    def key_name(self) -> str | None:
        """The key the op addresses, if any."""
        return getattr(self, "key", None)


@dataclass(**_OP)
class CreateNamespace(Op):
    """Create a namespace; the creator becomes its admin unless ``permissions`` say otherwise."""

    ns: str
    default_permission: str | None = "write"
    permissions: dict[str, str | None] | None = None
    conflict_strategy: str = "latest-wins"
    resolver: str | None = None
    ttl: float | None = None
    max_entries: int | None = None
    description: str = ""
    exist_ok: bool = False
    action = "create_namespace"
    mutates = True


@dataclass(**_OP)
class GetNamespace(Op):
    """Read a namespace's configuration (needs read)."""

    ns: str
    action = "get_namespace"


@dataclass(**_OP)
class ListNamespaces(Op):
    """List the namespaces the agent can read."""

    action = "list_namespaces"


@dataclass(**_OP)
class UpdateNamespace(Op):
    """Change configuration fields (needs admin)."""

    ns: str
    changes: dict[str, Any] = field(default_factory=dict)
    action = "update_namespace"
    mutates = True


@dataclass(**_OP)
class UpdatePermissions(Op):
    """Merge per-agent permission overrides; a ``None`` value removes one (needs admin)."""

    ns: str
    permissions: dict[str, str | None] = field(default_factory=dict)
    action = "update_permissions"
    mutates = True


@dataclass(**_OP)
class ClearNamespace(Op):
    """Delete every entry of a namespace (needs admin)."""

    ns: str
    action = "clear"
    mutates = True


@dataclass(**_OP)
class DeleteNamespace(Op):
    """Delete a namespace and its entries (needs admin)."""

    ns: str
    action = "delete_namespace"
    mutates = True


@dataclass(**_OP)
class Get(Op):
    """Read one entry (needs read)."""

    ns: str
    key: str
    action = "read"


@dataclass(**_OP)
class GetMany(Op):
    """Read several entries (needs read)."""

    ns: str
    keys: tuple[str, ...]
    action = "read"


@dataclass(**_OP)
class ListEntries(Op):
    """List live entries by key order, optionally by prefix, paged (needs read).

    ``limit=None`` lists everything (``get_keys``/``get_all``).
    """

    ns: str
    prefix: str = ""
    limit: int | None = 100
    cursor: str | None = None
    action = "list"


@dataclass(**_OP)
class Put(Op):
    """Write one entry under the namespace's conflict strategy (needs write)."""

    ns: str
    key: str
    value_json: str
    ttl: float | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None
    action = "write"
    mutates = True


@dataclass(**_OP)
class PutMany(Op):
    """Write several entries, all or nothing (needs write)."""

    ns: str
    items: tuple[tuple[str, str], ...]
    ttl: float | None = None
    idempotency_key: str | None = None
    action = "write_many"
    mutates = True


@dataclass(**_OP)
class Delete(Op):
    """Delete one entry (needs write)."""

    ns: str
    key: str
    expected_version: int | None = None
    idempotency_key: str | None = None
    action = "delete"
    mutates = True


@dataclass(**_OP)
class Broadcast(Op):
    """Send a message to every reader of the namespace (needs write)."""

    ns: str
    message_json: str
    idempotency_key: str | None = None
    action = "broadcast"
    mutates = True


@dataclass(**_OP)
class StartWatch(Op):
    """Check read permission and return the current revision (audited as watch/subscribe)."""

    ns: str
    since: int | None = None
    subscribe: bool = False

    @property
    def audit_action(self) -> str:
        """``subscribe`` or ``watch``."""
        return "subscribe" if self.subscribe else "watch"


@dataclass(**_OP)
class EventsAfter(Op):
    """Retained stream events with revision > ``since``, oldest first (needs read; unaudited)."""

    ns: str
    since: int
    limit: int = 1000


@dataclass(**_OP)
class AccessLogQuery(Op):
    """Audit records, newest first, filtered."""

    agent_id: str | None = None
    ns: str | None = None
    action_filter: str | None = None
    success: bool | None = None
    since: float | None = None
    limit: int = 100


@dataclass(**_OP)
class Stats(Op):
    """Counters of the whole store."""


@dataclass(**_OP)
class Sweep(Op):
    """Delete expired entries and announce each with a ``memory:expired`` event."""

    limit: int = 1000
    mutates = True


#: Op types that run in a write transaction.
MUTATIONS = frozenset(
    cls for cls in list(globals().values()) if isinstance(cls, type) and getattr(cls, "mutates", 0)
)
