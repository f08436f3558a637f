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
    LeaseExpired,
    LockTimeout,
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
from hivemem.queues import AsyncQueue, Queue
from hivemem.types import (
    AccessLogEntry,
    Entry,
    Event,
    Group,
    Lease,
    Lock,
    MemoryRecord,
    Message,
    NamespaceInfo,
    Page,
    Presence,
    QueueInfo,
    ScoredMemory,
    Session,
    Task,
    TxnResult,
    Version,
    Webhook,
    WebhookDelivery,
)

__version__ = "0.1.0"

__all__ = [
    "AccessLogEntry",
    "AlreadyExists",
    "AsyncMemory",
    "AsyncQueue",
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
    "Lease",
    "LeaseExpired",
    "Lock",
    "LockTimeout",
    "Memory",
    "MemoryRecord",
    "Message",
    "NamespaceFull",
    "NamespaceInfo",
    "NamespaceNotFound",
    "NotFound",
    "Page",
    "PermissionDenied",
    "Presence",
    "Queue",
    "QueueInfo",
    "QuotaExceeded",
    "RateLimited",
    "RevisionCompacted",
    "ScoredMemory",
    "ServerBusy",
    "Session",
    "Subscription",
    "Task",
    "TooLarge",
    "TooManyRequests",
    "TxnResult",
    "Unauthenticated",
    "Version",
    "Webhook",
    "WebhookDelivery",
    "WrongType",
    "__version__",
    "connect",
    "connect_async",
]
