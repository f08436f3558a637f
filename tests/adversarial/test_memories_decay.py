"""Issue 15 item 7: a malformed memory record must not crash decay, nor stop it.

``POST …/memories/decay`` after a record-like value was written through a plain entry
``PUT`` answered 500, and the scheduler's pass then failed for that namespace every hour.
Readers now skip (and count) what does not validate. If the entry doors refuse forged
records, the PUT is refused and there is nothing to skip: both outcomes are fine, a 500
is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

import hivemem
from hivemem.memories.scheduler import run_decay
from hivemem.server import ServerConfig, create_app
from hivemem.testing.server import ServerThread

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MALFORMED: list[Any] = [
    {"content": "x", "importance": "high"},
    {"content": "x", "created_at": "yesterday"},
    {"content": "x", "strength": None, "decayed_at": 1e308},
    {"content": "x", "decayed_at": "soon"},
    {"content": "x", "tags": [1, 2]},
    {"content": "x", "session_id": {"a": 1}},
    {"content": "x", "memory_type": ["fact"]},
    {"content": "x", "access_count": 10**30},
    {"content": "x", "access_count": 2.5},
    {"content": "x", "metadata": [1, 2]},
    {"content": ["not", "text"]},
    {"content": "x", "tier": "archived", "archived_from": "forever"},
    {"content": "x", "access_count": "many", "tier": "short"},
]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, hivemem.Memory]]:
    core_mem = hivemem.connect(f"sqlite:///{tmp_path}/a.db", embedder="none", cleanup_interval=0)
    with ServerThread() as server:
        url = server.mount(create_app(core_mem._c, ServerConfig(auth=False)))
        yield url, core_mem
    core_mem.close()


def test_decay_and_search_survive_malformed_records(site: tuple[str, hivemem.Memory]) -> None:
    url, mem = site
    ns = f"{url}/v1/namespaces/kb"
    with httpx.Client(timeout=10) as http:
        good = http.post(f"{ns}/memories", json={"content": "a good record"}).json()
        victim = http.post(f"{ns}/memories", json={"content": "a record to overwrite"}).json()
        stored = 0
        for i, value in enumerate(MALFORMED):
            key = victim["id"] if i == 0 else f"{i:032x}"
            answer = http.put(f"{ns}/entries/{key}", json={"value": {"id": key, **value}})
            assert answer.status_code < 500, answer.text
            stored += answer.status_code < 300
        for _ in range(2):  # and the pass after it
            answer = http.post(f"{ns}/memories/decay", json={"now": 4_102_444_800})
            assert answer.status_code == 200, answer.text
            assert answer.json()["skipped"] == stored
            assert answer.json()["deleted"] == answer.json()["archived"] == 0
        answer = http.post(f"{ns}/memories/search", json={"query": "record"})
        assert answer.status_code == 200, answer.text
        found = [r["memory"]["id"] for r in answer.json()["results"]]
        assert good["id"] in found
        if stored:
            assert victim["id"] not in found
    assert run_decay(mem._c)["kb"]["skipped"] == stored  # the scheduler's pass too
