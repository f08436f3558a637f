"""The tools themselves (:mod:`hivemem.mcp.tools`) on an embedded store, without a transport."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem.mcp.tools import TOOLS, call_tool

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.fixture
async def amem(tmp_path: Path) -> AsyncIterator[hivemem.AsyncMemory]:
    mem = hivemem.connect_async(f"sqlite:///{tmp_path}/x.db", agent="a1")
    yield mem
    await mem.aclose()


async def ok(mem: hivemem.AsyncMemory, tool: str, **arguments: Any) -> Any:
    result = await call_tool(mem, tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def error(mem: hivemem.AsyncMemory, tool: str, **arguments: Any) -> str:
    result = await call_tool(mem, tool, arguments)
    assert result.is_error
    code: str = result.structured_content["error"]["code"]
    return code


def test_schemas_allow_no_other_arguments() -> None:
    """Each schema is a closed object; every required argument is a described property."""
    for tool in TOOLS.values():
        schema = tool.input_schema()
        assert schema["additionalProperties"] is False
        assert all(p["description"] for p in schema["properties"].values())
        assert set(schema["required"]) <= set(schema["properties"])


async def test_list_keys_pages_with_a_prefix(amem: hivemem.AsyncMemory) -> None:
    for i in range(5):
        await amem.write("ns", f"task/{i}", i)
    await amem.write("ns", "other", 0)
    first = await ok(amem, "list_keys", namespace="ns", prefix="task/", limit=3)
    assert first["keys"] == ["task/0", "task/1", "task/2"]
    rest = await ok(
        amem, "list_keys", namespace="ns", prefix="task/", limit=3, cursor=first["next_cursor"]
    )
    assert rest == {"keys": ["task/3", "task/4"], "next_cursor": None}


async def test_null_optional_arguments_count_as_absent(amem: hivemem.AsyncMemory) -> None:
    """Models often send null for optional arguments; integral floats count as integers."""
    entry = await ok(amem, "write", namespace="ns", key="k", value=None, ttl=None)
    assert entry["value"] is None and entry["expires_at"] is None
    again = await ok(amem, "write", namespace="ns", key="k", value=2, expected_version=1.0)
    assert again["version"] == 2
    assert await error(amem, "write", namespace="ns", key="k", value=3, expected_version="1") == (
        "invalid_argument"
    )
    assert await error(amem, "read", namespace=None, key="k") == "invalid_argument"


async def test_search_messages_is_a_case_insensitive_substring(amem: hivemem.AsyncMemory) -> None:
    conv = amem.conversation("c")
    await conv.add_message("user", "Straße closed")
    await conv.add_message("tool", {"city": "Berlin"})
    await conv.add_message("user", "berlin it is")
    found = await ok(amem, "search_messages", conversation_id="c", query="BERLIN")
    assert [m["role"] for m in found["messages"]] == ["tool", "user"]
    assert (await ok(amem, "search_messages", conversation_id="c", query="STRASSE"))[
        "total_matches"
    ] == 1
    assert (await ok(amem, "search_messages", conversation_id="none", query="x"))["messages"] == []
    assert await error(amem, "search_messages", conversation_id="c", query="") == (
        "invalid_argument"
    )
    bad_meta = {"conversation_id": "c", "role": "user", "content": "x", "metadata": [1]}
    assert await error(amem, "add_message", **bad_meta) == "invalid_argument"


async def test_conversation_namespace_argument(amem: hivemem.AsyncMemory) -> None:
    await ok(amem, "add_message", conversation_id="c", role="user", content="hi", namespace="chat")
    assert [m.content for m in await amem.conversation("c", namespace="chat").get_messages()] == [
        "hi"
    ]
    assert (await ok(amem, "get_messages", conversation_id="c"))["messages"] == []


async def test_history_lists_versions_newest_first(amem: hivemem.AsyncMemory) -> None:
    """The history tool returns each version (deletions marked), paged with before."""
    for i in range(3):
        await amem.write("ns", "k", i)
    await amem.delete("ns", "k")
    got = await ok(amem, "history", namespace="ns", key="k", limit=2)
    assert [(v["value"], v["deleted"]) for v in got["versions"]] == [(None, True), (2, False)]
    older = await ok(
        amem, "history", namespace="ns", key="k", before=got["versions"][-1]["revision"]
    )
    assert [v["value"] for v in older["versions"]] == [1, 0]
    assert await error(amem, "history", namespace="ns", key="k", limit=0) == "invalid_argument"
    assert TOOLS["history"].read_only
