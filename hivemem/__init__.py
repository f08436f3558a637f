"""hivemem: shared memory for multi-agent AI systems.

>>> import hivemem
>>> mem = hivemem.connect("memory://", agent="planner")
>>> mem.write("team", "status", "ready").version
1
>>> mem.read("team", "status")
'ready'
>>> mem.close()
"""

from __future__ import annotations

from hivemem._async import AsyncMemory, AsyncSubscription
from hivemem._connect import DEFAULT_URL, connect, connect_async
from hivemem._sync import Memory, Subscription
from hivemem.errors import (
    AlreadyExists,
    BackendUnavailable,
    CircuitOpen,
    ConflictError,
    EmbedderUnavailable,
    HivememError,
    IndexOutOfRange,
    InternalError,
    InvalidArgument,
    ItemNotFound,
    NamespaceFull,
    NamespaceNotFound,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    RevisionCompacted,
    ServerBusy,
    TooLarge,
    TooManyRequests,
    Unauthenticated,
    WrongType,
)
from hivemem.types import (
    AccessLogEntry,
    Entry,
    Event,
    Group,
    MemoryRecord,
    Message,
    NamespaceInfo,
    Page,
    ScoredMemory,
    Session,
    Version,
)

__version__ = "0.1.0"

__all__ = [
    "AccessLogEntry",
    "AlreadyExists",
    "AsyncMemory",
    "AsyncSubscription",
    "BackendUnavailable",
    "CircuitOpen",
    "ConflictError",
    "DEFAULT_URL",
    "EmbedderUnavailable",
    "Entry",
    "Event",
    "Group",
    "HivememError",
    "IndexOutOfRange",
    "InternalError",
    "InvalidArgument",
    "ItemNotFound",
    "Memory",
    "MemoryRecord",
    "Message",
    "NamespaceFull",
    "NamespaceInfo",
    "NamespaceNotFound",
    "NotFound",
    "Page",
    "PermissionDenied",
    "QuotaExceeded",
    "RateLimited",
    "RevisionCompacted",
    "ScoredMemory",
    "ServerBusy",
    "Session",
    "Subscription",
    "TooLarge",
    "TooManyRequests",
    "Unauthenticated",
    "Version",
    "WrongType",
    "__version__",
    "connect",
    "connect_async",
]
