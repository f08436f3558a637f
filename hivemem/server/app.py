"""What the server's routes share: the :class:`Hub` (store, tokens, config, counters).

:func:`hivemem.server.asgi.create_app` builds the ASGI app around one open store; every
route runs its ops through :meth:`Hub.run` (inline reads, group committed writes, heavy
reads off the event loop). This module imports no route, so the routes can import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from hivemem import _validate as v
from hivemem._core import DEFAULT_AGENT
from hivemem.engine import ops as o
from hivemem.errors import (
    PermissionDenied,
    TooManyRequests,
    Unauthenticated,
)
from hivemem.memories.embed import EmbedderWarmup
from hivemem.server import limits
from hivemem.server.auth import Caller, TokenStore
from hivemem.server.fanout import FanoutCache

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from starlette.requests import Request

    from hivemem._core import Core
    from hivemem.engine.ops import Op
    from hivemem.server.metrics import Metrics
    from hivemem.types import Event

__all__ = [
    "CALLER_KEY",
    "EVENT_SINK",
    "INLINE_LIST",
    "ITEMS_PER_REQUEST",
    "METRICS_ACCESS",
    "TURN_ITEMS",
    "Hub",
    "ServerConfig",
    "costly",
    "heavy",
    "hub_of",
    "metrics_access",
    "rate_key",
]

T = TypeVar("T")

log = logging.getLogger("hivemem.server")

#: Where the guard leaves the authenticated caller in the ASGI scope (the routes and
#: ``/mcp`` take it from there).
CALLER_KEY = "hivemem.caller"


def rate_key(caller: Caller) -> str:
    """The rate-limit key of an authenticated caller: its token."""
    return f"token:{caller.token_id}"


#: Where :meth:`Hub.run` puts the events of a request's ops when the client asked for them.
EVENT_SINK: contextvars.ContextVar[list[Event] | None] = contextvars.ContextVar(
    "hivemem_event_sink", default=None
)


@dataclass(slots=True)
class ServerConfig:
    """Options of one server process.

    Attributes:
        auth: Require a bearer token (``False`` only for local development on loopback:
            the agent then comes from the ``X-Agent-Id`` header).
        max_body_bytes: Largest request body accepted.
        heartbeat: Seconds between SSE heartbeats on an idle event stream.
        max_streams_per_token: Concurrent event streams one token (or, without auth, one
            agent) may hold.
        ui: Serve the web UI at ``/``.
        decay_interval: Seconds between decay passes over the long-term memories (one
            replica at a time); 0 turns the scheduler off.
        heavy_workers: Threads that run heavy reads (stats, namespace lists, listings of
            more than :data:`INLINE_LIST` entries) off the event loop; more wait their turn.
        fanout_cache_bytes: Bound of the event streams' shared fetch cache
            (:mod:`hivemem.server.fanout`).
        fanout_cache_age: Seconds an entry of that cache lives at most.
        rate_limit: Requests per second per token (per client address for requests
            without one); beyond it 429 ``rate_limited`` with ``Retry-After``. 0: no limit.
        rate_burst: Requests a token may send at once (its bucket's size).
        max_bodies_in_flight: Bytes of request bodies being received at once, over all
            requests (one caller: a quarter of it); beyond, 503 ``server_busy``.
        stream_buffer_bytes: Bytes an event stream may have waiting for a client that
            does not read; beyond, the client is dropped.
        stream_buffer_events: Events (and heartbeats) an event stream may have waiting
            behind a write the client does not take; beyond, the client is dropped.
        metrics: Who may read ``/metrics``: ``open`` (anyone), ``auth`` (an admin token;
            anyone on a server without auth) or ``off`` (404). ``hivemem serve`` picks
            ``open`` on a loopback address, else ``auth`` (:func:`metrics_access`).


        allow_webhook_hosts: Webhook targets allowed despite a non-public address.
        webhook_max_failures: Failed deliveries in a row that disable a webhook.
        webhooks: Whether this process runs the webhook delivery worker.
        webhook_claim_ttl: Seconds a delivery worker's claim on a webhook lasts.
    """

    auth: bool = True
    max_body_bytes: int = 2 << 20
    heartbeat: float = 15.0
    max_streams_per_token: int = 64
    ui: bool = True
    decay_interval: float = 3600.0
    # -- load (issue 15): heavy reads off the event loop, bounded caches
    #: Threads that run heavy reads (stats, namespace lists, big listings) off the loop.
    heavy_workers: int = 2
    #: Bytes the SSE fan-out cache may hold (events and their frames).
    fanout_cache_bytes: int = 32 << 20
    #: Seconds a fan-out cache entry lives at most.
    fanout_cache_age: float = 5.0
    rate_limit: float = limits.DEFAULT_RATE
    rate_burst: int = limits.DEFAULT_BURST
    max_bodies_in_flight: int = limits.DEFAULT_MAX_BODIES_IN_FLIGHT
    stream_buffer_bytes: int = limits.DEFAULT_STREAM_BUFFER_BYTES
    stream_buffer_events: int = limits.DEFAULT_STREAM_BUFFER_EVENTS
    metrics: str = "auth"
    # -- webhooks (SPEC §19): see hivemem.webhooks
    #: Comma-separated targets allowed despite a non-public address (``*``: any).
    allow_webhook_hosts: str = ""
    #: Failures in a row that disable a webhook (0: never).
    webhook_max_failures: int = 20
    #: Run the delivery worker in this process.
    webhooks: bool = True
    #: Seconds a worker's claim on a webhook lasts (a killed server's are taken over after).
    webhook_claim_ttl: float = 30.0

    def __post_init__(self) -> None:
        if self.metrics not in METRICS_ACCESS:
            raise ValueError(f"metrics must be one of {', '.join(METRICS_ACCESS)}")


#: The values of :attr:`ServerConfig.metrics`.
METRICS_ACCESS = ("open", "auth", "off")


def metrics_access(setting: str | None, loopback: bool) -> str:
    """Who may read ``/metrics``: the setting given, else ``open`` on loopback, ``auth`` if not.

    A server bound to this machine only is scraped by a local agent; one reachable from the
    network does not show its traffic to whoever asks.
    """
    if setting is None or setting == "auto":
        return "open" if loopback else "auth"
    return setting


@dataclass(slots=True)
class Hub:
    """What the routes share: the store, its tokens, the config, live counters."""

    core: Core
    config: ServerConfig
    tokens: TokenStore
    metrics: Metrics
    streams: Counter[str] = field(default_factory=Counter)
    started_at: float = field(default_factory=time.time)
    #: Watches the store for changes made by other processes (SQLite file, replicas).
    poller: asyncio.Task[None] | None = None
    #: Slots of the threads running heavy reads, and the loop they belong to.
    heavy_slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
    #: Expensive stats answers kept for reuse (:mod:`hivemem.server.routes.system`).
    stats_cache: dict[Any, Any] = field(default_factory=dict)
    #: Event fetches shared by the streams of a namespace (bounded; see its module).
    fanout: FanoutCache = field(default_factory=FanoutCache)
    #: Bytes event streams hold for clients that have not read them yet.
    stream_buffered: int = 0
    #: The costly call each caller has running, and how many of its calls wait behind it.
    turns: dict[str, _Turn] = field(default_factory=dict)
    #: Charges a rate-limit key more requests (the guard's ``RateLimiter.charge``).
    charge: Callable[[str, float], None] = lambda key, count: None
    #: Events the ops run by :meth:`run` produced, by event type (``/metrics``).
    published: dict[str, int] = field(default_factory=dict)
    #: The memories' embedder, loaded at start by the app's lifespan (``/readyz`` waits).
    embedder: EmbedderWarmup = field(default_factory=lambda: EmbedderWarmup(None))

    def open_stream(self, caller: Caller) -> str:
        """Take one of the caller's event-stream slots; return the key to give it back with.

        Every door that holds a response open (SSE events, ``GET /mcp``) takes one, so a
        token holds at most ``max_streams_per_token`` streams in all.

        Raises:
            TooManyRequests: the token holds its limit already.
        """
        key = caller.token_id or caller.agent
        if self.streams[key] >= self.config.max_streams_per_token:
            raise TooManyRequests(
                f"this token holds {self.streams[key]} event streams already "
                f"(the limit is {self.config.max_streams_per_token}); close one first"
            )
        self.streams[key] += 1
        return key

    def close_stream(self, key: str) -> None:
        """Give back a slot taken by :meth:`open_stream`."""
        self.streams[key] -= 1
        if self.streams[key] <= 0:
            del self.streams[key]

    async def poll_changes(self) -> None:
        """Wake event streams when another process changes the store."""
        backend = self.core.backend
        if not backend.supports_change_token:
            return
        probe = backend.change_token
        last = probe()
        while True:
            await asyncio.sleep(backend.poll_interval)
            try:
                now = probe()
            except Exception:  # a store that went away: the routes will report it
                continue
            if now != last:
                last = now
                backend.notify_foreign()

    @contextlib.asynccontextmanager
    async def turn(self, caller: Caller) -> AsyncIterator[None]:
        """Wait until none of the caller's other costly calls runs, then hold the turn.

        One caller's costly calls (:func:`costly` ops, an event stream's backlog fetch) run
        one at a time, so however many it sends at once, the event loop and the heavy
        threads spend at most one call's work on it at a time and everyone else's requests
        are served between its steps. The key is the token (or, without auth, the agent).
        """
        key = caller.token_id or caller.agent
        turn = self.turns.get(key)
        if turn is None:
            turn = self.turns[key] = _Turn()
        turn.users += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.users -= 1
            if turn.users <= 0 and self.turns.get(key) is turn:
                del self.turns[key]

    def pay(self, caller: Caller, items: int) -> None:
        """Charge the caller's token for a costly read of ``items`` items.

        Every :data:`ITEMS_PER_REQUEST` items count as one more request against the token's
        rate limit, so a token's share of the server follows what its reads cost, not only
        how many it sends. Callers without a token (auth off) are not limited.
        """
        if caller.token_id is not None:
            self.charge(rate_key(caller), items / ITEMS_PER_REQUEST)

    async def run(self, caller: Caller, op: Op[Any]) -> Any:
        """Run an op for the caller (as admin if the caller's token is) and return its value.

        Reads that can take long (:func:`heavy`) run in the hub's bounded thread pool, so
        the event loop keeps serving everyone else meanwhile; a caller's costly reads
        (:func:`costly`) take its :meth:`turn` and are paid for by item (:meth:`pay`).
        """
        if caller.admin and not op.admin:
            op = dataclasses.replace(op, admin=True)
        if costly(op) and not op.internal:
            async with self.turn(caller):
                result = await self._execute(op)
            self.pay(caller, _items(result.value))
        else:
            result = await self._execute(op)
        if result.events:
            published = self.published
            for event in result.events:
                published[event.type] = published.get(event.type, 0) + 1
            sink = EVENT_SINK.get()
            if sink is not None:
                sink.extend(result.events)
        return self.core.finish(result)

    async def _execute(self, op: Op[Any]) -> Any:
        if heavy(op):
            return await self.off_loop(self.core.backend.execute, op)
        return await self.core.backend.aexecute(op)

    async def off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a thread of its own, at most ``heavy_workers`` at a time.

        A slot is given back when the thread ends, not when the caller stops waiting: a
        client that disconnects mid-call cannot start more heavy work than the bound. The
        threads end with their call (no idle pool outlives the app).
        """
        loop = asyncio.get_running_loop()
        if self.heavy_slots is None or self.heavy_slots[0] is not loop:  # one per loop
            self.heavy_slots = (loop, asyncio.Semaphore(max(1, self.config.heavy_workers)))
        slots = self.heavy_slots[1]
        await slots.acquire()
        done: asyncio.Future[T] = loop.create_future()

        def work() -> None:
            try:
                value = fn(*args)
            except BaseException as exc:  # handed to the caller, raised there
                loop.call_soon_threadsafe(_settle, done, slots, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, done, slots, value, None)

        try:
            threading.Thread(target=work, name="hivemem-heavy", daemon=True).start()
        except BaseException:
            slots.release()
            raise
        return await done

    async def caller(self, request: Request) -> Caller:
        """Authenticate a request and return who it acts for.

        Raises:
            Unauthenticated: no valid token.
            PermissionDenied: the request names another agent than its token's.
        """
        known: Caller | None = request.scope.get(CALLER_KEY)
        if known is not None:  # authenticated by the guard, before the body was read
            return known
        headers = request.headers
        named = headers.get("x-agent-id")
        if not self.config.auth:
            agent = v.check_caller_agent(named) if named else DEFAULT_AGENT
            return Caller(agent, headers.get("x-hivemem-admin") == "1", None)
        asked = request.query_params.get("agent") if request.scope.get("query_string") else None
        return await self.authenticate(headers.get("authorization", ""), named, asked)

    async def authenticate(
        self, authorization: str, named: str | None, asked: str | None, *, audit: bool = True
    ) -> Caller:
        """The caller of an ``Authorization`` header (auth on), naming ``named``/``asked``.

        ``named`` is the request's ``X-Agent-Id``, ``asked`` its ``agent`` query argument:
        either must be the token's own agent; a refusal is audited unless ``audit`` is false
        (the guard's early look at a request the route authenticates again).

        Raises:
            Unauthenticated: no valid token.
            PermissionDenied: the request names another agent than its token's.
        """
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "this server needs a token: send 'Authorization: Bearer <token>' "
                "(create one with 'hivemem token create AGENT')"
            )
        record = await self.tokens.alookup(token.strip())
        if record is None:
            raise Unauthenticated("the token is unknown or revoked")
        for other in (named, asked):
            if other is not None and other != record.agent:
                reason = f"this token acts for agent {record.agent!r}; it cannot act as {other!r}"
                if audit:  # like every refusal: the engine records it, nothing else changes
                    await self.core.backend.aexecute(
                        o.Impersonation(agent=record.agent, reason=reason)
                    )
                raise PermissionDenied(reason)
        if record.reserved:
            raise PermissionDenied(f"agent id {record.agent!r} is reserved for the store itself")
        return Caller(record.agent, record.role == "admin", record.id)


