"""Seed 000's test steps: create an entry, read it back, update it, record a chat
interaction — through the registry routes (/shared-memory) and through MemoryAgent, remote
and embedded."""

from __future__ import annotations

import threading

import httpx
import pytest

import hivemem
from hivemem.agents import ChatHandler, MemoryAgent


def test_registry_routes_roundtrip(store):
    token = store.token("agent1.agents.local")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=store.url, headers=headers) as http:
        resp = http.post(
            "/shared-memory",
            json={
                "key": "agent_notes",
                "value": {"important": "Remember this information"},
                "owner": "someone.else",  # ignored: the owner is the token's agent
            },
        )
        assert resp.status_code == 200
        memory = http.get("/shared-memory").json()
        assert memory["agent_notes"]["value"] == {"important": "Remember this information"}
        assert memory["agent_notes"]["owner"] == "agent1.agents.local"
        first = memory["agent_notes"]["timestamp"]
        assert isinstance(first, float)
        http.post("/shared-memory", json={"key": "agent_notes", "value": {"important": "v2"}})
        memory = http.get("/shared-memory").json()
        assert memory["agent_notes"]["value"] == {"important": "v2"}
        assert memory["agent_notes"]["timestamp"] >= first
        assert (
            http.get("/shared-memory", headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        assert http.post("/shared-memory", json={"value": 1}).status_code == 422


@pytest.fixture(params=["remote", "embedded"])
def agent_memory(request, store, tmp_path):
    if request.param == "remote":
        mem = hivemem.connect(store.url, token=store.token("agent5.agents.local"))
    else:
        mem = hivemem.connect(f"sqlite:///{tmp_path}/embedded.db", cleanup_interval=0)
    yield mem
    mem.close()


def test_memory_agent_steps(agent_memory):
    agent = MemoryAgent("agent5.agents.local", "Agent Analyzer", agent_memory)
    agent.store_in_shared_memory("analysis_results", {"sentiment": "positive"})
    shared = agent.get_shared_memory()
    assert shared["analysis_results"]["value"] == {"sentiment": "positive"}
    assert shared["analysis_results"]["owner"] == "agent5.agents.local"
    agent.store_in_shared_memory("analysis_results", {"sentiment": "neutral"})
    assert agent.get_shared_memory()["analysis_results"]["value"] == {"sentiment": "neutral"}
    agent.record_interaction_in_memory("Hello, how are you?", "I'm doing well!")
    record = agent_memory.read("default", "agent_memory_agent5.agents.local")
    assert record["agent_name"] == "Agent Analyzer"
    assert record["agent_id"] == "agent5.agents.local"
    assert [
        (i["user_message"], i["agent_response"], i["session_id"]) for i in record["interactions"]
    ] == [("Hello, how are you?", "I'm doing well!", "default")]
    assert record["last_updated"] == record["interactions"][0]["timestamp"]


def test_chat_handler_gives_history_and_records(agent_memory):
    calls = []

    def respond(message, history):
        calls.append((message, [h["user_message"] for h in history]))
        return message.upper()

    chat = ChatHandler(respond, agent_memory, "agent5.agents.local", history=2)
    assert chat.handle_chat("one", "s1") == "ONE"
    assert chat.handle_chat("two", "s1") == "TWO"
    assert chat.handle_chat("other", "s2") == "OTHER"
    assert chat.handle_chat("three", "s1") == "THREE"
    assert calls == [("one", []), ("two", ["one"]), ("other", []), ("three", ["one", "two"])]
    assert len(chat.agent.get_interactions()) == 4


def test_concurrent_recorders_lose_nothing(store):
    """4 threads x 25 interactions through the server: exactly 100 recorded."""
    token = store.token("busy")
    agents = [MemoryAgent("busy", memory=hivemem.connect(store.url, token=token)) for _ in range(4)]

    def run(i: int) -> None:
        for n in range(25):
            agents[i].record_interaction_in_memory(f"{i}-{n}", "ok")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    messages = sorted(i["user_message"] for i in agents[0].get_interactions())
    assert messages == sorted(f"{i}-{n}" for i in range(4) for n in range(25))
    for a in agents:
        a.memory.close()
