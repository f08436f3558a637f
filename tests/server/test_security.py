"""Security of the server (issue 3, acceptance 2; RELIABILITY.md T10), auth on, real sockets.

- No route reads or changes anything without a valid token (every route of the app).
- A token cannot act as another agent by any request field or header, nor through the
  Python client.
- Every route x every permission level answers the exact status, and refused requests
  change nothing.
- Other namespaces' events, audit records and stats stay invisible; the reserved token
  namespace never shows anywhere.
- Revocation holds at once on every server process over one store; tokens are stored hashed;
  event streams per token are capped.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from _security_site import ADMIN, DEADLINE, MAX_STREAMS, ServerProcess, Site, mint_admin, open_core
from starlette.routing import Route

import hivemem
from hivemem.errors import PermissionDenied
from hivemem.server import ServerConfig, create_app
from hivemem.server.auth import TOKENS_NAMESPACE
from hivemem.testing.server import ServerThread

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: The only routes that answer without a token.
#: The web UI's page and static files hold no data: they need no token (the UI's API calls do).
PUBLIC = {
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/docs",
    "/docs/assets/{name}",
    "/",
    "/ui/{name}",
}
#: Routes that speak another protocol than the JSON API: MCP over streamable HTTP. Its tool
#: calls need a token and run as the token's agent (tests/mcp covers them per permission).
NOT_REST = {"/mcp"}
#: The agent whose token the tests use, and another it tries to act as.
AGENT = "alice"
OTHER = "bob"
#: The namespace the table-driven cases act on.
NS = "ns1"
SEED = {"k1": "one", "k2": {"n": 2}}


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def security_server() -> Iterator[ServerThread]:
    """One real uvicorn server for the module; each test mounts its own app on it."""
    with ServerThread() as s:
        yield s


@pytest.fixture
def site(security_server: ServerThread, tmp_path: Path) -> Iterator[Site]:
    """A fresh SQLite store behind an app with auth on, and an admin token for it."""
    db = tmp_path / "store.db"
    core = open_core(db, durability="normal")  # no fsync per write: these tests write a lot
    app = create_app(core, ServerConfig(auth=True, max_streams_per_token=MAX_STREAMS))
    url = security_server.mount(app)
    admin = mint_admin(core)
    try:
        with httpx.Client(timeout=DEADLINE) as http:
            yield Site(url, db, core, app, admin, http)
    finally:
        security_server.unmount(url)
        core.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[tuple[str, list[ServerProcess]]]:
    """Two server processes over one SQLite file, and an admin token for them (both are
    stopped by pid afterwards)."""
    db = tmp_path / "shared.db"
    core = open_core(db)
    try:
        admin = mint_admin(core)
    finally:
        core.close()
    procs: list[ServerProcess] = []
    try:
        procs.append(ServerProcess(db))
        procs.append(ServerProcess(db))
        for p in procs:
            p.wait_ready()
        yield admin, procs
    finally:
        for p in procs:
            p.stop()


# ---------------------------------------------------------------------- helpers
def app_routes(site: Site) -> list[tuple[str, str]]:
    """Every (method, path template) the app serves, HEAD aside."""
    found = []
    for route in site.app.routes:
        assert isinstance(route, Route), f"unexpected route type {route!r}: cover it here"
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            found.append((method, route.path))
    return found


def concrete(site: Site, path: str, ns: str = NS, fill: dict[str, str] | None = None) -> str:
    """A route template with its parameters filled by real names of ``site``."""
    victim = site.token("victim")
    values = {
        "{ns}": ns,
        "{key:path}": "k1",
        "{token_id}": site.token_id(victim),
        "{cid}": "c1",
        "{name}": "f1",
        "{type}": "user",
        "{id}": "u1",
        "{rid}": "m1",
        "{parent_id}": "m1",
        "{gid}": "g1",
        "{session_id}": "s1",
        "{hook_id}": "wh_none",
        "{queue}": "jobs",
        "{task_id}": "ab" * 16,
        **(fill or {}),
    }
    if path.startswith("/ui/"):
        values["{name}"] = "app.js"  # a static file of the web UI
    if path.startswith("/docs/assets/"):
        values["{name}"] = "init.js"  # a file of the API docs page
    for name, value in values.items():
        path = path.replace(name, value)
    assert "{" not in path, f"fill the parameters of {path} in concrete()"
    return path


#: A well-formed body per route (so that only the token decides the answer).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/namespaces"): {"name": "fresh"},
    ("PATCH", "/v1/namespaces/{ns}"): {"description": "changed"},
    ("PUT", "/v1/namespaces/{ns}/permissions"): {"permissions": {"mallory": "admin"}},
    ("PUT", "/v1/namespaces/{ns}/entries/{key:path}"): {"value": "changed"},
    ("POST", "/v1/namespaces/{ns}/batch"): {"ops": [{"op": "put", "key": "k1", "value": 0}]},
    ("POST", "/v1/namespaces/{ns}/broadcast"): {"message": "hello"},
    ("POST", "/v1/tokens"): {"agent": "mallory", "role": "admin"},
    ("POST", "/v1/webhooks"): {"url": "http://93.184.216.34/x", "namespaces": [NS]},
    ("POST", "/shared-memory"): {"key": "k1", "value": "changed", "owner": AGENT},
}


@dataclass
class Answer:
    """Status, content type and body (not read for event streams) of one request."""

    status: int
    content_type: str
    body: Any
    challenge: str | None = None  # WWW-Authenticate

    @property
    def code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            code: str = self.body["error"]["code"]
            return code
        return None


def send(
    site: Site,
    method: str,
    path: str,
    token: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    raw_auth: str | None = None,
) -> Answer:
    """One request; an event stream is closed as soon as its headers arrive."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if raw_auth is not None:
        sent["Authorization"] = raw_auth
    with site.http.stream(method, site.url + path, headers=sent, json=json) as resp:
        kind = resp.headers.get("content-type", "")
        challenge = resp.headers.get("www-authenticate")
        if kind.startswith("text/event-stream"):
            return Answer(resp.status_code, kind, None, challenge)
        resp.read()
    body: Any = resp.json() if kind.startswith("application/json") else resp.text
    return Answer(resp.status_code, kind, body, challenge)


def body_for(method: str, path: str) -> Any:
    return BODIES.get((method, path))


# ---------------------------------------------------------------------- no valid token
def _bad_credentials(site: Site) -> dict[str, tuple[dict[str, str], str]]:
    """Ways to send no valid token: name -> (headers, query string)."""
    revoked = site.token(AGENT)
    site.revoke(revoked)
    unknown = "hm_" + "A" * 43
    digest = hashlib.sha256(site.admin.encode()).hexdigest()
    bearer = {
        "scheme only": "Bearer",
        "basic scheme": f"Basic {site.admin}",
        "token scheme": f"Token {site.admin}",
        "no scheme": site.admin,
        "extra words": f"Bearer {site.admin} {site.admin}",
        "truncated": f"Bearer {site.admin[:-1]}",
        "prefix missing": f"Bearer {site.admin[3:]}",
        "digest as token": f"Bearer {digest}",
        "too long": f"Bearer {site.admin}{'x' * 300}",
        "unknown": f"Bearer {unknown}",
        "revoked": f"Bearer {revoked}",
    }
    cases: dict[str, tuple[dict[str, str], str]] = {
        "no token": ({}, ""),
        "empty header": ({"Authorization": ""}, ""),
        "agent header only": ({"X-Agent-Id": ADMIN, "X-Hivemem-Admin": "1"}, ""),
        "agent query only": ({}, f"agent={ADMIN}"),
        "token in query": ({}, f"token={site.admin}&access_token={site.admin}"),
    }
    for name, value in bearer.items():
        cases[name] = ({"Authorization": value}, "")
    return cases