class _Turn:
    """A caller's turn at costly calls: the lock, and the calls holding or awaiting it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


def _settle(
    done: asyncio.Future[Any], slots: asyncio.Semaphore, value: Any, exc: BaseException | None
) -> None:
    """In the loop: free the heavy slot, then hand the result to a caller still waiting."""
    slots.release()
    if done.done():
        return  # the caller went away (cancelled)
    if exc is not None:
        done.set_exception(exc)
    else:
        done.set_result(value)


#: A listing of more entries than this (or of all) is heavy: it runs off the event loop.
INLINE_LIST = 100
#: Reads that visit the whole store, or every namespace: always off the event loop.
_HEAVY = (o.Stats, o.ListNamespaces)


def heavy(op: Op[Any]) -> bool:
    """Whether an op may take long enough to run off the event loop (reads only)."""
    if op.mutates:
        return False  # a backend's writes already leave the loop (or hold a lock briefly)
    if isinstance(op, o.ListEntries):
        return op.limit is None or op.limit > INLINE_LIST
    return isinstance(op, _HEAVY)


#: A read answering more items than this takes the caller's turn (:meth:`Hub.turn`).
TURN_ITEMS = 100
#: Items of a costly read (entries, events, namespaces) that count as one request against
#: the token's rate limit (:meth:`Hub.pay`).
ITEMS_PER_REQUEST = 2


def _items(value: Any) -> int:
    """How many items a read answered (namespaces for stats)."""
    if isinstance(value, dict):
        return len(value.get("per_namespace") or ())
    try:
        return len(value)
    except TypeError:
        return 0


def costly(op: Op[Any]) -> bool:
    """Whether a read costs enough that one caller runs only one such at a time."""
    if op.mutates:
        return False
    if isinstance(op, o.ListEntries | o.EventsAfter):
        return op.limit is None or op.limit > TURN_ITEMS
    return heavy(op)


def hub_of(request: Request) -> Hub:
    """The :class:`Hub` of the app serving a request."""
    hub: Hub = request.app.state.hub
    return hub
