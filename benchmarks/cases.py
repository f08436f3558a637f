"""The benchmark cases: hivemem and its LangGraph peer doing the same operations.

Each case opens both sides first, then measures them in alternation (see
:func:`harness.rates`), so that load from elsewhere on the machine hits both alike. It
returns :class:`Measure` records holding every run's figure for both sides; the report takes
medians. Keys, values and the random access order are the same on both sides. Each measure
says exactly what each side calls (``ours_does`` / ``peer_does``); the report prints it.
"""

from __future__ import annotations

import functools
import gc
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness as h
import stores as s

from hivemem.cli.bench import percentile, watch_latency

if TYPE_CHECKING:
    from collections.abc import Callable

NS = "bench"
NST = ("bench",)


@dataclass(slots=True)
class Target:
    """A target from the issue: ``kind`` is ``min`` (ours >= value), ``max`` (ours <= value)
    or ``ratio`` (ours / peer >= value)."""

    kind: str
    value: float
    text: str

    def met(self, ours: float | None, peer: float | None) -> bool | None:
        if ours is None:
            return None
        if self.kind == "min":
            return ours >= self.value
        if self.kind == "max":
            return ours <= self.value
        if peer is None or peer == 0:
            return None
        return ours / peer >= self.value


@dataclass(slots=True)
class Measure:
    """One row of the report: every run's figure for hivemem and (if any) the peer."""

    section: str
    label: str
    unit: str  # "ops/s", "ms" or "x" (a ratio)
    ours: list[float]
    peer: list[float] | None = None
    target: Target | None = None
    ours_does: str = ""
    peer_does: str = ""
    show_ratio: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Sizes:
    """Sizes of the data sets (full run or ``--quick``)."""

    keys: int = 1_000
    list_keys: int = 100_000
    scale: tuple[int, ...] = (1_000, 100_000, 1_000_000)
    writers: int = 16
    watch_rate: float = 200.0
    watch_seconds: float = 3.0


def _keys(n: int, prefix: str = "k") -> list[str]:
    width = len(str(n - 1))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


# ---------------------------------------------------------------- memory://, sync API


def memory_sync(cfg: h.Config, sz: Sizes) -> list[Measure]:
    keys = _keys(sz.keys)
    seq = h.key_sequence(keys)
    value = h.make_value()

    mem = s.hive("memory://")
    s.hive_fill(mem, NS, keys, value)
    nolog = s.hive("memory://", log_reads=False)
    s.hive_fill(nolog, NS, keys, value)
    reads = {"ours": functools.partial(mem.read, NS), "nolog": functools.partial(nolog.read, NS)}
    writes: dict[str, Callable[[Any], object]] = {"ours": lambda k: mem.write(NS, k, value)}
    if s.LANGGRAPH:
        lg = s.lg_memory()
        s.lg_fill(lg, [(NST, k) for k in keys], value)
        reads["peer"] = functools.partial(lg.get, NST)
        writes["peer"] = lambda k: lg.put(NST, k, value)
    r = h.rates(reads, seq, cfg)
    w = h.rates(writes, seq, cfg)
    mem.close()
    nolog.close()

    sec = "memory://, sync API"
    ours_r = f"`mem.read(ns, key)`, random key of {sz.keys:,}, log_reads on (default)"
    peer_r = "`InMemoryStore.get(ns, key)`"
    return [
        Measure(
            sec,
            "reads/s",
            "ops/s",
            r["ours"],
            r.get("peer"),
            Target("min", 100_000, ">= 100,000/s"),
            ours_r,
            peer_r,
        ),
        Measure(
            sec,
            "reads/s, log_reads off",
            "ops/s",
            r["nolog"],
            r.get("peer"),
            ours_does="as above, `connect(..., log_reads=False)`",
            peer_does=peer_r,
        ),
        Measure(
            sec,
            "writes/s",
            "ops/s",
            w["ours"],
            w.get("peer"),
            Target("min", 50_000, ">= 50,000/s"),
            f"`mem.write(ns, key, value)` (latest-wins update), random key of {sz.keys:,}",
            "`InMemoryStore.put(ns, key, value)`",
        ),
    ]


# ---------------------------------------------------------------- async API vs sync


