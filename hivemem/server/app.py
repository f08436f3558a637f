"""The ASGI application: the engine over HTTP (SPEC §12).

:func:`create_app` builds a Starlette app around one open store (a :class:`~hivemem._core.Core`).
Every route authenticates the caller (:mod:`hivemem.server.auth`), turns the request into
the same op the Python API builds, runs it on the backend (``aexecute``: inline reads, group
committed writes) and answers JSON. Errors answer ``{"error": {"code", "message", ...}}``
with the status of :mod:`hivemem.errors`; nothing malformed reaches a 500.
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

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Match, Route

from hivemem import _validate as v
from hivemem._core import DEFAULT_AGENT
from hivemem.engine import ops as o
from hivemem.errors import (
    HivememError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from hivemem.server._http import error_response, json_response, raw_json
from hivemem.server.auth import Caller, TokenStore
from hivemem.server.fanout import FanoutCache
from hivemem.server.fastpath import INTERNAL, App, FastEntries
from hivemem.server.metrics import Metrics, MetricsMiddleware

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem._core import Core
    from hivemem.engine.ops import Op
    from hivemem.types import Event

__all__ = ["EVENT_SINK", "INLINE_LIST", "Hub", "ServerConfig", "create_app", "heavy", "hub_of"]

T = TypeVar("T")

log = logging.getLogger("hivemem.server")

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

    async def poll_changes(self) -> None:
        """Wake event streams when another process changes the store."""
        backend = self.core.backend
        probe = getattr(backend, "change_token", None)
        if probe is None:
            return
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

    async def run(self, caller: Caller, op: Op[Any]) -> Any:
        """Run an op for the caller (as admin if the caller's token is) and return its value.

        Reads that can take long (:func:`heavy`) run in the hub's bounded thread pool, so
        the event loop keeps serving everyone else meanwhile.
        """
        if caller.admin and not op.admin:
            op = dataclasses.replace(op, admin=True)
        if heavy(op):
            result = await self.off_loop(self.core.backend.execute, op)
        else:
            result = await self.core.backend.aexecute(op)
        if result.events:
            sink = EVENT_SINK.get()
            if sink is not None:
                sink.extend(result.events)
        return self.core.finish(result)

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
        named = request.headers.get("x-agent-id")
        if not self.config.auth:
            agent = v.check_caller_agent(named) if named else DEFAULT_AGENT
            return Caller(agent, request.headers.get("x-hivemem-admin") == "1", None)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "this server needs a token: send 'Authorization: Bearer <token>' "
                "(create one with 'hivemem token create AGENT')"
            )
        record = await self.tokens.alookup(token.strip())
        if record is None:
            raise Unauthenticated("the token is unknown or revoked")
        asked = request.query_params.get("agent") if request.scope.get("query_string") else None
        for other in (named, asked):
            if other is not None and other != record.agent:
                raise PermissionDenied(
                    f"this token acts for agent {record.agent!r}; it cannot act as {other!r}"
                )
        if record.reserved:
            raise PermissionDenied(f"agent id {record.agent!r} is reserved for the store itself")
        return Caller(record.agent, record.role == "admin", record.id)


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
INLINE_LIST = 1000
#: Reads that visit the whole store, or every namespace: always off the event loop.
_HEAVY = (o.Stats, o.ListNamespaces)


def heavy(op: Op[Any]) -> bool:
    """Whether an op may take long enough to run off the event loop (reads only)."""
    if op.mutates:
        return False  # a backend's writes already leave the loop (or hold a lock briefly)
    if isinstance(op, o.ListEntries):
        return op.limit is None or op.limit > INLINE_LIST
    return isinstance(op, _HEAVY)


def hub_of(request: Request) -> Hub:
    """The :class:`Hub` of the app serving a request."""
    hub: Hub = request.app.state.hub
    return hub


async def _hivemem_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HivememError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFound(f"no route {request.method} {request.url.path}"))
    code = _HTTP_CODES.get(exc.status_code, "bad_request")
    body = {"error": {"code": code, "message": str(exc.detail)}}
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed(request))
    return json_response(body, exc.status_code, headers=headers)


def _allowed(request: Request) -> list[str]:
    """Every method of the path: Starlette's 405 names only those of the first route matched."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("hivemem: unexpected error on %s %s", request.method, request.url.path)
    return raw_json(500, INTERNAL)


_HTTP_CODES = {405: "method_not_allowed", 400: "bad_request", 413: "too_large"}


async def _decay_loop(core: Core, interval: float) -> None:
    """Run the memories' decay pass every ``interval`` seconds (in a worker thread)."""
    if not interval or interval <= 0:
        return
    from hivemem.memories.scheduler import run_decay

    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(run_decay, core, 2 * interval + 5)
        except Exception:  # the scheduler must survive a failing store
            log.exception("hivemem: decay pass failed")


def create_app(core: Core, config: ServerConfig | None = None) -> App:
    """Build the ASGI app serving ``core``'s store.

    Args:
        core: An open store (the server owns it; closing the app does not close it).
        config: Server options (default: auth on, 2 MiB bodies, 15 s heartbeats).
    """
    from hivemem.mcp.http import McpEndpoint
    from hivemem.server.routes import ROUTES

    config = config or ServerConfig()
    tokens = TokenStore(core.backend)
    tokens.ensure()
    metrics = Metrics()
    hub = Hub(core, config, tokens, metrics)
    hub.fanout = FanoutCache(config.fanout_cache_bytes, config.fanout_cache_age)
    mcp = McpEndpoint(hub)

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        if getattr(core.backend, "change_token", None) is not None:
            hub.poller = asyncio.create_task(hub.poll_changes())
        decay = asyncio.create_task(_decay_loop(core, config.decay_interval))
        try:
            yield
        finally:
            decay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await decay
            await mcp.aclose()  # the MCP session manager, if a /mcp request started it
            if hub.poller is not None:
                hub.poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await hub.poller
                hub.poller = None

    app = App(
        lifespan=lifespan,
        # /mcp speaks MCP (JSON-RPC over streamable HTTP), not the REST API: it is not in
        # ROUTES, nor in the OpenAPI document (MCP clients discover it with tools/list).
        routes=[*ROUTES(config), Route("/mcp", mcp)],
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        exception_handlers={
            HivememError: _hivemem_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.hub = hub
    app.fast = FastEntries(hub)
    return app
