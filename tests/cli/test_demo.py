"""``hivemem demo``: a real multi-agent run that exits 0."""

from __future__ import annotations

from typing import TYPE_CHECKING

import hivemem
from hivemem.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def _demo(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["demo", *args]) == 0
    return capsys.readouterr().out


def _check(out: str) -> None:
    assert out.count("took the 'leader' lock (first-wins)") == 1
    assert out.count("lost the 'leader' lock: conflict (first_wins)") == 2
    assert out.count("subscribed to demo.tasks") == 3
    assert out.count("received broadcast from coordinator") == 3
    assert "observer     tried to overwrite demo.results/task-1: permission_denied" in out
    assert "Tasks: {'done': 6}; counter 'done' = 6" in out
    assert "Access log (" in out
    assert "demo finished: ok" in out


def test_demo_on_a_sqlite_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    _check(_demo(capsys, "--store", url))
    with hivemem.connect(url) as mem:
        assert mem.read("demo.counters", "done") == 6
        assert len(mem.get_all("demo.results")) == 6
        assert {t["status"] for t in mem.get_all("demo.tasks").values()} == {"done"}
        assert mem.get_namespace("demo.tasks").conflict_strategy == "merge"


def test_demo_runs_again_on_the_same_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "again.db"
    _demo(capsys, "--store", str(path))  # a plain path means a SQLite file
    out = _demo(capsys, "--store", str(path))
    assert "removed the namespaces of an earlier run" in out
    _check(out)


def test_demo_defaults_to_hivemem_db_here(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HIVEMEM_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    _check(_demo(capsys))
    assert (tmp_path / "hivemem.db").exists()


def test_demo_on_memory(capsys: pytest.CaptureFixture[str]) -> None:
    _check(_demo(capsys, "--store", "memory://"))


def test_demo_reports_a_bad_store_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--store", "nosuch://x"]) == 1
    assert "invalid_argument" in capsys.readouterr().err