def test_every_route_but_the_public_ones_needs_a_valid_token(site: Site) -> None:
    site.namespace(NS, "write", entries=SEED)
    routes = app_routes(site)
    paths = {path for _, path in routes}
    assert {"/healthz", "/readyz"} <= paths
    credentials = _bad_credentials(site)
    requests = [
        (method, path, concrete(site, path), body_for(method, path)) for method, path in routes
    ]
    before = site.snapshot()
    public = set()
    for method, path, url, body in requests:
        for what, (headers, query) in credentials.items():
            target = f"{url}?{query}" if query else url
            answer = send(site, method, target, headers=headers, json=body)
            if path in PUBLIC:
                public.add(path)
                assert answer.status == 200, (method, path, what, answer)
                continue
            assert answer.status == 401, (method, path, what, answer)
            assert answer.code == "unauthenticated", (method, path, what, answer)
            # RFC 6750: a missing token is challenged plainly, a bad one as invalid_token.
            sent = headers.get("Authorization", "").strip()
            assert answer.challenge == (
                'Bearer realm="hivemem", error="invalid_token"'
                if sent
                else 'Bearer realm="hivemem"'
            ), (method, path, what, answer)
            assert site.admin not in str(answer.body)
    assert public == PUBLIC & paths
    assert site.snapshot() == before


# ---------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Spec:
    """One request of the table: what it needs and what it answers when allowed."""

    name: str
    method: str
    route: str
    needs: str  # "read" | "write" | "admin" (on the namespace) | "server-admin" | "any"
    ok: int = 200
    json: Any = None
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    ns: str = NS
    batch: bool = False  # not atomic: 200 with a refusal per op
    fill: dict[str, str] = field(default_factory=dict)  # path parameters other than defaults


JSON_ACCEPT = {"Accept": "application/json"}
_E = "/v1/namespaces/{ns}/entries/{key:path}"
_B = "/v1/namespaces/{ns}/batch"
_EV = "/v1/namespaces/{ns}/events"
_GETS = [{"op": "get", "key": "k1"}, {"op": "get", "key": "k2"}]
_PUTS = [{"op": "put", "key": "k1", "value": 1}, {"op": "put", "key": "k9", "value": 9}]

_L = "/v1/namespaces/{ns}/lists/{key:path}"
_L1 = {"{key:path}": "l1"}
_EXP = {"prefix": "k", "ttl": 60}
_PFX = {"prefix": "k"}
_C = "/v1/conversations/{cid}"
_CQ = f"namespace={NS}"
_VAL = {"value": 1}
_MSG = {"role": "user", "content": "hi"}
_DATA = {"data": {"a": 1}}
_M = "/v1/namespaces/{ns}/memories"
_NEW = {"content": "a fresh memory", "tier": "medium", "importance": 0.2}
_FORGET = {"forget": {"below": 0.05, "action": "archive"}}
_SEM = {"query": "a small cat", "k": 3, "filters": {"include_forgotten": False}}
_REL = {"source_id": "<r2>", "target_id": "<r1>", "relationship_type": "b", "strength": 0.5}
_KIDS = "limit=5&sort_field=importance&sort_order=asc"
_SES = {"user_id": "u1", "session_type": "chat", "metadata": {"a": 1}}
_HOOK = {"url": "http://93.184.216.34/x", "namespaces": [NS]}
_NSP = "/v1/namespaces/{ns}"
_Q = "/v1/namespaces/{ns}/queues/{queue}"
_TICKET = "ab" * 12
_LEASE = {"lease_id": f"{NS}/{'cd' * 16}"}  # a lease that does not exist: 404 when allowed
_TXN = {"success": [{"op": "write", "namespace": NS, "key": "t1", "value": 1}]}

