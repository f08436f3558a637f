"""Entities, tool usage, conversation history, summary and metrics (SPEC §8, seed 002)."""

from __future__ import annotations

import pytest

from hivemem import InvalidArgument, PermissionDenied


def test_entity_save_load_delete(mem):
    """seed 002: save_entity, load_entity, delete_entity of a user."""
    user = {
        "name": "John Doe",
        "email": "john@example.com",
        "preferences": {"theme": "dark", "language": "en"},
    }
    mem.save_entity("user", "user123", user)
    assert mem.load_entity("user", "user123") == user
    assert mem.delete_entity("user", "user123") is True
    assert mem.load_entity("user", "user123") is None
    assert mem.delete_entity("user", "user123") is False


def test_entities_listed_by_type(mem):
    """list_entities(type) gives {id: data} of that type only; ids may hold any character."""
    mem.save_entity("user", "u/1", {"n": 1})
    mem.save_entity("user", "u 2", {"n": 2})
    mem.save_entity("project", "p1", {"n": 3})
    assert mem.list_entities("user") == {"u/1": {"n": 1}, "u 2": {"n": 2}}
    assert mem.list_entities("project") == {"p1": {"n": 3}}
    assert mem.list_entities("none") == {}


def test_entity_bad_type_refused(mem):
    """Entity types are non-empty names without '/'."""
    for bad in ("", "a/b"):
        with pytest.raises(InvalidArgument):
            mem.save_entity(bad, "x", 1)


def test_tool_usage_recorded_and_listed(mem, clock):
    """save_tool_usage records agent, args, result, duration; get_tool_usage filters by tool."""
    first = mem.save_tool_usage("search", {"q": "x"}, ["r1"], "agent-1", duration_ms=12.5)
    assert first["agent"] == "agent-1"
    assert first["timestamp"] == clock()
    mem.save_tool_usage("calc", {"expr": "1+1"}, 2, conversation_id="c1")
    mem.save_tool_usage("search", {"q": "y"}, [], duration_ms=3)
    every = mem.get_tool_usage()
    assert [(r["tool"], r["args"]) for r in every] == [
        ("search", {"q": "x"}),
        ("calc", {"expr": "1+1"}),
        ("search", {"q": "y"}),
    ]
    assert [r["args"]["q"] for r in mem.get_tool_usage("search")] == ["x", "y"]
    assert mem.get_tool_usage("calc")[0]["conversation_id"] == "c1"
    assert [r["tool"] for r in mem.get_tool_usage(limit=1)] == ["search"]
    assert mem.get_tool_usage("never") == []


def test_conversation_history_save_and_load(mem):
    """seed 002: save_conversation_history replaces the messages; load gives them back."""
    mem.save_conversation_history(
        "c1", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    )
    history = mem.load_conversation_history("c1")
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", "hi"),
        ("assistant", "hello"),
    ]
    mem.save_conversation_history("c1", [{"role": "user", "content": "again"}])
    assert [m["content"] for m in mem.load_conversation_history("c1")] == ["again"]
    assert mem.conversation("c1").get_message_count() == 1
    assert mem.load_conversation_history("none") == []


def test_memory_summary(mem):
    """get_memory_summary counts entries per namespace, conversations, entity types, tools."""
    mem.save_entity("user", "u1", {})
    mem.save_entity("user", "u2", {})
    mem.save_entity("project", "p1", {})
    mem.save_tool_usage("search", {}, None)
    mem.conversation("c1").add_message("user", "hi")
    mem.write("notes", "k", 1)
    summary = mem.get_memory_summary()
    assert summary["entities"] == {"project": 1, "user": 2}
    assert summary["tools"] == {"search": 1}
    assert summary["conversations"]["total"] == 1
    assert summary["conversations"]["items"] == [{"conversation_id": "c1", "message_count": 1}]
    assert summary["namespaces"]["notes"]["entries"] == 1
    assert summary["recent_activity"]
    assert summary["recent_activity"][0]["action"] == "write"


def test_metrics_count_operations_and_errors(mem):
    """get_metrics counts operations and errors per operation, with latency percentiles."""
    mem.write("ns", "k", 1)
    mem.read("ns", "k")
    mem.read("ns", "k")
    with pytest.raises(InvalidArgument):
        mem.delete_namespace("default")
    metrics = mem.get_metrics()
    ops = metrics["operations"]
    assert ops["write"]["count"] == 1
    assert ops["read"]["count"] == 2
    assert ops["read"]["errors"] == 0
    assert ops["delete_namespace"]["errors"] == 1
    assert ops["read"]["p50_ms"] >= 0
    assert metrics["total_errors"] >= 1
    assert "cache" in metrics


def test_records_respect_permissions(mem):
    """The entities namespace's permissions apply to entity saves."""
    mem.create_namespace("entities", default_permission="read")
    mem.save_entity("user", "u1", {"ok": True})
    with pytest.raises(PermissionDenied):
        mem.save_entity("user", "u1", {"ok": False}, "intruder")
    assert mem.load_entity("user", "u1", "intruder") == {"ok": True}


async def test_async_records(amem):
    """The async twin of entities and tool usage."""
    await amem.save_entity("user", "u1", {"a": 1})
    assert await amem.load_entity("user", "u1") == {"a": 1}
    await amem.save_tool_usage("t", {}, 1)
    assert [r["tool"] for r in await amem.get_tool_usage()] == ["t"]
    summary = await amem.get_memory_summary()
    assert summary["entities"] == {"user": 1}
