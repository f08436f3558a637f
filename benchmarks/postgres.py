"""hivemem on postgresql:// against LangGraph's ``PostgresStore``, on one database server.

Issue 21's comparison: the two stores on the same PostgreSQL (started here with ``initdb`` +
``pg_ctl`` on a free port, fsync and ``synchronous_commit`` on, never the machine's shared
instance), each in its own schema, measured in alternation (``harness.rates``) so that load
from elsewhere hits both alike. Prints the table; ``--out`` appends nothing by itself: the
figures go to ``docs/benchmarks.md`` by hand with the command line and the machine.

    PYTHONPATH=. .venv/bin/python benchmarks/postgres.py            # full sizes
    PYTHONPATH=. .venv/bin/python benchmarks/postgres.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h
from cases import Measure, Target, _keys
from run import _row, summary, tables

import hivemem
from hivemem.testing.postgres import PostgresServer

if TYPE_CHECKING:
    from collections.abc import Callable

NS = "bench"
NST = ("bench",)


def _lg_store(url: str, pool_size: int) -> tuple[Any, Any]:
    """A LangGraph ``PostgresStore`` over a psycopg pool (autocommit, as it asks), set up."""
    from langgraph.store.postgres import PostgresStore
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=pool_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=True,
    )
    store = PostgresStore(pool)
    store.setup()
    return store, pool


def _lg_fill(store: Any, items: list[tuple[tuple[str, ...], str]], value: Any) -> None:
    from langgraph.store.base import PutOp

    for i in range(0, len(items), 1000):
        store.batch([PutOp(ns, key, value) for ns, key in items[i : i + 1000]])


def _hive_fill(mem: hivemem.Memory, keys: list[str], value: Any) -> None:
    for i in range(0, len(keys), 1000):
        mem.write_many(NS, dict.fromkeys(keys[i : i + 1000], value))


def run(cfg: h.Config, keys_n: int, list_n: int, writers: int) -> list[Measure]:
    value = h.make_value()
    out: list[Measure] = []
    with PostgresServer() as server:
        url = server.url
        mem = hivemem.connect(f"{url}?schema=bench", agent="bench", cleanup_interval=0)
        store, pool = _lg_store(url, writers)
        try:
            keys = _keys(keys_n)
            seq = h.key_sequence(keys)
            _hive_fill(mem, keys, value)
            _lg_fill(store, [(NST, k) for k in keys], value)
            sec = f"postgresql://, one thread, {keys_n:,} keys"
            r = h.rates(
                {
                    "ours": lambda k: mem.read(NS, k),
                    "peer": lambda k: store.get(NST, k),
                },
                seq,
                cfg,
            )
            out.append(
                Measure(
                    sec,
                    "reads/s",
                    "ops/s",
                    r["ours"],
                    r["peer"],
                    Target("ratio", 1.5, ">= 1.5x PostgresStore"),
                    "`mem.read(ns, key)`, random key, each read audited (buffered)",
                    "`PostgresStore.get(ns, key)`",
                )
            )
            w = h.rates(
                {
                    "ours": lambda k: mem.write(NS, k, value),
                    "peer": lambda k: store.put(NST, k, value),
                },
                seq,
                cfg,
            )
            out.append(
                Measure(
                    sec,
                    "single-writer puts/s",
                    "ops/s",
                    w["ours"],
                    w["peer"],
                    Target("ratio", 1.0, ">= 1.0x PostgresStore"),
                    "`mem.write(ns, key, value)`: update with revision, event and audit rows, "
                    "one transaction, synchronous_commit=on",
                    "`PostgresStore.put(ns, key, value)`, synchronous_commit=on",
                )
            )

            def ours(t: int) -> Callable[[int], object]:
                ks = [f"t{t:02d}-{i:04d}" for i in range(1000)]
                return lambda i: mem.write(NS, ks[i % 1000], value)

            def theirs(t: int) -> Callable[[int], object]:
                ks = [f"t{t:02d}-{i:04d}" for i in range(1000)]
                return lambda i: store.put(NST, ks[i % 1000], value)

            # The 16-writer runs (both stores) and hivemem's 1-writer run alternate round by
            # round, so that the ratio of the two is taken under the same load.
            many: dict[str, list[float]] = {"ours": [], "peer": []}
            one: dict[str, list[float]] = {"ours": []}
            single = h.Config(runs=1, duration=cfg.duration, warmup=cfg.warmup)
            for rnd in range(cfg.runs):
                for n in [writers, 1] if rnd % 2 == 0 else [1, writers]:
                    if n == 1:
                        one["ours"] += h.threaded_rates({"ours": ours}, 1, single)["ours"]
                    else:
                        both = h.threaded_rates({"ours": ours, "peer": theirs}, writers, single)
                        many["ours"] += both["ours"]
                        many["peer"] += both["peer"]
            out.append(
                Measure(
                    f"postgresql://, {writers} writer threads",
                    "acknowledged writes/s",
                    "ops/s",
                    many["ours"],
                    many["peer"],
                    ours_does=f"{writers} threads share one `Memory` (pool of 8 connections)",
                    peer_does=f"{writers} threads share one `PostgresStore` over a pool of "
                    f"{writers} connections",
                )
            )
            out.append(
                Measure(
                    f"postgresql://, {writers} writer threads",
                    f"hivemem {writers} writers / 1 writer",
                    "x",
                    [m / o for m, o in zip(many["ours"], one["ours"], strict=False)],
                    target=Target("min", 3.0, ">= 3x one writer"),
                    ours_does="the row above over the same loop with one thread, the two "
                    "alternating round by round",
                    show_ratio=False,
                )
            )
            # Listing: 100 entries by key prefix in a namespace of list_n entries.
            lkeys = _keys(list_n, "doc:")
            width = len(str(list_n - 1))
            prefixes = [f"doc:{p:0{width - 2}d}" for p in range(list_n // 100)]
            order = h.key_sequence(prefixes, length=4096)
            mem.create_namespace("list")
            for i in range(0, list_n, 1000):
                mem.write_many("list", dict.fromkeys(lkeys[i : i + 1000], value))
            _lg_fill(store, [(("list",), k) for k in lkeys], value)
            assert len(mem.list_entries("list", prefix=order[0], limit=100).items) == 100
            lists = h.rates(
                {
                    "ours": lambda p: mem.list_entries("list", prefix=p, limit=100),
                    "peer": lambda _: store.search(("list",), limit=100),
                },
                order,
                cfg,
            )
            out.append(
                Measure(
                    f"postgresql://, listing 100 entries of {list_n:,}",
                    "lists/s",
                    "ops/s",
                    lists["ours"],
                    lists["peer"],
                    Target("ratio", 20, ">= 20x PostgresStore"),
                    "`mem.list_entries(ns, prefix=p, limit=100)`, p matching 100 keys",
                    f"`PostgresStore.search(('list',), limit=100)` over the {list_n:,} items",
                )
            )
        finally:
            mem.close()
            pool.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, short runs (smoke)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--duration", type=float, default=1.0)
    args = p.parse_args(argv)
    if args.quick:
        cfg, sizes = h.Config(runs=2, duration=0.1, warmup=0.05), (500, 2_000, 16)
    else:
        cfg, sizes = h.Config(runs=args.runs, duration=args.duration), (1_000, 100_000, 16)
    info = h.machine()
    start, t0 = h.load(), time.perf_counter()
    rows = [_row(m) for m in run(cfg, *sizes)]
    info["load average (1 min), start / end"] = f"{start} / {h.load()}"
    print(tables(rows, explain=True))
    print(summary(rows))
    print(f"\n{time.perf_counter() - t0:.0f} s; machine: {info}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
