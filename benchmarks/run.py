"""hivemem vs LangGraph's stores, side by side, in one process and one run.

    .venv/bin/python benchmarks/run.py                       # full size, prints the table
    .venv/bin/python benchmarks/run.py --out docs/benchmarks.md --json bench.json
    .venv/bin/python benchmarks/run.py --quick               # small and fast (smoke test)
    .venv/bin/python benchmarks/run.py --only sqlite,listing

LangGraph (``pip install 'hivemem[bench]'``) is optional: without it the peer columns stay
empty. Each figure is the median of ``--runs`` timed runs after a warm-up run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases as c
import harness as h

#: Hand-written text after this line of an existing ``--out`` file is kept on rewrite.
KEEP_MARKER = "<!-- Everything below this line is hand-written; benchmarks/run.py keeps it. -->"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ops/s":
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.3f} ms"
    return f"{value:.2f}x"


def _row(m: c.Measure) -> dict[str, Any]:
    ours = h.median(m.ours)
    peer = h.median(m.peer) if m.peer else None
    ratio = ours / peer if peer and m.show_ratio and m.unit == "ops/s" else None
    met = m.target.met(ours, peer) if m.target else None
    return {
        "section": m.section,
        "measure": m.label,
        "unit": m.unit,
        "hivemem": ours,
        "peer": peer,
        "ratio": ratio,
        "target": m.target.text if m.target else None,
        "met": met,
        "hivemem_runs": m.ours,
        "peer_runs": m.peer,
        "hivemem_does": m.ours_does,
        "peer_does": m.peer_does,
        **m.extra,
    }


def _met(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


def tables(rows: list[dict[str, Any]], explain: bool = True) -> str:
    """Markdown: one table per section, then (optionally) what each side does."""
    out: list[str] = []
    sections: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        sections.setdefault(r["section"], []).append(r)
    for name, group in sections.items():
        out += [
            f"### {name}",
            "",
            "| measure | hivemem | LangGraph | hivemem / LangGraph | target | met |",
            "|---|---:|---:|---:|---|---|",
        ]
        for r in group:
            ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}x"
            out.append(
                f"| {r['measure']} | {_fmt(r['hivemem'], r['unit'])} | "
                f"{_fmt(r['peer'], r['unit'])} | {ratio} | {r['target'] or '—'} | "
                f"{_met(r['met'])} |"
            )
        if explain:
            does = [r for r in group if r["hivemem_does"] or r["peer_does"]]
            if does:
                out += ["", "| measure | hivemem does | LangGraph does |", "|---|---|---|"]
                out += [
                    f"| {r['measure']} | {r['hivemem_does'] or '—'} | {r['peer_does'] or '—'} |"
                    for r in does
                ]
        out.append("")
    return "\n".join(out)


def summary(rows: list[dict[str, Any]]) -> str:
    """Markdown list of the targets met and not met."""
    met = [r for r in rows if r["met"] is True]
    missed = [r for r in rows if r["met"] is False]
    lines = [f"Targets met: {len(met)} of {len(met) + len(missed)}.", ""]
    for title, group in (("Met", met), ("Not met", missed)):
        if group:
            lines.append(f"**{title}:**")
            lines.append("")
            for r in group:
                peer = "" if r["peer"] is None else f" (LangGraph {_fmt(r['peer'], r['unit'])})"
                lines.append(
                    f"- {r['section']}: {r['measure']} = "
                    f"{_fmt(r['hivemem'], r['unit'])}{peer}; target {r['target']}"
                )
            lines.append("")
    return "\n".join(lines)


def document(
    rows: list[dict[str, Any]],
    info: dict[str, str],
    args: argparse.Namespace,
    seconds: float,
    kept: str,
) -> str:
    """The whole ``docs/benchmarks.md`` page."""
    mode = (
        "quick (`--quick`: small sizes, short runs; not for comparison)" if args.quick else "full"
    )
    machine = "\n".join(f"| {k} | {v} |" for k, v in info.items())
    page = f"""# Benchmarks

hivemem's embedded stores measured side by side with LangGraph's `InMemoryStore` and
`SqliteStore` doing the same operations, in one process and one run. The targets are those of
issue 2 (acceptance item 8). This page is written by `benchmarks/run.py`; every figure below
was measured by it, none is typed in.

## How to run

```sh
make bench                                                # = .venv/bin/python benchmarks/run.py
.venv/bin/python benchmarks/run.py --out docs/benchmarks.md --json bench.json
.venv/bin/python benchmarks/run.py --quick                # small sizes, a few seconds
.venv/bin/python benchmarks/run.py --only sqlite,listing  # some cases: {",".join(c.CASE_NAMES)}
hivemem bench --url memory://                             # one store, ops/s and latency per op
hivemem bench --url sqlite:////tmp/bench.db --clients 16 --ops write,read,cas,watch
hivemem bench --url memory:// --async                     # the asyncio API
```

