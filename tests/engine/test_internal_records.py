"""Engine-internal records (keys starting with ``\\x01``): stored in the namespace they serve,
never listed, never announced as ``memory:*`` events, swept by their kind's sweeper."""

from __future__ import annotations

import hivemem
from hivemem.engine import ops as o
from hivemem.engine.reserved import SWEEPERS, internal_key
from hivemem.engine.txn import Stored
from hivemem.testing.clock import FakeClock


def _plant(mem: hivemem.Memory, ns: str, key: str, expires_at: float | None) -> None:
    """Write an internal record the way an engine handler does (callers cannot name one)."""
    backend = mem._b
    now = backend.settings.clock()
    backend.entry_put(ns, key, Stored('{"x":1}', "alice", 1, 1, now, now, expires_at))


def test_internal_records_are_not_listed_nor_deleted_by_an_empty_prefix() -> None:
    clock = FakeClock()
    with hivemem.connect("memory://", agent="alice", clock=clock) as mem:
        mem.write("team", "a", 1)
        _plant(mem, "team", internal_key("lock", "deploy"), None)
        assert [e.key for e in mem.list_entries("team").items] == ["a"]
        assert mem.get_keys("team") == ["a"]
        page = mem._b.execute(o.ListEntries(agent="alice", ns="team", limit=1)).unwrap()
        assert [e.key for e in page.items] == ["a"] and page.next_cursor is None
        deleted = mem._b.execute(o.DeletePrefix(agent="alice", ns="team", prefix=""))
        assert deleted.unwrap() == 1
        assert mem._b.entry_get("team", internal_key("lock", "deploy")) is not None


def test_an_expired_internal_record_goes_to_its_kinds_sweeper_without_memory_events() -> None:
    clock = FakeClock()
    seen: list[str] = []
    SWEEPERS["testkind"] = lambda ctx, ns, key, stored: (
        seen.append(key),
        ctx.tx.entry_delete(ns, key),
    )
    try:
        with hivemem.connect("memory://", agent="alice", clock=clock) as mem:
            mem.write("team", "a", 1)
            since = mem.get_namespace("team").revision
            _plant(mem, "team", internal_key("testkind", "x"), clock() + 1)
            _plant(mem, "team", internal_key("nokind", "y"), clock() + 1)
            clock.advance(2)
            assert mem.cleanup() == 2
            assert seen == [internal_key("testkind", "x")]
            assert mem._b.entry_get("team", internal_key("nokind", "y")) is None
            assert (
                mem._b.execute(
                    o.EventsAfter(agent="alice", ns="team", since=since, limit=10)
                ).unwrap()
                == []
            )
    finally:
        del SWEEPERS["testkind"]
