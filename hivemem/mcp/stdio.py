"""``hivemem mcp``: the MCP server on stdin/stdout, over one memory handle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.stdio import stdio_server

from hivemem.mcp.server import build_server

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext

    from hivemem._async import AsyncMemory

__all__ = ["serve_stdio"]


async def serve_stdio(mem: AsyncMemory) -> None:
    """Serve MCP on this process's stdin and stdout until the client closes stdin.

    Every tool call acts as ``mem``'s default agent (``--agent`` on an embedded store, the
    token's agent on an ``http://`` one). Nothing else may write to stdout meanwhile.

    Args:
        mem: The open memory handle (the caller closes it).
    """

    async def memory_for(ctx: ServerRequestContext[Any, Any]) -> AsyncMemory:
        return mem

    server = build_server(memory_for)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
