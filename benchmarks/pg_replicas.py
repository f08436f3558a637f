"""Server CPU per request over PostgreSQL: 2 ``hivemem serve`` replicas against 1 (issue 21).

One PostgreSQL (``initdb`` + ``pg_ctl`` on a free port, fsync and ``synchronous_commit`` on,
never the machine's shared instance) and, over it at the same time, group A = one
``hivemem serve --store postgresql://...`` replica and group B = two (one uvicorn worker
each, auth on with an agent token, as ``benchmarks/redis_scale.py`` runs them over Redis).
The two groups are measured in alternating slices (A B B A A B ...), so that load from the
rest of the shared machine hits both alike: in each slice one ``wrk`` per replica of the
group, ``--connections`` in all split evenly, for ``--slice`` seconds, while the other group
idles.

Per slice: requests, the CPU time (user + system, ``/proc/<pid>/stat``) of the group's replica
processes, and of the whole PostgreSQL process tree (postmaster and every backend: only the
measured group sends it work), and of the idle group's replicas (they hear every write's
NOTIFY). The figure is server CPU per request (replicas, and replicas + PostgreSQL); the ratio
B / A is taken per adjacent pair of slices, its median reported.

``--rate R`` replaces ``wrk``'s closed loop by an open loop from this process: R requests/s in
all, paced, split evenly over the group's replicas (4 keep-alive connections each). On a
machine whose CPU is taken by other jobs, a closed loop gives each of two replicas about half
the rate one replica gets, and CPU per request depends on the rate per process; a fixed rate
below what the machine can serve makes the two groups do the same work.

    PYTHONPATH=. .venv/bin/python benchmarks/pg_replicas.py                 # 6 pairs x 3 s
    PYTHONPATH=. .venv/bin/python benchmarks/pg_replicas.py --rate 120 --slice 5   # open loop
    PYTHONPATH=. .venv/bin/python benchmarks/pg_replicas.py --pairs 2 --slice 1   # smoke
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from redis_scale import Replicas, _http_bench, _setup

from hivemem.testing.postgres import PostgresServer


async def _paced(hb: Any, servers: list[Any], kind: str, rate: float, seconds: float
                 ) -> list[dict[str, float]]:  # fmt: skip
    """Open-loop load: ``rate`` requests/s in all, split evenly over ``servers``, each sent
    at its scheduled time over keep-alive connections (4 per replica), for ``seconds``."""

    async def one_server(server: Any, per_s: float) -> dict[str, float]:
        pool: asyncio.Queue[Any] = asyncio.Queue()
        for _ in range(4):
            pool.put_nowait(hb._Conn(*await asyncio.open_connection("127.0.0.1", server.port)))
        rng = random.Random(server.port)
        done, errors = 0, 0

        async def send(i: int) -> None:
            nonlocal done, errors
            conn = await pool.get()
            key = f"key-{rng.randrange(hb.KEYS)}"
            method, body = ("GET", b"") if kind == "get" else ("PUT", json.dumps(
                {"value": {"n": i, "data": hb.DATA}}).encode())  # fmt: skip
            head = (
                f"{method} /v1/namespaces/{hb.NS}/entries/{key} HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
                "Content-Type: application/json\r\n"
            ).encode()
            try:
                status = await conn.put(head, body)
                done += 1
                errors += status != 200
            finally:
                pool.put_nowait(conn)

        loop = asyncio.get_running_loop()
        start, tasks = loop.time() + 0.01, []
        for i in range(int(per_s * seconds)):
            delay = start + i / per_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(i)))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - start
        while not pool.empty():
            pool.get_nowait().writer.close()
        return {"requests": done, "seconds": elapsed, "errors": errors, "non2xx": 0,
                "p99_ms": float("nan")}  # fmt: skip

    per = rate / len(servers)
    return list(await asyncio.gather(*(one_server(s, per) for s in servers)))


def _slice(hb: Any, group: Replicas, kind: str, cfg: argparse.Namespace, workdir: Path,
           pg_pid: int, idle: Replicas) -> dict[str, float]:  # fmt: skip
    """One measurement of ``group``: wrk on each replica at once; CPU deltas from /proc.

    ``idle`` is the other group: it serves nothing meanwhile, but its processes hear every
    write's NOTIFY, so their CPU per request is what one more listening replica costs.
    """
    servers = group.servers
    idle_before = [hb.cpu_seconds(s.proc.pid) for s in idle.servers]
    sub = argparse.Namespace(
        **{**vars(cfg), "connections": max(1, cfg.connections // len(servers)), "wrk_threads": 1}
    )
    before = [hb.cpu_seconds(s.proc.pid) for s in servers]
    pg_before = hb.cpu_seconds(pg_pid)
    t0 = time.monotonic()
    if cfg.rate:
        results = asyncio.run(_paced(hb, servers, kind, cfg.rate, cfg.slice))
    else:
        with concurrent.futures.ThreadPoolExecutor(len(servers)) as pool:
            futures = [
                pool.submit(hb.wrk, s, kind, sub, cfg.slice, workdir / f"r{i}")
                for i, s in enumerate(servers)
            ]
            results = [f.result() for f in futures]
    wall = time.monotonic() - t0
    cpu = sum(hb.cpu_seconds(s.proc.pid) for s in servers) - sum(before)
    pg_cpu = hb.cpu_seconds(pg_pid) - pg_before
    idle_cpu = sum(hb.cpu_seconds(s.proc.pid) for s in idle.servers) - sum(idle_before)
    requests = sum(r["requests"] for r in results)
    return {
        "rps": requests / statistics.mean(r["seconds"] for r in results),
        "requests": requests,
        "errors": sum(r["errors"] + r["non2xx"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "server_us": cpu / requests * 1e6,
        "pg_us": pg_cpu / requests * 1e6,
        "total_us": (cpu + pg_cpu) / requests * 1e6,
        "listener_us": idle_cpu / requests / len(idle.servers) * 1e6,
        "server_cores": cpu / wall,
        "pg_cores": pg_cpu / wall,
        "load": os.getloadavg()[0],
    }


def _idle(hb: Any, group: Replicas, seconds: float, pg_pid: int) -> dict[str, float]:
    """Cores the group's replicas (and PostgreSQL) use with no request in flight."""
    before = sum(hb.cpu_seconds(s.proc.pid) for s in group.servers)
    pg_before = hb.cpu_seconds(pg_pid)
    time.sleep(seconds)
    return {
        "server_cores": (sum(hb.cpu_seconds(s.proc.pid) for s in group.servers) - before) / seconds,
        "pg_cores": (hb.cpu_seconds(pg_pid) - pg_before) / seconds,
    }


