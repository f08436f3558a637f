"""``/mcp`` on the server: MCP over streamable HTTP, with the server's bearer tokens.

:class:`McpEndpoint` is the ASGI app of the route. It authenticates every request the way
every other route does (:meth:`hivemem.server.app.Hub.caller`: ``Authorization: Bearer
<token>``; without one, 401 and the usual error JSON) and hands it to the MCP SDK's session
manager. A tool call then runs on :class:`CallerMemory`, an :class:`~hivemem.AsyncMemory`
whose every op goes through :meth:`Hub.run` as the token's agent: the same ops, permissions
and audit records as the HTTP API.

The manager runs stateless (a fresh MCP transport per request, no session to keep), so any
replica of a scaled-out server can serve any request. It needs a task group running for as
long as it serves: the first ``/mcp`` request starts it (:meth:`McpEndpoint.start`; the MCP
SDK, slow to import, is imported only then, so a server nobody asks for MCP starts as fast as
before) and the app's lifespan stops it (:meth:`McpEndpoint.aclose`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request

from hivemem._async import AsyncMemory
from hivemem._sync import _agent_core
from hivemem.errors import HivememError, Unauthenticated
from hivemem.memories.api import plans_for
from hivemem.server._http import error_response

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.types import Receive, Scope, Send

    from hivemem.engine import ops as o
    from hivemem.memories.api import AsyncMemories
    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["CALLER_SCOPE_KEY", "CallerMemory", "McpEndpoint"]

R = TypeVar("R")

#: Where :class:`McpEndpoint` leaves the authenticated :class:`Caller` in the ASGI scope.
CALLER_SCOPE_KEY = "hivemem.caller"


class CallerMemory(AsyncMemory):
    """The server's store as one authenticated caller: every op runs through :meth:`Hub.run`.

    Its default agent is the caller's (a token's agent), and an admin token's ops run as
    admin, exactly as the HTTP routes run them.
    """

    def __init__(self, hub: Hub, caller: Caller) -> None:
        super().__init__(_agent_core(hub.core, caller.agent))
        self._hub = hub
        self._caller = caller

    async def _run(self, op: o.Op[R]) -> R:
        value: R = await self._hub.run(self._caller, op)
        return value

    def memories(
        self,
        namespace: str = "memories",
        agent: str | None = None,
        *,
        session_id: str | None = None,
    ) -> AsyncMemories:
        """Long-term memories as the caller, with an admin token's rights as the routes give.

        The plans check some permissions themselves (e.g. archive's up-front write check);
        the memories routes build them with ``admin=caller.admin``, and so does this.
        """
        lt = super().memories(namespace, agent, session_id=session_id)
        if self._caller.admin:
            lt._plans = plans_for(self._c, lt.agent, lt.namespace, session_id, admin=True)
        return lt


class McpEndpoint:
    """The ASGI app of ``/mcp``: authenticate, then serve MCP (streamable HTTP)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._manager: StreamableHTTPSessionManager | None = None
        self._manager_loop: asyncio.AbstractEventLoop | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None

    async def _memory_for(self, ctx: ServerRequestContext[Any, Any]) -> AsyncMemory:
        request = ctx.request
        caller = request.scope.get(CALLER_SCOPE_KEY) if isinstance(request, Request) else None
        if caller is None:  # not through __call__: refuse rather than guess an agent
            raise Unauthenticated("MCP calls need 'Authorization: Bearer <token>'")
        return CallerMemory(self.hub, caller)

    def _security(self) -> TransportSecuritySettings | None:
        from mcp.server.transport_security import TransportSecuritySettings

        if self.hub.config.auth:
            return None  # a token is needed anyway; a rebinding page cannot read one
        # Without auth the server listens on loopback only: keep other sites' pages out.
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request to ``/mcp``."""
        request = Request(scope, receive)
        try:
            caller = await self.hub.caller(request)
        except HivememError as exc:
            await error_response(exc)(scope, receive, send)
            return
        scope[CALLER_SCOPE_KEY] = caller
        manager = await self.start()
        if scope["method"] != "GET":
            await manager.handle_request(scope, receive, send)
            return
        # A GET holds an SSE stream open: it takes one of the token's stream slots.
        try:
            key = self.hub.open_stream(caller)
        except HivememError as exc:
            await error_response(exc)(scope, receive, send)
            return
        try:
            await manager.handle_request(scope, receive, send)
        finally:
            self.hub.close_stream(key)

    async def start(self) -> StreamableHTTPSessionManager:
        """Start the MCP session manager on the running loop (if not already); return it."""
        loop = asyncio.get_running_loop()
        if self._manager is not None and self._manager_loop is loop:
            return self._manager
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()  # the previous loop's lock cannot serve this loop
            self._lock_loop = loop
        async with self._lock:
            if self._manager is None or self._manager_loop is not loop:
                await self._launch(loop)
            assert self._manager is not None
            return self._manager

    async def _launch(self, loop: asyncio.AbstractEventLoop) -> None:
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        from hivemem.mcp.server import build_server

        manager = StreamableHTTPSessionManager(
            app=build_server(self._memory_for),
            json_response=True,
            stateless=True,
            security_settings=self._security(),
            max_request_body_size=self.hub.config.max_body_bytes,
        )
        ready = asyncio.Event()
        stop = asyncio.Event()

        async def run() -> None:
            async with manager.run():
                ready.set()
                await stop.wait()

        task = loop.create_task(run(), name="hivemem-mcp")
        waiting = asyncio.ensure_future(ready.wait())
        await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            waiting.cancel()
            task.result()  # raises why it did not start
        self._manager, self._manager_loop, self._task, self._stop = manager, loop, task, stop

    async def aclose(self) -> None:
        """Stop the session manager (in-flight MCP requests are cancelled); idempotent."""
        task, stop, loop = self._task, self._stop, self._manager_loop
        self._manager = self._manager_loop = self._task = self._stop = None
        if task is None or stop is None or loop is not asyncio.get_running_loop():
            return  # nothing running, or it ran on a loop that is gone
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
