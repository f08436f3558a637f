"""hivemem over Redis against raw redis-py, in one run (issue 4, acceptance 4).

Three measures, each against a peer measured in the same run on the same Redis:

1. ``embedded``: one ``hivemem.connect("redis://...").write`` (latest-wins update, sync API)
   against one raw redis-py ``SET`` of the same value (a round trip each); reads against a raw
   ``GET`` for information. The two sides alternate in slices, ``--runs`` times; the figure is
   the median of the per-run ratios.
2. ``replicas``: ``hivemem serve --store redis://...`` with 1, 2 and 3 replicas (one process
   each). One load generator of ``--connections`` connections in all, spread evenly over the
   replicas (one ``wrk`` per replica, run at the same time). Reports requests/s, the CPU time
   of every replica process (and of redis-server) and the server CPU time per request; the
   target is CPU per request with 2 replicas <= 1.15x that with 1.
3. ``watch``: two replicas; an SSE watcher on replica B, writes paced at ``--watch-rate``/s
   through replica A; latency = event read on B minus write response read from A.

Run ``.venv/bin/python benchmarks/redis_scale.py --help``. ``--docs docs/benchmarks.md`` writes
the results into the "Redis (issue 4)" section of that file (the rest is kept).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

HERE = Path(__file__).resolve().parent

ROOT = HERE.parent
PY = sys.executable
VALUE = {"n": 0, "data": "x" * 80}
KEYS = 1000


def _http_bench() -> Any:
    """benchmarks/server.py (the wrk scripts, SSE subscribers, process helpers)."""
    spec = importlib.util.spec_from_file_location("hivemem_bench_server", HERE / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- 1. embedded


def _timed(fn: Any, n: int) -> float:
    """Seconds per call of ``fn(i)`` over ``n`` calls."""
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n


def embedded(url: str, cfg: argparse.Namespace) -> dict[str, Any]:
    import hivemem

    raw = redis.Redis.from_url(url, decode_responses=True)
    mem = hivemem.connect(url)
    text = json.dumps(VALUE)
    rng = random.Random(1)
    order = [rng.randrange(KEYS) for _ in range(cfg.ops)]
    for i in range(KEYS):
        mem.write("bench", f"k{i}", VALUE)
        raw.set(f"raw:k{i}", text)

    sides = {
        "raw SET": lambda i: raw.set(f"raw:k{order[i]}", text),
        "hivemem write": lambda i: mem.write("bench", f"k{order[i]}", VALUE),
        "raw GET": lambda i: raw.get(f"raw:k{order[i]}"),
        "hivemem read": lambda i: mem.read("bench", f"k{order[i]}"),
    }
    for fn in sides.values():  # warm-up
        _timed(fn, min(cfg.ops, 500))
    runs: list[dict[str, float]] = []
    for _ in range(cfg.runs):
        per: dict[str, list[float]] = {k: [] for k in sides}
        for _ in range(cfg.slices):
            for name, fn in sides.items():
                per[name].append(_timed(fn, cfg.ops // cfg.slices))
        run = {k: statistics.median(v) * 1e6 for k, v in per.items()}
        run["write / SET"] = run["hivemem write"] / run["raw SET"]
        run["read / GET"] = run["hivemem read"] / run["raw GET"]
        runs.append(run)
        print(
            f"  embedded: SET {run['raw SET']:.1f} us, write {run['hivemem write']:.1f} us "
            f"({run['write / SET']:.2f}x); GET {run['raw GET']:.1f} us, "
            f"read {run['hivemem read']:.1f} us ({run['read / GET']:.2f}x)",
            flush=True,
        )
    mem.close()
    raw.close()
    return {"runs": runs, **{k: statistics.median(r[k] for r in runs) for k in runs[0]}}


# ---------------------------------------------------------------- 2. replicas


class Replicas:
    """``count`` ``hivemem serve`` processes over one Redis, with an agent token."""

    def __init__(self, hb: Any, url: str, count: int) -> None:
        self.hb = hb
        self.url = url
        self.servers: list[Any] = []
        for _ in range(count):
            port = hb.free_port()
            proc = subprocess.Popen(
                [PY, "-m", "hivemem", "serve", "--store", url, "--port", str(port),
                 "--workers", "1", "--max-streams", "100000", "--rate-limit", "0",
                 "--log-level", "warning"],
                stdout=subprocess.DEVNULL,
                text=True,
                cwd=ROOT,
            )  # fmt: skip
            self.servers.append(hb.Server("hivemem", proc, port))
        for s in self.servers:
            hb._wait_http(f"{s.base}/healthz")
        token = hb.agent_token(url)
        for s in self.servers:
            s.token = token

    def stop(self) -> None:
        for s in self.servers:
            s.stop()


def _setup(hb: Any, server: Any) -> None:
    for ns in (hb.NS, hb.WATCH_NS):
        with contextlib.suppress(Exception):  # exists already (an earlier configuration)
            hb._request(server, "POST", "/v1/namespaces", {"name": ns})
    ops = [
        {"op": "put", "key": f"key-{i}", "value": {"n": i, "data": hb.DATA}} for i in range(hb.KEYS)
    ]
    hb._request(server, "POST", f"/v1/namespaces/{hb.NS}/batch", {"atomic": True, "ops": ops})


def _wrk_all(
    hb: Any, servers: list[Any], kind: str, cfg: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """One wrk per replica at the same time (connections split evenly); CPU of each process."""
    import concurrent.futures

    per = max(1, cfg.connections // len(servers))
    sub = argparse.Namespace(**{**vars(cfg), "connections": per, "wrk_threads": 1})
    redis_pid = cfg.redis_pid
    before = [hb.cpu_seconds(s.proc.pid) for s in servers]
    redis_before = hb.cpu_seconds(redis_pid)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(servers)) as pool:
        futures = [
            pool.submit(hb.wrk, s, kind, sub, cfg.duration, workdir / f"r{i}")
            for i, s in enumerate(servers)
        ]
        results = [f.result() for f in futures]
    wall = time.monotonic() - t0
    cpu = [hb.cpu_seconds(s.proc.pid) - b for s, b in zip(servers, before, strict=True)]
    redis_cpu = hb.cpu_seconds(redis_pid) - redis_before
    requests = sum(r["requests"] for r in results)
    seconds = statistics.mean(r["seconds"] for r in results)
    return {
        "rps": requests / seconds,
        "requests": requests,
        "errors": sum(r["errors"] + r["non2xx"] for r in results),
        "p50_ms": statistics.median(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "cpu_per_process": [c / wall for c in cpu],  # cores
        "server_cpu_us": sum(cpu) / requests * 1e6,
        "redis_cpu": redis_cpu / wall,
        "redis_cpu_us": redis_cpu / requests * 1e6,
    }


def replicas(url: str, hb: Any, cfg: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """``--replica-runs`` sweeps; per row the run with the median server CPU per request."""
    runs = [_replica_sweep(url, hb, cfg, workdir) for _ in range(cfg.replica_runs)]
    out: dict[str, Any] = {"runs": runs}
    for key in runs[0]:
        ordered = sorted((r[key] for r in runs), key=lambda r: r["server_cpu_us"])
        out[key] = ordered[len(ordered) // 2]
    return out


def replica_ratio(rep: dict[str, Any], kind: str) -> list[float]:
    """Server CPU per request with 2 replicas / with 1, per run (same run's figures)."""
    return [
        r[f"{kind}/2"]["server_cpu_us"] / r[f"{kind}/1"]["server_cpu_us"]
        for r in rep["runs"]
        if f"{kind}/1" in r and f"{kind}/2" in r
    ]


def _replica_sweep(url: str, hb: Any, cfg: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for count in cfg.replica_counts:
        group = Replicas(hb, url, count)
        try:
            _setup(hb, group.servers[0])
            for i in range(count):
                (workdir / f"r{i}").mkdir(exist_ok=True)
            warm = argparse.Namespace(**{**vars(cfg), "duration": 1.0})
            _wrk_all(hb, group.servers, "get", warm, workdir)
            for kind in ("get", "write"):
                res = _wrk_all(hb, group.servers, kind, cfg, workdir)
                out[f"{kind}/{count}"] = res
                procs = ", ".join(f"{c:.2f}" for c in res["cpu_per_process"])
                print(
                    f"  {count} replica(s) {kind}: {res['rps']:,.0f} req/s, server CPU "
                    f"{res['server_cpu_us']:.0f} us/req (cores per process: {procs}; "
                    f"redis {res['redis_cpu']:.2f}), errors {res['errors']}",
                    flush=True,
                )
        finally:
            group.stop()
    return out


# ---------------------------------------------------------------- 3. watch


def watch(url: str, hb: Any, cfg: argparse.Namespace) -> dict[str, float]:
    group = Replicas(hb, url, 2)
    try:
        a, b = group.servers
        _setup(hb, a)
        count = int(cfg.watch_rate * cfg.watch_duration)
        proc = subprocess.Popen(
            [PY, str(HERE / "server.py"), "--role", "subscribers", "--port", str(b.port),
             "--token", b.token, "--count", str(cfg.watchers), "--expected", str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "READY":
            raise RuntimeError("the subscribers did not start")
        t0 = time.monotonic()
        acks, errors = asyncio.run(hb._watch_writer(a, cfg.watch_rate, count, 8))
        elapsed = time.monotonic() - t0
        arrivals = json.loads(proc.stdout.readline())
        proc.wait(30)
    finally:
        group.stop()
    latencies = []
    for sub in arrivals:
        for n, t in sub:
            ack = acks.get(n)
            if ack is not None:
                latencies.append(max(0, t - ack) / 1e6)
    latencies.sort()
    res = {
        "writes": len(acks),
        "write_errors": errors,
        "writes_per_s": count / max(elapsed - 0.55, 1e-9),
        "missed": len(acks) * cfg.watchers - len(latencies),
        "p50_ms": hb._pct(latencies, 50),
        "p99_ms": hb._pct(latencies, 99),
        "max_ms": latencies[-1] if latencies else float("nan"),
    }
    print(
        f"  watch A->B: p50 {res['p50_ms']:.2f} ms, p99 {res['p99_ms']:.2f} ms, "
        f"max {res['max_ms']:.1f} ms at {res['writes_per_s']:.0f} writes/s, "
        f"missed {res['missed']}",
        flush=True,
    )
    return res


# ---------------------------------------------------------------- report


def _machine(hb: Any) -> dict[str, str]:
    def sh(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    model = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")),
        "?",
    )  # fmt: skip
    dirty = sh("git", "-C", str(ROOT), "status", "--porcelain", "--", "hivemem")
    return {
        "cpus (nproc)": str(os.cpu_count()),
        "cpu model": " ".join(model.split()[:2]),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "redis-server": sh("redis-server", "--version").split(" v=")[-1].split()[0],
        "redis-py": redis.__version__ + (" (hiredis)" if _has_hiredis() else " (no hiredis)"),
        "os": f"{platform.system()} {platform.release()}",
        "hivemem": "git "
        + sh("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
        + ("; uncommitted changes in hivemem/" if dirty else ""),
        "load average (1 min) at start": f"{os.getloadavg()[0]:.2f}",
    }


def _has_hiredis() -> bool:
    return importlib.util.find_spec("hiredis") is not None


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def markdown(cfg: argparse.Namespace, res: dict[str, Any], info: dict[str, str]) -> str:
    lines = [
        "## Redis (issue 4)",
        "",
        "hivemem over Redis measured against raw redis-py doing the equivalent commands, in "
        "one run, on one Redis (`redis-server` on a free loopback port, AOF off, started by "
        "the harness). Targets: issue 4, acceptance 4. Written by `benchmarks/redis_scale.py`; no "
        "figure is typed in.",
        "",
        "```sh",
        " ".join(["python", "benchmarks/redis_scale.py", *cfg.argv]),
        "```",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in info.items()],
        f"| load average (1 min) at end | {res['load_end']:.2f} |",
        "",
    ]
    emb = res.get("embedded")
    if emb:
        ratio = emb["write / SET"]
        lines += [
            "### One embedded op (sync API) against one raw redis-py command",
            "",
            f"Median of {cfg.runs} runs; in each run the four sides alternate in "
            f"{cfg.slices} slices of {cfg.ops // cfg.slices:,} ops (random keys of 1,000, "
            "a ~100-byte JSON value), a side's figure is the median of its slices.",
            "",
            "| measure | hivemem | raw redis-py | hivemem / raw | target | met |",
            "|---|---:|---:|---:|---|---|",
            f"| write (latest-wins update) vs `SET`, us per op | {emb['hivemem write']:.1f} | "
            f"{emb['raw SET']:.1f} | {ratio:.2f}x | <= 2x | {_yes(ratio <= 2)} |",
            f"| read vs `GET`, us per op | {emb['hivemem read']:.1f} | {emb['raw GET']:.1f} | "
            f"{emb['read / GET']:.2f}x | — | — |",
            "",
            "Per run (write / SET): "
            + ", ".join(f"{r['write / SET']:.2f}x" for r in emb["runs"])
            + "; (read / GET): "
            + ", ".join(f"{r['read / GET']:.2f}x" for r in emb["runs"])
            + ".",
            "",
        ]
    rep = res.get("replicas")
    if rep:
        lines += [
            "### HTTP server replicas over one Redis",
            "",
            f"`hivemem serve --store redis://...`, one process per replica (1 uvicorn worker), "
            f"auth on (agent token). One load generator of {cfg.connections} connections in "
            "all, spread evenly over the replicas (one `wrk` per replica, 1 thread, run "
            f"together), {cfg.duration:g} s per figure, after a 1 s warm-up; the sweep of "
            f"replica counts runs {cfg.replica_runs} times and each row shows the run with the "
            "median server CPU per request. CPU: user + "
            "system time of each process from `/proc` over the figure's wall time (cores). "
            "Server CPU per request = the replicas' CPU time / requests served. Reads are "
            "`GET .../entries/{key}` (random key of 1,000); writes `PUT` latest-wins updates.",
            "",
            "| op | replicas | requests/s | server CPU us / request | vs 1 replica | "
            "CPU per replica process (cores) | redis-server (cores) | redis us / request | "
            "p50 / p99 ms | errors |",
            "|---|---:|---:|---:|---:|---|---:|---:|---|---:|",
        ]
        for kind in ("get", "write"):
            base = rep.get(f"{kind}/1")
            for count in cfg.replica_counts:
                r = rep.get(f"{kind}/{count}")
                if r is None:
                    continue
                vs = r["server_cpu_us"] / base["server_cpu_us"] if base else float("nan")
                procs = ", ".join(f"{c:.2f}" for c in r["cpu_per_process"])
                lines.append(
                    f"| {kind} | {count} | {r['rps']:,.0f} | {r['server_cpu_us']:.0f} | "
                    f"{vs:.2f}x | {procs} | {r['redis_cpu']:.2f} | {r['redis_cpu_us']:.1f} | "
                    f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} | {r['errors']} |"
                )
        lines += [""]
        verdicts = []
        for kind in ("get", "write"):
            ratios = replica_ratio(rep, kind)
            if ratios:
                q = statistics.median(ratios)
                each = ", ".join(f"{x:.2f}x" for x in ratios)
                verdicts.append(
                    f"| {kind}: server CPU per request, 2 replicas / 1 (median of {len(ratios)} "
                    f"runs: {each}) | {q:.2f}x | <= 1.15x | {_yes(q <= 1.15)} |"
                )
        if verdicts:
            lines += ["| measure | value | target | met |", "|---|---:|---|---|", *verdicts, ""]
    w = res.get("watch")
    if w:
        lines += [
            "### Cross-replica watch delivery",
            "",
            f"Two replicas; {cfg.watchers} SSE watcher(s) on replica B (raw sockets, own "
            f"process); writes paced at {cfg.watch_rate:g}/s for {cfg.watch_duration:g} s "
            "through replica A over 8 keep-alive connections; latency = event read on B "
            "minus the write's response read from A (CLOCK_MONOTONIC; 0 if the event came "
            "first).",
            "",
            "| measure | p50 ms | p99 ms | max ms | writes/s done | missed | target | met |",
            "|---|---:|---:|---:|---:|---:|---|---|",
            f"| write through A -> event on B | {w['p50_ms']:.2f} | {w['p99_ms']:.2f} | "
            f"{w['max_ms']:.1f} | {w['writes_per_s']:.0f} | {w['missed']} | p99 < 20 ms | "
            f"{_yes(w['p99_ms'] < 20 and w['missed'] == 0)} |",
            "",
        ]
    return "\n".join(lines)


def write_docs(path: Path, text: str) -> None:
    """Replace (or append) the generated "## Redis (issue 4)" section, up to the notes."""
    doc = path.read_text() if path.exists() else ""
    start = doc.find("## Redis (issue 4)\n")
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    else:
        end = doc.find("\n## ", start + 1)
        doc = doc[:start] + text + ("\n" + doc[end:] if end >= 0 else "\n")
    path.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(
        description="hivemem over Redis vs raw redis-py (issue 4, acceptance 4); see the "
        "module docstring."
    )
    p.add_argument("--only", default="embedded,replicas,watch", help="parts to run")
    p.add_argument(
        "--replica-runs",
        type=int,
        default=3,
        help="replica sweeps (rows show the median run; the 2/1 ratio is the median of runs)",
    )
    p.add_argument("--runs", type=int, default=5, help="embedded: runs (median) (5)")
    p.add_argument("--slices", type=int, default=5, help="embedded: alternating slices (5)")
    p.add_argument("--ops", type=int, default=10_000, help="embedded: ops per side per run")
    p.add_argument("--duration", type=float, default=10.0, help="replicas: seconds per figure")
    p.add_argument("--connections", type=int, default=64, help="replicas: connections in all")
    p.add_argument("--replicas", default="1,2,3", help="replica counts (1,2,3)")
    p.add_argument("--watch-rate", type=float, default=1000.0, help="watch: writes/s (1000)")
    p.add_argument("--watch-duration", type=float, default=10.0, help="watch: seconds (10)")
    p.add_argument("--watchers", type=int, default=1, help="watch: SSE watchers on B (1)")
    p.add_argument("--batch-size", type=int, default=100, help=argparse.SUPPRESS)
    p.add_argument("--aof", action="store_true", help="Redis with AOF appendfsync always")
    p.add_argument("--docs", type=Path, help="write the section into this markdown file")
    p.add_argument("--json", type=Path, help="write the raw results as JSON")
    cfg = p.parse_args(argv)
    cfg.argv = argv
    cfg.replica_counts = [int(n) for n in cfg.replicas.split(",")]
    parts = set(cfg.only.split(","))

    from hivemem.testing.redis import RedisServer

    hb = _http_bench()
    with tempfile.TemporaryDirectory(prefix="hivemem-redis-bench-") as tmp:
        workdir = Path(tmp)
        info = _machine(hb)
        res: dict[str, Any] = {}
        server = RedisServer(workdir / "redis", aof=cfg.aof).start()
        try:
            assert server.process is not None
            cfg.redis_pid = server.process.pid
            if "embedded" in parts:
                print("embedded ...", flush=True)
                res["embedded"] = embedded(server.url, cfg)
            if "replicas" in parts:
                print("replicas ...", flush=True)
                redis.Redis.from_url(server.url).flushall()
                res["replicas"] = replicas(server.url, hb, cfg, workdir)
            if "watch" in parts:
                print("watch ...", flush=True)
                redis.Redis.from_url(server.url).flushall()
                res["watch"] = watch(server.url, hb, cfg)
        finally:
            server.stop()
        res["load_end"] = os.getloadavg()[0]
    text = markdown(cfg, res, info)
    print()
    print(text)
    if cfg.docs:
        write_docs(cfg.docs, text)
    if cfg.json:
        cfg.json.write_text(json.dumps(res, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