def run(cfg: argparse.Namespace) -> dict[str, Any]:
    hb = _http_bench()
    out: dict[str, Any] = {"load_start": os.getloadavg()[0]}
    with PostgresServer() as pg, tempfile.TemporaryDirectory(prefix="hivemem-pgrep-") as tmp:
        workdir = Path(tmp)
        for i in range(2):
            (workdir / f"r{i}").mkdir()
        pg_pid = pg.postmaster_pid()
        assert pg_pid is not None
        url = f"{pg.url}?schema=bench"
        a = Replicas(hb, url, 1)
        b = Replicas(hb, url, 2)
        try:
            _setup(hb, a.servers[0])
            warm = argparse.Namespace(**{**vars(cfg), "slice": 1.0})
            for group in (a, b):
                for kind in cfg.kinds:
                    _slice(hb, group, kind, warm, workdir, pg_pid, b if group is a else a)
            out["idle"] = {n: _idle(hb, g, cfg.slice, pg_pid) for n, g in (("1", a), ("2", b))}
            print(f"  idle: {out['idle']}", flush=True)
            for kind in cfg.kinds:
                rows: dict[str, list[dict[str, float]]] = {"1": [], "2": []}
                for pair in range(cfg.pairs):
                    order = [("1", a), ("2", b)] if pair % 2 == 0 else [("2", b), ("1", a)]
                    for name, group in order:
                        r = _slice(hb, group, kind, cfg, workdir, pg_pid, b if group is a else a)
                        rows[name].append(r)
                        print(
                            f"  {kind} {name} replica(s): {r['rps']:,.0f} req/s, replicas "
                            f"{r['server_us']:.0f} us/req, PostgreSQL {r['pg_us']:.0f} us/req, "
                            f"idle replica {r['listener_us']:.0f} us/req, errors {r['errors']}, "
                            f"load {r['load']:.1f}",
                            flush=True,
                        )
                out[kind] = rows
        finally:
            a.stop()
            b.stop()
    out["load_end"] = os.getloadavg()[0]
    return out


