"""Export and import speed and memory on sqlite:// (SPEC §20, issue 20).

    PYTHONPATH=. .venv/bin/python benchmarks/export_import.py --entries 200000

Fills a SQLite store with ``--entries`` entries (100-byte values, 64 namespaces' worth of
keys in one namespace plus a few small ones, ``write_many`` batches of 1,000), then runs
each measured step in a fresh child process, so that its peak RSS (``ru_maxrss``) is its
own:

- ``export``: ``export_records`` to a file, as ``hivemem export`` writes it;
- ``import``: that file restored into an empty SQLite store (``Restorer``, as
  ``hivemem import``);
- anchors, in the same run: ``scan`` (every entry read with ``list_entries`` pages of
  1,000, nothing written) for export, ``write_many`` (the same entries written in batches
  of 1,000 into an empty store) for import.

Prints one Markdown table: entries/s, seconds and peak RSS per step, and each step's rate
over its anchor's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_BATCH = 1000


def _fill(url: str, n: int) -> None:
    import hivemem

    value = {"text": "x" * 80, "n": 0}
    with hivemem.connect(url, agent="bench", durability="normal") as mem:
        mem.create_namespace("small", conflict_strategy="version")
        for i in range(50):
            mem.write("small", f"k{i}", i, expected_version=0, ttl=86_400 if i % 2 else None)
        for start in range(0, n, _BATCH):
            items = {f"e/{i:09d}": {**value, "n": i} for i in range(start, min(n, start + _BATCH))}
            mem.write_many("bulk", items)


def _step(kind: str, url: str, path: str, out_url: str) -> dict[str, float]:
    """Run one measured step here (a child process); its count, seconds and peak RSS."""
    import orjson

    import hivemem
    from hivemem.cli._dump import export_records
    from hivemem.cli._restore import Restorer

    count = 0
    t0 = time.perf_counter()
    if kind == "export":
        with hivemem.connect(url, agent="bench") as mem, Path(path).open("wb") as f:
            for record in export_records(mem):
                f.write(orjson.dumps(record) + b"\n")
                count += record["kind"] == "entry"
    elif kind == "import":
        with hivemem.connect(out_url, agent="bench", durability="normal") as mem:
            restorer = Restorer(mem)
            with Path(path).open("rb") as f:
                next(f)  # the header
                for line in f:
                    record = orjson.loads(line)
                    restorer.add(record)
                    count += record["kind"] == "entry"
            restorer.flush()
    elif kind == "scan":
        with hivemem.connect(url, agent="bench") as mem:
            for ns in ("small", "bulk"):
                cursor = None
                while True:
                    page = mem.list_entries(ns, limit=_BATCH, cursor=cursor)
                    count += len(page.items)
                    cursor = page.next_cursor
                    if cursor is None:
                        break
    elif kind == "write_many":
        with hivemem.connect(url, agent="bench") as src:
            pages = []
            cursor = None
            while True:  # (read first, not timed: the anchor is the writing)
                page = src.list_entries("bulk", limit=_BATCH, cursor=cursor)
                pages.append({e.key: e.value for e in page.items})
                cursor = page.next_cursor
                if cursor is None:
                    break
        t0 = time.perf_counter()
        with hivemem.connect(out_url, agent="bench", durability="normal") as mem:
            for items in pages:
                mem.write_many("bulk", items)
                count += len(items)
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"count": count, "seconds": seconds, "rss_mb": rss_mb}


def _child(kind: str, url: str, path: str, out_url: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    cmd = [sys.executable, __file__, "--step", kind, url, path, out_url]
    out = subprocess.run(cmd, check=True, env=env, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    """Parse arguments, run every step, print the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--entries", type=int, default=200_000)
    p.add_argument("--step", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.step:
        print(json.dumps(_step(*args.step)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/source.db"
        t0 = time.perf_counter()
        _fill(url, args.entries)
        fill = time.perf_counter() - t0
        path = f"{tmp}/dump.jsonl"
        rows = {}
        for kind, out_url in (
            ("scan", ""),
            ("export", ""),
            ("write_many", f"sqlite:///{tmp}/anchor.db"),
            ("import", f"sqlite:///{tmp}/target.db"),
        ):
            rows[kind] = _child(kind, url, path, out_url)
        size_mb = Path(path).stat().st_size / 1e6
    print(f"{args.entries:,} entries (+50), filled in {fill:.0f} s; export file {size_mb:.0f} MB\n")
    print("| step | entries/s | s | peak RSS MB | vs anchor |")
    print("|---|---|---|---|---|")
    for kind, anchor in (
        ("scan", None),
        ("export", "scan"),
        ("write_many", None),
        ("import", "write_many"),
    ):
        r = rows[kind]
        rate = r["count"] / r["seconds"]
        ratio = ""
        if anchor is not None:
            a = rows[anchor]
            ratio = f"{rate / (a['count'] / a['seconds']):.2f}x {anchor}"
        print(f"| {kind} | {rate:,.0f} | {r['seconds']:.1f} | {r['rss_mb']:.0f} | {ratio} |")


if __name__ == "__main__":
    main()
