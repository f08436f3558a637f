"""``hivemem mcp`` on stdio, driven by the official MCP SDK client (a real subprocess)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from _mcp_clients import TOOL_NAMES, call, fail, stdio_session

import hivemem

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Site


async def test_stdio_lists_the_tools_with_schemas(tmp_path: Path) -> None:
    """Every tool is listed with an object input schema naming its required arguments."""
    async with stdio_session("--url", f"sqlite:///{tmp_path}/x.db", "--agent", "a1") as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
    assert set(tools) == TOOL_NAMES
    for tool in tools.values():
        assert tool.description
        assert tool.input_schema["type"] == "object"
        assert set(tool.input_schema["required"]) <= set(tool.input_schema["properties"])
    assert set(tools["write"].input_schema["required"]) == {"namespace", "key", "value"}
    assert set(tools["search_messages"].input_schema["required"]) == {"conversation_id", "query"}
    assert tools["read"].annotations is not None and tools["read"].annotations.read_only_hint


async def test_stdio_writes_reads_and_searches_messages(tmp_path: Path) -> None:
    """Entries and messages written over stdio land in the store as the --agent."""
    url = f"sqlite:///{tmp_path}/x.db"
    async with stdio_session("--url", url, "--agent", "a1") as s:
        written = await call(s, "write", namespace="team", key="plan", value={"step": 1})
        assert (written["owner"], written["version"]) == ("a1", 1)
        got = await call(s, "read", namespace="team", key="plan")
        assert got["found"] and got["value"] == {"step": 1}
        assert (await call(s, "read", namespace="team", key="nope"))["found"] is False
        assert (await call(s, "list_keys", namespace="team"))["keys"] == ["plan"]

        await call(s, "add_message", conversation_id="c1", role="user", content="Find the ROUTE")
        await call(s, "add_message", conversation_id="c1", role="assistant", content="ok")
        await call(
            s,
            "add_message",
            conversation_id="c1",
            role="tool",
            content={"route": "A7"},
            metadata={"tool": "maps"},
        )
        found = await call(s, "search_messages", conversation_id="c1", query="route")
        assert [m["role"] for m in found["messages"]] == ["user", "tool"]
        assert found["total_matches"] == 2
        last = await call(s, "get_messages", conversation_id="c1", limit=2)
        assert [m["content"] for m in last["messages"]] == ["ok", {"route": "A7"}]
        assert last["messages"][1]["metadata"] == {"tool": "maps"}

        error = await fail(s, "write", namespace="team", key="plan", value=2, expected_version=7)
        assert error["code"] == "conflict"

    with hivemem.connect(url, agent="checker") as mem:
        records = mem.access_log(namespace="team")  # before our own reads
        assert mem.read("team", "plan") == {"step": 1}
        assert mem.conversation("c1").get_messages()[0].content == "Find the ROUTE"
    assert {r.agent_id for r in records} == {"a1"}
    assert {(r.action, r.success) for r in records} >= {("write", True), ("write", False)}


async def test_stdio_over_a_server_acts_as_the_token_agent(site: Site) -> None:
    """``hivemem mcp --url http://... --token T``: calls act as T's agent, with its rights."""
    with site.http() as http:
        body = {"name": "ro", "default_permission": "read"}
        assert http.post("/v1/namespaces", json=body).status_code == 201
    token = site.token("bot")
    async with stdio_session("--url", site.url, "--token", token) as s:
        assert (await call(s, "write", namespace="team", key="k", value=1))["owner"] == "bot"
        assert (await fail(s, "write", namespace="ro", key="k", value=1))["code"] == (
            "permission_denied"
        )
    records = site.audit(agent_id="bot")
    assert {(r["namespace"], r["action"], r["success"]) for r in records} >= {
        ("team", "write", True),
        ("ro", "write", False),
    }
    with site.http() as http:
        assert http.get("/v1/namespaces/ro/entries/k").status_code == 404