def _med(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def markdown(cfg: argparse.Namespace, res: dict[str, Any]) -> str:
    lines = [
        "| op | replicas | requests/s (sum) | replicas' CPU us / request | PostgreSQL CPU us / "
        "request | both us / request | an idle replica's CPU us / request | replicas' cores | "
        "PostgreSQL cores | p99 ms (worst replica) | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = []
    for kind in cfg.kinds:
        rows = res[kind]
        for n in ("1", "2"):
            rs = rows[n]
            lines.append(
                f"| {kind} | {n} | {_med(rs, 'rps'):,.0f} | {_med(rs, 'server_us'):.0f} | "
                f"{_med(rs, 'pg_us'):.0f} | {_med(rs, 'total_us'):.0f} | "
                f"{_med(rs, 'listener_us'):.0f} | "
                f"{_med(rs, 'server_cores'):.2f} | {_med(rs, 'pg_cores'):.2f} | "
                f"{_med(rs, 'p99_ms'):.1f} | {sum(r['errors'] for r in rs):.0f} |"
            )
        for key, label in (("server_us", "replicas"), ("total_us", "replicas + PostgreSQL")):
            per = [two[key] / one[key] for one, two in zip(rows["1"], rows["2"], strict=True)]
            ratios.append(
                f"| {kind}: {label}' CPU per request, 2 replicas / 1 (per pair: "
                f"{', '.join(f'{x:.2f}' for x in per)}) | {statistics.median(per):.2f}x | "
                f"<= 1.15x | {'yes' if statistics.median(per) <= 1.15 else 'no'} |"
            )
    idle = res["idle"]
    lines += [
        "",
        "With no request in flight: "
        + "; ".join(
            f"{n} replica(s) {v['server_cores'] * 100:.1f}% of a core, PostgreSQL "
            f"{v['pg_cores'] * 100:.1f}%"
            for n, v in idle.items()
        )
        + " (measured over one slice).",
    ]
    lines += ["", "| measure | median | target | met |", "|---|---:|---|---|", *ratios]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=6, help="alternating pairs of slices per op (6)")
    p.add_argument("--slice", type=float, default=3.0, help="seconds per slice (whole, 3)")
    p.add_argument("--connections", type=int, default=64, help="connections in all (64)")
    p.add_argument("--ops", default="get,write", help="get,write")
    p.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="open loop: this many requests/s in all, paced, instead of wrk's closed loop",
    )
    p.add_argument("--json", type=Path, help="write every slice's figures here")
    cfg = p.parse_args(argv)
    cfg.kinds = cfg.ops.split(",")
    cfg.batch_size = 100
    t0 = time.perf_counter()
    res = run(cfg)
    print()
    print(markdown(cfg, res))
    if cfg.json:
        cfg.json.write_text(json.dumps(res, indent=1))
    print(
        f"\n{time.perf_counter() - t0:.0f} s; load average (1 min) start / end: "
        f"{res['load_start']:.2f} / {res['load_end']:.2f}; nproc {os.cpu_count()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
