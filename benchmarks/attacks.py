"""Issue 15's attacks against a live ``hivemem serve``, while a well-behaved client works.

One ordinary agent token (agent ``mallory``) attacks; a well-behaved client (agent
``alice``, its own process so the attacker's CPU does not slow it) reads and writes its own
namespace at a steady, paced rate (200 reads + 200 writes per second by default, open loop:
a slow answer does not lower the rate). First the client runs alone (the baseline), then
each attack runs for ``--seconds`` while the client keeps going. Per attack it prints the
client's p50/p99 against the baseline, its failures, the server's RSS before/peak/after and
what the attacker's own requests got (status counts, hangs).

The attacks (issue 15 and RELIABILITY.md T16):

- ``since-churn``: event streams opened and closed with many different ``since`` on a
  namespace with a long history (the SSE fan-out cache keyed by ``(ns, since)``);
- ``half-bodies``: requests whose headers promise a big body that never fully arrives (raw
  sockets, held open; whether the server closed them is checked at the end);
- ``stalled-streams``: event streams that never read while the attacker writes big values
  to their namespace, then disconnect;
- ``heavy-reads``: loops of ``GET /v1/stats``, ``/v1/namespaces``, ``/shared-memory`` and big
  listings after the attacker created many namespaces;
- ``idle-streams``: as many idle streams as the server lets one token hold, on another
  namespace, while the client writes;
- ``prefix-d7ff``: ``POST …/prefix/delete {"prefix": "\\ud7ff"}`` (its computed upper bound
  ``\\ud800`` cannot be encoded: an unexpected exception inside the group commit);
- ``forged-values``: a list header ``{"$list": [0, 10**15]}`` and a malformed memory record
  written as plain values, then every op that reads them (list push/items, decay).

Usage::

    .venv/bin/python benchmarks/attacks.py                      # SQLite, 20 s per attack
    .venv/bin/python benchmarks/attacks.py --store redis --seconds 10
    .venv/bin/python benchmarks/attacks.py --only since-churn,heavy-reads
    .venv/bin/python benchmarks/attacks.py --docs docs/security.md   # write the table section

``tests/adversarial/test_t16_resource.py`` runs the same attacks (shorter) as a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## Attacks (issue 15)"
#: The client's namespace and its working set.
GOOD_NS, GOOD_KEYS = "good", 100
#: The attacker's namespaces.
MAL_NS, HIST_NS, STALL_NS, IDLE_NS = "mal", "mal-hist", "mal-stall", "mal-idle"
#: Every attacker request gets this long before it counts as a hang.
ATTACK_TIMEOUT = 10.0
#: The documented RSS bound the acceptance checks (the server's own caches are bounded
#: inside it).
RSS_BOUND_MIB = 300.0


# ------------------------------------------------------------------------- small helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (``VmRSS``), 0 if it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def pct(ordered: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted values, nearest rank; 0 for none."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), rss_bytes(self.pid)))
            self._stop.wait(self.interval)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak(self, start: float, end: float) -> int:
        inside = [r for t, r in self.samples if start <= t <= end]
        return max(inside, default=rss_bytes(self.pid))


@dataclass
class Tally:
    """What the attacker's own requests got."""

    statuses: Counter[str] = field(default_factory=Counter)
    hangs: int = 0
    notes: list[str] = field(default_factory=list)

    def status(self, code: int | str) -> None:
        self.statuses[str(code)] += 1

    @property
    def server_errors(self) -> int:
        """5xx answers other than 503 (``server_busy``/``backend_unavailable`` with
        ``Retry-After`` is the clear "not now" an attacker may get)."""
        return sum(n for s, n in self.statuses.items() if s.startswith("5") and s != "503")

    def summary(self) -> str:
        parts = [f"{s}x{n}" for s, n in sorted(self.statuses.items())]
        if self.hangs:
            parts.append(f"hangx{self.hangs}")
        return " ".join(parts) or "-"


@dataclass
class Target:
    """A live server and the tokens of the client and the attacker."""

    url: str
    pid: int
    admin: str
    attacker: str
    client: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def http(self, token: str, timeout: float = ATTACK_TIMEOUT) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )


