"""The ASGI application: the engine over HTTP (SPEC §12).

:func:`create_app` builds a Starlette app around one open store (a :class:`~hivemem._core.Core`).
Every route authenticates the caller (:mod:`hivemem.server.auth`), turns the request into
the same op the Python API builds, runs it on the backend (``aexecute``: inline reads, group
committed writes) and answers JSON. Errors answer ``{"error": {"code", "message", ...}}``
with the status of :mod:`hivemem.errors`; nothing malformed reaches a 500. The routes come
from the route table (:mod:`hivemem.wire.table`, built by :mod:`hivemem.server.routes`); what
they share (the store, tokens, config, counters) is the :class:`~hivemem.server.app.Hub`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Match, Route

from hivemem.errors import HivememError, NotFound
from hivemem.mcp.http import McpEndpoint
from hivemem.memories.embed import EMBED_QUEUE, EmbedderWarmup
from hivemem.server import protocols, swagger
from hivemem.server._http import (
    REQUEST_ID_KEY,
    error_response,
    internal_body,
    json_response,
    raw_json,
)
from hivemem.server.app import Hub, ServerConfig
from hivemem.server.auth import TokenStore
from hivemem.server.fanout import FanoutCache
from hivemem.server.fastpath import App, FastEntries
from hivemem.server.guard import LOGGED_KEY, Guard
from hivemem.server.metrics import Metrics, MetricsMiddleware, histogram_lines
from hivemem.server.routes import ROUTES

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem._core import Core

__all__ = ["create_app"]

log = logging.getLogger("hivemem.server")


async def _hivemem_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HivememError)
    if exc.status >= 500 and exc.code == "internal":  # a backend's unexpected failure
        request_id = request.scope.get(REQUEST_ID_KEY)
        log.error(
            "hivemem: internal error on %s %s (request %s): %s",
            request.method,
            request.url.path,
            request_id,
            exc.message,
        )
        body = exc.to_dict()
        body["error"]["request_id"] = request_id
        return json_response(body, exc.status)
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
    request_id = request.scope.get(REQUEST_ID_KEY)
    log.error(
        "hivemem: unexpected error on %s %s (request %s)",
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    request.scope[LOGGED_KEY] = True  # Starlette raises it again: the guard logs no second time
    return raw_json(500, internal_body(request_id))


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


def _webhook_worker(core: Core, config: ServerConfig) -> asyncio.Task[None] | None:
    """Start the webhook delivery worker (:mod:`hivemem.webhooks`) unless turned off."""
    if not config.webhooks or core.backend.remote:
        return None
    from hivemem.webhooks.guard import Allow
    from hivemem.webhooks.worker import Deliverer

    worker = Deliverer(
        core.backend,
        allow=Allow.parse(config.allow_webhook_hosts),
        max_failures=config.webhook_max_failures,
        claim_ttl=config.webhook_claim_ttl,
    )
    return asyncio.create_task(worker.run())


def _import_numpy() -> None:
    with contextlib.suppress(ImportError):
        import numpy  # noqa: F401


def create_app(core: Core, config: ServerConfig | None = None) -> App:
    """Build the ASGI app serving ``core``'s store.

    Args:
        core: An open store (the server owns it; closing the app does not close it).
        config: Server options (default: auth on, 2 MiB bodies, 15 s heartbeats).
    """
    config = config or ServerConfig()
    tokens = TokenStore(core.backend)
    tokens.ensure()
    metrics = Metrics()
    hub = Hub(core, config, tokens, metrics)
    hub.fanout = FanoutCache(config.fanout_cache_bytes, config.fanout_cache_age)
    hub.embedder = EmbedderWarmup(core.settings.embedder)
    mcp = McpEndpoint(hub)

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        # The embedder loads now, in the background (SPEC §10: /readyz answers 503 until
        # it is loaded; an embedding asked for meanwhile waits for this load, logged).
        hub.embedder.start()
        # numpy (memories' ranking) is imported on first use; a server imports it before
        # serving, in a thread, so that no request's first search stalls the event loop.
        await asyncio.to_thread(_import_numpy)
        if core.backend.supports_change_token:
            hub.poller = asyncio.create_task(hub.poll_changes())
        decay = asyncio.create_task(_decay_loop(core, config.decay_interval))
        deliveries = _webhook_worker(core, config)
        try:
            yield
        finally:
            decay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await decay
            if deliveries is not None:  # releases its claims: another replica resumes
                deliveries.cancel()
                try:
                    await deliveries
                except asyncio.CancelledError:
                    pass
                except Exception:  # its failure must not fail the server's shutdown
                    log.exception("hivemem: the webhook worker failed")
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
        routes=[*ROUTES(config), *swagger.ASSET_ROUTES, Route("/mcp", mcp)],
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        exception_handlers={
            HivememError: _hivemem_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.hub = hub
    app.fast = FastEntries(hub)
    app.guard = Guard(hub)
    metrics.add_gauge("open_connections", protocols.open_connections)
    metrics.add_gauge("event_stream_buffered_bytes", lambda: hub.stream_buffered)
    metrics.counters["slow_consumers_dropped"] += 0
    for cause in protocols.counters():
        metrics.add_counter(f"connections_{cause}", _reader(cause))
    _observe_store(hub)
    return app


def _observe_store(hub: Hub) -> None:
    """Register the store's, the tokens' and the embedder's figures with the metrics."""
    metrics, backend, tokens = hub.metrics, hub.core.backend, hub.tokens
    metrics.add_gauge("watchers", lambda: backend.notifier.waiting)
    metrics.add_counter("stream_wakeups", lambda: backend.notifier.wakeups)
    metrics.add_gauge("embedder_queue_calls", lambda: EMBED_QUEUE.calls)
    metrics.add_gauge("embedder_queue_texts", lambda: EMBED_QUEUE.texts)
    metrics.add_family(
        lambda: (
            "events_published_total",
            "counter",
            "Events produced by the operations this server ran, by type.",
            [
                f'hivemem_events_published_total{{type="{kind}"}} {n}'
                for kind, n in sorted(hub.published.items())
            ],
        )
    )
    metrics.add_family(
        lambda: (
            "token_cache_lookups_total",
            "counter",
            "Bearer-token lookups answered from this process's cache (hit) or the store (miss).",
            [
                f'hivemem_token_cache_lookups_total{{result="hit"}} {tokens.cache_hits}',
                f'hivemem_token_cache_lookups_total{{result="miss"}} {tokens.cache_misses}',
            ],
        )
    )
    sizes = backend.group_commits
    if sizes is not None:
        metrics.add_family(
            lambda: (
                "group_commit_ops",
                "histogram",
                "Ops committed per transaction by the store's writer (group commit).",
                histogram_lines("hivemem_group_commit_ops", "", sizes),
            )
        )


def _reader(cause: str) -> Any:
    """Read one of the protocols' counters (a closure per cause)."""
    return lambda: protocols.counters()[cause]
