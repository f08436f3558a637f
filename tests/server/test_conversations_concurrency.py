"""Issue 5, acceptance 2: 8 agents appending 500 items each to one list and one message log,
through two server processes on one SQLite file -> exactly 4,000 of each, none lost or
duplicated (the client's retries carry idempotency keys)."""

from __future__ import annotations

import threading
from collections import Counter

from _procs import ServerProcess

import hivemem

AGENTS = 8
ITEMS = 500


def test_eight_agents_append_through_two_servers(tmp_path):
    db = tmp_path / "conv.db"
    with ServerProcess(db) as a, ServerProcess(db) as b:
        errors: list[BaseException] = []

        def run(i: int) -> None:
            url = (a if i % 2 == 0 else b).base
            try:
                with hivemem.connect(url, agent=f"agent-{i}") as mem:
                    conv = mem.conversation("shared")
                    for n in range(ITEMS):
                        conv.append("items", f"{i}:{n}")
                        conv.add_message("user", f"{i}:{n}")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(AGENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with hivemem.connect(a.base) as mem:
            conv = mem.conversation("shared")
            items = conv.get_list("items")
            messages = [m.content for m in conv.get_messages()]
            assert conv.list_length("items") == AGENTS * ITEMS
            assert conv.get_message_count() == AGENTS * ITEMS
        expected = Counter(f"{i}:{n}" for i in range(AGENTS) for n in range(ITEMS))
        assert Counter(items) == expected
        assert Counter(messages) == expected
        for i in range(AGENTS):  # each agent's appends keep their order
            mine = [x for x in items if x.startswith(f"{i}:")]
            assert mine == [f"{i}:{n}" for n in range(ITEMS)]
