"""The HTTP API described once: its JSON schemas and its route table.

Neither the server nor the client lives here: both import this package (and so does the
OpenAPI document and the MCP tools), and it imports neither of them.
"""
