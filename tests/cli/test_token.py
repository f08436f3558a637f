"""``hivemem token``: create, list and revoke, on the store and through the server."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx

from hivemem.cli import main
from tests.cli.conftest import run_cli, serving

if TYPE_CHECKING:
    import pytest

    from tests.cli.conftest import Server


def _status(server: Server, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(server.url + "/v1/whoami", headers=headers, timeout=10).status_code


def test_tokens_on_the_store(sqlite_url: str) -> None:
    created = run_cli("token", "create", "alice", "--label", "ci", "--store", sqlite_url)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("hm_")  # only the token
    listed = run_cli("token", "list", "--store", sqlite_url, "--json")
    records = json.loads(listed.stdout)["tokens"]
    assert [(r["agent"], r["role"], r["label"]) for r in records] == [("alice", "agent", "ci")]
    assert token not in listed.stdout
    with serving(sqlite_url) as server:
        assert server.admin_token is None  # the store already had a token
        assert _status(server, token) == 200
        revoked = run_cli("token", "revoke", "alice", "--store", sqlite_url, "--json")
        assert [r["agent"] for r in json.loads(revoked.stdout)["revoked"]] == ["alice"]
        assert _status(server, token) == 401  # at once, on the running server
    again = run_cli("token", "revoke", "alice", "--store", sqlite_url)
    assert again.returncode == 3
    assert again.stderr.startswith("error: not_found: ")


def test_tokens_through_the_server(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    admin = server.admin_token
    assert admin is not None
    where = ["--url", server.url, "--token", admin]
    assert main(["token", "create", "bob", "--admin", *where]) == 0
    bob = capsys.readouterr().out.strip()
    assert _status(server, bob) == 200
    assert main(["token", "list", "--json", *where]) == 0
    records = json.loads(capsys.readouterr().out)["tokens"]
    assert {(r["agent"], r["role"]) for r in records} == {("admin", "admin"), ("bob", "admin")}
    bob_id = next(r["id"] for r in records if r["agent"] == "bob")
    assert main(["token", "list", *where]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["ID", "AGENT", "ROLE", "LABEL", "CREATED"]
    assert bob_id in table
    assert main(["token", "revoke", bob_id, *where]) == 0
    capsys.readouterr()
    assert _status(server, bob) == 401
    assert _status(server, admin) == 200


def test_token_commands_need_one_place_and_an_admin(
    server: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HIVEMEM_URL", raising=False)
    assert main(["token", "list"]) == 7
    assert "say where the tokens are" in capsys.readouterr().err
    assert main(["token", "list", "--url", server.url, "--store", "x.db"]) == 7
    assert "not both" in capsys.readouterr().err
    admin = server.admin_token
    assert admin is not None
    assert main(["token", "create", "carol", "--url", server.url, "--token", admin]) == 0
    carol = capsys.readouterr().out.strip()
    assert main(["token", "list", "--url", server.url, "--token", carol]) == 4
    assert capsys.readouterr().err.startswith("error: permission_denied: ")
    assert main(["token", "list", "--url", server.url, "--token", "hm_nope"]) == 5
    assert capsys.readouterr().err.startswith("error: unauthenticated: ")


def test_url_names_a_store_or_a_server_and_defaults_to_the_environment(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store URL in --url works on the store itself, as --store does.
    assert main(["token", "create", "dave", "--url", sqlite_url]) == 0
    capsys.readouterr()
    monkeypatch.setenv("HIVEMEM_URL", sqlite_url)
    assert main(["token", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["tokens"]
    assert [t["agent"] for t in listed] == ["dave"]
