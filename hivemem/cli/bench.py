"""``hivemem bench``: throughput and latency of a store, operation by operation.

Each operation runs on its own for ``--duration`` seconds, from ``--clients`` client threads
(or asyncio tasks with ``--async``) sharing one handle from :func:`hivemem.connect`:

- ``write``: ``write(ns, key, value)`` to a random one of ``--keys`` keys (latest-wins).
- ``read``: ``read(ns, key)`` of a random key.
- ``cas``: ``get_entry`` then ``write(..., expected_version=version)``, retried on a version
  mismatch; one op is one successful compare-and-set, its latency includes the retries.
- ``watch``: one writer at a fixed, moderate rate (``--watch-rate``, not saturating) and one
  ``subscribe`` callback in the same process; the latency is the time from the write's
  acknowledgement (``write`` returned) to the callback (0 when the callback ran first).

``--url http://HOST:PORT`` measures a running server through the remote client (each op one
HTTP request; ``watch`` then measures delivery over the server's event stream): give a token
with ``--token`` or ``$HIVEMEM_TOKEN``; its agent runs the ops.

The namespace is filled with ``--keys`` entries first and deleted at the end, so a bench
against a real store leaves nothing behind. Pure stdlib; a plain-text progress bar goes to
stderr, the result table (or ``--json``) to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import hivemem
from hivemem.errors import ConflictError, HivememError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from hivemem.types import Event

__all__ = [
    "OPS",
    "BenchConfig",
    "OpResult",
    "format_table",
    "make_value",
    "percentile",
    "register",
    "run_bench",
    "summarize",
    "watch_latency",
]

#: The operations ``--ops`` accepts, in their default order.
OPS = ("write", "read", "cas", "watch")

#: Async clients yield to the loop every this many ops, so that tasks interleave even
#: when the store answers without suspending (``memory://``).
_YIELD_EVERY = 64


@dataclass(slots=True)
class BenchConfig:
    """What one ``hivemem bench`` run measures."""

    url: str = "memory://"
    clients: int = 4
    duration: float = 3.0
    ops: Sequence[str] = OPS
    value_bytes: int = 100
    keys: int = 1000
    use_async: bool = False
    watch_rate: float = 200.0
    durability: str | None = None
    log_reads: bool = True
    token: str | None = None


@dataclass(slots=True)
class OpResult:
    """Raw measurements of one operation: latencies in nanoseconds and counters."""

    op: str
    seconds: float = 0.0
    latencies: list[int] = field(default_factory=list)
    errors: int = 0
    retries: int = 0
    writes: int = 0
    before_ack: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: counts, ops/s and latency percentiles in milliseconds."""
        ops = len(self.latencies)
        out: dict[str, Any] = {
            "ops": ops,
            "errors": self.errors,
            "seconds": round(self.seconds, 4),
            "ops_per_sec": round(ops / self.seconds, 1) if self.seconds > 0 else 0.0,
            "latency_ms": summarize(self.latencies),
        }
        if self.op == "cas":
            out["retries"] = self.retries
        if self.op == "watch":
            out["writes"] = self.writes
            out["missed"] = self.writes - ops
            out["delivered_before_ack"] = self.before_ack
        return out


# ---------------------------------------------------------------- statistics