SPECS = [
    Spec("ns-get", "GET", "/v1/namespaces/{ns}", "read"),
    Spec("ns-patch", "PATCH", "/v1/namespaces/{ns}", "admin", json={"description": "x"}),
    Spec(
        "ns-patch-perm",
        "PATCH",
        "/v1/namespaces/{ns}",
        "admin",
        json={"default_permission": "admin"},
    ),
    Spec("ns-delete", "DELETE", "/v1/namespaces/{ns}", "admin"),
    Spec("ns-clear", "POST", "/v1/namespaces/{ns}/clear", "admin"),
    Spec("dump-entries", "GET", "/v1/namespaces/{ns}/dump/entries", "admin"),
    Spec("dump-events", "GET", "/v1/namespaces/{ns}/dump/events", "admin", query="since=0"),
    Spec("restore", "POST", "/v1/namespaces/{ns}/restore", "server-admin", json={}),
    Spec(
        "ns-permissions",
        "PUT",
        "/v1/namespaces/{ns}/permissions",
        "admin",
        json={"permissions": {AGENT: "admin"}},
    ),
    Spec("entries-list", "GET", "/v1/namespaces/{ns}/entries", "read"),
    Spec("entries-list-prefix", "GET", "/v1/namespaces/{ns}/entries", "read", query="prefix=k"),
    Spec("entry-get", "GET", _E, "read"),
    Spec("exists", "GET", "/v1/namespaces/{ns}/exists/{key:path}", "read"),
    Spec("history", "GET", "/v1/namespaces/{ns}/history/{key:path}", "read"),
    Spec("read-as-of", "GET", "/v1/namespaces/{ns}/as_of/{key:path}", "read", query="revision=1"),
    Spec("list-as-of", "GET", "/v1/namespaces/{ns}/as_of", "read", query="revision=1"),
    Spec("entry-put", "PUT", _E, "write", json={"value": "changed"}),
    Spec("entry-put-cas", "PUT", _E, "write", json={"value": "c", "expected_version": 1}),
    Spec("entry-delete", "DELETE", _E, "write"),
    Spec("batch-get", "POST", _B, "read", json={"ops": _GETS}, batch=True),
    Spec("batch-put", "POST", _B, "write", json={"ops": _PUTS}, batch=True),
    Spec(
        "batch-delete",
        "POST",
        _B,
        "write",
        json={"ops": [{"op": "delete", "key": "k1"}]},
        batch=True,
    ),
    Spec(
        "batch-mixed",
        "POST",
        _B,
        "write",
        json={"ops": [{"op": "put", "key": "k1", "value": 1}, {"op": "delete", "key": "k2"}]},
        batch=True,
    ),
    Spec("batch-get-atomic", "POST", _B, "read", json={"ops": _GETS, "atomic": True}),
    Spec("batch-put-atomic", "POST", _B, "write", json={"ops": _PUTS, "atomic": True}),
    Spec("broadcast", "POST", "/v1/namespaces/{ns}/broadcast", "write", json={"message": "hi"}),
    Spec("events-sse", "GET", _EV, "read"),
    Spec("events-sse-since", "GET", _EV, "read", query="since=0"),
    Spec("events-sse-resume", "GET", _EV, "read", headers={"Last-Event-ID": "1"}),
    Spec("events-json", "GET", _EV, "read", query="since=0", headers=JSON_ACCEPT),
    Spec("events-probe", "GET", _EV, "read", headers=JSON_ACCEPT),
    Spec(
        "events-probe-subscribe", "GET", _EV, "read", query="probe=subscribe", headers=JSON_ACCEPT
    ),
    Spec("registry-get", "GET", "/shared-memory", "read", ns="default"),
    Spec(
        "registry-post",
        "POST",
        "/shared-memory",
        "write",
        ns="default",
        json={"key": "k1", "value": "v", "owner": AGENT},
    ),
    Spec("ns-list", "GET", "/v1/namespaces", "any"),
    Spec("ns-create", "POST", "/v1/namespaces", "any", ok=201, json={"name": "fresh"}),
    Spec("audit", "GET", "/v1/audit", "any"),
    Spec("audit-ns", "GET", "/v1/audit", "any", query=f"namespace={NS}"),
    Spec("stats", "GET", "/v1/stats", "any"),
    Spec("whoami", "GET", "/v1/whoami", "any"),
    Spec("metrics", "GET", "/metrics", "server-admin"),
    Spec("sweep", "POST", "/v1/sweep", "server-admin"),
    Spec("tokens-list", "GET", "/v1/tokens", "server-admin"),
    Spec("tokens-create", "POST", "/v1/tokens", "server-admin", ok=201, json={"agent": "mallory"}),
    Spec(
        "tokens-create-admin",
        "POST",
        "/v1/tokens",
        "server-admin",
        ok=201,
        json={"agent": AGENT, "role": "admin"},
    ),
    Spec("tokens-revoke", "DELETE", "/v1/tokens/{token_id}", "server-admin"),
    # Lists and prefixes (a fresh list "l1"; pop/remove on it find nothing: 409/404 once
    # allowed, 403 before that).
    *(
        Spec(f"list-{verb}", "POST", f"{_L}/{verb}", "write", ok=ok, json=body, fill=_L1)
        for verb, body, ok in (
            ("push", {"items": [1, 2]}, 200),
            ("insert", {"index": 0, "item": 0}, 200),
            ("pop", {}, 409),
            ("remove", {"item": 7}, 404),
        )
    ),
    Spec("list-items", "GET", f"{_L}/items", "read", fill=_L1),
    Spec("prefix-expire", "POST", "/v1/namespaces/{ns}/prefix/expire", "write", json=_EXP),
    Spec("prefix-delete", "POST", "/v1/namespaces/{ns}/prefix/delete", "write", json=_PFX),
    # Conversations, in the table's namespace (?namespace=).
    Spec("convs-list", "GET", "/v1/conversations", "read", query=_CQ),
    Spec("conv-show", "GET", _C, "read", query=_CQ),
    Spec("conv-delete", "DELETE", _C, "write", query=_CQ),
    Spec("conv-field-get", "GET", f"{_C}/fields/{{name}}", "read", ok=404, query=_CQ),
    Spec("conv-field-put", "PUT", f"{_C}/fields/{{name}}", "write", query=_CQ, json=_VAL),
    Spec("conv-field-delete", "DELETE", f"{_C}/fields/{{name}}", "write", query=_CQ),
    Spec("conv-messages", "GET", f"{_C}/messages", "read", query=_CQ),
    Spec("conv-message-add", "POST", f"{_C}/messages", "write", ok=201, query=_CQ, json=_MSG),
    Spec("conv-list", "GET", f"{_C}/lists/{{name}}", "read", query=_CQ),
    *(
        Spec(
            f"conv-list-{verb}",
            "POST",
            f"{_C}/lists/{{name}}/{verb}",
            "write",
            ok=ok,
            query=_CQ,
            json=body,
        )
        for verb, body, ok in (
            ("append", {"item": 1}, 200),
            ("extend", {"items": [1]}, 200),
            ("insert", {"index": 0, "item": 1}, 200),
            ("pop", {}, 409),
            ("remove", {"item": 7}, 404),
        )
    ),
    Spec("conv-ttl", "PUT", f"{_C}/ttl", "write", query=_CQ, json={"seconds": 60}),
    # Entities and tool usage live in their own namespaces; the summary reads what it may.
    Spec("entities-list", "GET", "/v1/entities/{type}", "read", ns="entities"),
    Spec("entity-get", "GET", "/v1/entities/{type}/{id}", "read", ok=404, ns="entities"),
    Spec("entity-put", "PUT", "/v1/entities/{type}/{id}", "write", ns="entities", json=_DATA),
    Spec("entity-delete", "DELETE", "/v1/entities/{type}/{id}", "write", ns="entities"),
    Spec("tool-usage", "GET", "/v1/tool-usage", "read", ns="tool_usage"),
    Spec(
        "tool-usage-add",
        "POST",
        "/v1/tool-usage",
        "write",
        ok=201,
        ns="tool_usage",
        json={"tool": "calc", "args": [1]},
    ),
    Spec("summary", "GET", "/v1/summary", "any"),
    # Long-term memories (seeded by seed_memories(): <r1>, its child <r2>, a relationship
    # r1 -> r2, group <g1> holding r1) and sessions (namespace sessions, seeded <s1>).
    Spec("memory-add", "POST", _M, "write", ok=201, json={"content": "new", "tags": ["t"]}),
    Spec("memory-get", "GET", f"{_M}/{{rid}}", "read"),
    Spec("memory-update", "PATCH", f"{_M}/{{rid}}", "write", json={"importance": 0.9}),
    Spec("memory-delete", "DELETE", f"{_M}/{{rid}}", "write"),
    Spec("memory-delete-keep", "DELETE", f"{_M}/{{rid}}", "write", query="cascade=false"),
    Spec("memory-search", "POST", f"{_M}/search", "read", json={"query": "cat"}),
    Spec(
        "memory-search-filters",
        "POST",
        f"{_M}/search",
        "read",
        json={"query": "cat", "tags": "pets", "filters": {"tier": ["short"]}, "limit": 5},
    ),
    Spec("memory-semantic-search", "POST", f"{_M}/semantic-search", "read", json=_SEM),
    # Provenance and boosts (issue 16): filters and boosts change what ranks, not who reads.
    Spec(
        "memory-semantic-search-boosts",
        "POST",
        f"{_M}/semantic-search",
        "read",
        json={**_SEM, "boosts": {"source": {"run_id": "r1"}, "tags": ["t"], "weight": 0.5}},
    ),
    Spec(
        "memory-search-provenance",
        "POST",
        f"{_M}/search",
        "read",
        json={"query": "cat", "filters": {"source": {"run_id": "r1"}, "occurred_after": 0}},
    ),
    Spec(
        "memory-add-provenance",
        "POST",
        _M,
        "write",
        ok=201,
        json={"content": "new", "source": {"run_id": "r1"}, "occurred_at": 1_700_000_000},
    ),
    Spec(
        "memory-timeline",
        "POST",
        f"{_M}/timeline",
        "read",
        json={"filters": {"tier": ["short", "archived"]}, "limit": 5, "include_superseded": True},
    ),
    Spec("memory-add-many", "POST", f"{_M}/batch", "write", json={"memories": [_NEW, _NEW]}),
    Spec("memory-get-many", "POST", f"{_M}/batch-get", "read", json={"ids": ["<r2>", "<r1>"]}),
    Spec("memory-relate", "POST", f"{_M}/relationships", "write", json=_REL),
    # A pass changes nothing without a forgetting policy: still a write, even for a reader.
    Spec("memory-decay", "POST", f"{_M}/decay", "write", json={"now": 4_102_444_800}),
    Spec("memory-config", "GET", f"{_M}/config", "read"),
    # Choosing what a namespace forgets is a configuration change: admin.
    Spec("memory-configure", "PUT", f"{_M}/config", "admin", json=_FORGET),
    Spec("memory-archive", "POST", f"{_M}/{{rid}}/archive", "write"),
    Spec("memory-restore", "POST", f"{_M}/{{rid}}/restore", "write"),
    Spec("memory-group-create", "POST", f"{_M}/groups", "write", ok=201, json={"name": "g"}),
    Spec("memory-group-get", "GET", f"{_M}/groups/{{gid}}", "read"),
    Spec(
        "memory-group-add",
        "PUT",
        f"{_M}/groups/{{gid}}/members/{{rid}}",
        "write",
        fill={"{rid}": "<r2>"},
    ),
    Spec("memory-children", "GET", f"{_M}/{{parent_id}}/children", "read", query=_KIDS),
    Spec("memory-related", "GET", f"{_M}/{{rid}}/related", "read", query="relationship_type=a"),
    Spec("memory-reinforce", "POST", f"{_M}/{{rid}}/reinforce", "write", json={"factor": 2}),
    Spec("session-create", "POST", "/v1/sessions", "write", ok=201, ns="sessions", json=_SES),
    Spec("session-get", "GET", "/v1/sessions/{session_id}", "read", ns="sessions"),
    # Webhooks (issue 19): admin of every namespace; a listing shows only those; an unknown
    # id is 404 for everyone (ids of others' webhooks do not leak).
    Spec("webhooks-list", "GET", "/v1/webhooks", "any"),
    Spec("webhook-add", "POST", "/v1/webhooks", "admin", ok=201, json=_HOOK),
    Spec("webhook-remove", "DELETE", "/v1/webhooks/{hook_id}", "any", ok=404),
    Spec("webhook-deliveries", "GET", "/v1/webhooks/{hook_id}/deliveries", "any", ok=404),
    # Memories that supersede (issue 20): a slot's current record and chain are reads.
    Spec("memory-slot", "GET", f"{_M}/slot", "read", ok=404, query="slot=s/a"),
    Spec("memory-slot-history", "GET", f"{_M}/slot-history", "read", query="slot=s/a"),
    Spec(
        "memory-supersede",
        "POST",
        f"{_M}/{{rid}}/supersede",
        "write",
        ok=201,
        json={"content": "newer"},
    ),
    # Coordination (issue 19): acting on a namespace's leases, presence, locks and queues
    # needs write there; reading them needs read.
    Spec("lease-grant", "POST", "/v1/leases", "write", json={"ttl": 10, "namespace": NS}),
    # An unknown lease is 404 to everyone (ids do not tell whether a lease ever existed).
    Spec("lease-keepalive", "POST", "/v1/leases/keepalive", "any", ok=404, json=_LEASE),
    Spec("lease-revoke", "POST", "/v1/leases/revoke", "any", ok=404, json=_LEASE),
    Spec("presence-join", "POST", f"{_NSP}/presence", "write", ok=404, json=_LEASE),
    Spec("presence", "GET", f"{_NSP}/presence", "read"),
    Spec("locks", "GET", f"{_NSP}/locks", "read", query="limit=5"),
    Spec("lock-info", "GET", f"{_NSP}/locks/{{key:path}}", "read"),
    Spec("lock-turn", "GET", f"{_NSP}/lock-turn/{{key:path}}", "read", query=f"ticket={_TICKET}"),
    Spec("lock-acquire", "POST", f"{_NSP}/lock-acquire/{{key:path}}", "write", json={"ttl": 10}),
    Spec("lock-release", "POST", f"{_NSP}/lock-release/{{key:path}}", "write", json={"token": 1}),
    Spec("queue-put", "POST", f"{_Q}/tasks", "write", ok=201, json={"task": {"n": 1}}),
    Spec("queue-claim", "POST", f"{_Q}/claim", "write", json={"visibility": 5}),
    Spec("queues", "GET", f"{_NSP}/queues", "read", query="limit=5"),
    Spec("queue-stats", "GET", f"{_Q}/stats", "read"),
    Spec("queue-dead", "GET", f"{_Q}/dead", "read"),
    # A claim token on a task that is gone: claim_lost (409) to whoever may write.
    Spec("queue-ack", "POST", f"{_Q}/tasks/{{task_id}}/ack", "write", ok=409, json={"token": 1}),
    Spec("queue-nack", "POST", f"{_Q}/tasks/{{task_id}}/nack", "write", ok=409, json={"token": 1}),
    Spec(
        "queue-extend",
        "POST",
        f"{_Q}/tasks/{{task_id}}/extend",
        "write",
        ok=409,
        json={"token": 1, "visibility": 5},
    ),
    Spec("transaction", "POST", "/v1/transactions", "write", json=_TXN),
]

