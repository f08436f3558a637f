"""Files written by earlier versions keep every record; the scheduler reports each pass.

Earlier versions deleted records under strength 0.05 on every pass by default, or marked
them ``forgotten`` (``DecayPolicy(forget="mark")``), and stored strength at each pass.
Here such records are written as those versions stored them (a ``Transact`` below the
doors, as the old plans did), the file is reopened by this version, and passes run far in
the future.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem import _codec
from hivemem.engine import ops as o
from hivemem.memories.decay import DAY, DecayPolicy
from hivemem.memories.layout import OLD_MARKER
from hivemem.memories.scheduler import run_decay
from hivemem.testing.clock import FakeClock

if TYPE_CHECKING:
    from pathlib import Path

NS = "old"


def _old_record(content: str, now: float, **fields: Any) -> dict[str, Any]:
    """A record as earlier versions stored it."""
    return {
        "id": uuid.uuid4().hex,
        "content": content,
        "memory_type": "general",
        "tier": "short",
        "importance": 0.5,
        "strength": 1.0,
        "metadata": {},
        "tags": [],
        "parent_id": None,
        "session_id": None,
        "agent_id": "old-agent",
        "created_at": now,
        "updated_at": now,
        "last_accessed_at": now,
        "access_count": 0,
        "stability": 1.0,
        "forgotten": False,
        "decayed_at": now,
        **fields,
    }


def _write(mem: hivemem.Memory, ns: str, records: list[dict[str, Any]]) -> None:
    puts = tuple((r["id"], _codec.encode(r), 0) for r in records)
    marker = ((OLD_MARKER, _codec.encode({"kind": "memories"}), None),)  # (their layout)
    mem._run(o.Transact(agent="old-agent", ns=ns, puts=puts + marker))


def _open(path: Path, clock: FakeClock, **options: Any) -> hivemem.Memory:
    return hivemem.connect(
        f"sqlite:///{path}", clock=clock, cleanup_interval=0, embedder="none", **options
    )


def test_an_old_file_keeps_every_record_and_forgotten_ones_read_as_archived(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    path = tmp_path / "old.db"
    old = _open(path, clock)
    now = clock()
    weak = _old_record("faded notes about kites", now - 30 * DAY, strength=0.01)
    marked = _old_record("marked notes about kites", now - 30 * DAY, forgotten=True)
    fresh = _old_record("fresh notes about kites", now)
    _write(old, NS, [weak, marked, fresh])
    old.close()

    mem = _open(path, clock)
    lt = mem.memories(NS)
    clock.advance(365 * DAY)
    counts = lt.decay()
    assert (counts["archived"], counts["deleted"], counts["skipped"]) == (0, 0, 0)
    ids = [weak["id"], marked["id"], fresh["id"]]
    got = {r.id: r for r in lt.get_many(ids)}
    assert set(got) == set(ids)
    assert (got[marked["id"]].tier, got[marked["id"]].forgotten) == ("archived", True)
    assert got[weak["id"]].tier == "short"
    assert {h.memory.id for h in lt.search("kites")} == {weak["id"], fresh["id"]}
    back = lt.restore(marked["id"])
    assert (back.tier, back.forgotten, back.strength) == ("short", False, 1.0)
    assert {h.memory.id for h in lt.search("kites")} == set(ids)
    mem.close()


def test_old_decay_settings_delete_nothing(tmp_path: Path) -> None:
    """``DecayPolicy(forget="delete")`` (the old connection option) is ignored, with a
    warning: only a namespace's own policy forgets."""
    clock = FakeClock()
    with pytest.warns(DeprecationWarning, match="configure"):
        policy = DecayPolicy(forget="delete", forget_threshold=0.5)
    mem = _open(tmp_path / "s.db", clock, decay=policy)
    lt = mem.memories(NS)
    ids = [r.id for r in lt.add_many([{"content": f"note {i}"} for i in range(20)])]
    clock.advance(100 * DAY)
    assert lt.decay()["deleted"] == 0
    assert len(lt.get_many(ids)) == 20
    mem.close()


def test_settings_survive_a_restart_and_adds_from_a_new_process(tmp_path: Path) -> None:
    """The policy lives in the namespace: a reopened store (a new process) sees it, and
    its first add does not overwrite it."""
    clock = FakeClock()
    path = tmp_path / "p.db"
    mem = _open(path, clock)
    mem.memories(NS).configure(forget={"below": 0.2, "action": "archive"})
    mem.close()
    mem = _open(path, clock)
    lt = mem.memories(NS)
    rec = lt.add("new after the restart")
    assert lt.config()["forget"] == {"below": 0.2, "action": "archive", "min_age": 0.0}
    clock.advance(3 * DAY)
    assert lt.decay()["archived"] == 1
    assert lt.get_many([rec.id])[0].tier == "archived"
    mem.close()


def test_the_scheduler_logs_one_line_per_pass_and_survives_a_broken_namespace(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    mem = _open(tmp_path / "sched.db", clock)
    lt = mem.memories("a")
    lt.configure(forget={"below": 0.1, "action": "delete"})
    lt.add("goes")
    mem.memories("b").add("stays")
    # A garbage record in a third namespace, stored below the doors (as a damaged file).
    bad = {"id": "e" * 32, "content": "broken", "strength": "strong", "tier": "short"}
    mem._run(
        o.Transact(
            agent="x",
            ns="c",
            puts=(
                (bad["id"], _codec.encode(bad), None),
                (OLD_MARKER, _codec.encode({"kind": "memories"}), None),
            ),
        )
    )
    clock.advance(10 * DAY)
    with caplog.at_level(logging.INFO, logger="hivemem"):
        out = run_decay(mem._c)
    assert out["a"]["deleted"] == 1
    assert out["b"]["deleted"] == out["b"]["archived"] == 0
    assert out["c"]["skipped"] == 1
    lines = [r.getMessage() for r in caplog.records if "decay pass" in r.getMessage()]
    assert lines == [
        "hivemem: decay pass over 3 memories namespaces: "
        "decayed=2 promoted=0 archived=0 deleted=1 skipped=1"
    ]
    mem.close()
