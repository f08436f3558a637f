"""``hivemem lock`` and ``hivemem lease``: embedded on a SQLite file and through a server."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import pytest

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


def test_lock_acquire_info_release(where: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """acquire prints the hold; info shows it; a second acquire times out (exit 6)."""
    lk = _json(capsys, "lock", "acquire", "team", "deploy", "--ttl", "60", *where)
    assert lk["holder"] == "admin" and lk["namespace"] == "team"
    assert _json(capsys, "lock", "info", "team", "deploy", *where)["token"] == lk["token"]
    assert main(["lock", "acquire", "team", "deploy", "--wait", "0", *where]) == 6
    assert capsys.readouterr().err.startswith("error: lock_timeout: ")
    assert main(["lock", "release", "team", "deploy", str(lk["token"] + 1), *where]) == 3
    capsys.readouterr()
    assert _json(capsys, "lock", "release", "team", "deploy", str(lk["token"]), *where) == {
        "released": True
    }
    assert _json(capsys, "lock", "info", "team", "deploy", *where) is None


def test_lock_run_holds_while_the_command_runs(
    where: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    """lock run: the command runs holding the lock (token in its env); its status is ours."""
    out = tmp_path / "token"
    code = f"import os; open({str(out)!r}, 'w').write(os.environ['HIVEMEM_LOCK_TOKEN'])"
    status = main(["lock", "run", *where, "team", "job", "--", sys.executable, "-c", code])
    assert status == 0, capsys.readouterr().err
    assert int(out.read_text()) > 0
    assert main(["lock", "run", *where, "team", "job", "--", sys.executable, "-c", "exit(4)"]) == 4
    assert _json(capsys, "lock", "info", "team", "job", *where) is None


def test_lease_commands(where: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """grant, join, presence, keepalive, revoke; bad ttl exits 7, a gone lease 3."""
    lease = _json(capsys, "lease", "grant", "30", *where)
    assert _json(capsys, "lease", "join", "room", lease["id"], "--info", '{"r": 1}', *where)[
        "info"
    ] == {"r": 1}
    assert [p["agent_id"] for p in _json(capsys, "lease", "presence", "room", *where)] == ["admin"]
    assert _json(capsys, "lease", "keepalive", lease["id"], *where)["id"] == lease["id"]
    assert _json(capsys, "lease", "revoke", lease["id"], *where) == {"revoked": True}
    assert _json(capsys, "lease", "presence", "room", *where) == []
    assert main(["lease", "keepalive", lease["id"], *where]) == 3
    assert main(["lease", "grant", "-1", *where]) == 7
