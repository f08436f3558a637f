"""The MCP server (SPEC §14): hivemem's tools for any MCP client.

- :mod:`hivemem.mcp.tools`: the tools, once, over an :class:`~hivemem.AsyncMemory`.
- :mod:`hivemem.mcp.server`: the MCP server object listing and calling them.
- :mod:`hivemem.mcp.stdio`: ``hivemem mcp``, on stdin/stdout.
- :mod:`hivemem.mcp.http`: ``/mcp`` on ``hivemem serve`` (streamable HTTP, bearer token).

Needs the ``mcp`` package: ``pip install 'hivemem[mcp]'`` (the ``server`` extra has it).
"""