def _async_vs_sync(
    url: Callable[[str], str],
    options: dict[str, Any],
    keys: list[str],
    seq: list[str],
    value: Any,
    cfg: h.Config,
) -> dict[str, list[float]]:
    mem = s.hive(url("sync"), **options)
    s.hive_fill(mem, NS, keys, value)
    sync_calls = {
        "read": functools.partial(mem.read, NS),
        "write": lambda k: mem.write(NS, k, value),
    }

    async def open_async() -> Any:
        amem = s.hive_async(url("async"), **options)
        await s.hive_afill(amem, NS, keys, value)
        calls = {
            "aread": functools.partial(amem.read, NS),
            "awrite": lambda k: amem.write(NS, k, value),
        }
        return calls, amem.aclose

    out = h.mixed_rates(sync_calls, open_async, seq, cfg)
    mem.close()
    return out


def _cost_ratios(sync: list[float], asyn: list[float]) -> list[float]:
    """Async cost per op over sync cost per op, round by round."""
    return [s_rate / a_rate for s_rate, a_rate in zip(sync, asyn, strict=True)]


def async_cost(cfg: h.Config, sz: Sizes, tmp: Path) -> list[Measure]:
    keys = _keys(sz.keys)
    seq = h.key_sequence(keys)
    value = h.make_value()
    mem_runs = _async_vs_sync(lambda _: "memory://", {}, keys, seq, value, cfg)
    sql_runs = _async_vs_sync(
        lambda name: s.sqlite_url(tmp / f"async-{name}.db"),
        {"durability": "normal", "log_reads": False},
        keys,
        seq,
        value,
        cfg,
    )

    lg: dict[str, list[float]] | None = None
    if s.LANGGRAPH:
        store = s.lg_memory()
        s.lg_fill(store, [(NST, k) for k in keys], value)

        async def open_async() -> Any:
            async def close() -> None:
                return None

            calls = {
                "aread": functools.partial(store.aget, NST),
                "awrite": lambda k: store.aput(NST, k, value),
            }
            return calls, close

        sync_calls = {
            "read": functools.partial(store.get, NST),
            "write": lambda k: store.put(NST, k, value),
        }
        lg = h.mixed_rates(sync_calls, open_async, seq, cfg)

    sec = "async API: cost per op relative to the sync API (one task, one loop)"
    rows = []
    for op, lg_op in (("read", "get"), ("write", "put")):
        rows.append(
            Measure(
                sec,
                f"memory:// {op}",
                "x",
                _cost_ratios(mem_runs[op], mem_runs[f"a{op}"]),
                _cost_ratios(lg[op], lg[f"a{op}"]) if lg else None,
                Target("max", 1.3, "<= 1.3x"),
                f"`await amem.{op}(...)` vs `mem.{op}(...)`: {h.median(mem_runs[f'a{op}']):,.0f} "
                f"vs {h.median(mem_runs[op]):,.0f} {op}s/s",
                f"`await InMemoryStore.a{lg_op}(...)` vs `{lg_op}(...)`: "
                + (
                    f"{h.median(lg[f'a{op}']):,.0f} vs {h.median(lg[op]):,.0f} {op}s/s"
                    if lg
                    else ""
                ),
                show_ratio=False,
            )
        )
    for op in ("read", "write"):
        rows.append(
            Measure(
                sec,
                f"sqlite:// {op} (durability=normal, log_reads off)",
                "x",
                _cost_ratios(sql_runs[op], sql_runs[f"a{op}"]),
                ours_does=f"`await amem.{op}(...)` vs `mem.{op}(...)`: "
                f"{h.median(sql_runs[f'a{op}']):,.0f} vs "
                f"{h.median(sql_runs[op]):,.0f} {op}s/s",
                show_ratio=False,
            )
        )
    return rows


# ---------------------------------------------------------------- sqlite://


