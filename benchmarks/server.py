"""Server benchmarks (issue 3, acceptance 8): hivemem over HTTP against a bare Starlette app.

One run starts two servers on this machine, with the same uvicorn settings (httptools, uvloop,
no access log) and the same worker count:

- the *ceiling*: a bare Starlette app (plain ``Route`` endpoints, ``JSONResponse``) serving
  entries shaped like hivemem's from a dict — ``GET /v1/namespaces/{ns}/entries/{key}`` and a
  ``POST`` of the same path that parses the body, stores it and answers the entry;
- ``hivemem serve`` over a fresh SQLite file (``durability=full``, auth on, an agent token).

The load generator is ``wrk`` (one thread, ``--connections`` connections, a Lua script adding
the bearer token and the PUT/POST bodies), the same for both servers; the two sides alternate
within a run. Then, against hivemem only:

- ``batch``: ``POST .../batch`` with ``{"atomic": true, "ops": [100 puts]}`` (entries/s);
- ``watch``: ``--subscribers`` SSE streams in a separate process on their own connections, and
  writes paced at ``--watch-rate``/s from this process over keep-alive sockets; the latency of
  each (write, subscriber) pair is the time from the write's acknowledgement (its HTTP
  response read) to the event read by the subscriber (0 when the event came first);
- ``idle``: ``--idle`` SSE streams held open by a separate process; the server's memory cost is
  the RSS of its process tree after they are open minus before, and its CPU use while they are
  idle is shown too.

Every figure is the median over ``--runs`` runs; a ratio is taken within each run (hivemem over
the ceiling measured in the same run) and then its median. ``--docs FILE`` writes the results as
the "Server (issue 3)" section of that markdown file (replacing it if present).

Usage::

    .venv/bin/python benchmarks/server.py                      # 3 runs, 10 s per figure
    .venv/bin/python benchmarks/server.py --runs 5 --docs docs/benchmarks.md --json server.json
    .venv/bin/python benchmarks/server.py --quick               # 1 run, 3 s per figure
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
NS = "bench"
WATCH_NS = "bench.watch"
IDLE_NS = "bench.idle"
KEYS = 1000
#: About 100 bytes of JSON, like benchmarks/run.py's values.
DATA = "x" * 80
SECTION = "## Server (issue 3)"
TARGETS = {
    "read_ratio": 0.60,
    "write_ratio": 0.40,
    "p99_ms": 20.0,
    "batch_entries_per_s": 20_000,
    "watch_p99_ms": 10.0,
    "idle_mb": 200.0,
}


# ---------------------------------------------------------------- the ceiling app


def ceiling_app() -> Any:
    """A bare Starlette app serving hivemem-shaped entries from a dict (the framework ceiling)."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    now = time.time()
    store: dict[tuple[str, str], dict[str, Any]] = {}
    for i in range(KEYS):
        key = f"key-{i}"
        store[NS, key] = _entry(NS, key, {"n": i, "data": DATA}, 1, now)

    async def get_entry(request: Any) -> Any:
        p = request.path_params
        entry = store.get((p["ns"], p["key"]))
        if entry is None:
            return JSONResponse({"error": {"code": "not_found"}}, 404)
        return JSONResponse(entry)

    async def post_entry(request: Any) -> Any:
        p = request.path_params
        body = await request.json()
        old = store.get((p["ns"], p["key"]))
        version = 1 if old is None else old["version"] + 1
        entry = _entry(p["ns"], p["key"], body["value"], version, time.time())
        store[p["ns"], p["key"]] = entry
        return JSONResponse(entry)

    path = "/v1/namespaces/{ns}/entries/{key:path}"
    return Starlette(
        routes=[
            Route(path, get_entry, methods=["GET"]),
            Route(path, post_entry, methods=["POST", "PUT"]),
        ]
    )


def _entry(ns: str, key: str, value: Any, version: int, now: float) -> dict[str, Any]:
    return {
        "namespace": ns,
        "key": key,
        "value": value,
        "owner": "bench",
        "version": version,
        "revision": version,
        "created_at": now,
        "updated_at": now,
        "expires_at": None,
    }