def percentile(ordered: Sequence[float], q: float) -> float:
    """Return the nearest-rank ``q``-th percentile (0-100) of an already sorted sequence.

    Returns:
        The value, or ``nan`` for an empty sequence.
    """
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(latencies_ns: Sequence[int]) -> dict[str, float | None]:
    """Return mean, p50, p95, p99 and max of latencies given in ns, in milliseconds."""
    if not latencies_ns:
        return {"mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(latencies_ns)
    ms = 1e-6
    return {
        "mean": round(sum(ordered) / len(ordered) * ms, 4),
        "p50": round(percentile(ordered, 50) * ms, 4),
        "p95": round(percentile(ordered, 95) * ms, 4),
        "p99": round(percentile(ordered, 99) * ms, 4),
        "max": round(ordered[-1] * ms, 4),
    }


def make_value(value_bytes: int, n: int = 0) -> dict[str, Any]:
    """Return a JSON object of about ``value_bytes`` bytes: ``{"n": n, "data": "xxx..."}``."""
    overhead = len(json.dumps({"n": n, "data": ""}))
    return {"n": n, "data": "x" * max(0, value_bytes - overhead)}


# ---------------------------------------------------------------- progress


class _Progress:
    """A plain-text progress bar on stderr, redrawn by a thread while an op runs."""

    def __init__(
        self, stream: TextIO, label: str, seconds: float, count: Callable[[], int] | None = None
    ) -> None:
        self.stream = stream
        self.label = label
        self.seconds = seconds
        self.count = count
        self.tty = stream.isatty()
        self._stop = threading.Event()
        self._start = time.perf_counter()
        self._thread = threading.Thread(
            target=self._loop, name="hivemem-bench-progress", daemon=True
        )

    def __enter__(self) -> _Progress:
        self._start = time.perf_counter()
        if self.tty:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.tty:
            self._thread.join()
        self._draw(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self._draw()

    def _draw(self, final: bool = False) -> None:
        elapsed = time.perf_counter() - self._start
        frac = 1.0 if final else min(1.0, elapsed / self.seconds) if self.seconds else 1.0
        width = 30
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        shown = elapsed if final else min(elapsed, self.seconds)
        line = f"  {self.label:<6} [{bar}] {shown:5.1f}s"
        if self.count is not None:
            line += f"  {self.count():>10,} ops"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        elif final:
            self.stream.write(line + "\n")
        self.stream.flush()


# ---------------------------------------------------------------- sync clients


def _key_order(keys: Sequence[str], seed: int) -> list[str]:
    order = list(keys)
    random.Random(seed).shuffle(order)
    return order


def _sync_op(
    mem: hivemem.Memory, op: str, ns: str, value: dict[str, Any], rec: OpResult
) -> Callable[[str], object]:
    if op == "write":
        write = mem.write
        return lambda key: write(ns, key, value)
    if op == "read":
        read = mem.read
        return lambda key: read(ns, key)
    get_entry, write = mem.get_entry, mem.write

    def cas(key: str) -> object:
        while True:
            entry = get_entry(ns, key)
            try:
                return write(
                    ns, key, _bumped(entry, value), expected_version=entry.version if entry else 0
                )
            except ConflictError as exc:
                if exc.reason != "version_mismatch":
                    raise
                rec.retries += 1

    return cas


def _bumped(entry: Any, value: dict[str, Any]) -> dict[str, Any]:
    n = entry.value.get("n", 0) if entry is not None and isinstance(entry.value, dict) else 0
    return {**value, "n": n + 1 if isinstance(n, int) else 1}


def _run_sync(
    mem: hivemem.Memory, op: str, ns: str, keys: Sequence[str], cfg: BenchConfig, stream: TextIO
) -> OpResult:
    value = make_value(cfg.value_bytes)
    total = OpResult(op)
    recs = [OpResult(op) for _ in range(cfg.clients)]
    start = threading.Event()
    deadline = [0]

    def client(i: int) -> None:
        rec = recs[i]
        fn = _sync_op(mem, op, ns, value, rec)
        order = _key_order(keys, i)
        n = len(order)
        lat = rec.latencies
        perf = time.perf_counter_ns
        j = 0
        start.wait()
        end = deadline[0]
        while True:
            t0 = perf()
            if t0 >= end:
                return
            try:
                fn(order[j % n])
            except HivememError:
                rec.errors += 1
            else:
                lat.append(perf() - t0)
            j += 1

    threads = [
        threading.Thread(target=client, args=(i,), name=f"hivemem-bench-{i}", daemon=True)
        for i in range(cfg.clients)
    ]
    for t in threads:
        t.start()
    with _Progress(stream, op, cfg.duration, lambda: sum(len(r.latencies) for r in recs)):
        t0 = time.perf_counter_ns()
        deadline[0] = t0 + int(cfg.duration * 1e9)
        start.set()
        for t in threads:
            t.join()
        total.seconds = (time.perf_counter_ns() - t0) / 1e9
    for r in recs:
        total.latencies.extend(r.latencies)
        total.errors += r.errors
        total.retries += r.retries
    return total


def watch_latency(
    mem: hivemem.Memory,
    ns: str,
    *,
    rate: float,
    duration: float,
    value_bytes: int = 100,
    keys: int = 1000,
    grace: float = 2.0,
) -> OpResult:
    """Measure subscriber delivery latency in this process at a fixed write rate.

    One writer writes ``rate`` times per second for ``duration`` seconds; a
    ``mem.subscribe(ns, ...)`` callback notes when each write's event arrives. Latency is
    callback time minus the moment ``write`` returned (0 if the callback ran first).

    Returns:
        An :class:`OpResult` whose ``latencies`` are the delivered events' latencies (ns).
    """
    value = make_value(value_bytes)
    arrived: dict[int, int] = {}
    perf = time.perf_counter_ns

    def on_event(event: Event) -> None:
        if event.type == "memory:write" and isinstance(event.value, dict):
            seq = event.value.get("seq")
            if isinstance(seq, int):
                arrived[seq] = perf()

    result = OpResult("watch")
    acked: list[int] = []
    unsubscribe = mem.subscribe(ns, on_event)
    try:
        interval = 1.0 / rate
        t_start = time.perf_counter()
        i = 0
        while True:
            due = t_start + i * interval
            now = time.perf_counter()
            if due - t_start >= duration:
                break
            if due > now:
                time.sleep(due - now)
            try:
                mem.write(ns, f"w{i % keys}", {**value, "seq": i})
            except HivememError:
                result.errors += 1
                acked.append(-1)
            else:
                acked.append(perf())
            i += 1
        result.seconds = time.perf_counter() - t_start
        _await_delivery(lambda: len(arrived), sum(1 for a in acked if a >= 0), grace)
    finally:
        unsubscribe()
    _collect_watch(result, acked, arrived)
    return result


def _await_delivery(count: Callable[[], int], expected: int, grace: float) -> None:
    end = time.perf_counter() + grace
    while count() < expected and time.perf_counter() < end:
        time.sleep(0.005)


def _collect_watch(result: OpResult, acked: list[int], arrived: dict[int, int]) -> None:
    for seq, ack in enumerate(acked):
        if ack < 0:
            continue
        result.writes += 1
        at = arrived.get(seq)
        if at is None:
            continue
        if at < ack:
            result.before_ack += 1
        result.latencies.append(max(0, at - ack))


# ---------------------------------------------------------------- async clients


def _async_op(
    mem: hivemem.AsyncMemory, op: str, ns: str, value: dict[str, Any], rec: OpResult
) -> Callable[[str], Awaitable[object]]:
    if op == "write":
        write = mem.write
        return lambda key: write(ns, key, value)
    if op == "read":
        read = mem.read
        return lambda key: read(ns, key)
    get_entry, write = mem.get_entry, mem.write

    async def cas(key: str) -> object:
        while True:
            entry = await get_entry(ns, key)
            try:
                return await write(
                    ns, key, _bumped(entry, value), expected_version=entry.version if entry else 0
                )
            except ConflictError as exc:
                if exc.reason != "version_mismatch":
                    raise
                rec.retries += 1

    return cas


async def _run_async(
    mem: hivemem.AsyncMemory,
    op: str,
    ns: str,
    keys: Sequence[str],
    cfg: BenchConfig,
    stream: TextIO,
) -> OpResult:
    value = make_value(cfg.value_bytes)
    total = OpResult(op)
    recs = [OpResult(op) for _ in range(cfg.clients)]

    async def client(i: int, end: int) -> None:
        rec = recs[i]
        fn = _async_op(mem, op, ns, value, rec)
        order = _key_order(keys, i)
        n = len(order)
        lat = rec.latencies
        perf = time.perf_counter_ns
        j = 0
        while True:
            t0 = perf()
            if t0 >= end:
                return
            try:
                await fn(order[j % n])
            except HivememError:
                rec.errors += 1
            else:
                lat.append(perf() - t0)
            j += 1
            if j % _YIELD_EVERY == 0:
                await asyncio.sleep(0)

    with _Progress(stream, op, cfg.duration, lambda: sum(len(r.latencies) for r in recs)):
        t0 = time.perf_counter_ns()
        end = t0 + int(cfg.duration * 1e9)
        await asyncio.gather(*(client(i, end) for i in range(cfg.clients)))
        total.seconds = (time.perf_counter_ns() - t0) / 1e9
    for r in recs:
        total.latencies.extend(r.latencies)
        total.errors += r.errors
        total.retries += r.retries
    return total


async def _awatch_latency(mem: hivemem.AsyncMemory, ns: str, cfg: BenchConfig) -> OpResult:
    value = make_value(cfg.value_bytes)
    arrived: dict[int, int] = {}
    perf = time.perf_counter_ns

    def on_event(event: Event) -> None:
        if event.type == "memory:write" and isinstance(event.value, dict):
            seq = event.value.get("seq")
            if isinstance(seq, int):
                arrived[seq] = perf()

    result = OpResult("watch")
    acked: list[int] = []
    sub = await mem.subscribe(ns, on_event)
    try:
        interval = 1.0 / cfg.watch_rate
        t_start = time.perf_counter()
        i = 0
        while True:
            due = t_start + i * interval
            if due - t_start >= cfg.duration:
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                await mem.write(ns, f"w{i % cfg.keys}", {**value, "seq": i})
            except HivememError:
                result.errors += 1
                acked.append(-1)
            else:
                acked.append(perf())
            i += 1
        result.seconds = time.perf_counter() - t_start
        expected = sum(1 for a in acked if a >= 0)
        end = time.perf_counter() + 2.0
        while len(arrived) < expected and time.perf_counter() < end:
            await asyncio.sleep(0.005)
    finally:
        await sub.aunsubscribe()
    _collect_watch(result, acked, arrived)
    return result


# ---------------------------------------------------------------- the run


def _remote(url: str) -> bool:
    return url.split("://", 1)[0].lower() in ("http", "https")


def _options(cfg: BenchConfig) -> dict[str, Any]:
    """``connect()`` arguments: a server (``http://``) takes a token and names the agent."""
    options: dict[str, Any] = {"log_reads": cfg.log_reads}
    if cfg.durability is not None:
        options["durability"] = cfg.durability
    if _remote(cfg.url):
        token = cfg.token or os.environ.get("HIVEMEM_TOKEN") or None
        if token is not None:  # the token names the agent
            options["token"] = token
            return options
    options["agent"] = "bench"
    return options


def _fill(
    write_many: Callable[[str, dict[str, Any]], Any],
    ns: str,
    keys: Sequence[str],
    value: dict[str, Any],
) -> list[Any]:
    return [
        write_many(ns, {k: value for k in keys[i : i + 1000]}) for i in range(0, len(keys), 1000)
    ]


def run_bench(cfg: BenchConfig, stream: TextIO | None = None) -> dict[str, Any]:
    """Run the benchmark ``cfg`` describes and return its JSON-ready report.

    Args:
        cfg: What to measure.
        stream: Where the progress bar goes (default: stderr).

    Returns:
        ``{"url", "backend", "api", "clients", "duration", "keys", "value_bytes",
        "results": {op: {...}}}``; see :meth:`OpResult.to_dict`.
    """
    stream = sys.stderr if stream is None else stream
    ns = f"bench.{uuid.uuid4().hex[:8]}"
    keys = [f"key-{i:07d}" for i in range(cfg.keys)]
    if cfg.use_async:
        results, backend = asyncio.run(_bench_async(cfg, ns, keys, stream))
    else:
        results, backend = _bench_sync(cfg, ns, keys, stream)
    return {
        "url": cfg.url,
        "backend": backend,
        "api": "async" if cfg.use_async else "sync",
        "clients": cfg.clients,
        "duration": cfg.duration,
        "keys": cfg.keys,
        "value_bytes": cfg.value_bytes,
        "watch_rate": cfg.watch_rate,
        "results": {r.op: r.to_dict() for r in results},
    }


def _backend_name(url: str) -> str:
    # Not mem.stats()["backend"]: stats() sizes every namespace, a full scan of a big store.
    return url.split("://", 1)[0].lower() or "?"


def _bench_sync(
    cfg: BenchConfig, ns: str, keys: list[str], stream: TextIO
) -> tuple[list[OpResult], str]:
    mem = hivemem.connect(cfg.url, **_options(cfg))
    try:
        backend = _backend_name(cfg.url)
        _fill(mem.write_many, ns, keys, make_value(cfg.value_bytes))
        results = []
        for op in cfg.ops:
            if op == "watch":
                with _Progress(stream, op, cfg.duration):
                    res = watch_latency(
                        mem,
                        f"{ns}.watch",
                        rate=cfg.watch_rate,
                        duration=cfg.duration,
                        value_bytes=cfg.value_bytes,
                        keys=cfg.keys,
                    )
                results.append(res)
            else:
                results.append(_run_sync(mem, op, ns, keys, cfg, stream))
        for name in (ns, f"{ns}.watch"):
            with contextlib.suppress(HivememError):
                mem.delete_namespace(name)
    finally:
        mem.close()
    return results, backend


async def _bench_async(
    cfg: BenchConfig, ns: str, keys: list[str], stream: TextIO
) -> tuple[list[OpResult], str]:
    mem = hivemem.connect_async(cfg.url, **_options(cfg))
    try:
        backend = _backend_name(cfg.url)
        value = make_value(cfg.value_bytes)
        for i in range(0, len(keys), 1000):
            await mem.write_many(ns, {k: value for k in keys[i : i + 1000]})
        results = []
        for op in cfg.ops:
            if op == "watch":
                with _Progress(stream, op, cfg.duration):
                    res = await _awatch_latency(mem, f"{ns}.watch", cfg)
                results.append(res)
            else:
                results.append(await _run_async(mem, op, ns, keys, cfg, stream))
        for name in (ns, f"{ns}.watch"):
            with contextlib.suppress(HivememError):
                await mem.delete_namespace(name)
    finally:
        await mem.aclose()
    return results, backend


# ---------------------------------------------------------------- output


def format_table(report: dict[str, Any]) -> str:
    """Render a report from :func:`run_bench` as a plain-text table."""
    head = (
        f"hivemem bench: {report['url']} ({report['backend']}), {report['api']} API, "
        f"{report['clients']} clients x {report['duration']:g} s, "
        f"{report['keys']:,} keys, {report['value_bytes']}-byte values"
    )
    cols = ("op", "ops/s", "ops", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "notes")
    rows: list[tuple[str, ...]] = []
    for op, r in report["results"].items():
        lat = r["latency_ms"]
        notes = ""
        if op == "cas":
            notes = f"{r['retries']:,} retries"
        elif op == "watch":
            notes = f"delivery latency at {report['watch_rate']:g} writes/s; {r['missed']} missed"
            if r["delivered_before_ack"]:
                notes += f"; {r['delivered_before_ack']} before the write returned (count as 0)"
        rows.append(
            (
                op,
                f"{r['ops_per_sec']:,.0f}",
                f"{r['ops']:,}",
                *("-" if lat[k] is None else f"{lat[k]:.3f}" for k in ("p50", "p95", "p99", "max")),
                f"{r['errors']:,}",
                notes,
            )
        )
    widths = [
        max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(cols)
    ]
    lines = [head, ""]
    for row in (cols, *rows):
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(widths[i]) for i, cell in enumerate(row[1:-1], 1)]
        cells.append(row[-1])
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _ops(text: str) -> list[str]:
    ops = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [op for op in ops if op not in OPS]
    if unknown or not ops:
        raise argparse.ArgumentTypeError(
            f"unknown op(s) {', '.join(unknown) or text!r}: choose from {','.join(OPS)}"
        )
    return list(dict.fromkeys(ops))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bench`` command."""
    p = sub.add_parser(
        "bench",
        help="measure a store: ops/s and latency per operation",
        description="Measure a store: ops/s and latency p50/p95/p99 per operation "
        "(write, read, compare-and-set) and subscriber delivery latency.",
    )
    p.add_argument(
        "--url",
        default="memory://",
        help="store to measure (default memory://; e.g. sqlite:////tmp/b.db, or a running "
        "server: http://127.0.0.1:7700 with --token)",
    )
    p.add_argument(
        "--token",
        default=None,
        help="token for an http:// server (default: $HIVEMEM_TOKEN); it needs to create and "
        "delete the bench namespaces",
    )
    p.add_argument(
        "--clients",
        type=_positive(int),
        default=4,
        help="concurrent clients: threads, or asyncio tasks with --async (4)",
    )
    p.add_argument(
        "--duration", type=_positive(float), default=3.0, help="seconds per operation (3)"
    )
    p.add_argument(
        "--ops", type=_ops, default=list(OPS), help=f"comma-separated operations ({','.join(OPS)})"
    )
    p.add_argument(
        "--value-bytes",
        type=_non_negative_int,
        default=100,
        help="approximate JSON size of each value (100)",
    )
    p.add_argument(
        "--keys",
        type=_positive(int),
        default=1000,
        help="keys written first and then picked at random (1000)",
    )
    p.add_argument(
        "--async",
        dest="use_async",
        action="store_true",
        help="use connect_async() and asyncio tasks",
    )
    p.add_argument(
        "--watch-rate",
        type=_positive(float),
        default=200.0,
        help="writes per second while measuring watch delivery (200)",
    )
    p.add_argument(
        "--durability",
        choices=("full", "normal"),
        help="SQLite durability (default: the store's, full)",
    )
    p.add_argument(
        "--no-log-reads", dest="log_reads", action="store_false", help="do not audit reads"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    cfg = BenchConfig(
        url=args.url,
        clients=args.clients,
        duration=args.duration,
        ops=args.ops,
        value_bytes=args.value_bytes,
        keys=args.keys,
        use_async=args.use_async,
        watch_rate=args.watch_rate,
        durability=args.durability,
        log_reads=args.log_reads,
        token=args.token,
    )
    try:
        report = run_bench(cfg)
    except HivememError as exc:
        print(f"hivemem bench: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    return 0
