"""A SQLite file written before records had ``source`` and ``occurred_at`` reads fine.

The records are written as earlier versions stored them (a ``Transact`` below the doors, as
the old plans did, with the namespace's marker), the file is closed and reopened by this
version: every record reads as ``source = {}`` and ``occurred_at = created_at``, filters on
both treat them so, and new records with provenance live beside them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import hivemem
from hivemem import _codec
from hivemem.engine import ops as o
from hivemem.memories.layout import OLD_MARKER as MARKER  # earlier versions wrote it
from hivemem.testing.clock import FakeClock

if TYPE_CHECKING:
    from pathlib import Path

NS = "old"
T0 = 1_650_000_000.0
DAY = 86_400.0


def _old_record(i: int) -> dict[str, Any]:
    """Record ``i`` as versions before provenance stored it (no source, no occurred_at)."""
    created = T0 + i * DAY
    return {
        "id": f"{i:032x}",
        "content": f"support ticket {i} about the export button",
        "memory_type": "general",
        "tier": "medium",
        "importance": 0.5,
        "strength": 1.0,
        "metadata": {"ticket": i},
        "tags": ["support"],
        "parent_id": None,
        "session_id": f"s{i % 5}",
        "agent_id": "old-agent",
        "created_at": created,
        "updated_at": created,
        "last_accessed_at": created,
        "access_count": 0,
        "stability": 1.0,
        "forgotten": False,
        "decayed_at": created,
        "valid_to": None,
        "supersedes": None,
        "superseded_by": None,
        "slot": None,
    }


def test_an_old_file_reads_with_empty_source_and_occurred_at_created_at(tmp_path: Path) -> None:
    clock = FakeClock()
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = [_old_record(i) for i in range(300)]
    with hivemem.connect(url, clock=clock, cleanup_interval=0, embedder="none") as mem:
        puts = tuple((r["id"], _codec.encode(r), 0) for r in old)
        marker = ((MARKER, _codec.encode({"kind": "memories"}), None),)
        mem._run(o.Transact(agent="old-agent", ns=NS, puts=puts + marker))
    with hivemem.connect(url, clock=clock, cleanup_interval=0, embedder="none") as mem:
        lt = mem.memories(NS, agent="new-agent")
        got = lt.get_many([r["id"] for r in old[:100]])
        assert [(r.source, r.occurred_at, r.valid_from) for r in got] == [
            ({}, r["created_at"], r["created_at"]) for r in old[:100]
        ]
        assert got[0].to_dict()["source"] == {}
        window = {"occurred_after": T0 + 100 * DAY, "occurred_before": T0 + 150 * DAY}
        hits = lt.search("export button", limit=1000, filters=window)
        assert {h.memory.id for h in hits} == {r["id"] for r in old[100:150]}
        new = lt.add(
            "support ticket 301 about the export button",
            source={"ticket_url": "https://support.example.org/t/301"},
            occurred_at=T0 + 400 * DAY,
        )
        source_filter = {"source": {"ticket_url": "https://support.example.org/t/301"}}
        hits = lt.search("export button", limit=1000, filters=source_filter)
        assert [h.memory.id for h in hits] == [new.id]
        hits = lt.search("export button", limit=1000, filters={"occurred_after": T0 + 299 * DAY})
        assert {h.memory.id for h in hits} == {old[299]["id"], new.id}
        # An access and an update keep the old record readable the same way.
        assert lt.get(old[0]["id"]).occurred_at == old[0]["created_at"]
        changed = lt.update(old[1]["id"], source={"ticket": 1})
        assert (changed.source, changed.occurred_at) == ({"ticket": 1}, old[1]["created_at"])
