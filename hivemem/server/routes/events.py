"""The event stream of a namespace: Server-Sent Events, resumable.

``GET /v1/namespaces/{ns}/events?since=REV`` answers ``text/event-stream``: each event as
``id: <revision>`` / ``event: <type>`` / ``data: <event JSON>``, heartbeat comments while
idle, and ``event: error`` before closing if the watcher loses its read permission. A
reconnecting client sends ``Last-Event-ID`` (or ``since``) and gets every later event once;
a revision older than the retained events answers 410 ``revision_compacted``. With
``Accept: application/json`` the route answers the retained events after ``since`` as one
JSON list instead (``wait=S`` holds the request up to S seconds until one arrives); without
``since`` (or with ``probe=watch|subscribe``) it checks read permission and retention and
answers ``{"revision": current}``, as a watcher does before following.

Every response held open (a stream, a long poll with ``wait``; ``GET /mcp`` too) takes one
of the token's ``max_streams_per_token`` slots until it ends.

A client that stops reading cannot make the server hold its events: each stream writes
through a queue bounded in bytes (``stream_buffer_bytes``, 1 MiB by default) and in events
(``stream_buffer_events``, 10,000: a namespace's whole default event retention, so reading
a full backlog never counts as stalling); once the client's socket buffers are full and
the queue behind its stuck write passes either bound, the connection is aborted
(``hivemem_slow_consumers_dropped_total``) and its stream slot freed. A client that reads
again resumes with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import StreamingResponse

from hivemem.engine import ops as o
from hivemem.errors import HivememError, InvalidArgument, Unauthenticated
from hivemem.server._http import json_response, query_float, query_int
from hivemem.server.fanout import FETCH_EVENTS
from hivemem.server.protocols import ABORT_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import Receive, Scope, Send

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller
    from hivemem.server.fanout import Key
    from hivemem.types import Event

from hivemem.server.routes._common import endpoint

__all__ = ["HANDLERS", "TOKEN_RECHECK", "sse_frame"]

#: Longest (seconds) an open event stream goes on without checking that its token is still
#: valid, when the revocation happened through another server process (T10 allows 1 s).
TOKEN_RECHECK = 0.5


def sse_frame(event: Event) -> bytes:
    """One event as an SSE frame."""
    data = orjson.dumps(event.to_dict())
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.revision, event.type.encode(), data)


def _since(request: Request) -> int | None:
    since = query_int(request, "since")
    if since is None:
        last = request.headers.get("last-event-id", "").strip()
        if last:
            if not last.isdigit() or len(last) > 18:
                raise InvalidArgument(f"Last-Event-ID {last!r} is not a revision")
            since = int(last)
    if since is not None and since < 0:
        raise InvalidArgument("since must be a revision >= 0")
    return since


@endpoint
async def events(request: Request, hub: Hub, caller: Caller) -> Response:
    ns = hub.core.ns(request.path_params["ns"])
    since = _since(request)
    wants_json = "application/json" in request.headers.get("accept", "")
    if wants_json and since is not None and "probe" not in request.query_params:
        return await _json(request, hub, caller, ns, since)
    probe = request.query_params.get("probe", "watch")
    if probe not in ("watch", "subscribe"):
        raise InvalidArgument("probe must be 'watch' or 'subscribe'")
    watch = o.StartWatch(agent=caller.agent, ns=ns, since=since, subscribe=probe == "subscribe")
    start = await hub.run(caller, watch)
    if wants_json:
        # A probe: permission and retention checked, the current revision answered.
        return json_response({"revision": start})
    last = since if since is not None else start
    heartbeat = query_float(request, "heartbeat") or hub.config.heartbeat
    heartbeat = min(max(heartbeat, 0.05), 300.0)
    # Take the slot now, with no await since the check (concurrent opens cannot all pass
    # it); the response gives it back when it ends, however it ends.
    key = hub.open_stream(caller)
    token = _bearer(request) if caller.token_id is not None else None
    drained = asyncio.Event()
    return _EventStream(
        hub,
        key,
        _bounded(
            hub,
            _stream(hub, caller, ns, last, heartbeat, token, drained),
            request.scope.get(ABORT_KEY),
            drained,
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _bearer(request: Request) -> str:
    """The bearer token of an authenticated request."""
    return request.headers.get("authorization", "").partition(" ")[2].strip()


class _EventStream(StreamingResponse):
    """A streaming response that frees its slot in ``hub.streams`` when it is done."""

    def __init__(self, hub: Hub, key: str, content: AsyncIterator[bytes], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.hub = hub
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.hub.close_stream(self.key)


async def _bounded(
    hub: Hub,
    source: AsyncIterator[tuple[bytes, int]],
    abort: Callable[[], None] | None,
    drained: asyncio.Event,
) -> AsyncIterator[bytes]:
    """Write ``source``'s chunks through a bounded queue; drop a client that stops reading.

    ``source`` runs in its own task and queues ``(bytes, events)``; this generator hands the
    chunks to the response, one write at a time. When the client stops reading, its write
    blocks on the full socket while the queue behind it grows: once that queue holds more
    than one chunk and passes ``stream_buffer_bytes`` or ``stream_buffer_events``, the
    connection is aborted (``abort``, from the server's protocol; without one the stream
    ends). While no write is blocked (the response has not taken the queue yet, e.g. a
    backlog read in one go) the source waits instead, so the queue never holds more than
    the bound plus one chunk. ``drained`` is set while the client has taken every chunk
    (nothing queued, no write stuck).
    """
    config = hub.config
    queue: deque[tuple[bytes, int]] = deque()
    held = events = 0
    drained.set()
    ready = asyncio.Event()  # the queue has something, or the source ended
    taken = asyncio.Event()  # the response took a chunk, or finished writing one
    sending = over = done = False

    def full() -> bool:
        big = held > config.stream_buffer_bytes or events > config.stream_buffer_events
        return big and len(queue) > 1

    async def pump() -> None:
        nonlocal held, events, over, done
        try:
            async for chunk, count in source:
                queue.append((chunk, count))
                drained.clear()
                held += len(chunk)
                events += count
                hub.stream_buffered += len(chunk)
                ready.set()
                while full():
                    if sending:  # its write is stuck and the queue behind it is full
                        over = True
                        hub.metrics.counters["slow_consumers_dropped"] += 1
                        if abort is not None:
                            abort()
                        return
                    taken.clear()
                    await taken.wait()
        finally:
            done = True
            ready.set()
            await source.aclose()  # type: ignore[attr-defined]

    task = asyncio.create_task(pump())
    try:
        while not over:
            if queue:
                chunk, count = queue.popleft()
                held -= len(chunk)
                events -= count
                hub.stream_buffered -= len(chunk)
                sending = True
                taken.set()
                yield chunk
                sending = False
                taken.set()
                if not queue:
                    drained.set()
                continue
            if done:
                return
            ready.clear()
            await ready.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        hub.stream_buffered -= held
        queue.clear()


async def _json(request: Request, hub: Hub, caller: Caller, ns: str, last: int) -> Response:
    limit = query_int(request, "limit", 1000)
    if limit is None or not 1 <= limit <= 10_000:
        raise InvalidArgument("limit must be 1-10000")
    wait = min(max(query_float(request, "wait") or 0.0, 0.0), 60.0)
    deadline = time.monotonic() + wait
    notifier = hub.core.backend.notifier
    # A long poll holds its request open like a stream: it takes one of the token's slots.
    key = hub.open_stream(caller) if wait > 0 else None
    try:
        while True:
            mark = notifier.mark(ns)
            found = await hub.run(
                caller, o.EventsAfter(agent=caller.agent, ns=ns, since=last, limit=limit)
            )
            remaining = deadline - time.monotonic()
            if found or remaining <= 0:
                return json_response({"events": [e.to_dict() for e in found]})
            await notifier.await_change(mark, min(remaining, _wake(hub)), ns)
    finally:
        if key is not None:
            hub.close_stream(key)


def _wake(hub: Hub) -> float:
    """How long an idle stream sleeps before looking again without a notification."""
    # A store shared with other processes is watched by the hub's poller, which notifies.
    return 30.0 if hub.poller is not None else hub.core.backend.poll_interval


async def _stream(
    hub: Hub,
    caller: Caller,
    ns: str,
    last: int,
    heartbeat: float,
    token: str | None,
    drained: asyncio.Event,
) -> AsyncIterator[tuple[bytes, int]]:
    """The stream's writes, each with how many events (or heartbeats) it carries.

    A backlog is read in steps of at most ``FETCH_EVENTS`` events, each once the client
    took the one before (``drained``): a client that reads slowly, or leaves, costs the
    server no read ahead of it.
    """
    notifier = hub.core.backend.notifier
    revocations = hub.tokens.revocations
    recheck = time.monotonic() + TOKEN_RECHECK
    yield b"retry: 1000\n: connected\n\n", 1
    next_beat = time.monotonic() + heartbeat
    held: Key | None = None
    try:
        while True:
            mark = notifier.mark(ns)
            if held is not None:
                hub.fanout.release(held)
                held = None
            try:
                # One fetch per change of the namespace, shared by its streams at this point.
                key = (ns, last, mark)
                found, newest, frames = await hub.fanout.events_after(hub, caller, key, sse_frame)
                held = key
                # A revoked token's stream ends: at once after a revocation through this
                # process, within TOKEN_RECHECK seconds after one through another.
                now = time.monotonic()
                if token is not None and (revocations != hub.tokens.revocations or now >= recheck):
                    revocations, recheck = hub.tokens.revocations, now + TOKEN_RECHECK
                    if await hub.tokens.alookup(token) is None:
                        raise Unauthenticated("the token of this event stream was revoked")
            except HivememError as exc:
                yield b"event: error\ndata: %s\n\n" % orjson.dumps(exc.to_dict()), 1
                return
            if found:
                last = newest
                yield frames, found
                next_beat = time.monotonic() + heartbeat
                if found >= FETCH_EVENTS:  # more backlog: once the client took this
                    await drained.wait()
                continue
            remaining = next_beat - time.monotonic()
            if remaining <= 0:
                yield b": ping\n\n", 1
                next_beat = time.monotonic() + heartbeat
                continue
            await notifier.await_change(mark, min(remaining, _wake(hub)), ns)
    finally:
        if held is not None:
            hub.fanout.release(held)


#: The handler of each route of the table served here, by route name.
HANDLERS = {"events": events}