async def _request(
    c: httpx.AsyncClient, tally: Tally, method: str, path: str, **kwargs: Any
) -> httpx.Response | None:
    start = time.monotonic()
    try:
        r = await c.request(method, path, **kwargs)
    except httpx.TimeoutException:
        tally.hangs += 1
        return None
    except asyncio.CancelledError:  # the attack's window closed on it
        if time.monotonic() - start > 2.0:
            tally.hangs += 1
        raise
    except httpx.TransportError as exc:
        tally.status(type(exc).__name__)
        return None
    tally.status(r.status_code)
    return r


# ------------------------------------------------------------------------- raw sockets

#: Streams and half-sent requests the attacks leave open, closed by :func:`close_held`.
HELD: list[tuple[str, asyncio.StreamReader, asyncio.StreamWriter]] = []


async def raw_open(
    target: Target, head: bytes, rcvbuf: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw connection that sent ``head`` (a request line and headers, maybe a body part)."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", target.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
    writer.write(head)
    await writer.drain()
    return reader, writer


def request_head(method: str, path: str, token: str, extra: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"{extra}\r\n"
    ).encode()


async def status_of(reader: asyncio.StreamReader, timeout: float) -> str:
    """The status code of the answer on a raw connection ("closed", "hang")."""
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
    except TimeoutError:
        return "hang"
    except (ConnectionError, OSError):
        return "closed"
    parts = line.split()
    return parts[1].decode() if len(parts) >= 2 else "closed"


async def close_held(kind: str | None = None) -> None:
    """Close the held connections of ``kind`` (all if ``None``)."""
    keep = []
    for k, reader, writer in HELD:
        if kind is None or k == kind:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)
        else:
            keep.append((k, reader, writer))
    HELD[:] = keep


async def half_bodies_still_open(timeout: float = 0.5) -> tuple[int, int, Counter[str]]:
    """How many half-sent requests the server still holds open: (open, total, answers)."""
    total, still, answers = 0, 0, Counter[str]()
    for kind, reader, _ in HELD:
        if kind != "half":
            continue
        total += 1
        status = await status_of(reader, timeout)
        answers[status] += 1
        if status == "hang":
            still += 1
    return still, total, answers


# ------------------------------------------------------------------------- setup


async def setup(target: Target, namespaces: int, history: int, default_entries: int) -> None:
    """The client's keys, the attacker's history, many namespaces, a big ``default``."""
    async with target.http(target.client, 60) as c:
        ops = [{"op": "put", "key": f"key-{i}", "value": {"n": i}} for i in range(GOOD_KEYS)]
        (await c.post(f"/v1/namespaces/{GOOD_NS}/batch", json={"ops": ops})).raise_for_status()
    async with target.http(target.attacker, 60) as c:
        blob = "h" * 2000
        for start in range(0, history, 500):
            ops = [
                {"op": "put", "key": f"h{i}", "value": {"i": i, "blob": blob}}
                for i in range(start, min(history, start + 500))
            ]
            (await c.post(f"/v1/namespaces/{HIST_NS}/batch", json={"ops": ops})).raise_for_status()
        for ns in (MAL_NS, STALL_NS, IDLE_NS):
            (await c.put(f"/v1/namespaces/{ns}/entries/seed", json={"value": 1})).raise_for_status()
        for start in range(0, default_entries, 500):
            ops = [
                {"op": "put", "key": f"mal-{i}", "value": "d" * 1000}
                for i in range(start, min(default_entries, start + 500))
            ]
            (await c.post("/v1/namespaces/default/batch", json={"ops": ops})).raise_for_status()
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(namespaces):
            queue.put_nowait(i)

        refused: list[str] = []

        async def worker() -> None:
            while not queue.empty() and not refused:
                i = queue.get_nowait()
                r = await c.put(f"/v1/namespaces/spam-{i}/entries/k", json={"value": i})
                if r.status_code == 409:  # a namespaces-per-agent quota: as far as one gets
                    refused.append(r.text)
                    return
                r.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(16)))
        if refused:
            print(f"setup: namespace creation stopped by the server: {refused[0][:200]}",
                  file=sys.stderr)  # fmt: skip


