"""``hivemem serve --log-format json``: every stderr line is JSON and names its request."""

from __future__ import annotations

import json

import httpx

from tests.cli.conftest import serving


def test_json_logs_parse_line_by_line_and_carry_the_request_id(sqlite_url: str) -> None:
    args = ("--log-format", "json", "--log-level", "info", "--access-log")
    with serving(sqlite_url, *args) as server:
        ok = httpx.get(server.url + "/healthz", headers={"X-Request-Id": "req-42"}, timeout=10)
        assert ok.headers["x-request-id"] == "req-42"
        refused = httpx.get(server.url + "/v1/namespaces", timeout=10)
        assert refused.status_code == 401
        minted = refused.headers["x-request-id"]
    assert server.proc.returncode == 0
    assert server.stderr_text is not None
    lines = [json.loads(line) for line in server.stderr_text.splitlines() if line.strip()]
    assert lines, "no log lines"
    for line in lines:
        assert {"ts", "level", "logger", "message"} <= set(line), line
    messages = [line["message"] for line in lines]
    assert any(m.startswith(f"hivemem: serving {server.url}") for m in messages), messages
    assert "hivemem: stopped" in messages
    access = {line.get("request_id"): line for line in lines if line["logger"] == "uvicorn.access"}
    assert access["req-42"]["path"] == "/healthz" and access["req-42"]["status"] == 200
    assert access[minted]["status"] == 401


def test_text_logs_stay_plain(sqlite_url: str) -> None:
    with serving(sqlite_url, "--log-level", "info") as server:
        pass
    assert server.stderr_text is not None
    assert "hivemem: serving" in server.stderr_text
    assert not server.stderr_text.lstrip().startswith("{")
