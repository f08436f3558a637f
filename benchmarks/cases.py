"""The benchmark cases: hivemem and its LangGraph peer doing the same operations.

Each case returns :class:`Measure` records holding every run's figure for both sides; the
report takes medians. Keys, values and the random access order are the same on both sides
(see :mod:`harness`). A case names exactly what each side calls in its ``ours``/``peer``
descriptions, which the report prints.
"""

from __future__ import annotations

import functools
import gc
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness as h
import stores as s

from hivemem.cli.bench import watch_latency

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
    unit: str  # "ops/s", "ms" or "x" (a cost ratio)
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
    reads = h.rate(functools.partial(mem.read, NS), seq, cfg)
    writes = h.rate(lambda k: mem.write(NS, k, value), seq, cfg)
    mem.close()
    mem = s.hive("memory://", log_reads=False)
    s.hive_fill(mem, NS, keys, value)
    reads_nolog = h.rate(functools.partial(mem.read, NS), seq, cfg)
    mem.close()

    lg_reads = lg_writes = None
    if s.LANGGRAPH:
        lg = s.lg_memory()
        s.lg_fill(lg, [(NST, k) for k in keys], value)
        lg_reads = h.rate(functools.partial(lg.get, NST), seq, cfg)
        lg_writes = h.rate(lambda k: lg.put(NST, k, value), seq, cfg)

    sec = "memory://, sync API"
    ours_r = f"`mem.read(ns, key)`, random key of {sz.keys:,}, log_reads on (default)"
    peer_r = "`InMemoryStore.get(ns, key)`"
    return [
        Measure(
            sec,
            "reads/s",
            "ops/s",
            reads,
            lg_reads,
            Target("min", 100_000, ">= 100,000/s"),
            ours_r,
            peer_r,
        ),
        Measure(
            sec,
            "reads/s, log_reads off",
            "ops/s",
            reads_nolog,
            lg_reads,
            None,
            "as above, `connect(..., log_reads=False)`",
            peer_r,
        ),
        Measure(
            sec,
            "writes/s",
            "ops/s",
            writes,
            lg_writes,
            Target("min", 50_000, ">= 50,000/s"),
            f"`mem.write(ns, key, value)` (latest-wins update), random key of {sz.keys:,}",
            "`InMemoryStore.put(ns, key, value)`",
        ),
    ]


# ---------------------------------------------------------------- async API vs sync


def _async_pair(
    url: str, options: dict[str, Any], keys: list[str], seq: list[str], value: Any, cfg: h.Config
) -> dict[str, list[float]]:
    mem = s.hive(url, **options)
    s.hive_fill(mem, NS, keys, value)
    out = {
        "read": h.rate(functools.partial(mem.read, NS), seq, cfg),
        "write": h.rate(lambda k: mem.write(NS, k, value), seq, cfg),
    }
    mem.close()

    for op in ("read", "write"):

        async def make(op: str = op) -> Any:
            amem = s.hive_async(url, **options)
            await s.hive_afill(amem, NS, keys, value)
            if op == "read":
                return functools.partial(amem.read, NS), amem.aclose
            return (lambda k: amem.write(NS, k, value)), amem.aclose

        out[f"a{op}"] = h.arate(make, seq, cfg)
    return out


def _cost_ratios(sync: list[float], asyn: list[float]) -> list[float]:
    """Async cost per op over sync cost per op, run by run."""
    return [
        a_cost / s_cost
        for s_cost, a_cost in zip((1 / x for x in sync), (1 / x for x in asyn), strict=True)
    ]