#: Who calls: (token role, the namespace's default_permission, its per-agent overrides).
CALLERS: dict[str, tuple[str, str | None, dict[str, str | None]]] = {
    "none": ("agent", None, {}),
    "read": ("agent", "read", {}),
    "write": ("agent", "write", {}),
    "admin": ("agent", "admin", {}),
    "override-none": ("agent", "admin", {AGENT: None}),
    "override-read": ("agent", None, {AGENT: "read"}),
    "override-write": ("agent", "read", {AGENT: "write"}),
    "override-admin": ("agent", None, {AGENT: "admin"}),
    "server-admin": ("admin", None, {}),
}
RANK = {None: 0, "read": 1, "write": 2, "admin": 3}


def level(caller: str) -> int:
    """The caller's effective level on the case's namespace."""
    role, default, overrides = CALLERS[caller]
    if role == "admin":
        return RANK["admin"]
    return RANK[overrides.get(AGENT, default)]


def allowed(spec: Spec, caller: str) -> bool:
    if spec.needs == "any":
        return True
    if spec.needs == "server-admin":
        return CALLERS[caller][0] == "admin"
    return level(caller) >= RANK[spec.needs]


def test_the_table_covers_every_route(site: Site) -> None:
    covered = {(s.method, s.route) for s in SPECS}
    served = {r for r in app_routes(site) if r[1] not in PUBLIC | NOT_REST}
    assert served == covered