def sqlite_reads_writes(cfg: h.Config, sz: Sizes, tmp: Path) -> list[Measure]:
    keys = _keys(sz.keys)
    seq = h.key_sequence(keys)
    value = h.make_value()
    sec = "sqlite://, one thread"

    # Reads: one file, two handles (log_reads off and on); the peer's reads at FULL.
    url = s.sqlite_url(tmp / "reads.db")
    off = s.hive(url, log_reads=False)
    s.hive_fill(off, NS, keys, value)
    on = s.hive(url, log_reads=True)
    reads = {"off": functools.partial(off.read, NS), "on": functools.partial(on.read, NS)}
    # Writes: durability=normal and full, each on its own file, like the peer's.
    normal = s.hive(s.sqlite_url(tmp / "normal.db"), durability="normal")
    full = s.hive(s.sqlite_url(tmp / "full.db"), durability="full")
    for mem in (normal, full):
        s.hive_fill(mem, NS, keys, value)
    w_normal: dict[str, Callable[[Any], object]] = {"ours": lambda k: normal.write(NS, k, value)}
    w_full: dict[str, Callable[[Any], object]] = {"ours": lambda k: full.write(NS, k, value)}
    conns = []
    if s.LANGGRAPH:
        lg_full, c1 = s.lg_sqlite(tmp / "lg-full.db", "FULL")
        lg_normal, c2 = s.lg_sqlite(tmp / "lg-normal.db", "NORMAL")
        conns += [c1, c2]
        for store in (lg_full, lg_normal):
            s.lg_fill(store, [(NST, k) for k in keys], value)
        reads["peer"] = functools.partial(lg_full.get, NST)
        w_normal["peer"] = lambda k: lg_normal.put(NST, k, value)
        w_full["peer"] = lambda k: lg_full.put(NST, k, value)
    r = h.rates(reads, seq, cfg)
    wn = h.rates(w_normal, seq, cfg)
    wf = h.rates(w_full, seq, cfg)
    for mem in (off, on, normal, full):
        mem.close()
    for conn in conns:
        conn.close()

    peer_get = "`SqliteStore.get(ns, key)`, WAL, synchronous=FULL"
    return [
        Measure(
            sec,
            "reads/s, log_reads off",
            "ops/s",
            r["off"],
            r.get("peer"),
            Target("ratio", 1.5, ">= 1.5x LangGraph"),
            f"`mem.read(ns, key)`, random key of {sz.keys:,}, durability=full",
            peer_get,
        ),
        Measure(
            sec,
            "reads/s, log_reads on",
            "ops/s",
            r["on"],
            r.get("peer"),
            Target("ratio", 1.0, ">= 1.0x LangGraph"),
            "as above, each read audited (buffered, written with the next commit or within 0.2 s)",
            peer_get,
        ),
        Measure(
            sec,
            "writes/s, durability=normal",
            "ops/s",
            wn["ours"],
            wn.get("peer"),
            Target("ratio", 1.0, ">= 1.0x LangGraph"),
            f"`mem.write(ns, key, value)`, update of a random key of {sz.keys:,}; one "
            "commit per write, with its revision, event and audit rows",
            "`SqliteStore.put(ns, key, value)`, WAL, synchronous=NORMAL",
        ),
        Measure(
            sec,
            "writes/s, durability=full",
            "ops/s",
            wf["ours"],
            wf.get("peer"),
            ours_does="as above, fsync on every commit",
            peer_does="`SqliteStore.put`, WAL, synchronous=FULL",
        ),
    ]


def sqlite_concurrent_writers(cfg: h.Config, sz: Sizes, tmp: Path) -> list[Measure]:
    value = h.make_value()
    mem = s.hive(s.sqlite_url(tmp / "writers.db"))

    def ours(t: int) -> Callable[[int], object]:
        keys = [f"t{t:02d}-{i:04d}" for i in range(1000)]
        return lambda i: mem.write(NS, keys[i % 1000], value)

    makers = {"ours": ours}
    conn = None
    if s.LANGGRAPH:
        store, conn = s.lg_sqlite(tmp / "lg-writers.db", "FULL")

        def theirs(t: int) -> Callable[[int], object]:
            keys = [f"t{t:02d}-{i:04d}" for i in range(1000)]
            return lambda i: store.put(NST, keys[i % 1000], value)

        makers["peer"] = theirs
    runs = h.threaded_rates(makers, sz.writers, cfg)
    mem.close()
    if conn is not None:
        conn.close()
    return [
        Measure(
            f"sqlite://, {sz.writers} writer threads, durability=full",
            "acknowledged writes/s",
            "ops/s",
            runs["ours"],
            runs.get("peer"),
            Target("min", 10_000, ">= 10,000/s"),
            f"{sz.writers} threads share one `Memory`; `mem.write` returns once its commit is "
            "fsynced; concurrent writers share commits (group commit)",
            f"{sz.writers} threads share one `SqliteStore` (its lock serialises them), WAL, "
            "synchronous=FULL",
        )
    ]


# ---------------------------------------------------------------- listing by prefix


