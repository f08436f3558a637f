"""Per-node figures for docs/scaling.md (issue 21): storage, embedded ops/s and CPU, idle streams.

For each store — ``memory://``, ``sqlite://``, ``redis://``, ``redis+cluster://`` (3 masters)
and ``postgresql://`` — each server started here on a free port (never a shared instance):

- ``storage``: the space ``--entries`` entries of ~100 bytes of JSON take in one namespace
  (filled with ``write_many`` in batches of 1,000: every entry with its revision, its event
  and the audit record of its write), and ``--namespaces`` empty namespaces. The measure is
  the store's own: RSS of this process for ``memory://`` (measured first, before any other
  store is opened), the database file after a WAL checkpoint for ``sqlite://``, ``INFO
  memory`` ``used_memory`` (summed over the masters) for Redis, ``pg_total_relation_size``
  of the schema's tables (indexes and TOAST included) for PostgreSQL. Per 1M entries is the
  measured delta scaled linearly. (``memory://`` namespaces: Python allocations traced by
  ``tracemalloc`` while they are created, as RSS does not resolve them.)
- ``ops``: one thread, sync API, 1,000 keys: reads, writes (latest-wins updates) and a mix of
  9 reads to 1 write; the stores alternate run by run (``--runs`` rounds of ``--duration`` s
  each) so that load from elsewhere on the shared machine hits them alike. Besides ops/s, the
  CPU time per op of this process (``time.process_time``: the client, its background threads)
  and of the store's server processes (``/proc``: redis-server(s), PostgreSQL's whole tree),
  which does not depend on how busy the machine is the way ops/s does.
- ``serve``: one ``hivemem serve`` replica (one worker, auth on) per shared store, ``wrk``
  GET and PUT at 64 connections (``benchmarks/server.py``'s scripts), the stores alternating
  round by round; requests/s and the CPU per request of the replica and of the store's server.
- ``idle``: ``hivemem serve`` (one worker) over Redis and over PostgreSQL with ``--idle``
  event streams held open by another process: RSS delta of the server and CPU (server and
  store) while the streams idle.

    PYTHONPATH=. .venv/bin/python benchmarks/scaling.py                     # all parts
    PYTHONPATH=. .venv/bin/python benchmarks/scaling.py --only ops --runs 3
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from redis_scale import Replicas, _http_bench, _setup

import hivemem
from hivemem.testing.postgres import PostgresServer
from hivemem.testing.redis import RedisCluster, RedisServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

HB = _http_bench()
STORES = ("memory", "sqlite", "redis", "redis-cluster", "postgres")
VALUE_DATA = "x" * 80  # {"n": i, "data": ...}: about 100 bytes of JSON


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Store:
    """One store of each kind: its URL, its storage measure, the CPU of its server."""

    def __init__(self, kind: str, url: str, size: Callable[[], int],
                 server_pids: Callable[[], list[int]], what: str) -> None:  # fmt: skip
        self.kind, self.url, self.size, self.server_pids, self.what = (
            kind, url, size, server_pids, what,
        )  # fmt: skip

    def server_cpu(self) -> float:
        return float(sum(HB.cpu_seconds(p) for p in self.server_pids()))


def _redis_used(ports: list[int]) -> int:
    import redis

    total = 0
    for port in ports:
        client = redis.Redis(port=port)
        total += int(client.info("memory")["used_memory"])
        client.close()
    return total


@contextlib.contextmanager
def open_store(kind: str, tmp: Path) -> Iterator[Store]:
    if kind == "memory":
        yield Store(kind, "memory://", _rss, list, "RSS of the process")
    elif kind == "sqlite":
        db = tmp / "s.db"

        def size() -> int:
            if not db.exists():
                return 0
            with contextlib.closing(sqlite3.connect(db)) as c:
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return db.stat().st_size

        yield Store(kind, f"sqlite:///{db}", size, list, "database file (WAL checkpointed)")
    elif kind == "redis":
        with RedisServer(tmp / "redis") as server:
            assert server.process is not None
            pid = server.process.pid
            yield Store(kind, server.url, lambda: _redis_used([server.port]), lambda: [pid],
                        "used_memory")  # fmt: skip
    elif kind == "redis-cluster":
        with RedisCluster(tmp / "cluster") as cluster:
            ports = [n.port for n in cluster.nodes]
            node_pids = [n.process.pid for n in cluster.nodes if n.process is not None]
            yield Store(kind, cluster.url, lambda: _redis_used(ports), lambda: node_pids,
                        "used_memory summed over 3 masters")  # fmt: skip
    elif kind == "postgres":
        with PostgresServer() as pg:
            import psycopg

            def size() -> int:
                with psycopg.connect(pg.url, autocommit=True) as c:
                    row = c.execute(
                        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'scale' AND c.relkind IN ('r', 'm')"
                    ).fetchone()
                return int(row[0]) if row else 0

            def pg_pids() -> list[int]:
                pid = pg.postmaster_pid()
                return [pid] if pid else []

            yield Store(kind, f"{pg.url}?schema=scale", size, pg_pids,
                        "pg_total_relation_size of the schema's tables")  # fmt: skip
    else:
        raise ValueError(kind)


def _pg_tables(url: str) -> dict[str, int]:
    import psycopg

    base = url.split("?", 1)[0]
    with psycopg.connect(base, autocommit=True) as c:
        rows = c.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'scale' AND c.relkind = 'r' ORDER BY 2 DESC"
        ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


# ---------------------------------------------------------------- storage


def storage(store: Store, entries: int, namespaces: int) -> dict[str, Any]:
    mem = hivemem.connect(store.url, agent="bench", cleanup_interval=0)
    try:
        mem.create_namespace("warm")
        mem.write("warm", "k", {"n": 0, "data": VALUE_DATA})
        gc.collect()
        s0 = store.size()
        mem.create_namespace("big")
        t0 = time.perf_counter()
        for i in range(0, entries, 1000):
            mem.write_many(
                "big",
                {
                    f"k{j:07d}": {"n": j, "data": VALUE_DATA}
                    for j in range(i, min(i + 1000, entries))
                },
            )
        fill_s = time.perf_counter() - t0
        gc.collect()
        s1 = store.size()
        traced = store.kind == "memory"  # RSS does not resolve a few hundred bytes each
        if traced:
            tracemalloc.start()
        for i in range(namespaces):
            mem.create_namespace(f"ns{i:05d}")
        gc.collect()
        s2 = store.size()
        if traced:
            s2 = s1 + tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
        out = {
            "entries": entries,
            "entries_bytes": s1 - s0,
            "per_entry": (s1 - s0) / entries,
            "per_1m_mb": (s1 - s0) / entries * 1e6 / 2**20,
            "namespaces": namespaces,
            "per_namespace": (s2 - s1) / namespaces,
            "fill_entries_per_s": entries / fill_s,
            "what": store.what,
        }
        if store.kind == "postgres":
            out["tables"] = _pg_tables(store.url)
    finally:
        mem.close()
    print(f"  storage {store.kind}: {json.dumps(out)}", flush=True)
    return out


# ---------------------------------------------------------------- ops


def _ops(mem: hivemem.Memory) -> dict[str, Callable[[int], object]]:
    value = {"n": 0, "data": VALUE_DATA}
    keys = [f"k{i:04d}" for i in range(1000)]
    mem.create_namespace("ops")
    mem.write_many("ops", dict.fromkeys(keys, value))
    # a fixed pseudo-random order (multiplicative step), the same for every store
    return {
        "read": lambda i: mem.read("ops", keys[(i * 7919) % 1000]),
        "write": lambda i: mem.write("ops", keys[(i * 7919) % 1000], value),
        "mixed 9:1": lambda i: (
            mem.write("ops", keys[(i * 7919) % 1000], value)
            if i % 10 == 9
            else mem.read("ops", keys[(i * 7919) % 1000])
        ),
    }


def _timed(store: Store, call: Callable[[int], object], duration: float) -> dict[str, float]:
    n = 0
    c0, s0, t0 = time.process_time(), store.server_cpu(), time.perf_counter()
    while True:
        for _ in range(50):
            call(n)
            n += 1
        wall = time.perf_counter() - t0
        if wall >= duration:
            break
    client, server = time.process_time() - c0, store.server_cpu() - s0
    return {
        "ops_s": n / wall,
        "client_us": client / n * 1e6,
        "server_us": server / n * 1e6,
        "load": os.getloadavg()[0],
    }


def ops(stores: dict[str, Store], cfg: argparse.Namespace) -> dict[str, Any]:
    mems = {k: hivemem.connect(s.url, agent="bench", cleanup_interval=0) for k, s in stores.items()}
    try:
        calls = {k: _ops(m) for k, m in mems.items()}
        for k, c in calls.items():  # warm-up
            for fn in c.values():
                _timed(stores[k], fn, 0.2)
        runs: dict[str, dict[str, list[dict[str, float]]]] = {
            k: {op: [] for op in c} for k, c in calls.items()
        }
        names = list(calls)
        for r in range(cfg.runs):
            for k in names[r % len(names) :] + names[: r % len(names)]:
                for op, fn in calls[k].items():
                    res = _timed(stores[k], fn, cfg.duration)
                    runs[k][op].append(res)
                    print(
                        f"  ops run {r} {k} {op}: {res['ops_s']:,.0f}/s, client "
                        f"{res['client_us']:.0f} us, server {res['server_us']:.0f} us, "
                        f"load {res['load']:.1f}",
                        flush=True,
                    )
    finally:
        for m in mems.values():
            m.close()
    return {
        k: {op: {f: statistics.median(x[f] for x in rs) for f in rs[0]} for op, rs in per.items()}
        for k, per in runs.items()
    }


# ---------------------------------------------------------------- through hivemem serve


def serve(stores: dict[str, Store], cfg: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """One ``hivemem serve`` replica per store, ``wrk`` GET and PUT, the stores alternating."""
    kinds = [k for k in stores if k != "memory"]  # memory:// is not shared by processes
    groups = {k: Replicas(HB, stores[k].url, 1) for k in kinds}
    wrk_cfg = argparse.Namespace(connections=64, wrk_threads=1, batch_size=100)
    runs: dict[str, dict[str, list[dict[str, float]]]] = {
        k: {"get": [], "write": []} for k in kinds
    }
    try:
        for k, g in groups.items():
            _setup(HB, g.servers[0])
            (tmp / f"wrk-{k}").mkdir()
            for op in ("get", "write"):
                HB.wrk(g.servers[0], op, wrk_cfg, 1.0, tmp / f"wrk-{k}")
        for r in range(cfg.runs):
            for k in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
                server, store = groups[k].servers[0], stores[k]
                for op in ("get", "write"):
                    c0, s0 = HB.cpu_seconds(server.proc.pid), store.server_cpu()
                    res = HB.wrk(server, op, wrk_cfg, cfg.serve_seconds, tmp / f"wrk-{k}")
                    n = res["requests"]
                    row = {
                        "rps": res["rps"],
                        "p99_ms": res["p99_ms"],
                        "errors": res["errors"] + res["non2xx"],
                        "server_us": (HB.cpu_seconds(server.proc.pid) - c0) / n * 1e6,
                        "store_us": (store.server_cpu() - s0) / n * 1e6,
                        "load": os.getloadavg()[0],
                    }
                    runs[k][op].append(row)
                    print(
                        f"  serve run {r} {k} {op}: {row['rps']:,.0f} req/s, server "
                        f"{row['server_us']:.0f} us, store {row['store_us']:.0f} us, "
                        f"errors {row['errors']}, load {row['load']:.1f}",
                        flush=True,
                    )
    finally:
        for g in groups.values():
            g.stop()
    return {
        k: {op: {f: statistics.median(x[f] for x in rs) for f in rs[0]} for op, rs in per.items()}
        for k, per in runs.items()
    }


# ---------------------------------------------------------------- idle streams


def idle(store: Store, count: int, seconds: float) -> dict[str, float]:
    group = Replicas(HB, store.url, 1)
    server = group.servers[0]
    try:
        HB._request(server, "POST", "/v1/namespaces", {"name": HB.IDLE_NS})
        time.sleep(1.0)
        before = HB.rss_bytes(server.proc.pid)
        c0, s0 = HB.cpu_seconds(server.proc.pid), store.server_cpu()
        time.sleep(seconds)
        base_cpu = (HB.cpu_seconds(server.proc.pid) - c0) / seconds
        base_store = (store.server_cpu() - s0) / seconds
        proc = subprocess.Popen(
            [sys.executable, str(Path(HB.__file__)), "--role", "idle", "--port",
             str(server.port), "--token", server.token, "--count", str(count)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdin is not None
        ready = proc.stdout.readline().split()
        if not ready or ready[0] != "READY":
            raise RuntimeError("the idle streams did not open")
        time.sleep(2.0)
        after = HB.rss_bytes(server.proc.pid)
        c0, s0 = HB.cpu_seconds(server.proc.pid), store.server_cpu()
        time.sleep(seconds)
        cpu = (HB.cpu_seconds(server.proc.pid) - c0) / seconds
        store_cpu = (store.server_cpu() - s0) / seconds
        proc.stdin.close()
        proc.wait(30)
    finally:
        group.stop()
    out = {
        "streams": int(ready[1]),
        "rss_before_mb": before / 2**20,
        "rss_after_mb": after / 2**20,
        "per_stream_kb": (after - before) / int(ready[1]) / 1024,
        "server_cpu_no_streams_pct": base_cpu * 100,
        "server_cpu_pct": cpu * 100,
        "store_cpu_no_streams_pct": base_store * 100,
        "store_cpu_pct": store_cpu * 100,
        "load": os.getloadavg()[0],
    }
    print(f"  idle {store.kind}: {json.dumps(out)}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="storage,ops,serve,idle", help="storage,ops,serve,idle")
    p.add_argument("--serve-seconds", type=float, default=3.0, help="serve: seconds per figure")
    p.add_argument("--stores", default=",".join(STORES), help=",".join(STORES))
    p.add_argument("--entries", type=int, default=100_000, help="storage: entries (100,000)")
    p.add_argument("--namespaces", type=int, default=1000, help="storage: namespaces (1,000)")
    p.add_argument("--runs", type=int, default=3, help="ops: rounds (3)")
    p.add_argument("--duration", type=float, default=1.0, help="ops: seconds per figure (1)")
    p.add_argument("--idle", type=int, default=1000, help="idle: event streams (1,000)")
    p.add_argument("--idle-seconds", type=float, default=5.0, help="idle: CPU window (5 s)")
    p.add_argument("--json", type=Path, help="write the results here")
    cfg = p.parse_args(argv)
    parts, kinds = set(cfg.only.split(",")), cfg.stores.split(",")
    res: dict[str, Any] = {"load_start": os.getloadavg()[0], "argv": argv or sys.argv[1:]}
    t0 = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="hivemem-scaling-") as tmp,
        contextlib.ExitStack() as st,
    ):
        stores: dict[str, Store] = {}
        for kind in kinds:  # memory:// first: its measure is this process's RSS
            d = Path(tmp) / kind
            d.mkdir()
            stores[kind] = st.enter_context(open_store(kind, d))
            if "storage" in parts:
                res.setdefault("storage", {})[kind] = storage(stores[kind], cfg.entries,
                                                              cfg.namespaces)  # fmt: skip
        if "ops" in parts:
            res["ops"] = ops(stores, cfg)
        if "serve" in parts:
            res["serve"] = serve(stores, cfg, Path(tmp))
        if "idle" in parts:
            res["idle"] = {
                k: idle(stores[k], cfg.idle, cfg.idle_seconds)
                for k in kinds
                if k in ("redis", "postgres")
            }
    res["load_end"] = os.getloadavg()[0]
    res["seconds"] = time.perf_counter() - t0
    text = json.dumps(res, indent=2)
    print(text)
    if cfg.json:
        cfg.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