def _cases() -> list[Any]:
    cases = []
    for spec in SPECS:
        for caller, (_, _, overrides) in CALLERS.items():
            if spec.ns == "default" and None in overrides.values():
                # Unreachable: "default" exists from the start, and a None in a later
                # permission update removes an override instead of denying.
                continue
            cases.append(pytest.param(spec, caller, id=f"{spec.name}-{caller}"))
    return cases


@pytest.mark.parametrize(("spec", "caller"), _cases())
def test_route_by_permission_level(site: Site, spec: Spec, caller: str) -> None:
    role, default, overrides = CALLERS[caller]
    site.namespace(spec.ns, default, overrides, entries=SEED)
    if spec.ns != NS:  # the table's namespace exists in every case, for list/stats/audit
        site.namespace(NS, default, overrides, entries=SEED)
    ids = seed_memories(site) if "/memories" in spec.route or "/sessions" in spec.route else {}
    token = site.token(AGENT, role)
    fill = {**ids, **{k: _placed(v, ids) for k, v in spec.fill.items()}}
    path = concrete(site, spec.route, spec.ns, fill) + (f"?{spec.query}" if spec.query else "")
    before = site.snapshot(audit=False)

    body = _placed(spec.json, ids)
    answer = send(site, spec.method, path, token, headers=spec.headers, json=body)

    permitted = allowed(spec, caller)
    if spec.batch:
        assert answer.status == 200, answer
        codes = [r.get("error", {}).get("code") for r in answer.body["results"]]
        if permitted:
            assert all(r["ok"] for r in answer.body["results"]), answer
        else:
            assert codes == ["permission_denied"] * len(spec.json["ops"]), answer
    elif permitted:
        if spec.name == "memory-semantic-search" and site.core.settings.embedder is None:
            assert (answer.status, answer.code) == (503, "embedder_unavailable"), answer
            return
        assert answer.status == spec.ok, answer
    else:
        assert answer.status == 403, answer
        assert answer.code == "permission_denied", answer
    if not permitted:
        assert site.snapshot(audit=False) == before
        return
    _check_visibility(site, spec, caller, answer)


def _check_visibility(site: Site, spec: Spec, caller: str, answer: Answer) -> None:
    """What an allowed listing shows depends on the caller's level, never more."""
    readable = level(caller) >= RANK["read"]
    if spec.name == "ns-list":
        names = {n["name"] for n in answer.body["namespaces"]}
        assert (NS in names) == readable
        assert TOKENS_NAMESPACE not in names
    elif spec.name == "stats":
        per_ns = answer.body["per_namespace"]
        assert (NS in per_ns) == readable
        assert TOKENS_NAMESPACE not in per_ns
        assert answer.body["namespaces"] == len(per_ns)
        assert answer.body["total_entries"] == sum(n["entries"] for n in per_ns.values())
    elif spec.name.startswith("audit"):
        namespaces = {r["namespace"] for r in answer.body["items"]}
        assert (NS in namespaces) == (level(caller) == RANK["admin"])
        if CALLERS[caller][0] != "admin":
            # A namespace admin sees its namespace's records and nothing else.
            assert namespaces <= {NS}
        assert TOKENS_NAMESPACE not in namespaces
    elif spec.name == "whoami":
        assert answer.body["agent"] == AGENT
        assert answer.body["role"] == CALLERS[caller][0]
    elif spec.name in ("entry-put", "registry-post"):
        entry = site.admin_ok("GET", f"/v1/namespaces/{spec.ns}/entries/k1")
        assert entry["owner"] == AGENT
    elif spec.name == "memory-get":
        # A reader gets the record without the access counted; a writer's read counts.
        counted = int(level(caller) >= RANK["write"])
        assert answer.body["access_count"] == counted
        ids = {"ids": [answer.body["id"]]}
        stored = site.admin_ok("POST", f"/v1/namespaces/{NS}/memories/batch-get", json=ids)
        assert stored["memories"][0]["access_count"] == counted
    elif spec.name in ("memory-add", "memory-add-many", "session-create", "memory-relate"):
        made = answer.body.get("memories", [answer.body])
        assert {m["agent_id"] for m in made} == {AGENT}
    elif spec.name in ("memory-search", "memory-semantic-search"):
        assert answer.body["results"], answer
        for hit in answer.body["results"]:
            assert "cat" in hit["memory"]["content"]
            assert hit["score"] == pytest.approx(sum(hit["parts"].values()))


def seed_memories(site: Site) -> dict[str, str]:
    """As admin, in the table's namespace: a record, its child, a relationship and a group;
    and a session. Returns the path parameters (``{rid}``...) and body placeholders
    (``<r1>``...) they fill."""
    m = f"/v1/namespaces/{NS}/memories"
    r1 = site.admin_ok("POST", m, json={"content": "the cat sat on the mat", "tags": ["pets"]})
    r2 = site.admin_ok(
        "POST", m, json={"content": "a kitten is a young cat", "parent_id": r1["id"]}
    )
    rel = {"source_id": r1["id"], "target_id": r2["id"], "relationship_type": "a"}
    site.admin_ok("POST", f"{m}/relationships", json=rel)
    g1 = site.admin_ok("POST", f"{m}/groups", json={"name": "pets"})
    site.admin_ok("PUT", f"{m}/groups/{g1['id']}/members/{r1['id']}")
    s1 = site.admin_ok(
        "POST", "/v1/sessions", json={"user_id": "u", "session_type": "chat", "metadata": {}}
    )
    ids = {"r1": r1["id"], "r2": r2["id"], "g1": g1["id"], "s1": s1["id"]}
    return {
        "{rid}": ids["r1"],
        "{parent_id}": ids["r1"],
        "{gid}": ids["g1"],
        "{session_id}": ids["s1"],
        **{f"<{name}>": value for name, value in ids.items()},
    }


