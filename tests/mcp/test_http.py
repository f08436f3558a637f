"""``/mcp`` on the server (streamable HTTP): bearer tokens, permissions and audit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from _mcp_clients import TOOL_NAMES, call, fail, http_session
from starlette.testclient import TestClient

from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Site

#: What a plain HTTP client sends to a streamable HTTP MCP endpoint.
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


async def test_http_lists_tools_writes_reads_and_searches(site: Site) -> None:
    """The SDK client over streamable HTTP: tools, an entry, messages; all as the token's agent."""
    async with http_session(site.url, site.token("a1")) as s:
        tools = (await s.list_tools()).tools
        assert {t.name for t in tools} == TOOL_NAMES
        assert all(t.input_schema["type"] == "object" for t in tools)

        written = await call(s, "write", namespace="team", key="plan", value=[1, 2], ttl=3600)
        assert written["owner"] == "a1" and written["expires_at"] is not None
        assert (await call(s, "read", namespace="team", key="plan"))["value"] == [1, 2]
        names = [n["name"] for n in (await call(s, "list_namespaces"))["namespaces"]]
        assert "team" in names

        for text in ("Deploy at noon", "Tests are green", "deploy done"):
            await call(s, "add_message", conversation_id="ops", role="user", content=text)
        found = await call(s, "search_messages", conversation_id="ops", query="DEPLOY", limit=1)
        assert [m["content"] for m in found["messages"]] == ["deploy done"]
        assert found["total_matches"] == 2
        every = await call(s, "get_messages", conversation_id="ops")
        assert [m["content"] for m in every["messages"]] == [
            "Deploy at noon",
            "Tests are green",
            "deploy done",
        ]
        event = await call(s, "broadcast", namespace="team", message={"ping": 1})
        assert (event["type"], event["agent_id"]) == ("memory:broadcast", "a1")
        assert (await call(s, "delete", namespace="team", key="plan"))["deleted"] is True

    with site.http() as http:
        assert http.get("/v1/namespaces/team/entries/plan").status_code == 404
    records = site.audit(agent_id="a1", namespace="team")
    actions = {(r["action"], r["key"]) for r in records if r["success"]}
    assert {("write", "plan"), ("read", "plan"), ("delete", "plan")} <= actions
    assert {r["agent_id"] for r in site.audit(namespace="conversations")} == {"a1"}


async def test_agent_without_write_permission_gets_a_tool_error(site: Site) -> None:
    """A read-only agent's write is a tool error (permission_denied) and writes nothing."""
    with site.http() as http:
        body = {"name": "ro", "default_permission": "read"}
        assert http.post("/v1/namespaces", json=body).status_code == 201
        assert http.put("/v1/namespaces/ro/entries/seen", json={"value": 1}).status_code == 200
    async with http_session(site.url, site.token("reader")) as s:
        assert (await call(s, "read", namespace="ro", key="seen"))["value"] == 1
        error = await fail(s, "write", namespace="ro", key="new", value={"x": 1})
        assert error["code"] == "permission_denied"
        assert (await fail(s, "delete", namespace="ro", key="seen"))["code"] == "permission_denied"
        assert (await fail(s, "broadcast", namespace="ro", message="hi"))["code"] == (
            "permission_denied"
        )
        assert (await call(s, "read", namespace="ro", key="new"))["found"] is False
    with site.http() as http:
        assert http.get("/v1/namespaces/ro/entries/new").status_code == 404
        assert http.get("/v1/namespaces/ro/entries/seen").json()["value"] == 1
    refused = [r for r in site.audit(agent_id="reader", namespace="ro") if not r["success"]]
    assert {(r["action"], r["key"]) for r in refused} >= {("write", "new"), ("delete", "seen")}


async def test_admin_token_acts_as_admin(site: Site) -> None:
    """An admin token's calls run as admin, as on the HTTP API: it reads a private namespace."""
    with site.http() as http:
        body = {"name": "vault", "default_permission": None}
        assert http.post("/v1/namespaces", json=body).status_code == 201
    async with http_session(site.url, site.token("outsider")) as s:
        assert (await fail(s, "read", namespace="vault", key="k"))["code"] == "permission_denied"
    async with http_session(site.url, site.admin) as s:
        assert (await call(s, "write", namespace="vault", key="k", value=1))["owner"] == "root"


async def test_tool_errors_are_results_not_crashes(site: Site) -> None:
    """Unknown tools, bad arguments and bad names answer isError with the hivemem code."""
    async with http_session(site.url, site.token("a1")) as s:
        assert (await fail(s, "nope"))["code"] == "not_found"
        assert (await fail(s, "read", namespace="team"))["code"] == "invalid_argument"
        assert (await fail(s, "read", namespace="team", key="k", extra=1))["code"] == (
            "invalid_argument"
        )
        assert (await fail(s, "read", namespace="bad name!", key="k"))["code"] == (
            "invalid_argument"
        )
        assert (await fail(s, "write", namespace="t", key="k", value=1, ttl=-1))["code"] == (
            "invalid_argument"
        )
        assert (await fail(s, "get_messages", conversation_id="a/b"))["code"] == (
            "invalid_argument"
        )
        assert (await fail(s, "list_keys", namespace="t", limit=0))["code"] == "invalid_argument"
        # The session still works after every error.
        assert (await call(s, "write", namespace="t", key="k", value=1))["version"] == 1


def test_unauthenticated_requests_get_401(site: Site) -> None:
    """No token or an unknown one: 401 with the error JSON, before any MCP handling."""
    ping = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        response = httpx.post(f"{site.url}/mcp", json=ping, headers={**MCP_HEADERS, **headers})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
    # A token naming another agent in X-Agent-Id is refused, as on every route.
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {site.token('a1')}", "X-Agent-Id": "a2"}
    assert httpx.post(f"{site.url}/mcp", json=ping, headers=headers).status_code == 403


def test_lifespan_runs_the_session_manager(tmp_path: Path) -> None:
    """With the app's lifespan (as under ``hivemem serve``), /mcp serves and shuts down."""
    core = _open(f"sqlite:///{tmp_path}/store.db", None, None, {})
    try:
        app = create_app(core, ServerConfig(auth=True))
        token, _ = app.state.hub.tokens.create("a1", "agent")
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
        write = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "write", "arguments": {"namespace": "n", "key": "k", "value": 5}},
        }
        for _ in range(2):  # a second lifespan starts a fresh session manager
            with TestClient(app, base_url="http://127.0.0.1") as client:
                response = client.post("/mcp", json=write, headers=headers)
                assert response.status_code == 200, response.text
                result = response.json()["result"]
                assert not result.get("isError") and result["structuredContent"]["value"] == 5
    finally:
        core.close()


def test_no_auth_server_takes_the_agent_header(tmp_path: Path) -> None:
    """Without auth (loopback development), calls act as X-Agent-Id, as on every route."""
    core = _open(f"sqlite:///{tmp_path}/store.db", None, None, {})
    try:
        app = create_app(core, ServerConfig(auth=False))
        headers = {**MCP_HEADERS, "X-Agent-Id": "dev"}
        write = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "write", "arguments": {"namespace": "n", "key": "k", "value": 5}},
        }
        with TestClient(app, base_url="http://127.0.0.1:7700") as client:
            response = client.post("/mcp", json=write, headers=headers)
            assert response.json()["result"]["structuredContent"]["owner"] == "dev"
            # DNS rebinding protection: a page of another site cannot reach the tools.
            evil = {**headers, "Host": "evil.example:7700"}
            assert client.post("/mcp", json=write, headers=evil).status_code in (403, 421)
    finally:
        core.close()
