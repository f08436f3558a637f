"""``hivemem ns|put|get|del|ls|log|stats``: a round trip, embedded and through a server."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem.cli import main

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.cli.conftest import Server


@pytest.fixture(params=["sqlite", "http"])
def where(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[list[str]]:
    """Store arguments: a SQLite file used directly, or a server over one (admin token)."""
    if request.param == "sqlite":
        yield ["--url", sqlite_url, "--agent", "admin"]
        return
    server: Server = request.getfixturevalue("server")
    assert server.admin_token is not None
    yield ["--url", server.url, "--token", server.admin_token]


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _fails(capsys: pytest.CaptureFixture[str], status: int, code: str, *argv: str) -> None:
    assert main(list(argv)) == status
    assert capsys.readouterr().err.startswith(f"error: {code}: ")


def test_round_trip(where: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    info = _json(
        capsys, "ns", "create", "team", "--strategy", "merge", "--perm", "auditor=read", *where
    )
    assert info["conflict_strategy"] == "merge"
    assert info["permissions"]["auditor"] == "read"
    assert "team" in [n["name"] for n in _json(capsys, "ns", "list", *where)]
    assert _json(capsys, "ns", "show", "team", *where)["created_by"] == "admin"

    entry = _json(capsys, "put", "team", "task-1", '{"status": "open"}', *where)
    assert (entry["value"], entry["owner"], entry["version"]) == ({"status": "open"}, "admin", 1)
    _json(capsys, "put", "team", "task-1", '{"score": 2}', "--expected-version", "1", *where)
    _json(capsys, "put", "team", "note", '"hello"', "--ttl", "3600", *where)
    got = _json(capsys, "get", "team", "task-1", *where)
    assert (got["value"], got["version"]) == ({"status": "open", "score": 2}, 2)
    assert _json(capsys, "get", "team", "note", *where)["expires_at"] is not None

    page = _json(capsys, "ls", "team", "--prefix", "task-", *where)
    assert [e["key"] for e in page["items"]] == ["task-1"] and page["next_cursor"] is None
    first = _json(capsys, "ls", "team", "--limit", "1", *where)
    assert [e["key"] for e in first["items"]] == ["note"] and first["next_cursor"]

    assert main(["ls", "team", *where]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["KEY", "VALUE", "OWNER", "VERSION", "UPDATED", "EXPIRES"]
    assert lines[2].startswith("task-1  ")

    _fails(capsys, 6, "conflict", "put", "team", "task-1", "1", "--expected-version", "1", *where)
    _fails(capsys, 7, "invalid_argument", "put", "team", "k", "not json", *where)
    assert _json(capsys, "del", "team", "task-1", *where)["deleted"] is True
    _fails(capsys, 3, "not_found", "get", "team", "task-1", *where)
    _fails(capsys, 3, "not_found", "del", "team", "task-1", *where)
    _fails(capsys, 3, "namespace_not_found", "ls", "nowhere", *where)

    log = _json(capsys, "log", "--namespace", "team", "--action", "write", *where)
    assert [r["action"] for r in log] == ["write"] * 4
    assert [r["success"] for r in log] == [False, True, True, True]  # newest first
    failed = _json(capsys, "log", "--namespace", "team", "--success", "false", *where)
    assert failed and not any(r["success"] for r in failed)
    assert "permission_denied" not in {r["error"] for r in failed}  # the CAS conflict

    stats = _json(capsys, "stats", *where)
    assert stats["per_namespace"]["team"]["entries"] == 1
    assert main(["stats", *where]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["STAT", "VALUE"]

    assert _json(capsys, "ns", "clear", "team", *where)["cleared"] == 1
    assert _json(capsys, "ns", "delete", "team", *where)["deleted"] is True
    _fails(capsys, 3, "namespace_not_found", "ns", "show", "team", *where)


def test_permissions_hold_for_the_acting_agent(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--url", sqlite_url]
    _json(capsys, "ns", "create", "locked", "--default-permission", "read", *store, "--agent", "a")
    _fails(capsys, 4, "permission_denied", "put", "locked", "k", "1", *store, "--agent", "b")
    _json(capsys, "put", "locked", "k", "1", *store, "--agent", "a")
    assert _json(capsys, "get", "locked", "k", *store, "--agent", "b")["value"] == 1


def test_agent_token_cannot_act_as_another_agent(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    assert server.admin_token is not None
    admin = ["--url", server.url, "--token", server.admin_token]
    assert main(["token", "create", "worker", *admin]) == 0
    worker = capsys.readouterr().out.strip()
    entry = _json(capsys, "put", "default", "k", "1", "--url", server.url, "--token", worker)
    assert entry["owner"] == "worker"
    _fails(
        capsys,
        4,
        "permission_denied",
        *["put", "default", "k", "2", "--url", server.url, "--token", worker, "--agent", "boss"],
    )


def test_unreachable_server_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    from hivemem.testing.server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    status = main(["stats", "--url", url, "--token", "hm_x"])
    assert status == 10
    assert capsys.readouterr().err.startswith("error: backend_unavailable: ")


def test_value_from_stdin_and_file(
    where: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    # Far beyond one command-line argument's limit (128 KiB on Linux), under the 1 MiB default.
    big = {"text": "x" * 900_000, "n": 1}
    data = json.dumps(big).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert _json(capsys, "put", "files", "from-stdin", "-", *where)["version"] == 1
    path = tmp_path / "value.json"
    path.write_bytes(data)
    assert _json(capsys, "put", "files", "from-file", f"@{path}", *where)["version"] == 1
    for key in ("from-stdin", "from-file"):
        assert _json(capsys, "get", "files", key, *where)["value"] == big

    path.write_bytes(json.dumps({"text": "y" * 2_200_000}).encode())
    _fails(capsys, 7, "too_large", "put", "files", "huge", f"@{path}", *where)
    _fails(capsys, 7, "invalid_argument", "put", "files", "k", f"@{tmp_path}/missing", *where)
    path.write_bytes(b"{not json")
    _fails(capsys, 7, "invalid_argument", "put", "files", "k", f"@{path}", *where)
    assert main(["get", "files", "huge", *where]) == 3


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"hivemem {hivemem.__version__}"


def test_history_and_get_as_of(where: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """``hivemem history NS KEY`` lists versions newest first (deletions marked);
    ``get --as-of REV`` reads the entry as it was then."""
    first = _json(capsys, "put", "hist", "k", '"one"', *where)
    _json(capsys, "put", "hist", "k", '"two"', *where)
    _json(capsys, "del", "hist", "k", *where)
    versions = _json(capsys, "history", "hist", "k", *where)["versions"]
    assert [(v["value"], v["version"], v["deleted"]) for v in versions] == [
        (None, 2, True),
        ("two", 2, False),
        ("one", 1, False),
    ]
    older = _json(capsys, "history", "hist", "k", "--before", str(versions[1]["revision"]), *where)
    assert [v["value"] for v in older["versions"]] == ["one"]
    got = _json(capsys, "get", "hist", "k", "--as-of", str(first["revision"]), *where)
    assert (got["value"], got["version"]) == ("one", 1)
    assert main(["history", "hist", "k", "--limit", "2", *where]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[0].split() == ["REVISION", "VERSION", "VALUE", "AGENT", "UPDATED"]
    assert "(deleted)" in out.out.splitlines()[1]
    assert f"more: --before {versions[1]['revision']}" in out.err
    _fails(capsys, 7, "invalid_argument", "get", "hist", "k", "--as-of", "soon", *where)