def listing(cfg: h.Config, sz: Sizes, tmp: Path) -> list[Measure]:
    n = sz.list_keys
    keys = _keys(n, "doc:")
    width = len(str(n - 1))
    prefixes = [f"doc:{p:0{width - 2}d}" for p in range(n // 100)]  # 100 keys each
    order = h.key_sequence(prefixes, length=4096)
    value = h.make_value()
    sec = f"listing 100 entries in a {n:,}-entry namespace"

    def hundred(page: Any) -> Any:
        assert len(page) == 100, len(page)
        return page

    sql = s.hive(s.sqlite_url(tmp / "list.db"))
    s.hive_fill(sql, NS, keys, value)
    mem = s.hive("memory://")
    s.hive_fill(mem, NS, keys, value)
    sql_calls: dict[str, Callable[[Any], object]] = {
        "ours": lambda p: sql.list_entries(NS, prefix=p, limit=100)
    }
    mem_calls: dict[str, Callable[[Any], object]] = {
        "ours": lambda p: mem.list_entries(NS, prefix=p, limit=100)
    }
    conns = []
    if s.LANGGRAPH:
        flat, c1 = s.lg_sqlite(tmp / "lg-list.db", "FULL")
        s.lg_fill(flat, [(NST, k) for k in keys], value)
        sub, c2 = s.lg_sqlite(tmp / "lg-list-sub.db", "FULL")
        s.lg_fill(sub, [(("bench", k[: 4 + width - 2]), k) for k in keys], value)
        lgm = s.lg_memory()
        s.lg_fill(lgm, [(NST, k) for k in keys], value)
        conns += [c1, c2]
        sql_calls["flat"] = lambda _: flat.search(NST, limit=100)
        sql_calls["sub"] = lambda p: sub.search(("bench", p), limit=100)
        mem_calls["peer"] = lambda _: lgm.search(NST, limit=100)
    for call in (*sql_calls.values(), *mem_calls.values()):
        hundred(call(order[0]))
    r_sql = h.rates(sql_calls, order, cfg)
    r_mem = h.rates(mem_calls, order, cfg)
    sql.close()
    mem.close()
    for conn in conns:
        conn.close()

    ours_does = (
        f"`mem.list_entries(ns, prefix=p, limit=100)`; p is one of {n // 100:,} "
        "key prefixes, each matching 100 keys"
    )
    return [
        Measure(
            sec,
            "sqlite:// lists/s",
            "ops/s",
            r_sql["ours"],
            r_sql.get("flat"),
            Target("ratio", 50, ">= 50x LangGraph"),
            ours_does,
            f"`SqliteStore.search(('bench',), limit=100)`: the namespace prefix matches "
            f"all {n:,} items (WAL)",
        ),
        Measure(
            sec,
            "sqlite:// lists/s, LangGraph with sub-namespaces",
            "ops/s",
            r_sql["ours"],
            r_sql.get("sub"),
            ours_does="the same hivemem figure as the row above",
            peer_does=f"`SqliteStore.search(('bench', p), limit=100)`: the {n:,} items "
            f"spread over {n // 100:,} sub-namespaces of 100 (LangGraph's own way to "
            "group), one namespace prefix per search",
        ),
        Measure(
            sec,
            "memory:// lists/s",
            "ops/s",
            r_mem["ours"],
            r_mem.get("peer"),
            ours_does=ours_does,
            peer_does="`InMemoryStore.search(('bench',), limit=100)` (stops after 100 "
            "items, in insertion order)",
        ),
    ]


# ---------------------------------------------------------------- subscriber latency


def subscriber_latency(cfg: h.Config, sz: Sizes, tmp: Path) -> list[Measure]:
    sec = "subscriber in the same process: delivery latency"
    setups = {
        "memory://": s.hive("memory://"),
        "sqlite://, durability=full": s.hive(s.sqlite_url(tmp / "full.db")),
        "sqlite://, durability=normal": s.hive(
            s.sqlite_url(tmp / "normal.db"), durability="normal"
        ),
    }
    p50: dict[str, list[float]] = {label: [] for label in setups}
    p99: dict[str, list[float]] = {label: [] for label in setups}
    delivered = dict.fromkeys(setups, 0)
    writes = dict.fromkeys(setups, 0)
    for mem in setups.values():
        watch_latency(mem, "watch", rate=sz.watch_rate, duration=min(0.5, sz.watch_seconds))
    for _ in range(cfg.runs):  # the stores take turns, run by run
        for label, mem in setups.items():
            res = watch_latency(mem, "watch", rate=sz.watch_rate, duration=sz.watch_seconds)
            lat = sorted(res.latencies)
            p50[label].append(percentile(lat, 50) / 1e6)
            p99[label].append(percentile(lat, 99) / 1e6)
            delivered[label] += len(lat)
            writes[label] += res.writes
    for mem in setups.values():
        mem.close()
    rows = []
    for label in setups:
        does = (
            f"`mem.subscribe(ns, callback)`; one writer at {sz.watch_rate:g} writes/s for "
            f"{sz.watch_seconds:g} s per run; time from `write` returning to the callback "
            f"({delivered[label]:,} of {writes[label]:,} events delivered)"
        )
        peer = "(LangGraph stores have no subscriptions)"
        rows.append(Measure(sec, f"{label} p50", "ms", p50[label], ours_does=does, peer_does=peer))
        rows.append(
            Measure(
                sec,
                f"{label} p99",
                "ms",
                p99[label],
                None,
                Target("max", 1.0, "<= 1 ms"),
                does,
                peer,
            )
        )
    return rows


# ---------------------------------------------------------------- scaling with key count


def scaling(cfg: h.Config, sz: Sizes, tmp: Path) -> list[Measure]:
    value = h.make_value()
    rows: list[Measure] = []
    setups: tuple[tuple[str, Callable[[int], str], dict[str, Any]], ...] = (
        ("memory://", lambda n: "memory://", {}),
        (
            "sqlite://",
            lambda n: s.sqlite_url(tmp / f"scale-{n}.db"),
            {"durability": "normal", "log_reads": False},
        ),
    )
    for label, make_url, options in setups:
        # Every size is open at once and measured in alternation (see harness.rates), so
        # load from elsewhere on the machine does not favour one size.
        stores: dict[int, Any] = {}
        seqs: dict[int, list[str]] = {}
        fills: dict[int, float] = {}
        for n in sz.scale:
            keys = _keys(n)
            seqs[n] = h.key_sequence(keys, seed=n)
            stores[n] = mem = s.hive(make_url(n), **options)
            t0 = time.perf_counter()
            s.hive_fill(mem, NS, keys, value)
            fills[n] = n / (time.perf_counter() - t0)
            del keys
        positions = range(len(seqs[sz.scale[0]]))
        reads = h.rates(
            {n: (lambda i, m=stores[n], q=seqs[n]: m.read(NS, q[i])) for n in sz.scale},
            positions,
            cfg,
        )
        writes = h.rates(
            {n: (lambda i, m=stores[n], q=seqs[n]: m.write(NS, q[i], value)) for n in sz.scale},
            positions,
            cfg,
        )
        for mem in stores.values():
            mem.close()
        del stores, mem
        gc.collect()
        sec = f"{label} throughput by key count"
        opts = ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults"
        for op, data in (("reads/s", reads), ("writes/s", writes)):
            for n in sz.scale:
                rows.append(
                    Measure(
                        sec,
                        f"{op} at {n:,} keys",
                        "ops/s",
                        data[n],
                        ours_does=f"random keys, {opts}; filled with `write_many` batches of "
                        f"{s.FILL_BATCH:,} at {fills[n]:,.0f} keys/s",
                        extra={"keys": n},
                    )
                )
            meds = [h.median(data[n]) for n in sz.scale]
            rows.append(
                Measure(
                    sec,
                    f"{op}: fastest / slowest size",
                    "x",
                    [max(meds) / min(meds)],
                    target=Target("max", 1.5, "<= 1.5x (flat)"),
                    ours_does=f"from {sz.scale[0]:,} to {sz.scale[-1]:,} keys",
                    show_ratio=False,
                )
            )
    return rows


CASE_NAMES = ("memory", "async", "sqlite", "writers", "listing", "watch", "scaling")


def all_cases(
    cfg: h.Config,
    sz: Sizes,
    tmpdir: str | None,
    only: set[str] | None = None,
    progress: Callable[[str], None] = print,
) -> list[Measure]:
    """Run every case (or those in ``only``) and return the measures, in report order."""
    cases: dict[str, Callable[[Path], list[Measure]]] = {
        "memory": lambda tmp: memory_sync(cfg, sz),
        "async": lambda tmp: async_cost(cfg, sz, tmp),
        "sqlite": lambda tmp: sqlite_reads_writes(cfg, sz, tmp),
        "writers": lambda tmp: sqlite_concurrent_writers(cfg, sz, tmp),
        "listing": lambda tmp: listing(cfg, sz, tmp),
        "watch": lambda tmp: subscriber_latency(cfg, sz, tmp),
        "scaling": lambda tmp: scaling(cfg, sz, tmp),
    }
    out: list[Measure] = []
    for name in CASE_NAMES:
        if only and name not in only:
            continue
        progress(name)
        with tempfile.TemporaryDirectory(prefix=f"hivemem-bench-{name}-", dir=tmpdir) as d:
            out += cases[name](Path(d))
        gc.collect()
    return out