def _placed(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with the placeholders of :func:`seed_memories` (``<r1>``...) filled."""
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [_placed(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _placed(v, ids) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------- identity
def test_naming_another_agent_in_a_header_or_query_is_refused(site: Site) -> None:
    site.namespace(NS, "write", entries=SEED)
    token = site.token(AGENT)
    requests = [
        (method, path, concrete(site, path), body_for(method, path))
        for method, path in app_routes(site)
        if path not in PUBLIC
    ]
    before = site.snapshot(audit=False)
    refused = 0
    for method, path, url, body in requests:
        for other in (OTHER, ADMIN, AGENT.upper(), f"{AGENT}.", ""):
            answer = send(site, method, url, token, headers={"X-Agent-Id": other}, json=body)
            assert (answer.status, answer.code) == (403, "permission_denied"), (path, other)
            sep = "&" if "?" in url else "?"
            answer = send(site, method, f"{url}{sep}agent={other}", token, json=body)
            assert (answer.status, answer.code) == (403, "permission_denied"), (path, other)
            refused += 2
    assert site.snapshot(audit=False) == before
    # Every refusal is in the audit log, as the token's agent (nothing else changed).
    log = site.admin_ok("GET", f"/v1/audit?agent_id={AGENT}&action=impersonate&limit=100000")
    records = log["items"]
    assert len(records) == refused
    assert all(not r["success"] and "cannot act as" in r["error"] for r in records)
    # Naming oneself is fine.
    assert site.ok("GET", "/v1/whoami", token, headers={"X-Agent-Id": AGENT})["agent"] == AGENT
    assert site.ok("GET", f"/v1/whoami?agent={AGENT}", token)["agent"] == AGENT


IDENTITY_FIELDS = ("owner", "agent", "agent_id", "author", "created_by", "creator", "user")


def test_identity_fields_in_bodies_are_refused(site: Site) -> None:
    site.namespace(NS, "write", entries=SEED)
    token = site.token(AGENT)
    before = site.snapshot(audit=False)
    for name in IDENTITY_FIELDS:
        bodies = [
            ("PUT", f"/v1/namespaces/{NS}/entries/k1", {"value": 1, name: OTHER}),
            ("POST", f"/v1/namespaces/{NS}/batch", {"ops": _PUTS, name: OTHER}),
            (
                "POST",
                f"/v1/namespaces/{NS}/batch",
                {"ops": [{"op": "put", "key": "k1", "value": 1, name: OTHER}]},
            ),
            (
                "POST",
                f"/v1/namespaces/{NS}/batch",
                {"ops": [{"op": "put", "key": "k1", "value": 1, name: OTHER}], "atomic": True},
            ),
            ("POST", f"/v1/namespaces/{NS}/broadcast", {"message": "m", name: OTHER}),
            ("PATCH", f"/v1/namespaces/{NS}", {"description": "d", name: OTHER}),
            ("POST", "/v1/namespaces", {"name": "fresh", name: OTHER}),
        ]
        for method, path, body in bodies:
            answer = send(site, method, path, token, json=body)
            assert (answer.status, answer.code) == (422, "invalid_argument"), (path, name)
    assert site.snapshot(audit=False) == before


def test_the_registry_owner_is_the_tokens_agent(site: Site) -> None:
    token = site.token(AGENT)
    body = {"key": "seed", "value": {"x": 1}, "owner": OTHER}
    answer = site.ok("POST", "/shared-memory", token, json=body)
    assert answer["entry"]["owner"] == AGENT
    assert site.ok("GET", "/shared-memory", token)["seed"]["owner"] == AGENT
    assert site.admin_ok("GET", "/v1/namespaces/default/entries/seed")["owner"] == AGENT
    records = site.admin_ok("GET", "/v1/audit?namespace=default&action=write")["items"]
    assert [r["agent_id"] for r in records] == [AGENT]


def test_spoofing_headers_are_ignored(site: Site) -> None:
    site.namespace(NS, "write")
    site.namespace("secret", None)
    token = site.token(AGENT)
    spoof = {
        "X-Forwarded-User": OTHER,
        "X-Remote-User": OTHER,
        "X-Forwarded-For": "127.0.0.1",
        "X-Hivemem-Admin": "1",
        "X-Hivemem-Agent": OTHER,
        "Remote-User": ADMIN,
    }
    entry = site.ok(
        "PUT", f"/v1/namespaces/{NS}/entries/k", token, headers=spoof, json={"value": 1}
    )
    assert entry["owner"] == AGENT
    events = site.ok(
        "GET", f"/v1/namespaces/{NS}/events?since=0", token, headers={**spoof, **JSON_ACCEPT}
    )["events"]
    assert {e["agent_id"] for e in events if e["type"] == "memory:write"} == {AGENT}
    assert site.ok("GET", "/v1/whoami", token, headers=spoof)["role"] == "agent"
    # The admin header grants nothing.
    before = site.snapshot(audit=False)
    for method, path in [
        ("GET", "/v1/namespaces/secret"),
        ("PUT", "/v1/namespaces/secret/entries/k"),
        ("POST", "/v1/sweep"),
        ("GET", "/v1/tokens"),
        ("POST", "/v1/tokens"),
    ]:
        body = {"value": 1} if method == "PUT" else body_for(method, path)
        answer = send(site, method, path, token, headers=spoof, json=body)
        assert (answer.status, answer.code) == (403, "permission_denied"), path
    assert site.snapshot(audit=False) == before
    records = site.admin_ok("GET", "/v1/audit?limit=1000")["items"]
    assert {r["agent_id"] for r in records} <= {AGENT, ADMIN, "system"}


def test_the_python_client_cannot_act_as_another_agent(site: Site) -> None:
    site.namespace(NS, "write", entries=SEED)
    token = site.token(AGENT)
    with pytest.raises(PermissionDenied):
        hivemem.connect(site.url, token=token, agent=OTHER)
    with pytest.raises(PermissionDenied):
        hivemem.connect(site.url, token=token, agent=ADMIN)
    mem = hivemem.connect(site.url, token=token)
    try:
        before = site.snapshot(audit=False)
        with pytest.raises(PermissionDenied):
            mem.write(NS, "k1", "spoofed", agent=OTHER)
        with pytest.raises(PermissionDenied):
            mem.write(NS, "k1", "spoofed", OTHER)
        with pytest.raises(PermissionDenied):
            mem.delete(NS, "k1", agent=OTHER)
        with pytest.raises(PermissionDenied):
            mem.read(NS, "k1", agent=OTHER)
        assert site.snapshot(audit=False) == before
        mem.write(NS, "k1", "mine")
        assert site.admin_ok("GET", f"/v1/namespaces/{NS}/entries/k1")["owner"] == AGENT
    finally:
        mem.close()
    same = hivemem.connect(site.url, token=token, agent=AGENT)
    try:
        same.write(NS, "k2", "also mine")
    finally:
        same.close()
    assert site.admin_ok("GET", f"/v1/namespaces/{NS}/entries/k2")["owner"] == AGENT


# ---------------------------------------------------------------------- visibility
class Stream:
    """An open SSE response, read frame by frame."""

    def __init__(self, stack: contextlib.ExitStack, site: Site, path: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        self.resp = stack.enter_context(site.http.stream("GET", site.url + path, headers=headers))
        self.lines = self.resp.iter_lines()

    def frames(self) -> Iterator[dict[str, str]]:
        """Each event frame as ``{field: value}`` (comments skipped), until the stream ends."""
        frame: dict[str, str] = {}
        for line in self.lines:
            if not line:
                if frame:
                    yield frame
                frame = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                frame[name] = value.strip()

    def until(self, predicate: Any) -> list[dict[str, str]]:
        """Frames up to and including the first that matches (fails if the stream ends)."""
        seen = []
        for frame in self.frames():
            seen.append(frame)
            if predicate(frame):
                return seen
        raise AssertionError(f"stream ended before the frame was seen: {seen}")


def test_events_of_other_namespaces_stay_invisible(site: Site) -> None:
    site.namespace("visible", None, {AGENT: "read"})
    site.namespace("secret", "write", {AGENT: None})
    token = site.token(AGENT)
    for query, headers in [
        ("", {}),
        ("?since=0", JSON_ACCEPT),
        ("", JSON_ACCEPT),
        ("?since=0", {}),
        ("?probe=subscribe", JSON_ACCEPT),
    ]:
        answer = send(site, "GET", f"/v1/namespaces/secret/events{query}", token, headers=headers)
        assert (answer.status, answer.code) == (403, "permission_denied"), (query, headers)
    with contextlib.ExitStack() as stack:
        stream = Stream(stack, site, "/v1/namespaces/visible/events", token)
        assert stream.resp.status_code == 200
        site.admin_ok("PUT", "/v1/namespaces/secret/entries/s", json={"value": "hidden"})
        site.admin_ok("PUT", "/v1/namespaces/visible/entries/v", json={"value": "shown"})
        frames = stream.until(lambda f: f.get("event") == "memory:write")
        assert all('"visible"' in f["data"] for f in frames if "data" in f)
        assert not any("hidden" in f.get("data", "") for f in frames)
        # Take the read permission away: the stream reports it and ends, and nothing
        # written afterwards reaches it.
        site.admin_ok(
            "PUT", "/v1/namespaces/visible/permissions", json={"permissions": {AGENT: None}}
        )
        site.admin_ok("PUT", "/v1/namespaces/visible/entries/v2", json={"value": "after"})
        rest = list(stream.frames())
        assert rest and rest[-1]["event"] == "error", rest
        assert "permission_denied" in rest[-1]["data"]
        assert not any("after" in f.get("data", "") for f in rest)


def test_a_revoked_tokens_open_stream_delivers_nothing_more(site: Site) -> None:
    site.namespace(NS, "read")
    token = site.token(AGENT)
    with contextlib.ExitStack() as stack:
        stream = Stream(stack, site, f"/v1/namespaces/{NS}/events", token)
        assert stream.resp.status_code == 200
        site.admin_ok("PUT", f"/v1/namespaces/{NS}/entries/a", json={"value": "before"})
        stream.until(lambda f: f.get("event") == "memory:write")
        site.revoke(token)
        site.admin_ok("PUT", f"/v1/namespaces/{NS}/entries/b", json={"value": "after"})
        rest = list(stream.frames())
        assert rest and rest[-1]["event"] == "error", rest
        assert "unauthenticated" in rest[-1]["data"]
        assert not any("after" in f.get("data", "") for f in rest)


def test_audit_shows_only_namespaces_the_agent_administers(site: Site) -> None:
    site.namespace("mine", None, {AGENT: "admin", OTHER: "read"})
    site.namespace("theirs", "write")
    alice, bob = site.token(AGENT), site.token(OTHER)
    site.ok("PUT", "/v1/namespaces/mine/entries/a", alice, json={"value": 1})
    site.ok("PUT", "/v1/namespaces/theirs/entries/a", alice, json={"value": 2})
    site.ok("PUT", "/v1/namespaces/theirs/entries/b", bob, json={"value": 3})
    assert send(site, "PUT", "/v1/namespaces/mine/entries/b", bob, json={"value": 4}).status == 403

    everything = site.admin_ok("GET", "/v1/audit?limit=1000")["items"]
    assert {r["namespace"] for r in everything} >= {"mine", "theirs", "default"}

    items = site.ok("GET", "/v1/audit?limit=1000", alice)["items"]
    assert items == [r for r in everything if r["namespace"] == "mine"]
    assert {(r["agent_id"], r["key"], r["success"]) for r in items} >= {
        (AGENT, "a", True),
        (OTHER, "b", False),
    }
    for query in ("namespace=theirs", f"agent_id={OTHER}&namespace=theirs", "action=write"):
        shown = site.ok("GET", f"/v1/audit?limit=1000&{query}", alice)["items"]
        assert {r["namespace"] for r in shown} <= {"mine"}, query
    assert site.ok("GET", "/v1/audit?limit=1000", bob)["items"] == []
    assert site.ok("GET", f"/v1/audit?namespace={TOKENS_NAMESPACE}", site.admin)["items"] == []
    assert TOKENS_NAMESPACE not in {r["namespace"] for r in everything}


def test_stats_list_only_readable_namespaces(site: Site) -> None:
    site.namespace("open", "read", entries={"a": 1})
    site.namespace("closed", None, entries={"a": 1, "b": 2, "c": 3})
    site.namespace("granted", None, {AGENT: "read"}, entries={"a": 1, "b": 2})
    token = site.token(AGENT)
    mine = site.ok("GET", "/v1/stats", token)
    assert set(mine["per_namespace"]) == {"default", "open", "granted"}
    assert mine["total_entries"] == 3
    assert mine["namespaces"] == 3
    assert mine["event_streams"] is None
    everything = site.admin_ok("GET", "/v1/stats")
    assert set(everything["per_namespace"]) == {"default", "open", "closed", "granted"}
    listed = {n["name"] for n in site.ok("GET", "/v1/namespaces", token)["namespaces"]}
    assert listed == {"default", "open", "granted"}
    listed = {n["name"] for n in site.admin_ok("GET", "/v1/namespaces")["namespaces"]}
    assert listed == {"default", "open", "closed", "granted"}


RESERVED_SPELLINGS = [TOKENS_NAMESPACE, "%5Fhivemem.tokens", "_hivemem", "_hivemem.x"]


def test_the_token_namespace_is_unreachable(site: Site) -> None:
    site.namespace(NS, "write", entries=SEED)
    agent = site.token(AGENT)
    digest = hashlib.sha256(agent.encode()).hexdigest()
    ns_routes = [(m, p) for m, p in app_routes(site) if "{ns}" in p]
    assert ns_routes
    before = site.snapshot()
    for token in (agent, site.admin):
        for spelling in RESERVED_SPELLINGS:
            for method, path in ns_routes:
                url = path.replace("{ns}", spelling).replace("{key:path}", digest)
                answer = send(
                    site,
                    method,
                    url,
                    token,
                    json=body_for(method, path),
                    headers=JSON_ACCEPT if "events" in path else None,
                )
                assert (answer.status, answer.code) == (422, "invalid_argument"), (url, answer)
            answer = send(site, "POST", "/v1/namespaces", token, json={"name": spelling})
            assert answer.status == 422, spelling
    # Nor does it show in any listing, for anyone.
    for token in (agent, site.admin):
        names = {n["name"] for n in site.ok("GET", "/v1/namespaces", token)["namespaces"]}
        assert not any(n.startswith("_hivemem") for n in names)
        per_ns = site.ok("GET", "/v1/stats", token)["per_namespace"]
        assert not any(n.startswith("_hivemem") for n in per_ns)
        audit = site.ok("GET", "/v1/audit?limit=100000", token)["items"]
        assert not any((r["namespace"] or "").startswith("_hivemem") for r in audit)
        assert digest not in str(audit)
    after = site.snapshot()
    assert {k: v for k, v in after.items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"
    }
    # Only refusals were added to the audit log, none naming the reserved namespace.
    assert TOKENS_NAMESPACE not in str(after["audit"])
    # A case variant is another (ordinary) namespace: it holds no tokens.
    answer = send(site, "GET", "/v1/namespaces/_HIVEMEM.tokens/entries", site.admin)
    assert (answer.status, answer.code) == (404, "namespace_not_found")


# ---------------------------------------------------------------------- processes
def test_revocation_holds_at_once_on_every_process(
    processes: tuple[str, list[ServerProcess]],
) -> None:
    admin, (a, b) = processes
    auth = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(timeout=DEADLINE) as http:

        def call(
            proc: ServerProcess, method: str, path: str, token: str, **kw: Any
        ) -> httpx.Response:
            return http.request(
                method, proc.url + path, headers={"Authorization": f"Bearer {token}"}, **kw
            )

        created = http.post(a.url + "/v1/tokens", headers=auth, json={"agent": AGENT})
        assert created.status_code == 201
        token, token_id = created.json()["token"], created.json()["id"]
        config = {"name": NS, "default_permission": None, "permissions": {AGENT: "write"}}
        resp = http.post(a.url + "/v1/namespaces", headers=auth, json=config)
        assert resp.status_code == 201
        for proc in (a, b):
            assert call(proc, "GET", "/v1/whoami", token).json()["agent"] == AGENT
            resp = call(proc, "PUT", f"/v1/namespaces/{NS}/entries/k", token, json={"value": 1})
            assert resp.status_code == 200

        # A permission taken away through A holds on B at once.
        resp = http.put(
            a.url + f"/v1/namespaces/{NS}/permissions",
            headers=auth,
            json={"permissions": {AGENT: None}},
        )
        assert resp.status_code == 200
        assert call(b, "GET", f"/v1/namespaces/{NS}/entries/k", token).status_code == 403
        resp = http.put(
            b.url + f"/v1/namespaces/{NS}/permissions",
            headers=auth,
            json={"permissions": {AGENT: "write"}},
        )
        assert resp.status_code == 200
        assert call(a, "GET", f"/v1/namespaces/{NS}/entries/k", token).status_code == 200

        # The token revoked through A fails on B with the very next request.
        assert http.delete(a.url + f"/v1/tokens/{token_id}", headers=auth).status_code == 200
        for proc in (b, a):
            for method, path, body in [
                ("GET", "/v1/whoami", None),
                ("GET", f"/v1/namespaces/{NS}/entries/k", None),
                ("PUT", f"/v1/namespaces/{NS}/entries/k", {"value": 2}),
            ]:
                resp = call(proc, method, path, token, json=body)
                assert resp.status_code == 401, (proc.url, path, resp.text)
        entry = http.get(b.url + f"/v1/namespaces/{NS}/entries/k", headers=auth).json()
        assert entry["value"] == 1

        # And a token created through B works on A at once.
        created = http.post(b.url + "/v1/tokens", headers=auth, json={"agent": OTHER})
        assert call(a, "GET", "/v1/whoami", created.json()["token"]).json()["agent"] == OTHER


# ---------------------------------------------------------------------- storage
def _texts(db: Path) -> list[str]:
    """Every value of every table of the SQLite file, as text."""
    out: list[str] = []
    with contextlib.closing(sqlite3.connect(db)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert tables
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        out.append(value.decode("utf-8", "replace"))
                    elif value is not None:
                        out.append(str(value))
    return out


def test_tokens_are_stored_hashed(site: Site) -> None:
    tokens = [site.admin, site.token(AGENT), site.token(OTHER, "admin")]
    site.revoke(site.token("gone"))
    texts = _texts(site.db)
    for token in tokens:
        assert not any(token in t for t in texts)
        assert not any(token[3:] in t for t in texts)
        assert any(hashlib.sha256(token.encode()).hexdigest() in t for t in texts)
    # Nor in the raw bytes of the file and its journal.
    for path in site.db.parent.glob(site.db.name + "*"):
        raw = path.read_bytes()
        for token in tokens:
            assert token.encode() not in raw, path
    # Listing tokens shows ids, never the tokens or their full digests.
    listed = str(site.admin_ok("GET", "/v1/tokens"))
    for token in tokens:
        assert token not in listed
        assert hashlib.sha256(token.encode()).hexdigest() not in listed


# ---------------------------------------------------------------------- stream cap
def _open(stack: contextlib.ExitStack, site: Site, token: str) -> httpx.Response:
    """Open an event stream; for a 200, wait for its first bytes (the slot is taken)."""
    resp = stack.enter_context(
        site.http.stream(
            "GET",
            site.url + f"/v1/namespaces/{NS}/events",
            headers={"Authorization": f"Bearer {token}"},
        )
    )
    if resp.status_code == 200:
        _first_bytes(stack, resp)
    else:
        resp.read()
    return resp


def _first_bytes(stack: contextlib.ExitStack, resp: httpx.Response) -> None:
    """Read the first bytes of a stream, keeping it open until ``stack`` closes.

    (The chunk iterator is kept referenced: collecting it would close the connection.)
    """
    chunks = resp.iter_raw()
    assert next(chunks)
    held: list[Any] = [chunks]
    stack.callback(held.clear)


def test_event_streams_per_token_are_capped(site: Site) -> None:
    site.namespace(NS, "read")
    token = site.token(AGENT)
    with contextlib.ExitStack() as outer:
        held = []
        for _ in range(MAX_STREAMS):
            inner = contextlib.ExitStack()
            outer.push(inner)  # closed at the end unless closed before
            resp = _open(inner, site, token)
            assert resp.status_code == 200
            held.append(inner)
        with contextlib.ExitStack() as stack:
            refused = _open(stack, site, token)
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "too_many_requests"
        # The cap is per token: another token (even of the same agent) gets its own.
        with contextlib.ExitStack() as stack:
            assert _open(stack, site, site.token(AGENT)).status_code == 200
        # Closing one frees a slot (once the server sees the disconnect).
        held.pop().close()
        deadline = time.monotonic() + DEADLINE
        while True:
            inner = contextlib.ExitStack()
            outer.push(inner)
            if _open(inner, site, token).status_code == 200:
                break
            inner.close()
            assert time.monotonic() < deadline, "closing a stream did not free its slot"
            time.sleep(0.05)
        with contextlib.ExitStack() as stack:
            assert _open(stack, site, token).status_code == 429


def test_the_stream_cap_holds_under_concurrent_opens(site: Site) -> None:
    site.namespace(NS, "read")
    token = site.token(AGENT)
    attempts = 4 * MAX_STREAMS
    barrier = threading.Barrier(attempts)
    done = threading.Event()
    counted = threading.Semaphore(0)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=DEADLINE) as http, contextlib.ExitStack() as stack:
            barrier.wait(timeout=DEADLINE)
            resp = stack.enter_context(
                http.stream(
                    "GET",
                    site.url + f"/v1/namespaces/{NS}/events",
                    headers={"Authorization": f"Bearer {token}"},
                )
            )
            if resp.status_code == 200:
                _first_bytes(stack, resp)
            with lock:
                statuses.append(resp.status_code)
            counted.release()
            done.wait(timeout=DEADLINE)

    threads = [threading.Thread(target=worker) for _ in range(attempts)]
    for t in threads:
        t.start()
    try:
        for _ in range(attempts):
            assert counted.acquire(timeout=DEADLINE)
    finally:
        done.set()
        for t in threads:
            t.join(timeout=DEADLINE)
    assert sorted(statuses) == [200] * MAX_STREAMS + [429] * (attempts - MAX_STREAMS)
