"""Two ``hivemem serve`` replicas over one SQLite file deliver one webhook (SPEC §19): never
two requests of it in flight at once, and killing either loses nothing."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest

import hivemem

pytest.importorskip("standardwebhooks")

from _helpers import (
    Proc,
    Receiver,
    Server,
    all_there,
    check_order,
    procs,
    verify,
    wait,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["procs"]  # the fixture, used by name


def test_two_replicas_deliver_one_at_a_time_and_one_takes_over(
    tmp_path: Path, procs: list[Proc]
) -> None:
    """Two servers over one SQLite file: never two requests of a webhook in flight at once;
    killing one (whichever held the webhook) loses nothing."""
    first = Server(tmp_path, allow="127.0.0.1", name="first")
    second = Server(tmp_path, allow="127.0.0.1", name="second")
    receiver = Receiver(tmp_path, threaded=True)
    procs += [first, second, receiver]
    for p in (first, second, receiver):
        p.start()
    expected: dict[str, list[int]] = {"a": [], "b": []}
    with hivemem.connect(first.base, agent="alice") as mem:
        mem.write("a", "seed", 0)
        mem.write("b", "seed", 0)
        hook = mem.add_webhook(receiver.url, ["a", "b"], agent="alice")
        for i in range(200):
            ns = "ab"[i % 2]
            expected[ns].append(mem.write(ns, "k", i).revision)
            if i == 100:
                first.kill()
                mem.close()
                break
    with hivemem.connect(second.base, agent="alice") as mem:
        for i in range(101, 200):
            ns = "ab"[i % 2]
            expected[ns].append(mem.write(ns, "k", i).revision)
        wait(lambda: all_there(receiver, expected), 60, "every event")
    messages = receiver.received()
    spans = sorted((m["started"], m["ended"]) for m in messages)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, "two deliveries of one webhook were in flight at once"
    assert hook.secret is not None
    verify(hook.secret, messages)
    check_order(expected, messages)
