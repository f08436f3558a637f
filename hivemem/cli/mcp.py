"""``hivemem mcp``: serve hivemem's MCP tools on stdin/stdout (SPEC §14).

An MCP client (Claude Desktop, an agent framework, the ``mcp`` SDK) starts this command and
talks JSON-RPC over its stdin and stdout. Every tool call acts as one agent: ``--agent`` on an
embedded store (``sqlite://``, ``memory://``), the token's agent on a server (``http://``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from hivemem.cli._common import add_store_args, command, store_url

if TYPE_CHECKING:
    import argparse

__all__ = ["register"]


@command
def _mcp(args: argparse.Namespace) -> int:
    import anyio

    import hivemem
    from hivemem.mcp.stdio import serve_stdio

    agent = args.agent or os.environ.get("HIVEMEM_AGENT") or None

    async def main() -> None:
        mem = hivemem.connect_async(store_url(args.url), agent=agent, token=args.token)
        try:
            await serve_stdio(mem)
        finally:
            await mem.aclose()

    anyio.run(main)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``mcp`` command."""
    p = sub.add_parser(
        "mcp",
        help="serve the MCP tools on stdin/stdout (for MCP clients)",
        description="Serve hivemem's MCP tools (list_namespaces, read, write, delete, "
        "list_keys, history, broadcast, add_message, get_messages, search_messages, "
        "add_memory, search_memories, get_memory, update_memory, archive_memory, "
        "get_related, link_memories, put_task, claim_task, complete_task, acquire_lock, "
        "release_lock, presence) on stdin/stdout, "
        "for an MCP client that starts this command. Every call acts as --agent on an "
        "embedded store, or as the token's agent on an http:// server. The server also "
        "serves MCP over HTTP at /mcp.",
    )
    add_store_args(p, json_flag=False)
    p.set_defaults(func=_mcp)
