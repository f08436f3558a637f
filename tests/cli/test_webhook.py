"""``hivemem webhook add|ls|rm|deliveries`` on a store, and refusals with their exit codes."""

from __future__ import annotations

import json

from tests.cli.conftest import run_cli

URL = "http://93.184.216.34/hook"


def test_webhook_commands_on_the_store(sqlite_url: str) -> None:
    made = run_cli("ns", "create", "team", "--url", sqlite_url, "--agent", "alice")
    assert made.returncode == 0, made.stderr
    added = run_cli("webhook", "add", URL, "team", "--event", "memory:write",
                    "--url", sqlite_url, "--agent", "alice", "--json")  # fmt: skip
    assert added.returncode == 0, added.stderr
    hook = json.loads(added.stdout)
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["memory:write"]
    listed = run_cli("webhook", "ls", "--url", sqlite_url, "--agent", "alice", "--json")
    hooks = json.loads(listed.stdout)["webhooks"]
    assert [h["id"] for h in hooks] == [hook["id"]] and hooks[0]["secret"] is None
    nobody = run_cli("webhook", "ls", "--url", sqlite_url, "--agent", "bob", "--json")
    assert json.loads(nobody.stdout)["webhooks"] == []
    log = run_cli("webhook", "deliveries", hook["id"], "--url", sqlite_url, "--json")
    assert json.loads(log.stdout) == {"deliveries": []}
    denied = run_cli("webhook", "add", URL, "team", "--url", sqlite_url, "--agent", "bob")
    assert denied.returncode != 0 and denied.stderr.startswith("error: permission_denied: ")
    bad = run_cli("webhook", "add", "ftp://x/y", "team", "--url", sqlite_url)
    assert bad.returncode != 0 and bad.stderr.startswith("error: invalid_argument: ")
    removed = run_cli("webhook", "rm", hook["id"], "--url", sqlite_url, "--agent", "alice")
    assert removed.returncode == 0, removed.stderr
    again = run_cli("webhook", "rm", hook["id"], "--url", sqlite_url)
    assert again.returncode == 3 and again.stderr.startswith("error: not_found: ")