def async_cost(cfg: h.Config, sz: Sizes, tmp: Path) -> list[Measure]:
    keys = _keys(sz.keys)
    seq = h.key_sequence(keys)
    value = h.make_value()
    mem_runs = _async_pair("memory://", {}, keys, seq, value, cfg)
    sql_runs = _async_pair(
        s.sqlite_url(tmp / "async.db"),
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
        lg = {
            "read": h.rate(functools.partial(store.get, NST), seq, cfg),
            "write": h.rate(lambda k: store.put(NST, k, value), seq, cfg),
        }

        async def make_get() -> Any:
            async def noop() -> None:
                return None

            return functools.partial(store.aget, NST), noop

        async def make_put() -> Any:
            async def noop() -> None:
                return None

            return (lambda k: store.aput(NST, k, value)), noop

        lg["aread"] = h.arate(make_get, seq, cfg)
        lg["awrite"] = h.arate(make_put, seq, cfg)

    sec = "async API cost per op / sync cost per op (one task, one loop)"
    rows = []
    for op in ("read", "write"):
        peer = _cost_ratios(lg[op], lg[f"a{op}"]) if lg else None
        rows.append(
            Measure(
                sec,
                f"memory:// {op}",
                "x",
                _cost_ratios(mem_runs[op], mem_runs[f"a{op}"]),
                peer,
                Target("max", 1.3, "<= 1.3x"),
                f"`await amem.{op}(...)` vs `mem.{op}(...)`; async {op}s/s median "
                f"{h.median(mem_runs[f'a{op}']):,.0f}, sync {h.median(mem_runs[op]):,.0f}",
                f"`InMemoryStore.a{'get' if op == 'read' else 'put'}` vs "
                f"`{'get' if op == 'read' else 'put'}`",
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
                None,
                None,
                f"async {op}s/s median {h.median(sql_runs[f'a{op}']):,.0f}, "
                f"sync {h.median(sql_runs[op]):,.0f}",
                "",
                show_ratio=False,
            )
        )
    return rows


# ---------------------------------------------------------------- sqlite://


def sqlite_reads_writes(cfg: h.Config, sz: Sizes, tmp: Path) -> list[Measure]:
    keys = _keys(sz.keys)
    seq = h.key_sequence(keys)
    value = h.make_value()
    url = s.sqlite_url(tmp / "rw.db")
    rows: list[Measure] = []
    sec = "sqlite://, one thread"

    mem = s.hive(url, log_reads=False)
    s.hive_fill(mem, NS, keys, value)
    reads_off = h.rate(functools.partial(mem.read, NS), seq, cfg)
    mem.close()
    mem = s.hive(url, log_reads=True)
    reads_on = h.rate(functools.partial(mem.read, NS), seq, cfg)
    writes_full = h.rate(lambda k: mem.write(NS, k, value), seq, cfg)
    mem.close()
    mem = s.hive(url, durability="normal")
    writes_normal = h.rate(lambda k: mem.write(NS, k, value), seq, cfg)
    mem.close()

    lg_get = lg_put_full = lg_put_normal = None
    if s.LANGGRAPH:
        store, conn = s.lg_sqlite(tmp / "lg-rw.db", "FULL")
        s.lg_fill(store, [(NST, k) for k in keys], value)
        lg_get = h.rate(functools.partial(store.get, NST), seq, cfg)
        lg_put_full = h.rate(lambda k: store.put(NST, k, value), seq, cfg)
        conn.close()
        store, conn = s.lg_sqlite(tmp / "lg-rw.db", "NORMAL")
        lg_put_normal = h.rate(lambda k: store.put(NST, k, value), seq, cfg)
        conn.close()

    peer_get = "`SqliteStore.get(ns, key)`, WAL, synchronous=FULL"
    rows += [
        Measure(
            sec,
            "reads/s, log_reads off",
            "ops/s",
            reads_off,
            lg_get,
            Target("ratio", 1.5, ">= 1.5x peer"),
            f"`mem.read(ns, key)`, random key of {sz.keys:,}, durability=full",
            peer_get,
        ),
        Measure(
            sec,
            "reads/s, log_reads on",
            "ops/s",
            reads_on,
            lg_get,
            Target("ratio", 1.0, ">= 1.0x peer"),
            "as above, each read audited (buffered, written with the next commit)",
            peer_get,
        ),
        Measure(
            sec,
            "writes/s, durability=normal",
            "ops/s",
            writes_normal,
            lg_put_normal,
            Target("ratio", 1.0, ">= 1.0x peer"),
            "`mem.write(ns, key, value)` update; one commit per write (revision, event "
            "and audit rows in the same transaction)",
            "`SqliteStore.put(ns, key, value)`, WAL, synchronous=NORMAL",
        ),
        Measure(
            sec,
            "writes/s, durability=full",
            "ops/s",
            writes_full,
            lg_put_full,
            None,
            "as above, fsync on every commit",
            "`SqliteStore.put`, WAL, synchronous=FULL",
        ),
    ]
    return rows


def sqlite_concurrent_writers(cfg: h.Config, sz: Sizes, tmp: Path) -> list[Measure]:
    value = h.make_value()
    mem = s.hive(s.sqlite_url(tmp / "writers.db"))

    def ours(t: int) -> Callable[[int], object]:
        keys = [f"t{t:02d}-{i:04d}" for i in range(1000)]
        return lambda i: mem.write(NS, keys[i % 1000], value)

    runs = h.threaded_rate(ours, sz.writers, cfg)
    mem.close()

    peer = None
    if s.LANGGRAPH:
        store, conn = s.lg_sqlite(tmp / "lg-writers.db", "FULL")

        def theirs(t: int) -> Callable[[int], object]:
            keys = [f"t{t:02d}-{i:04d}" for i in range(1000)]
            return lambda i: store.put(NST, keys[i % 1000], value)

        peer = h.threaded_rate(theirs, sz.writers, cfg)
        conn.close()
    return [
        Measure(
            f"sqlite://, {sz.writers} writer threads, durability=full",
            "acknowledged writes/s",
            "ops/s",
            runs,
            peer,
            Target("min", 10_000, ">= 10,000/s"),
            f"{sz.writers} threads share one `Memory`; each `mem.write` returns after its commit "
            "is fsynced (group commit)",
            f"{sz.writers} threads share one `SqliteStore`, WAL, synchronous=FULL",
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

    def check(page: Any) -> Any:
        assert len(page) == 100, len(page)
        return page

    mem = s.hive(s.sqlite_url(tmp / "list.db"))
    s.hive_fill(mem, NS, keys, value)
    check(mem.list_entries(NS, prefix=order[0], limit=100))
    ours_sql = h.rate(lambda p: mem.list_entries(NS, prefix=p, limit=100), order, cfg)
    mem.close()
    mem = s.hive("memory://")
    s.hive_fill(mem, NS, keys, value)
    check(mem.list_entries(NS, prefix=order[0], limit=100))
    ours_mem = h.rate(lambda p: mem.list_entries(NS, prefix=p, limit=100), order, cfg)
    mem.close()

    lg_flat = lg_sub = lg_mem = None
    if s.LANGGRAPH:
        store, conn = s.lg_sqlite(tmp / "lg-list.db", "FULL")
        s.lg_fill(store, [(NST, k) for k in keys], value)
        check(store.search(NST, limit=100))
        lg_flat = h.rate(lambda _: store.search(NST, limit=100), order, cfg)
        conn.close()
        store, conn = s.lg_sqlite(tmp / "lg-list-sub.db", "FULL")
        s.lg_fill(store, [(("bench", k[: 4 + width - 2]), k) for k in keys], value)
        check(store.search(("bench", order[0]), limit=100))
        lg_sub = h.rate(lambda p: store.search(("bench", p), limit=100), order, cfg)
        conn.close()
        lgm = s.lg_memory()
        s.lg_fill(lgm, [(NST, k) for k in keys], value)
        lg_mem = h.rate(lambda _: lgm.search(NST, limit=100), order, cfg)

    ours_does = (
        f"`mem.list_entries(ns, prefix=p, limit=100)`; p is one of {n // 100:,} "
        "key prefixes, each matching 100 keys"
    )
    return [
        Measure(
            sec,
            "sqlite:// lists/s",
            "ops/s",
            ours_sql,
            lg_flat,
            Target("ratio", 50, ">= 50x peer"),
            ours_does,
            f"`SqliteStore.search(('bench',), limit=100)` over the {n:,} items of the "
            "namespace (WAL)",
        ),
        Measure(
            sec,
            "sqlite:// lists/s vs LangGraph sub-namespaces",
            "ops/s",
            ours_sql,
            lg_sub,
            None,
            "same figure as the row above",
            f"`SqliteStore.search(('bench', p), limit=100)`: the {n:,} items spread over "
            f"{n // 100:,} sub-namespaces of 100 (LangGraph's own way to group)",
        ),
        Measure(
            sec,
            "memory:// lists/s",
            "ops/s",
            ours_mem,
            lg_mem,
            None,
            ours_does,
            "`InMemoryStore.search(('bench',), limit=100)` (stops after 100 items)",
        ),
    ]


# ---------------------------------------------------------------- subscriber latency


def subscriber_latency(cfg: h.Config, sz: Sizes, tmp: Path) -> list[Measure]:
    rows = []
    for label, url in (("memory://", "memory://"), ("sqlite://", s.sqlite_url(tmp / "watch.db"))):
        mem = s.hive(url)
        p50: list[float] = []
        p99: list[float] = []
        delivered = 0
        writes = 0
        watch_latency(mem, "watch", rate=sz.watch_rate, duration=min(0.5, sz.watch_seconds))
        for _ in range(cfg.runs):
            res = watch_latency(mem, "watch", rate=sz.watch_rate, duration=sz.watch_seconds)
            lat = sorted(res.latencies)
            p50.append(_pct(lat, 50) / 1e6)
            p99.append(_pct(lat, 99) / 1e6)
            delivered += len(lat)
            writes += res.writes
        mem.close()
        does = (
            f"`mem.subscribe(ns, callback)`; one writer at {sz.watch_rate:g} writes/s for "
            f"{sz.watch_seconds:g} s per run; time from `write` returning to the callback "
            f"({delivered:,} of {writes:,} events delivered)"
        )
        rows.append(
            Measure(
                "subscriber in the same process: delivery latency",
                f"{label} p50",
                "ms",
                p50,
                None,
                None,
                does,
                "(no subscriptions)",
            )
        )
        rows.append(
            Measure(
                "subscriber in the same process: delivery latency",
                f"{label} p99",
                "ms",
                p99,
                None,
                Target("max", 1.0, "<= 1 ms"),
                does,
                "(no subscriptions)",
            )
        )
    return rows


def _pct(ordered: list[int], q: float) -> float:
    from hivemem.cli.bench import percentile

    return percentile(ordered, q)


# ---------------------------------------------------------------- scaling with key count


def scaling(cfg: h.Config, sz: Sizes, tmp: Path) -> list[Measure]:
    value = h.make_value()
    rows: list[Measure] = []
    for label, make_url, options in (
        ("memory://", lambda n: "memory://", {}),
        (
            "sqlite://",
            lambda n: s.sqlite_url(tmp / f"scale-{n}.db"),
            {"durability": "normal", "log_reads": False},
        ),
    ):
        reads: dict[int, list[float]] = {}
        writes: dict[int, list[float]] = {}
        fills: dict[int, float] = {}
        for n in sz.scale:
            keys = _keys(n)
            seq = h.key_sequence(keys, seed=n)
            mem = s.hive(make_url(n), **options)
            t0 = _now()
            s.hive_fill(mem, NS, keys, value)
            fills[n] = n / (_now() - t0)
            del keys
            gc.collect()
            reads[n] = h.rate(functools.partial(mem.read, NS), seq, cfg)
            writes[n] = h.rate(lambda k, mem=mem: mem.write(NS, k, value), seq, cfg)
            mem.close()
            del mem
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
                        None,
                        None,
                        f"random keys, {opts}; filled with `write_many` batches "
                        f"of {s.FILL_BATCH:,} at {fills[n]:,.0f} keys/s",
                        "",
                        extra={"keys": n},
                    )
                )
            meds = [h.median(data[n]) for n in sz.scale]
            rows.append(
                Measure(
                    sec,
                    f"{op}: slowest / fastest size",
                    "x",
                    [max(meds) / min(meds)],
                    None,
                    Target("max", 1.5, "<= 1.5x (flat)"),
                    f"from {sz.scale[0]:,} to {sz.scale[-1]:,} keys",
                    "",
                    show_ratio=False,
                )
            )
    return rows


def _now() -> float:
    import time

    return time.perf_counter()


def all_cases(
    cfg: h.Config,
    sz: Sizes,
    tmpdir: str | None,
    only: set[str] | None = None,
    progress: Callable[[str], None] = print,
) -> list[Measure]:
    """Run every case (or those in ``only``) and return the measures, in report order."""
    cases: list[tuple[str, Callable[..., list[Measure]]]] = [
        ("memory", lambda tmp: memory_sync(cfg, sz)),
        ("async", lambda tmp: async_cost(cfg, sz, tmp)),
        ("sqlite", lambda tmp: sqlite_reads_writes(cfg, sz, tmp)),
        ("writers", lambda tmp: sqlite_concurrent_writers(cfg, sz, tmp)),
        ("listing", lambda tmp: listing(cfg, sz, tmp)),
        ("watch", lambda tmp: subscriber_latency(cfg, sz, tmp)),
        ("scaling", lambda tmp: scaling(cfg, sz, tmp)),
    ]
    out: list[Measure] = []
    for name, case in cases:
        if only and name not in only:
            continue
        progress(name)
        with tempfile.TemporaryDirectory(prefix=f"hivemem-bench-{name}-", dir=tmpdir) as d:
            out += case(Path(d))
        gc.collect()
    return out


CASE_NAMES = ("memory", "async", "sqlite", "writers", "listing", "watch", "scaling")
