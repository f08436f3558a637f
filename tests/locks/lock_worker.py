"""A worker process of the lock acceptance tests (run as a script, not collected).

``count URL TOKEN NS THREADS ROUNDS PREFIX OUT``: THREADS agents (``PREFIX-<i>``) each take
the lock ``L`` of NS ROUNDS times and, while holding it, do a fenced read-increment-write of
the key ``counter``; every hold is logged to OUT as JSON lines ``[token, start, end, agent]``
(``time.time()``: one clock for every process of the machine). TOKEN ``@<file>``: a JSON
object of each agent's token (a server lets a token act only for its own agent).

``hold URL TOKEN NS AGENT TTL``: take the lock, print its JSON on one line, then sleep
until killed (the test kills it with SIGKILL).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import hivemem


def _connect(url: str, token: str) -> hivemem.Memory:
    # A SQLite file without an fsync per commit: a process crash loses nothing, and the
    # test is about mutual exclusion, not power loss.
    options = {"durability": "normal"} if url.startswith("sqlite") else {}
    return hivemem.connect(url, token=token or None, cleanup_interval=0, **options)


def count(url: str, token: str, ns: str, threads: int, rounds: int, prefix: str, out: str) -> None:
    logs: list[list[object]] = []
    errors: list[BaseException] = []

    tokens = json.loads(Path(token[1:]).read_text()) if token.startswith("@") else {}

    def agent_loop(agent: str) -> None:
        try:
            with _connect(url, tokens.get(agent, token)) as mem:
                for _ in range(rounds):
                    with mem.lock(ns, "L", agent, ttl=30.0, wait=None) as lk:
                        start = time.time()
                        value = mem.read(ns, "counter", agent, default=0)
                        mem.write(ns, "counter", value + 1, agent, fence=lk)
                        logs.append([lk.token, start, time.time(), agent])
        except BaseException as exc:  # reported by the parent through the exit code
            errors.append(exc)
            raise

    workers = [threading.Thread(target=agent_loop, args=(f"{prefix}-{i}",)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    with Path(out).open("w") as f:
        for row in logs:
            f.write(json.dumps(row) + "\n")
    if errors:
        raise SystemExit(f"{len(errors)} agents failed: {errors[0]!r}")


def hold(url: str, token: str, ns: str, agent: str, ttl: float) -> None:
    mem = _connect(url, token)
    lk = mem.try_lock(ns, "L", agent, ttl=ttl)
    assert lk is not None, "the lock was busy"
    print(json.dumps(lk.to_dict()), flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    mode, url, token, ns, *rest = sys.argv[1:]
    if mode == "count":
        count(url, token, ns, int(rest[0]), int(rest[1]), rest[2], rest[3])
    else:
        hold(url, token, ns, rest[0], float(rest[1]))
