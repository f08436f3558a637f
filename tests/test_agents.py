"""MemoryAgent's conversation helpers (SPEC §16, seed 004's BaseAgent calls)."""

from __future__ import annotations

import hivemem
from hivemem.agents import MemoryAgent


def test_memory_agent_conversation_helpers(tmp_path):
    mem = hivemem.connect(f"sqlite:///{tmp_path}/a.db", cleanup_interval=0)
    try:
        agent = MemoryAgent("planner", memory=mem)
        memory = agent.get_memory("conv-1")
        memory.set("user_id", "user_123")
        memory.add_message("user", "hello")
        agent.get_memory("conv-2").set("x", 1)
        stats = agent.get_memory_stats()
        assert stats["total_conversations"] == 2
        rows = {r["conversation_id"]: r for r in stats["conversations"]}
        assert rows["conv-1"]["message_count"] == 1
        assert agent.cleanup_memory("conv-1") >= 2
        assert agent.get_memory_stats()["total_conversations"] == 1
        assert agent.get_memory("conv-1").get("user_id") is None
        assert mem.get_entry("conversations", "m/conv-2").owner == "planner"
    finally:
        mem.close()
