"""A/B: ``benchmarks/run.py`` on an earlier commit and on this tree, alternating, in one session.

    .venv/bin/python benchmarks/ab.py 3a5f359 --rounds 3 -- --only memory,async,sqlite

(everything after ``--`` goes to run.py)

Checks the earlier commit out into a temporary git worktree, then runs ``run.py`` (with the
arguments after ``--``) under each tree in turn, ``--rounds`` times each, alternating (A B B A
A B ...) so that drift of the machine falls on both sides alike. Each figure is the median of
its side's rounds; the table gives both medians and new/old, and flags a figure more than
``--tolerance`` worse (ops/s lower, latency higher). Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(tree: Path, args: list[str], out: Path) -> dict[tuple[str, str], tuple[float, str]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, str(tree / "benchmarks" / "run.py"), *args, "--json", str(out)]
    cmd += ["--out", str(out.with_suffix(".md"))]
    subprocess.run(cmd, check=True, env=env, cwd=tree, stdout=subprocess.DEVNULL)
    rows = json.loads(out.read_text())["rows"]
    return {(r["section"], r["measure"]): (float(r["hivemem"]), r["unit"]) for r in rows}


def _lower_is_better(unit: str) -> bool:
    return unit in {"ms", "s", "µs", "us", "x"} or unit.endswith("ms")


def main() -> int:
    """Run the A/B and print its table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base", help="the earlier commit")
    p.add_argument("--rounds", type=int, default=3, help="runs per side (3)")
    p.add_argument("--tolerance", type=float, default=0.05, help="worse than this is flagged")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    cfg = p.parse_args(argv[:split])
    args = argv[split + 1 :]  # run.py's own arguments
    with tempfile.TemporaryDirectory(prefix="hivemem-ab-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(base), cfg.base],
            check=True,
        )
        try:
            sides: dict[str, list[dict[tuple[str, str], tuple[float, str]]]] = {
                "old": [],
                "new": [],
            }
            order = ["old", "new"]
            for i in range(cfg.rounds):
                for side in order if i % 2 == 0 else order[::-1]:
                    tree = base if side == "old" else ROOT
                    out = Path(tmp) / f"{side}{i}.json"
                    sides[side].append(_run(tree, args, out))
                    print(f"round {i + 1}/{cfg.rounds}: {side} done", file=sys.stderr)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False
            )
    keys = [k for k in sides["new"][0] if all(k in run for run in sides["old"])]
    print(f"| figure | unit | {cfg.base} (median) | this tree (median) | new/old | |")
    print("|---|---|---:|---:|---:|---|")
    flagged = 0
    for key in keys:
        unit = sides["new"][0][key][1]
        old = statistics.median(run[key][0] for run in sides["old"])
        new = statistics.median(run[key][0] for run in sides["new"])
        ratio = new / old if old else float("nan")
        worse = ratio > 1 + cfg.tolerance if _lower_is_better(unit) else ratio < 1 - cfg.tolerance
        flagged += worse
        mark = "worse" if worse else ""
        print(f"| {key[0]}: {key[1]} | {unit} | {old:,.1f} | {new:,.1f} | {ratio:.3f} | {mark} |")
    print(f"\n{flagged} figure(s) more than {cfg.tolerance:.0%} worse", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
