"""``hivemem export|import``: a SQLite store moves to a fresh one unchanged, idempotently."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import hivemem
from hivemem.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def _fill(url: str) -> None:
    with hivemem.connect(url, agent="planner") as mem:
        mem.create_namespace(
            "results",
            default_permission="read",
            permissions={"worker-1": "write", "worker-2": "write"},
            conflict_strategy="merge",
            description="task results",
        )
        mem.create_namespace("locks", conflict_strategy="first-wins", max_entries=10)
        mem.create_namespace("secret", default_permission=None)  # only planner sees it
        mem.create_namespace("versioned", conflict_strategy="version")
        mem.write("results", "task-1", {"status": "done", "score": 0.9}, "worker-1")
        mem.write("results", "task-2", [1, "two", None, {"n": 3}], "worker-2")
        mem.write("locks", "deploy", "agent-a", "agent-a", ttl=3600)
        mem.write("secret", "key", "s3cr3t")
        mem.write("versioned", "v", 1, expected_version=0)
        for i in range(1200):  # more than one page
            mem.write("default", f"bulk/{i:05d}", {"i": i}, f"agent-{i % 7}")


def _snapshot(url: str) -> dict[str, Any]:
    with hivemem.connect(url) as mem:
        out: dict[str, Any] = {}
        for ns in mem.stats()["per_namespace"]:
            info = mem.as_agent("planner").get_namespace(ns) if ns != "default" else None
            op = mem._c.list_entries(ns, "planner", "", None, None)
            page = mem._run(dataclasses.replace(op, admin=True))  # every entry, as the owner
            out[ns] = {
                "config": None
                if info is None
                else {
                    k: v for k, v in info.to_dict().items() if k not in ("created_at", "revision")
                },
                "entries": {
                    e.key: (e.value, e.owner, None if e.expires_at is None else round(e.expires_at))
                    for e in page.items
                },
            }
        return out


def test_export_then_import_gives_identical_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    _fill(source)
    dump = tmp_path / "dump.jsonl"
    assert main(["export", "--url", source, "--out", str(dump), "--progress"]) == 0
    err = capsys.readouterr().err
    assert "export [" in err and "exported 5 namespaces, 1205 entries, " in err
    records = [json.loads(line) for line in dump.read_text().splitlines()]
    assert records[0]["kind"] == "header" and records[0]["version"] == 2
    assert records[-1]["kind"] == "end" and records[-1]["entries"] == 1205
    assert {r["kind"] for r in records} == {"header", "namespace", "entry", "event", "end"}

    assert main(["import", str(dump), "--url", target, "--json", "--progress"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert "import [" in err
    assert summary["entries_written"] == 1205 and summary["namespaces_restored"] == 5
    assert _snapshot(target) == _snapshot(source)
    again = tmp_path / "again.jsonl"
    assert main(["export", "--url", target, "--out", str(again)]) == 0
    capsys.readouterr()
    assert again.read_text().splitlines()[1:] == dump.read_text().splitlines()[1:]

    # Again: the store holds those namespaces now; nothing is written without --merge.
    assert main(["import", str(dump), "--url", target]) == 6
    assert "nothing was imported; pass --merge=skip" in capsys.readouterr().err
    assert main(["import", str(dump), "--url", target, "--json", "--merge", "skip"]) == 0
    skipped = json.loads(capsys.readouterr().out)
    assert skipped["namespaces_skipped"] == 5 and skipped["entries_written"] == 0
    assert main(["import", str(dump), "--url", target, "--json", "--merge", "overwrite"]) == 0
    replaced = json.loads(capsys.readouterr().out)
    assert replaced["namespaces_replaced"] == 5 and replaced["entries_written"] == 1205
    assert _snapshot(target) == _snapshot(source)


def test_version_1_files_are_still_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file of an older hivemem (format 1) is imported by ordinary, idempotent writes."""
    url = f"sqlite:///{tmp_path}/v1.db"
    lines = [
        {"kind": "header", "format": "hivemem-export", "version": 1},
        {"kind": "namespace", "name": "team", "default_permission": "read", "permissions": {}},
        {"kind": "entry", "namespace": "team", "key": "k", "value": 1, "owner": "y"},
        {"kind": "end", "namespaces": 1, "entries": 1},
    ]
    dump = tmp_path / "v1.jsonl"
    dump.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert main(["import", str(dump), "--url", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries_written"] == 1
    with hivemem.connect(url) as mem:
        entry = mem.get_entry("team", "k", "y")
        assert entry is not None and (entry.value, entry.owner) == (1, "y")


def test_import_skips_unknown_kinds_and_reports_conflicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    with hivemem.connect(url, agent="x") as mem:
        mem.create_namespace("locks", conflict_strategy="first-wins")
        mem.write("locks", "deploy", "mine")
    lines = [
        {"kind": "header", "format": "hivemem-export", "version": 1},
        {"kind": "memory", "text": "from a later version"},
        {
            "kind": "entry",
            "namespace": "locks",
            "key": "deploy",
            "value": "theirs",
            "owner": "y",
            "expires_at": None,
        },
        {
            "kind": "entry",
            "namespace": "locks",
            "key": "other",
            "value": 1,
            "owner": "y",
            "expires_at": None,
        },
    ]
    dump = tmp_path / "d.jsonl"
    dump.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert main(["import", str(dump), "--url", url]) == 6
    err = capsys.readouterr().err
    assert "skipped records of kind 'memory'" in err
    assert "no end record" in err
    assert "failed: entry locks/deploy: conflict: " in err
    assert err.rstrip().endswith("error: conflict: 1 record(s) could not be imported")
    with hivemem.connect(url) as mem:
        assert mem.get_all("locks", "x") == {"deploy": "mine", "other": 1}


def test_import_refuses_what_is_not_an_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "entry"}\n')
    assert main(["import", str(bad), "--url", "memory://"]) == 7
    assert "must start with a header" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "missing.jsonl"), "--url", "memory://"]) == 11
    assert capsys.readouterr().err.startswith("error: io_error: ")


def test_lists_move_through_export_and_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lists (conversation messages and list fields) come back as stored: same positions."""
    source, target = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    with hivemem.connect(source) as mem:
        conv = mem.conversation("c1")
        for i in range(5):
            conv.add_message("user", f"message {i}")
        conv.extend("todo", ["a", "b", "c", "d"])
        conv.pop("todo", 0)  # the head moved: positions no longer start at 0
        mem.write("conversations", "c/c1/f/todo/x", "under the list, not an item")
    dump = tmp_path / "dump.jsonl"
    assert main(["export", "--url", source, "--out", str(dump)]) == 0
    assert main(["import", str(dump), "--url", target, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["namespaces_restored"] == 2, summary
    with hivemem.connect(target) as mem:
        conv = mem.conversation("c1")
        assert [m.content for m in conv.get_messages()] == [f"message {i}" for i in range(5)]
        assert conv.get_list("todo") == ["b", "c", "d"]
        assert conv.append("todo", "e") == 4
        conv.pop("todo")
        assert mem.read("conversations", "c/c1/f/todo/x") == "under the list, not an item"