# ------------------------------------------------------------------------- the attacks


async def _until(deadline: float, fn: Callable[[], Awaitable[None]], workers: int) -> None:
    async def loop() -> None:
        while time.monotonic() < deadline:
            await fn()

    await asyncio.gather(*(loop() for _ in range(workers)))


async def since_churn(target: Target, seconds: float, tally: Tally) -> None:
    """Streams opened and closed with many different ``since`` (read a little, then close)."""
    deadline = time.monotonic() + seconds
    async with target.http(target.attacker) as c:
        r = await c.get(f"/v1/namespaces/{HIST_NS}", timeout=ATTACK_TIMEOUT)
        top = max(2, int(r.json().get("revision", 2)) if r.status_code == 200 else 2)

    async def one() -> None:
        since = random.randrange(0, top)
        path = f"/v1/namespaces/{HIST_NS}/events?since={since}"
        head = request_head("GET", path, target.attacker, "Accept: text/event-stream\r\n")
        try:
            reader, writer = await asyncio.wait_for(raw_open(target, head), ATTACK_TIMEOUT)
        except (OSError, TimeoutError):
            tally.status("connect-failed")
            return
        status = await status_of(reader, ATTACK_TIMEOUT)
        if status == "hang":
            tally.hangs += 1
        else:
            tally.status(status)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader.read(4096), 1)
        writer.close()

    await _until(deadline, one, 8)


async def half_bodies(target: Target, seconds: float, tally: Tally, count: int = 200) -> None:
    """Requests that send their headers and part of a big body, then nothing (held open)."""
    size, sent = 1_900_000, 1_500_000
    head = request_head(
        "PUT",
        f"/v1/namespaces/{MAL_NS}/entries/half",
        target.attacker,
        f"Content-Type: application/json\r\nContent-Length: {size}\r\n",
    )
    part = b'{"value": "' + b"x" * (sent - 12)
    deadline = time.monotonic() + seconds
    opened = 0
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        try:
            reader, writer = await asyncio.wait_for(raw_open(target, head), ATTACK_TIMEOUT)
            writer.write(part)
            await asyncio.wait_for(writer.drain(), ATTACK_TIMEOUT)
        except (OSError, TimeoutError):
            tally.status("refused")
            continue
        HELD.append(("half", reader, writer))
        opened += 1
    tally.status(f"held-openx{opened}")
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))


async def stalled_streams(target: Target, seconds: float, tally: Tally, count: int = 20) -> None:
    """Streams that never read while big values are written to their namespace; then gone."""
    path = f"/v1/namespaces/{STALL_NS}/events?since=0"
    head = request_head("GET", path, target.attacker, "Accept: text/event-stream\r\n")
    deadline = time.monotonic() + seconds
    for _ in range(count):
        if time.monotonic() > deadline - 1:
            break
        try:
            reader, writer = await asyncio.wait_for(raw_open(target, head, 4096), ATTACK_TIMEOUT)
        except (OSError, TimeoutError):
            tally.status("connect-failed")
            continue
        HELD.append(("stall", reader, writer))
    blob = "s" * 20_000
    async with target.http(target.attacker) as c:
        i = 0

        async def write() -> None:
            nonlocal i
            i += 1
            await _request(
                c, tally, "PUT", f"/v1/namespaces/{STALL_NS}/entries/k{i % 50}",
                json={"value": blob},
            )  # fmt: skip
            await asyncio.sleep(0.02)

        await _until(deadline, write, 2)
    await close_held("stall")


async def heavy_reads(target: Target, seconds: float, tally: Tally) -> None:
    """Loops of stats, namespace listings, ``/shared-memory`` and big entry listings."""
    deadline = time.monotonic() + seconds
    paths = [
        "/v1/stats",
        "/v1/namespaces",
        "/shared-memory",
        "/v1/namespaces/default/entries?limit=1000",
    ]
    async with target.http(target.attacker) as c:
        i = 0

        async def one() -> None:
            nonlocal i
            i += 1
            await _request(c, tally, "GET", paths[i % len(paths)])

        await _until(deadline, one, 4)


