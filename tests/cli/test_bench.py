"""``hivemem bench``: the report's structure and counts (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hivemem
from hivemem.cli import main
from hivemem.cli.bench import OPS, make_value, percentile, summarize

ROOT = Path(__file__).resolve().parents[2]
LATENCY_FIELDS = {"mean", "p50", "p95", "p99", "max"}


def _bench(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["bench", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _check(report: dict[str, Any], ops: tuple[str, ...]) -> None:
    assert list(report["results"]) == list(ops)
    for op, r in report["results"].items():
        assert r["ops"] > 0, op
        assert r["errors"] == 0, op
        assert r["ops_per_sec"] > 0, op
        assert r["seconds"] > 0, op
        lat = r["latency_ms"]
        assert set(lat) == LATENCY_FIELDS
        assert 0 <= lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    if "cas" in report["results"]:
        assert report["results"]["cas"]["retries"] >= 0
    if "watch" in report["results"]:
        watch = report["results"]["watch"]
        assert watch["writes"] >= watch["ops"] > 0
        assert watch["missed"] == watch["writes"] - watch["ops"]


def test_bench_memory_json(capsys: pytest.CaptureFixture[str]) -> None:
    report = _bench(capsys, "--url", "memory://", "--duration", "0.5", "--clients", "2")
    assert report["url"] == "memory://"
    assert report["backend"] == "memory"
    assert report["api"] == "sync"
    assert report["clients"] == 2
    assert report["keys"] == 1000
    _check(report, OPS)


def test_bench_sqlite_json_leaves_nothing_behind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/bench.db"
    report = _bench(capsys, "--url", url, "--duration", "0.5", "--clients", "2")
    assert report["backend"] == "sqlite"
    _check(report, OPS)
    with hivemem.connect(url) as mem:
        assert [info.name for info in mem.list_namespaces()] == ["default"]


def test_bench_async_selected_ops(capsys: pytest.CaptureFixture[str]) -> None:
    report = _bench(
        capsys,
        "--async",
        "--ops",
        "read,cas,watch",
        "--duration",
        "0.2",
        "--clients",
        "3",
        "--keys",
        "10",
        "--value-bytes",
        "500",
    )
    assert report["api"] == "async"
    assert report["value_bytes"] == 500
    _check(report, ("read", "cas", "watch"))


def test_bench_prints_a_table_and_progress(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--ops", "write,read", "--duration", "0.1", "--clients", "1"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("hivemem bench: memory:// (memory), sync API")
    lines = out.splitlines()
    assert lines[2].split()[:3] == ["op", "ops/s", "ops"]
    assert [line.split()[0] for line in lines[3:]] == ["write", "read"]
    assert "write" in err and "[" in err  # the progress bar goes to stderr


@pytest.mark.parametrize(
    "args", [["--ops", "write,fly"], ["--clients", "0"], ["--duration", "-1"], ["--keys", "x"]]
)
def test_bench_rejects_bad_arguments(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", *args])
    assert exc.value.code == 2
    assert "hivemem bench" in capsys.readouterr().err


def test_bench_reports_a_bad_store_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--url", "nosuch://x", "--duration", "0.1"]) == 1
    assert "invalid_argument" in capsys.readouterr().err


def test_percentiles_are_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7], 99) == 7
    assert summarize([]) == dict.fromkeys(LATENCY_FIELDS)
    assert summarize([1_000_000, 3_000_000])["max"] == 3.0


def test_values_have_about_the_asked_size() -> None:
    for size in (0, 20, 100, 4096):
        encoded = json.dumps(make_value(size))
        assert len(encoded) == max(size, len(json.dumps(make_value(0))))


@pytest.mark.slow
def test_benchmark_suite_quick_smoke(tmp_path: Path) -> None:
    """``benchmarks/run.py --quick`` runs every case and writes its page and JSON."""
    out, raw = tmp_path / "benchmarks.md", tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--runs",
            "1",
            "--out",
            str(out),
            "--json",
            str(raw),
            "--tmpdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(raw.read_text())
    assert data["quick"] is True
    assert len(data["rows"]) > 20
    for row in data["rows"]:
        assert row["hivemem"] > 0, row
    page = out.read_text()
    assert page.startswith("# Benchmarks")
    assert "| measure | hivemem | LangGraph |" in page