LangGraph is an optional dependency (`pip install -e '.[bench]'`); without it the LangGraph
column stays empty.

## Machine

| | |
|---|---|
{machine}

Run: {mode}. Each figure is the median of {args.runs} timed run(s) of {args.duration:g} s,
after a {args.warmup:g} s warm-up run; the two sides of a comparison alternate run by run.
{seconds / 60:.1f} minutes in all.

## Method

- One Python process; hivemem and LangGraph go through the same timing loops
  (`benchmarks/harness.py`), with the same keys, the same values (a JSON object of about
  {h.VALUE_BYTES} bytes: `{{"n": 0, "data": "xxx…"}}`) and the same pseudo-random key order.
- hivemem runs with its defaults (`durability=full`, `log_reads` on) unless a row says
  otherwise. Every hivemem write also takes a namespace revision, appends an event and an
  audit record, checks permissions and the conflict strategy, in the same atomic step.
- LangGraph's `SqliteStore` gets its own `sqlite3` connection opened as its
  `from_conn_string` opens it (autocommit, shared between threads behind the store's lock),
  plus `PRAGMA journal_mode = WAL` and `PRAGMA synchronous` equal to the hivemem durability
  it is compared with (`FULL` for `durability=full` and for reads, `NORMAL` for
  `durability=normal`). Left to itself it would use the rollback journal. Each `get`/`put`/
  `search` is one transaction (`BEGIN` … `COMMIT`), one fsync per `put` at `FULL`.
- LangGraph's `InMemoryStore` keeps the caller's Python objects (no copy, no encoding): a
  read returns the stored dict itself. hivemem's `memory://` stores JSON text and decodes a
  fresh value on every read, so one agent cannot change another's data by mutating it.
- Sizes are filled with `write_many` (hivemem) and `batch([PutOp…])` (LangGraph) before
  timing. The SQLite files live in a temporary directory on the machine's disk.
- Ratios in the "hivemem / LangGraph" column are throughput ratios (higher is better for
  hivemem). Async rows show async cost per op over sync cost per op (lower is better).

## Results

{tables(rows)}
## Targets

{summary(rows)}
{KEEP_MARKER}
"""
    kept = kept.strip("\n")
    return page + ("\n" + kept + "\n" if kept else "")


def _kept(path: Path) -> str:
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    return text.split(KEEP_MARKER, 1)[1] if KEEP_MARKER in text else ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and short runs (a smoke test, not for comparison)",
    )
    p.add_argument("--runs", type=int, help="timed runs per figure (5; --quick 3)")
    p.add_argument("--duration", type=float, help="seconds per timed run (1.0; --quick 0.02)")
    p.add_argument("--warmup", type=float, help="seconds of the warm-up run (0.3; --quick 0.01)")
    p.add_argument("--only", help=f"comma-separated cases: {','.join(c.CASE_NAMES)}")
    p.add_argument("--out", type=Path, help="write the markdown page here (docs/benchmarks.md)")
    p.add_argument("--json", type=Path, help="write every run's figures here as JSON")
    p.add_argument("--tmpdir", help="where the SQLite files go (default: the system's temp)")
    args = p.parse_args(argv)

    quick = args.quick
    args.runs = args.runs or (3 if quick else 5)
    args.duration = args.duration or (0.02 if quick else 1.0)
    args.warmup = args.warmup if args.warmup is not None else (0.01 if quick else 0.3)
    cfg = h.Config(runs=args.runs, duration=args.duration, warmup=args.warmup)
    sz = c.Sizes()
    if quick:
        sz = c.Sizes(
            keys=1_000,
            list_keys=2_000,
            scale=(1_000, 5_000),
            writers=16,
            watch_rate=200.0,
            watch_seconds=0.1,
        )
    only = None
    if args.only:
        only = {x.strip() for x in args.only.split(",") if x.strip()}
        unknown = only - set(c.CASE_NAMES)
        if unknown:
            p.error(
                f"unknown case(s) {', '.join(sorted(unknown))}: "
                f"choose from {','.join(c.CASE_NAMES)}"
            )

    info = h.machine()
    load_start = h.load()
    t0 = time.perf_counter()

    def progress(name: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f}s] {name} ...", file=sys.stderr, flush=True)

    measures = c.all_cases(cfg, sz, args.tmpdir, only, progress)
    seconds = time.perf_counter() - t0
    info["load average (1 min), start / end"] = f"{load_start} / {h.load()}"
    rows = [_row(m) for m in measures]
    print(tables(rows, explain=False))
    print(summary(rows))
    if args.out:
        kept = _kept(args.out)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(document(rows, info, args, seconds, kept), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "quick": quick,
                    "runs": args.runs,
                    "duration": args.duration,
                    "seconds": seconds,
                    "rows": rows,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