async def idle_streams(target: Target, seconds: float, tally: Tally, count: int = 500) -> None:
    """As many idle streams on another namespace as the server lets one token open."""
    path = f"/v1/namespaces/{IDLE_NS}/events"
    head = request_head("GET", path, target.attacker, "Accept: text/event-stream\r\n")
    deadline = time.monotonic() + seconds
    for _ in range(count):
        if time.monotonic() > deadline - 1:
            break
        try:
            reader, writer = await asyncio.wait_for(raw_open(target, head), ATTACK_TIMEOUT)
        except (OSError, TimeoutError):
            tally.status("connect-failed")
            continue
        status = await status_of(reader, ATTACK_TIMEOUT)
        tally.status(status)
        if status == "200":
            HELD.append(("idle", reader, writer))
        else:
            writer.close()
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    await close_held("idle")


async def prefix_d7ff(target: Target, seconds: float, tally: Tally) -> None:
    """``prefix/delete`` with ``\\ud7ff`` (its upper bound is a lone surrogate)."""
    deadline = time.monotonic() + seconds
    async with target.http(target.attacker) as c:

        async def one() -> None:
            for path in (
                f"/v1/namespaces/{MAL_NS}/prefix/delete",
                "/v1/namespaces/default/prefix/delete",
            ):
                await _request(c, tally, "POST", path, json={"prefix": "\ud7ff"})
            await asyncio.sleep(0.2)

        await _until(deadline, one, 1)


async def forged_values(target: Target, seconds: float, tally: Tally) -> None:
    """A list header and a malformed memory record as plain values, then the ops reading them."""
    deadline = time.monotonic() + seconds
    base = f"/v1/namespaces/{MAL_NS}"
    async with target.http(target.attacker) as c:
        i = 0

        async def one() -> None:
            nonlocal i
            i += 1
            key = f"evil-{i}"
            header = {"$list": [0, 1_000_000_000_000_000]}
            await _request(c, tally, "PUT", f"{base}/entries/{key}", json={"value": header})
            await _request(c, tally, "GET", f"{base}/lists/{key}/items")
            await _request(c, tally, "POST", f"{base}/lists/{key}/push", json={"items": [1]})
            record = {"id": uuid.uuid4().hex, "content": "x", "strength": "strong", "tier": 7}
            await _request(
                c, tally, "PUT", f"{base}/entries/{record['id']}", json={"value": record}
            )
            await _request(c, tally, "POST", f"{base}/memories/decay", json={})
            await asyncio.sleep(0.2)

        await _until(deadline, one, 1)


#: Every attack, in the order they run (the ones that can break the server for good last).
ATTACKS: dict[str, Callable[[Target, float, Tally], Awaitable[None]]] = {
    "since-churn": since_churn,
    "half-bodies": half_bodies,
    "stalled-streams": stalled_streams,
    "heavy-reads": heavy_reads,
    "idle-streams": idle_streams,
    "prefix-d7ff": prefix_d7ff,
    "forged-values": forged_values,
}


# ------------------------------------------------------------------------- the client


