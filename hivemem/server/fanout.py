"""One event fetch shared by every event stream of a namespace.

Each commit wakes every open event stream; each used to run its own ``EventsAfter`` (a query,
the events decoded, then each encoded again as SSE frames), so N streams of a namespace did N
times the same work per commit. :func:`events_after` fetches the events after a revision once
per store change (the backend notifier's counter), as the store itself, together with the
namespace's configuration, and keeps them with their SSE frames; each stream then only checks
its own read permission against that configuration — what ``EventsAfter`` checks — and
writes the shared bytes.

Results are reused only while the notifier's counter has not moved, so a stream never sees
less than a fetch of its own would have shown at the same point. A store shared with other
processes that has no ``change_token`` to poll (Redis: replicas write it too) never moves
the counter for their commits, so there a fetch is also reused for at most the backend's
``poll_interval`` (the streams look again that often): events written through another
replica arrive within it.
"""

from __future__ import annotations

import time
import weakref
from typing import TYPE_CHECKING, Any

from hivemem._validate import SYSTEM_AGENT
from hivemem.engine import ops as o
from hivemem.engine.permissions import READ, require
from hivemem.errors import NotFound
from hivemem.server.auth import Caller

if TYPE_CHECKING:
    from collections.abc import Callable

    from hivemem.backends.base import Notifier
    from hivemem.server.app import Hub
    from hivemem.types import Event, NamespaceInfo

__all__ = ["events_after"]

_STORE = Caller(SYSTEM_AGENT, admin=True)
#: Cached fetches per notifier, at most this many (namespace, revision) pairs.
_MAX_ENTRIES = 256

_Fetch = tuple[int, "NamespaceInfo | None", "list[Event]", bytes, float]
_caches: weakref.WeakKeyDictionary[Notifier, dict[tuple[str, int], _Fetch]] = (
    weakref.WeakKeyDictionary()
)


async def events_after(
    hub: Hub,
    caller: Caller,
    ns: str,
    since: int,
    seq: int,
    frame: Callable[[Event], bytes],
) -> tuple[list[Event], bytes]:
    """The events of ``ns`` after ``since`` the caller may read, and their SSE frames.

    ``seq`` is the notifier's counter read before the call (as a stream reads it before it
    looks for events). Raises what ``EventsAfter`` raises: ``PermissionDenied`` when the
    caller may not read the namespace, ``RevisionCompacted`` for a revision no longer kept.
    """
    notifier = hub.core.backend.notifier
    cache = _caches.get(notifier)
    if cache is None:
        cache = _caches[notifier] = {}
    hit = cache.get((ns, since))
    now = time.monotonic()
    backend = hub.core.backend
    if (
        hit is not None
        and backend.shared_between_processes
        and getattr(backend, "change_token", None) is None
        and now - hit[4] >= backend.poll_interval
    ):
        hit = None  # other processes commit unseen by the notifier: reuse for one poll only
    if hit is None or hit[0] != seq:
        info = await _namespace(hub, ns)
        events: list[Event] = await hub.run(
            _STORE, o.EventsAfter(agent=_STORE.agent, admin=True, internal=True, ns=ns, since=since)
        )
        if len(cache) >= _MAX_ENTRIES:
            cache.clear()
        frames = b"".join(frame(e) for e in events)
        hit = cache[ns, since] = (seq, info, events, frames, now)
    _, info, events, frames, _ = hit
    if info is not None:  # as EventsAfter: a deleted namespace's last events stay readable
        require(info, caller.agent, READ, caller.admin)
    return events, frames


async def _namespace(hub: Hub, ns: str) -> NamespaceInfo | None:
    op = o.GetNamespace(agent=_STORE.agent, admin=True, internal=True, ns=ns)
    try:
        info: Any = await hub.run(_STORE, op)
    except NotFound:
        return None
    return info  # type: ignore[no-any-return]