def _serve_ceiling(port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "server:ceiling_app",
        factory=True,
        app_dir=str(HERE),
        host="127.0.0.1",
        port=port,
        workers=workers,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
        server_header=False,
    )


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def agent_token(store: str) -> str:
    """A new token of agent ``bench`` in ``store`` (``hivemem token create``)."""
    return subprocess.run(
        [PY, "-m", "hivemem", "token", "create", "bench", "--store", store],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()


def _wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                r.read()
            return
        except OSError as exc:
            if getattr(exc, "code", None) is not None:  # an HTTP error: the server is up
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer") from exc
            time.sleep(0.1)


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def rss_bytes(pid: int) -> int:
    """Resident memory of a process tree."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[str]
    port: int
    token: str = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_ceiling(workers: int) -> Server:
    port = free_port()
    proc = subprocess.Popen(
        [PY, __file__, "--role", "ceiling", "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        text=True,
    )
    _wait_http(f"http://127.0.0.1:{port}/v1/namespaces/{NS}/entries/key-0")
    return Server("ceiling", proc, port)


def start_hivemem(workers: int, db: Path) -> Server:
    port = free_port()
    store = f"sqlite:///{db}"
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "hivemem",
            "serve",
            "--store",
            store,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--max-streams",
            "100000",
            "--rate-limit",
            "0",  # wrk sends far more than an agent would through one token
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    _wait_http(f"http://127.0.0.1:{port}/healthz")
    server = Server("hivemem", proc, port, agent_token(store))
    _setup(server)
    return server


def _request(server: Server, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {server.token}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def _setup(server: Server) -> None:
    """Create the namespaces and fill ``KEYS`` entries (the reads' working set)."""
    for ns in (NS, WATCH_NS, IDLE_NS):
        _request(server, "POST", "/v1/namespaces", {"name": ns})
    ops = [{"op": "put", "key": f"key-{i}", "value": {"n": i, "data": DATA}} for i in range(KEYS)]
    _request(server, "POST", f"/v1/namespaces/{NS}/batch", {"atomic": True, "ops": ops})


# ---------------------------------------------------------------- wrk

_LUA_COMMON = """
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "mean_us": %%f, "non2xx": %%d, "errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""

_LUA_GET = """
request = function()
  return wrk.format("GET", "/v1/namespaces/%(ns)s/entries/key-" .. math.random(0, %(keys)d - 1))
end
"""

_LUA_WRITE = """
local n = 0
request = function()
  n = n + 1
  local body = '{"value": {"n": ' .. n .. ', "data": "%(data)s"}}'
  return wrk.format("%(method)s",
    "/v1/namespaces/%(ns)s/entries/key-" .. math.random(0, %(keys)d - 1), nil, body)
end
"""

_LUA_BATCH = """
local bodies = {}
for b = 0, 9 do
  local ops = {}
  for i = 0, %(size)d - 1 do
    ops[#ops + 1] = '{"op": "put", "key": "batch-' .. (b * %(size)d + i) ..
      '", "value": {"n": ' .. i .. ', "data": "%(data)s"}}'
  end
  bodies[b] = '{"atomic": true, "ops": [' .. table.concat(ops, ", ") .. ']}'
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/namespaces/%(ns)s/batch", nil, bodies[n %% 10])
end
"""


def wrk(
    server: Server, kind: str, cfg: argparse.Namespace, duration: float, workdir: Path
) -> dict[str, float]:
    """Run wrk against ``server``; return requests/s and latency percentiles (ms)."""
    params = {
        "token": server.token or "none",
        "ns": NS,
        "keys": KEYS,
        "data": DATA,
        "size": cfg.batch_size,
        "method": "PUT" if server.name == "hivemem" else "POST",
    }
    body = {"get": _LUA_GET, "write": _LUA_WRITE, "batch": _LUA_BATCH}[kind]
    script = workdir / f"{kind}.lua"
    script.write_text((_LUA_COMMON + body) % params)
    out = subprocess.run(
        [
            "wrk",
            f"-t{cfg.wrk_threads}",
            f"-c{cfg.connections}",
            f"-d{max(1, round(duration))}s",  # wrk takes whole seconds only
            "--timeout",
            "10s",
            "-s",
            str(script),
            server.base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRKJSON "))
    raw = json.loads(line[len("WRKJSON ") :])
    seconds = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "seconds": seconds,
        "rps": raw["requests"] / seconds,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "non2xx": raw["non2xx"],
        "errors": raw["errors"],
    }


def paired(
    ceiling: Server, hive: Server, kind: str, cfg: argparse.Namespace, workdir: Path
) -> tuple[dict[str, float], dict[str, float]]:
    """Measure both servers in alternating slices (``--slices`` each), so that a change in the
    machine's load during the figure hits both sides alike.

    requests/s is over all slices; latency percentiles are the median of the slices' own.
    """
    slices: tuple[list[dict[str, float]], list[dict[str, float]]] = ([], [])
    for _ in range(cfg.slices):
        for side, server in zip(slices, (ceiling, hive), strict=True):
            side.append(wrk(server, kind, cfg, cfg.duration / cfg.slices, workdir))
    ceiling_r, hive_r = (_merge(side) for side in slices)
    return ceiling_r, hive_r


def _merge(parts: list[dict[str, float]]) -> dict[str, float]:
    out = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
    out["rps"] = sum(p["requests"] for p in parts) / sum(p["seconds"] for p in parts)
    for k in ("requests", "seconds", "non2xx", "errors"):
        out[k] = sum(p[k] for p in parts)
    out["max_ms"] = max(p["max_ms"] for p in parts)
    return out


# ---------------------------------------------------------------- raw HTTP for streams


async def _open_stream(port: int, token: str, ns: str) -> tuple[asyncio.StreamReader, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /v1/namespaces/{ns}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"event stream refused: {head[:200]!r}")
    return reader, writer


async def _subscribers_main(port: int, token: str, count: int, expected: int) -> None:
    """Role ``subscribers``: follow ``count`` streams, print arrival times of each write."""
    import orjson

    streams = [await _open_stream(port, token, WATCH_NS) for _ in range(count)]
    arrivals: list[list[tuple[int, int]]] = [[] for _ in range(count)]
    print("READY", flush=True)

    async def follow(i: int, reader: asyncio.StreamReader) -> None:
        seen = arrivals[i]
        buf = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            now = time.monotonic_ns()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                # chunked transfer: frame lines may carry chunk sizes; only data lines matter
                if line.startswith(b"data: "):
                    n = orjson.loads(line[6:])["value"]["i"]
                    if n < 0:
                        return
                    seen.append((n, now))

    tasks = [asyncio.create_task(follow(i, r)) for i, (r, _) in enumerate(streams)]
    await asyncio.wait(tasks, timeout=expected / 100 + 60)
    sys.stdout.write(json.dumps(arrivals) + "\n")
    sys.stdout.flush()


async def _idle_main(port: int, token: str, count: int) -> None:
    """Role ``idle``: hold ``count`` event streams open until stdin closes."""
    streams: list[Any] = []
    sem = asyncio.Semaphore(50)

    async def one() -> None:
        async with sem:
            reader, writer = await _open_stream(port, token, IDLE_NS)
            await reader.readuntil(b": connected")
            streams.append((reader, writer))

    await asyncio.gather(*(one() for _ in range(count)))
    print(f"READY {len(streams)}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self.reader, self.writer = reader, writer

    async def put(self, head: bytes, body: bytes) -> int:
        self.writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        status_headers = await self.reader.readuntil(b"\r\n\r\n")
        m = re.search(rb"(?i)content-length: *(\d+)", status_headers)
        if m:
            await self.reader.readexactly(int(m.group(1)))
        return int(status_headers[9:12])


async def _watch_writer(
    server: Server, rate: float, count: int, conns: int
) -> tuple[dict[int, int], int]:
    """Write ``count`` entries at ``rate``/s; return each write's ack time and the errors."""
    pool: asyncio.Queue[_Conn] = asyncio.Queue()
    for _ in range(conns):
        pool.put_nowait(_Conn(*await asyncio.open_connection("127.0.0.1", server.port)))
    acks: dict[int, int] = {}
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        conn = await pool.get()
        head = (
            f"PUT /v1/namespaces/{WATCH_NS}/entries/w-{i % 100} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        body = json.dumps({"value": {"i": i, "data": DATA}}).encode()
        try:
            status = await conn.put(head, body)
            if status == 200:
                acks[i] = time.monotonic_ns()
            else:
                errors += 1
        finally:
            pool.put_nowait(conn)

    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    tasks = []
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    await asyncio.sleep(0.5)
    await asyncio.create_task(one(-1))  # the subscribers' stop sign
    acks.pop(-1, None)
    while not pool.empty():
        pool.get_nowait().writer.close()
    return acks, errors


def watch(server: Server, cfg: argparse.Namespace, duration: float) -> dict[str, float]:
    """Delivery latency from write acknowledgement to ``cfg.subscribers`` SSE subscribers."""
    count = int(cfg.watch_rate * duration)
    proc = subprocess.Popen(
        [
            PY,
            __file__,
            "--role",
            "subscribers",
            "--port",
            str(server.port),
            "--token",
            server.token,
            "--count",
            str(cfg.subscribers),
            "--expected",
            str(count),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "READY":
        raise RuntimeError("the subscribers did not start")
    t0 = time.monotonic()
    acks, errors = asyncio.run(_watch_writer(server, cfg.watch_rate, count, cfg.watch_conns))
    elapsed = time.monotonic() - t0
    arrivals = json.loads(proc.stdout.readline())
    proc.wait(30)
    latencies = []
    delivered = 0
    for sub in arrivals:
        for n, t in sub:
            ack = acks.get(n)
            if ack is not None:
                latencies.append(max(0, t - ack) / 1e6)
                delivered += 1
    latencies.sort()
    expected = len(acks) * cfg.subscribers
    return {
        "writes": len(acks),
        "write_errors": errors,
        "writes_per_s": count / max(elapsed - 0.55, 1e-9),
        "deliveries": delivered,
        "missed": expected - delivered,
        "p50_ms": _pct(latencies, 50),
        "p95_ms": _pct(latencies, 95),
        "p99_ms": _pct(latencies, 99),
        "max_ms": latencies[-1] if latencies else float("nan"),
    }


def idle(server: Server, cfg: argparse.Namespace) -> dict[str, float]:
    """Server memory (RSS delta) and CPU while ``cfg.idle`` event streams are open and idle."""
    time.sleep(1.0)
    before = rss_bytes(server.proc.pid)
    proc = subprocess.Popen(
        [
            PY,
            __file__,
            "--role",
            "idle",
            "--port",
            str(server.port),
            "--token",
            server.token,
            "--count",
            str(cfg.idle),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    ready = proc.stdout.readline().split()
    if not ready or ready[0] != "READY":
        raise RuntimeError("the idle streams did not open")
    time.sleep(2.0)
    after = rss_bytes(server.proc.pid)
    cpu0 = cpu_seconds(server.proc.pid)
    time.sleep(cfg.idle_cpu_seconds)
    cpu = (cpu_seconds(server.proc.pid) - cpu0) / cfg.idle_cpu_seconds
    proc.stdin.close()
    proc.wait(30)
    return {
        "streams": int(ready[1]),
        "rss_before_mb": before / 2**20,
        "rss_after_mb": after / 2**20,
        "delta_mb": (after - before) / 2**20,
        "idle_cpu_pct": cpu * 100,
    }


def _pct(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# ---------------------------------------------------------------- one run, many runs


def one_run(cfg: argparse.Namespace, index: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="hivemem-server-bench-", dir=cfg.tmp))
    ceiling = hive = None
    out: dict[str, Any] = {}
    only = set(cfg.only.split(","))
    try:
        ceiling = start_ceiling(cfg.workers)
        hive = start_hivemem(cfg.workers, workdir / "bench.db")
        d = cfg.duration
        if "read" in only or "write" in only or "batch" in only:  # warm both up
            wrk(ceiling, "get", cfg, 1, workdir)
            wrk(hive, "get", cfg, 1, workdir)
        if "read" in only:
            out["ceiling_get"], out["hivemem_get"] = paired(ceiling, hive, "get", cfg, workdir)
        if "write" in only:
            out["ceiling_post"], out["hivemem_put"] = paired(ceiling, hive, "write", cfg, workdir)
        if "batch" in only:
            out["hivemem_batch"] = wrk(hive, "batch", cfg, d, workdir)
        if "watch" in only:
            out["watch"] = watch(hive, cfg, d)
        if "idle" in only:
            out["idle"] = idle(hive, cfg)
    finally:
        for s in (hive, ceiling):
            if s is not None:
                s.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if "ceiling_get" in out:
        out["read_ratio"] = out["hivemem_get"]["rps"] / out["ceiling_get"]["rps"]
    if "ceiling_post" in out:
        out["write_ratio"] = out["hivemem_put"]["rps"] / out["ceiling_post"]["rps"]
    if "hivemem_batch" in out:
        out["batch_entries_per_s"] = out["hivemem_batch"]["rps"] * cfg.batch_size
    print(f"run {index + 1}: {_short(out)}", file=sys.stderr, flush=True)
    return out


def _short(out: dict[str, Any]) -> str:
    parts = []
    for name in ("ceiling_get", "hivemem_get", "ceiling_post", "hivemem_put", "hivemem_batch"):
        if name in out:
            r = out[name]
            parts.append(f"{name} {r['rps']:,.0f}/s p99 {r['p99_ms']:.1f} ms")
    if "watch" in out:
        w = out["watch"]
        parts.append(f"watch p99 {w['p99_ms']:.2f} ms ({w['missed']} missed)")
    if "idle" in out:
        parts.append(
            f"idle {out['idle']['delta_mb']:.1f} MB, cpu {out['idle']['idle_cpu_pct']:.1f}%"
        )
    return "; ".join(parts)


def median(runs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for run in runs:
        v: Any = run
        for p in path:
            if not isinstance(v, dict) or p not in v:
                v = None
                break
            v = v[p]
        if v is not None:
            values.append(float(v))
    return statistics.median(values) if values else float("nan")


def machine(cfg: argparse.Namespace) -> dict[str, str]:
    def sh(*args: str) -> str:
        try:
            return subprocess.run(args, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return "?"

    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import starlette
    import uvicorn

    wrk_version = sh("wrk", "-v").splitlines()
    dirty = sh("git", "status", "--porcelain", "--", "hivemem", "benchmarks/server.py")
    return {
        "cpus (nproc)": str(os.cpu_count()),
        "cpu model": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()}",
        "uvicorn / starlette": f"{uvicorn.__version__} (httptools, uvloop) / "
        + starlette.__version__,
        "load generator": (wrk_version[0].split(" [")[0] if wrk_version else "wrk")
        + f", {cfg.wrk_threads} thread, {cfg.connections} connections, same box",
        "hivemem": f"git {sh('git', 'rev-parse', '--short', 'HEAD')}"
        + ("; uncommitted changes in hivemem/" if dirty else ""),
        "load average (1 min) at start": f"{os.getloadavg()[0]:.2f}",
    }


def markdown(cfg: argparse.Namespace, runs: list[dict[str, Any]], info: dict[str, str]) -> str:
    def f(v: float, spec: str = ",.0f") -> str:
        return "—" if v != v else format(v, spec)

    def met(ok: bool) -> str:
        return "yes" if ok else "**no**"

    n = len(runs)
    lines = [
        SECTION,
        "",
        "hivemem over HTTP (`hivemem serve`, SQLite store, `durability=full`, auth on with an",
        "agent token) measured against the framework ceiling — a bare Starlette app with the same",
        "uvicorn settings and worker count serving the same entry JSON from a dict — in the same",
        "run, on the same machine as the load generator. Targets: issue 3, acceptance 8. Written",
        "by `benchmarks/server.py`; no figure is typed in.",
        "",
        "```sh",
        f".venv/bin/python benchmarks/server.py --runs {cfg.runs} --duration {cfg.duration:g} "
        f"--workers {cfg.workers} --docs docs/benchmarks.md",
        "```",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        f"Each figure is the median of {n} run(s); a run starts both servers afresh (new SQLite",
        f"file), warms both up for 1 s, then measures for {cfg.duration:g} s per figure: GET and",
        f"POST/PUT alternate between the ceiling and hivemem in {cfg.slices} slices each (so that",
        "the load of the shared machine hits both alike: requests/s over all slices, latency",
        "percentiles the median of the slices'), then hivemem batch, watch delivery, idle streams.",
        "Ratios are taken within a run (hivemem / the ceiling of the same run), then their median.",
        "",
        f"### Requests at {cfg.connections} connections, {cfg.workers} worker(s)",
        "",
        "| measure | hivemem | ceiling (bare Starlette) | hivemem / ceiling | target | met "
        "| hivemem p50 / p99 ms | ceiling p50 / p99 ms | target | met |",
        "|---|---:|---:|---:|---|---|---|---|---|---|",
    ]
    rr = median(runs, "read_ratio")
    wr = median(runs, "write_ratio")
    for label, h, c, ratio, target in (
        ("reads/s: `GET .../entries/{key}`", "hivemem_get", "ceiling_get", rr, "read_ratio"),
        (
            "writes/s: `PUT .../entries/{key}` (ceiling: POST)",
            "hivemem_put",
            "ceiling_post",
            wr,
            "write_ratio",
        ),
    ):
        p99 = median(runs, h, "p99_ms")
        lines.append(
            f"| {label} | {f(median(runs, h, 'rps'))} | {f(median(runs, c, 'rps'))} | "
            f"{f(ratio, '.2f')}x | >= {TARGETS[target]:.2f}x | {met(ratio >= TARGETS[target])} | "
            f"{f(median(runs, h, 'p50_ms'), '.2f')} / {f(p99, '.2f')} | "
            f"{f(median(runs, c, 'p50_ms'), '.2f')} / {f(median(runs, c, 'p99_ms'), '.2f')} | "
            f"p99 < {TARGETS['p99_ms']:g} ms | {met(p99 < TARGETS['p99_ms'])} |"
        )
    be = median(runs, "batch_entries_per_s")
    lines += [
        "",
        "| measure | hivemem | p50 / p99 ms per request | target | met |",
        "|---|---:|---|---|---|",
        f"| batch of {cfg.batch_size} puts per request (`POST .../batch`, atomic), entries/s | "
        f"{f(be)} ({f(median(runs, 'hivemem_batch', 'rps'))} requests/s) | "
        f"{f(median(runs, 'hivemem_batch', 'p50_ms'), '.2f')} / "
        f"{f(median(runs, 'hivemem_batch', 'p99_ms'), '.2f')} | >= 20,000 entries/s | "
        f"{met(be >= TARGETS['batch_entries_per_s'])} |",
        "",
        f"### Watch delivery: {cfg.subscribers} SSE subscribers, {cfg.watch_rate:g} writes/s",
        "",
        "| measure | p50 ms | p95 ms | p99 ms | max ms | writes/s done | missed | target | met |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    wp99 = median(runs, "watch", "p99_ms")
    lines.append(
        f"| write acknowledged → event read by a subscriber on another connection | "
        f"{f(median(runs, 'watch', 'p50_ms'), '.2f')} | {f(median(runs, 'watch', 'p95_ms'), '.2f')}"
        f" | {f(wp99, '.2f')} | {f(median(runs, 'watch', 'max_ms'), '.2f')} | "
        f"{f(median(runs, 'watch', 'writes_per_s'))} | {f(median(runs, 'watch', 'missed'))} | "
        f"p99 < 10 ms | {met(wp99 < TARGETS['watch_p99_ms'])} |"
    )
    mb = median(runs, "idle", "delta_mb")
    lines += [
        "",
        f"### {cfg.idle:,} idle event streams",
        "",
        "| measure | value | target | met |",
        "|---|---:|---|---|",
        "| server RSS before → with the streams open | "
        f"{f(median(runs, 'idle', 'rss_before_mb'), '.1f')} → "
        f"{f(median(runs, 'idle', 'rss_after_mb'), '.1f')} MB | — | — |",
        f"| RSS delta | {f(mb, '.1f')} MB | < 200 MB | {met(mb < TARGETS['idle_mb'])} |",
        "| server CPU while they idle | "
        f"{f(median(runs, 'idle', 'idle_cpu_pct'), '.1f')}% of a core | — | — |",
        "",
        "Per run:",
        "",
        "| run | reads / ceiling | writes / ceiling | batch entries/s | watch p99 ms "
        "| watch writes/s done | idle streams MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {i + 1} | {f(r.get('read_ratio', float('nan')), '.2f')}x | "
            f"{f(r.get('write_ratio', float('nan')), '.2f')}x | "
            f"{f(r.get('batch_entries_per_s', float('nan')))} | "
            f"{f(r.get('watch', {}).get('p99_ms', float('nan')), '.2f')} | "
            f"{f(r.get('watch', {}).get('writes_per_s', float('nan')))} | "
            f"{f(r.get('idle', {}).get('delta_mb', float('nan')), '.1f')} |"
            for i, r in enumerate(runs)
        ),
        "",
        "Method: `wrk` scripts (`benchmarks/server.py`) send `Authorization: Bearer <agent token>`",
        f"on every request; reads pick a random key of {KEYS:,} filled first; writes are",
        "latest-wins updates of a random key with a ~100-byte JSON value; a batch is",
        f'`{{"atomic": true, "ops": [{cfg.batch_size} puts]}}` over 10 rotating sets of keys.',
        "Watch: the subscribers run in their own process on raw sockets; writes are paced from",
        f"the harness over {cfg.watch_conns} keep-alive connections; a latency is the time the",
        "event was read minus the time the write's HTTP response was read (CLOCK_MONOTONIC,",
        "shared by processes; 0 if the event came first). Idle streams: RSS of",
        "the server's process tree (`/proc`) after the streams are open minus before.",
        "",
    ]
    return "\n".join(lines)


def write_docs(path: Path, text: str, section: str = SECTION) -> None:
    """Write ``text`` as the ``section`` of a markdown file (replacing it, else appended)."""
    doc = path.read_text() if path.exists() else ""
    start = doc.find(section)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        nxt = re.search(r"^## ", doc[start + len(section) :], re.M)
        end = len(doc) if nxt is None else start + len(section) + nxt.start()
        doc = doc[:start] + text + ("\n" + doc[end:] if nxt is not None else "")
    path.write_text(doc.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="hivemem server benchmarks (issue 3 acceptance 8) against a bare Starlette "
        "ceiling, with wrk; see the module docstring.",
    )
    p.add_argument("--runs", type=int, default=3, help="runs; each figure is the median (3)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per figure (10)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    p.add_argument(
        "--slices", type=int, default=5, help="alternating slices per read/write figure (5)"
    )
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument("--workers", type=int, default=1, help="server worker processes, both (1)")
    p.add_argument("--batch-size", type=int, default=100, help="puts per batch request (100)")
    p.add_argument("--subscribers", type=int, default=50, help="SSE subscribers for watch (50)")
    p.add_argument("--watch-rate", type=float, default=1000.0, help="writes/s for watch (1000)")
    p.add_argument("--watch-conns", type=int, default=8, help="writer connections, watch (8)")
    p.add_argument("--idle", type=int, default=1000, help="idle event streams (1000)")
    p.add_argument("--idle-cpu-seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    p.add_argument(
        "--only", default="read,write,batch,watch,idle", help="figures: read,write,batch,watch,idle"
    )
    p.add_argument("--quick", action="store_true", help="1 run of 3 s per figure")
    p.add_argument("--json", type=Path, help="write every run's raw figures here")
    p.add_argument("--docs", type=Path, help="write the section into this markdown file")
    p.add_argument(
        "--render", type=Path, help="measure nothing: render the --json file of an earlier run"
    )
    p.add_argument("--tmp", default=None, help="directory for the SQLite files")
    # internal roles (child processes)
    p.add_argument("--role", choices=("ceiling", "subscribers", "idle"), help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, help=argparse.SUPPRESS)
    p.add_argument("--expected", type=int, help=argparse.SUPPRESS)
    cfg = p.parse_args(argv)
    if cfg.role == "ceiling":
        _serve_ceiling(cfg.port, cfg.workers)
        return 0
    if cfg.role in ("subscribers", "idle"):
        import uvloop

        if cfg.role == "subscribers":
            uvloop.run(_subscribers_main(cfg.port, cfg.token, cfg.count, cfg.expected))
        else:
            uvloop.run(_idle_main(cfg.port, cfg.token, cfg.count))
        return 0
    if shutil.which("wrk") is None:
        p.error("wrk is not installed (apt-get install wrk)")
    if cfg.quick:
        cfg.runs, cfg.duration = 1, 3.0
    if cfg.render:
        saved = json.loads(cfg.render.read_text())
        info, runs = saved["machine"], saved["runs"]
        for name, value in saved.get("options", {}).items():
            setattr(cfg, name, value)
    else:
        random.seed(0)
        info = machine(cfg)
        runs = [one_run(cfg, i) for i in range(cfg.runs)]
    text = markdown(cfg, runs, info)
    print(text)
    if cfg.json:
        options = {k: v for k, v in vars(cfg).items() if isinstance(v, int | float | str)}
        cfg.json.write_text(
            json.dumps({"machine": info, "options": options, "runs": runs}, indent=2)
        )
    if cfg.docs:
        write_docs(cfg.docs, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
