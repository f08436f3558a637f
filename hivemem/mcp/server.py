"""The MCP server object: ``tools/list`` and ``tools/call`` over :mod:`hivemem.mcp.tools`.

One low-level :class:`mcp.server.lowlevel.Server` per transport. What differs between stdio
and ``/mcp`` is only where a call's memory handle comes from: the handle ``hivemem mcp``
opened, or one acting as the bearer token's agent of the HTTP request carrying the call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server.lowlevel import Server

from hivemem import __version__
from hivemem.errors import HivememError
from hivemem.mcp.tools import call_tool, error_result, list_tools

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from mcp.server.context import ServerRequestContext

    from hivemem._async import AsyncMemory

    MemoryFor = Callable[[ServerRequestContext[Any, Any]], Awaitable[AsyncMemory]]

__all__ = ["INSTRUCTIONS", "build_server"]

INSTRUCTIONS = """\
hivemem is a memory shared by several agents. Entries are JSON values under keys, grouped in
namespaces with permissions (read, write, admin per agent), optional expiry (ttl) and versions
(pass expected_version to write or delete only if nobody changed the entry meanwhile).
Conversations keep message histories: add_message, get_messages, search_messages.
Long-term memories are texts to recall by meaning: add_memory, search_memories (hybrid by
default: each result with its score and the score's parts), get_memory, update_memory,
archive_memory (restore=true brings one back), link_memories, get_related.
Every call acts as this connection's agent and is audited."""


def build_server(memory_for: MemoryFor) -> Server[Any]:
    """Build the MCP server.

    Args:
        memory_for: Returns the memory handle a call runs on (acting as the call's agent);
            a :class:`~hivemem.errors.HivememError` it raises (e.g. an unknown token)
            becomes the call's error result.
    """

    async def on_list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=list_tools())

    async def on_call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        try:
            mem = await memory_for(ctx)
        except HivememError as exc:
            return error_result(exc)
        return await call_tool(mem, params.name, params.arguments)

    return Server(
        "hivemem",
        version=__version__,
        title="hivemem shared memory",
        instructions=INSTRUCTIONS,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )
