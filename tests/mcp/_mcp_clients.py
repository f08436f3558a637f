"""MCP client sessions for the tests: the official SDK over stdio and streamable HTTP."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import TYPE_CHECKING, Any

import httpx2
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import mcp_types

#: ``python -m hivemem`` of the interpreter running the tests (its venv may have no
#: ``hivemem`` console script: a worktree's venv borrows another's packages).
HIVEMEM = (sys.executable, "-m", "hivemem")

TOOL_NAMES = {
    "list_namespaces",
    "read",
    "history",
    "write",
    "delete",
    "list_keys",
    "broadcast",
    "add_message",
    "get_messages",
    "search_messages",
    "put_task",
    "claim_task",
    "complete_task",
    "acquire_lock",
    "release_lock",
    "presence",
    "add_memory",
    "search_memories",
    "get_memory",
    "update_memory",
    "archive_memory",
    "get_related",
    "link_memories",
}


@contextlib.asynccontextmanager
async def stdio_session(
    *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    """``hivemem mcp ARGS`` as a subprocess, with an initialized client session."""
    # The SDK passes the child a minimal environment (no HIVEMEM_* variables of ours), plus env.
    params = StdioServerParameters(command=HIVEMEM[0], args=[*HIVEMEM[1:], "mcp", *args], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@contextlib.asynccontextmanager
async def http_session(base: str, token: str) -> AsyncIterator[ClientSession]:
    """A client session with ``{base}/mcp``, sending ``Authorization: Bearer <token>``."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> Any:
    """Call a tool that must succeed; return its structured result."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content == json.loads(_text(result))
    return result.structured_content


async def fail(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must fail; return its error JSON (``{"code", "message", ...}``)."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result.content
    error: dict[str, Any] = result.structured_content["error"]
    assert _text(result) == f"{error['code']}: {error['message']}"
    return error


def _text(result: mcp_types.CallToolResult) -> str:
    (block,) = result.content
    assert block.type == "text"
    return block.text
