"""Webhook delivery throughput (issue 19): events/s from a store to a local receiver.

``python benchmarks/webhooks.py [--events N] [--rounds R] [--store sqlite|memory]``

The receiver is a small asyncio HTTP server in a child process (keep-alive, answers 204,
counts events). Two sides, alternating round by round, medians reported:

- **hivemem**: N events written to 4 namespaces of a store first, then one webhook on
  them; the time from starting the delivery worker (:class:`hivemem.webhooks.worker.
  Deliverer`: reads the event log, signs, POSTs batches of 100, records each 2xx and moves
  the cursor in the store) until the receiver counted every event;
- **anchor**: the same batches of the same events, signed the same way, POSTed by a plain
  httpx loop (no store, no cursor, no delivery log): what the HTTP round trips alone cost.

Prints a Markdown table (events/s of each side, ratio hivemem / anchor).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import hivemem
from hivemem.testing.server import free_port
from hivemem.webhooks.guard import Allow
from hivemem.webhooks.sign import headers
from hivemem.webhooks.worker import Deliverer, payload

_RECEIVER = r"""
import asyncio, sys
count = 0
async def handle(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if head.startswith(b"GET /count"):
                body = str(count).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                continue
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            count += body.count(b'"revision":')
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    print("READY", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""

NAMESPACES = ("n0", "n1", "n2", "n3")


def _count(port: int) -> int:
    return int(httpx.get(f"http://127.0.0.1:{port}/count", timeout=5).text)


async def _hivemem_round(url: str, events: int, port: int) -> float:
    mem = hivemem.connect_async(url)
    for ns in NAMESPACES:
        await mem.create_namespace(ns)
    # The webhook first: it delivers every event written after it.
    await mem.add_webhook(f"http://127.0.0.1:{port}/h", list(NAMESPACES))
    for i in range(events):
        await mem.write(NAMESPACES[i % 4], f"k{i % 50}", i)
    backend = mem._c.backend
    before = _count(port)
    worker = Deliverer(backend, allow=Allow(["127.0.0.1"]), poll=0.01)
    start = time.perf_counter()
    task = asyncio.create_task(worker.run())
    while await asyncio.to_thread(_count, port) - before < events:
        await asyncio.sleep(0.005)
    took = time.perf_counter() - start
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await mem.aclose()
    return events / took


async def _anchor_round(events: int, port: int) -> float:
    from hivemem.types import Event

    batches = []
    for ns_index, ns in enumerate(NAMESPACES):
        evs = [
            Event("memory:write", ns, r + 1, time.time(), "local", key=f"k{r % 50}", value=r)
            for r in range(ns_index, events, 4)
        ]
        batches += [(ns, evs[i : i + 100]) for i in range(0, len(evs), 100)]
    secret = "whsec_" + "A" * 32
    before = _count(port)
    start = time.perf_counter()
    async with httpx.AsyncClient() as client:
        for n, (ns, evs) in enumerate(batches):
            body = payload("wh_anchor", ns, evs, time.time())
            head = {"content-type": "application/json", **headers(secret, f"m{n}", 0, body)}
            response = await client.post(f"http://127.0.0.1:{port}/h", content=body, headers=head)
            assert response.status_code == 204
    while _count(port) - before < events:
        await asyncio.sleep(0.001)
    return events / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", choices=["sqlite", "memory"], default="sqlite")
    args = parser.parse_args()
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-c", _RECEIVER, str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert receiver.stdout is not None and receiver.stdout.readline().strip() == "READY"
        ours, anchor = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                url = (
                    f"sqlite:///{Path(tmp) / f'r{r}.db'}?durability=normal"
                    if args.store == "sqlite"
                    else "memory://"
                )
                ours.append(asyncio.run(_hivemem_round(url, args.events, port)))
                anchor.append(asyncio.run(_anchor_round(args.events, port)))
        a, b = statistics.median(ours), statistics.median(anchor)
        print(f"machine: {os.cpu_count()} cpus, {platform.python_version()}, {platform.system()}")
        print(f"command: python benchmarks/webhooks.py --events {args.events} "
              f"--rounds {args.rounds} --store {args.store}")  # fmt: skip
        print("| side | events/s (median) | rounds |")
        print("|---|---|---|")
        runs = {"ours": ", ".join(f"{x:,.0f}" for x in ours)}
        runs["anchor"] = ", ".join(f"{x:,.0f}" for x in anchor)
        print(f"| hivemem Deliverer ({args.store}://) | {a:,.0f} | {runs['ours']} |")
        print(f"| anchor: httpx loop, same batches | {b:,.0f} | {runs['anchor']} |")
        print(f"| ratio hivemem / anchor | {a / b:.2f} | |")
    finally:
        receiver.kill()
        receiver.wait()


if __name__ == "__main__":
    main()