class _Conn:
    """One keep-alive HTTP/1.1 connection of the client (raw: a fraction of httpx's CPU)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.used = reader, writer, False
        self.idle_since = time.monotonic()

    async def call(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        self.used = True
        return int(head[9:12])


async def client_main(url: str, token: str, seconds: float, rate: float, out: Path) -> None:
    """Read and write ``GOOD_NS`` at ``rate`` requests/s (half each), open loop, for ``seconds``.

    Keep-alive connections (up to 64, opened as needed), a 5 s deadline per request. Writes
    ``{"records": [[wall_start, ms, status, kind], ...]}`` to ``out``; status 0 is a timeout
    (5 s), -2 a connection error, -1 a request not sent because 256 were still pending.
    """
    host, port = url.rsplit("/", 1)[1].rsplit(":", 1)
    records: list[list[Any]] = []
    idle: list[_Conn] = []
    opened = 0
    slots = asyncio.Semaphore(64)
    auth = f"Authorization: Bearer {token}\r\nHost: {host}\r\n".encode()

    async def connect() -> _Conn:
        nonlocal opened
        opened += 1
        return _Conn(*await asyncio.open_connection(host, int(port)))

    async def take() -> _Conn:
        """The most recently used idle connection, if the server cannot have closed it yet
        (its keep-alive timeout is 5 s), else a new one."""
        while idle:
            conn = idle.pop()
            if time.monotonic() - conn.idle_since < 4.0:
                return conn
            conn.writer.close()
        return await connect()

    def request(i: int, kind: str) -> bytes:
        path = f"/v1/namespaces/{GOOD_NS}/entries/key-{i % GOOD_KEYS}".encode()
        if kind == "r":
            return b"GET " + path + b" HTTP/1.1\r\n" + auth + b"\r\n"
        body = json.dumps({"value": {"n": i, "data": "x" * 80}}).encode()
        return (
            b"PUT " + path + b" HTTP/1.1\r\n" + auth
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            + body
        )  # fmt: skip

    async def one(i: int) -> None:
        kind = "w" if i % 2 else "r"
        wall, start = time.time(), time.perf_counter()
        status, error = 0, ""
        async with slots:
            for attempt in range(2):  # a kept-alive connection the server closed: once more
                try:
                    conn = await take() if attempt == 0 else await connect()
                except OSError as exc:
                    status, error = -2, f"connect: {type(exc).__name__}: {exc}"[:120]
                    break
                try:
                    status = await asyncio.wait_for(conn.call(request(i, kind)), 5.0)
                except (asyncio.IncompleteReadError, ConnectionError) as exc:
                    conn.writer.close()
                    partial = isinstance(exc, asyncio.IncompleteReadError) and exc.partial
                    if attempt == 0 and conn.used and not partial:
                        continue
                    status, error = -2, f"{type(exc).__name__}: {exc}"[:120]
                except TimeoutError:
                    conn.writer.close()
                    status = 0
                except (OSError, ValueError) as exc:
                    conn.writer.close()
                    status, error = -2, f"{type(exc).__name__}: {exc}"[:120]
                else:
                    conn.idle_since = time.monotonic()
                    idle.append(conn)
                break
        records.append([wall, (time.perf_counter() - start) * 1000, status, kind, error])

    pending: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    interval = 1.0 / rate
    t0 = loop.time()
    i = 0
    while (due := t0 + i * interval) < t0 + seconds:
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(pending) >= 256:
            records.append([time.time(), 0.0, -1, "w" if i % 2 else "r"])
        else:
            task = asyncio.create_task(one(i))
            pending.add(task)
            task.add_done_callback(pending.discard)
        i += 1
    if pending:
        await asyncio.wait(pending, timeout=10)
    for conn in idle:
        conn.writer.close()
    out.write_text(json.dumps({"records": records, "connections": opened}))


def _run_client(cfg: argparse.Namespace) -> None:
    main = client_main(cfg.url, cfg.token, cfg.seconds, cfg.rate, cfg.out)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def start_client(target: Target, seconds: float, rate: float, out: Path) -> subprocess.Popen[bytes]:
    """The well-behaved client in its own process (``--role client``)."""
    args = [sys.executable, str(Path(__file__).resolve()), "--role", "client", "--url", target.url]
    args += ["--token", target.client, "--seconds", str(seconds), "--rate", str(rate)]
    args += ["--out", str(out)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return subprocess.Popen(args, env=env)


@dataclass
class Window:
    """One phase: the baseline or an attack."""

    name: str
    start: float
    end: float
    tally: Tally = field(default_factory=Tally)
    rss_before: int = 0
    rss_peak: int = 0
    rss_after: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    requests: int = 0
    failed: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def take(self, records: list[list[Any]], warmup: float = 0.0) -> None:
        inside = [r for r in records if self.start + warmup <= r[0] < self.end]
        self.requests = len(inside)
        self.latencies = sorted(r[1] for r in inside if r[2] == 200)
        self.failed = Counter(r[2] for r in inside if r[2] != 200)
        self.failures = sum(self.failed.values())
        self.errors = Counter(r[4] for r in inside if len(r) > 4 and r[4])

    def failure_summary(self) -> str:
        """``12 of 3,200 (0x10 503x2)``: 0 = timeout, -2 = connection error, -1 = backlog."""
        if not self.failures:
            return f"0 of {self.requests:,}"
        kinds = " ".join(f"{s}x{n}" for s, n in sorted(self.failed.items()))
        return f"{self.failures:,} of {self.requests:,} ({kinds})"

    @property
    def p50(self) -> float:
        return pct(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        return pct(self.latencies, 0.99)


def run_attacks(
    target: Target,
    names: list[str],
    seconds: float,
    baseline_seconds: float,
    rate: float,
    workdir: Path,
    pause: float = 1.0,
) -> tuple[Window, list[Window], tuple[int, int, Counter[str]]]:
    """The baseline, then each attack for ``seconds`` with the client running throughout.

    Returns the baseline window, one window per attack, and what became of the half-sent
    requests at the end: (still open, sent, their answers).
    """
    grace = 3.0  # an attack's requests get this long after its window, then it is cancelled
    total = baseline_seconds + len(names) * (seconds + pause + grace) + 1.0
    out = workdir / f"client-{uuid.uuid4().hex[:6]}.json"
    sampler = RssSampler(target.pid).start()
    client = start_client(target, total, rate, out)
    loop = asyncio.new_event_loop()
    try:
        start = time.time()
        time.sleep(baseline_seconds)
        baseline = Window("baseline", start, time.time())
        windows = []
        for name in names:
            w = Window(name, time.time(), 0.0, rss_before=rss_bytes(target.pid))
            try:
                loop.run_until_complete(
                    asyncio.wait_for(ATTACKS[name](target, seconds, w.tally), seconds + grace)
                )
            except TimeoutError:
                w.tally.notes.append(
                    f"the attack's own requests were still unanswered {grace:g} s after its window"
                )
            w.end = time.time()
            time.sleep(pause)
            w.rss_after = rss_bytes(target.pid)
            w.rss_peak = max(sampler.peak(w.start, time.time()), w.rss_after)
            windows.append(w)
        half = loop.run_until_complete(half_bodies_still_open())
        loop.run_until_complete(close_held())
    finally:
        loop.close()
        try:
            client.wait(timeout=total + 30)
        except subprocess.TimeoutExpired:
            client.kill()
            client.wait()
        sampler.stop()
    records = json.loads(out.read_text())["records"] if out.exists() else []
    baseline.take(records, warmup=1.0)
    baseline.rss_peak = sampler.peak(baseline.start, baseline.end)
    for w in windows:
        w.take(records)
    return baseline, windows, half


# ------------------------------------------------------------------------- a server


@dataclass
class Served:
    proc: subprocess.Popen[str]
    target: Target
    redis: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        for p in (self.proc, self.redis):
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()  # a server spinning on a forged value ignores SIGTERM
                p.wait()


def serve(store: str, tmp: Path, extra: list[str]) -> Served:
    """``hivemem serve`` (auth on) on a fresh store; an attacker and a client token."""
    redis = None
    if store == "redis":
        rport = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.5)
        url = f"redis://127.0.0.1:{rport}/0"
    else:
        url = f"sqlite:///{tmp}/attacks.db"
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hivemem", "serve", "--store", url, "--port", str(port),
         "--embedder", "none", "--decay-interval", "0", *extra],
        stdout=subprocess.PIPE, text=True, env=env, cwd=tmp,
    )  # fmt: skip
    assert proc.stdout is not None
    admin = ""
    for _ in range(5):
        line = proc.stdout.readline()
        if line.startswith("admin token"):
            admin = line.rsplit(" ", 1)[1].strip()
            break
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        time.sleep(0.05)
    tokens = {}
    for agent in ("mallory", "alice"):
        r = httpx.post(
            base + "/v1/tokens",
            json={"agent": agent, "role": "agent"},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
        r.raise_for_status()
        tokens[agent] = r.json()["token"]
    target = Target(base, proc.pid, admin, tokens["mallory"], tokens["alice"])
    return Served(proc, target, redis)


# ------------------------------------------------------------------------- report


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f}"


def markdown(
    cfg: argparse.Namespace, baseline: Window, windows: list[Window], half: tuple[int, int, Any]
) -> str:
    floor = max(baseline.p99, 5.0)
    lines = [
        SECTION,
        "",
        f"`benchmarks/attacks.py --store {cfg.store} --seconds {cfg.seconds:g}` on "
        f"{os.cpu_count()} cores: a well-behaved client (its own process) reads and writes "
        f"{cfg.rate:g} requests/s (half each, paced) while one ordinary agent token runs each "
        f"attack alone for {cfg.seconds:g} s. Baseline (client alone, "
        f"{baseline.requests:,} requests): p50 {baseline.p50:.1f} ms, p99 {baseline.p99:.1f} ms, "
        f"server RSS {mib(baseline.rss_peak)} MiB. Pass: p99 ≤ 5x the baseline's "
        f"(floored at 5 ms), no failure, RSS ≤ {RSS_BOUND_MIB:g} MiB, attacker: no 5xx, no hang. "
        "Client failures by status: 0 = no answer within 5 s, -2 = connection error, "
        "-1 = not sent (256 requests already waiting).",
        "",
        "| attack | client p50 ms | client p99 ms | p99 / base | client failures | "
        "RSS MiB before / peak / after | attacker got | pass |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for w in windows:
        ok = (
            w.failures == 0
            and w.p99 <= 5 * floor
            and w.rss_peak <= RSS_BOUND_MIB * 2**20
            and w.tally.server_errors == 0
            and w.tally.hangs == 0
        )
        lines.append(
            f"| {w.name} | {w.p50:.1f} | {w.p99:.1f} | {w.p99 / floor:.1f}x | "
            f"{w.failure_summary()} | {mib(w.rss_before)} / {mib(w.rss_peak)} / "
            f"{mib(w.rss_after)} | {w.tally.summary()} | {'yes' if ok else '**no**'} |"
        )
    for w in windows:
        for error, n in w.errors.most_common(3):
            lines.append(f"\n{w.name}: the client's connection errors: {n} x {error}")
    still, total, answers = half
    if total:
        lines += [
            "",
            f"Half-sent requests still held open by the server at the end: {still} of {total} "
            f"(answers: {dict(answers)}).",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", choices=("sqlite", "redis"), default="sqlite")
    p.add_argument("--seconds", type=float, default=20.0, help="seconds per attack (20)")
    p.add_argument("--baseline", type=float, default=10.0, help="seconds of baseline (10)")
    p.add_argument("--rate", type=float, default=400.0, help="client requests/s (400)")
    p.add_argument("--namespaces", type=int, default=20_000, help="namespaces made first")
    p.add_argument("--history", type=int, default=2_000, help="events in the history ns")
    p.add_argument("--default-entries", type=int, default=20_000, help="1 KB entries in default")
    p.add_argument("--only", default=",".join(ATTACKS), help="attacks to run, comma-separated")
    p.add_argument("--serve-arg", action="append", default=[], help="extra hivemem serve flag")
    p.add_argument("--docs", type=Path, help="write the table as a section of this file")
    p.add_argument("--role", choices=("client",), help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    cfg = p.parse_args(argv)
    if cfg.role == "client":
        _run_client(cfg)
        return 0
    names = [n for n in cfg.only.split(",") if n]
    unknown = set(names) - set(ATTACKS)
    if unknown:
        p.error(f"unknown attacks {sorted(unknown)}; known: {', '.join(ATTACKS)}")
    if cfg.store == "redis" and shutil.which("redis-server") is None:
        p.error("redis-server is not installed")
    tmp = Path(tempfile.mkdtemp(prefix="hivemem-attacks-"))
    served = serve(cfg.store, tmp, cfg.serve_arg)
    try:
        t = time.monotonic()
        asyncio.run(setup(served.target, cfg.namespaces, cfg.history, cfg.default_entries))
        print(f"setup: {time.monotonic() - t:.1f} s", file=sys.stderr)
        baseline, windows, half = run_attacks(
            served.target, names, cfg.seconds, cfg.baseline, cfg.rate, tmp
        )
    finally:
        served.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    text = markdown(cfg, baseline, windows, half)
    print(text)
    if cfg.docs:
        sys.path.insert(0, str(HERE))
        from server import write_docs  # benchmarks/server.py's section writer

        write_docs(cfg.docs, text, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
