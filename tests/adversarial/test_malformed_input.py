"""Malformed input through a real server (issue 15, item 7): a 4xx with a stable code, never a
500 or a dropped connection, and nothing changes; on SQLite, Redis and memory stores."""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from hivemem._connect import _open
from hivemem._validate import MAX_TTL
from hivemem.server import ServerConfig, create_app
from hivemem.server.auth import TokenStore
from hivemem.testing.redis import RedisServer, redis_available
from hivemem.testing.server import ServerThread

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

NS = "/v1/namespaces/default"


class Site:
    """A store behind the test server, and a client with an ordinary agent token."""

    def __init__(self, url: str, core: Any, token: str) -> None:
        self.url = url
        self.core = core
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    def send(self, method: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json", **headers}
        return self.http.request(method, path, content=content, headers=headers)

    def snapshot(self) -> Any:
        entries = self.http.get(f"{NS}/entries", params={"limit": 10_000}).json()
        names = self.http.get("/v1/namespaces").json()
        return entries, names


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as thread:
        yield thread


@pytest.fixture(scope="module", params=["sqlite", "redis", "memory"])
def site(
    request: pytest.FixtureRequest, server: ServerThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp(request.param)
    redis = None
    if request.param == "redis":
        if not redis_available():
            pytest.skip("redis-server is not installed")
        redis = RedisServer(tmp).start()
        url = redis.url
    else:
        url = f"sqlite:///{tmp}/s.db" if request.param == "sqlite" else "memory://"
    core = _open(url, None, None, {})
    base = server.mount(create_app(core, ServerConfig(auth=True)))
    token, _ = TokenStore(core.backend).create("worker", "agent")
    site = Site(base, core, token)
    assert site.send("PUT", f"{NS}/entries/seed", {"value": 1}).status_code == 200
    try:
        yield site
    finally:
        site.http.close()
        server.unmount(base)
        _close_async_clients(core.backend)
        core.close()
        if redis is not None:
            redis.stop()


def _close_async_clients(backend: Any) -> None:
    """Close the Redis asyncio clients on the server's loop (still running: close() skips
    them) so that no connection is left open when that loop ends."""
    for loop, client in list(getattr(backend, "_aclients", {}).items()):
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(5)


def _refused(site: Site, method: str, path: str, body: Any = None, status: int = 422) -> None:
    before = site.snapshot()
    response = site.send(method, path, body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] != "internal"
    assert site.snapshot() == before


@pytest.mark.parametrize("ttl", [1e308, 1e300, MAX_TTL + 1, -1, 0])
def test_ttl_beyond_the_maximum_is_refused_at_every_door(site: Site, ttl: float) -> None:
    _refused(site, "PUT", f"{NS}/entries/k", {"value": 1, "ttl": ttl})
    _refused(site, "POST", f"{NS}/batch", {"ops": [{"op": "put", "key": "k", "value": 1}],
                                            "atomic": True, "ttl": ttl})  # fmt: skip
    _refused(site, "POST", f"{NS}/batch", {"ops": [{"op": "put", "key": "k", "value": 1,
                                                    "ttl": ttl}]})  # fmt: skip
    _refused(site, "POST", "/v1/namespaces", {"name": "t", "ttl": ttl})
    _refused(site, "PATCH", NS, {"ttl": ttl})
    _refused(site, "POST", f"{NS}/prefix/expire", {"prefix": "s", "ttl": ttl})
    _refused(site, "POST", f"{NS}/lists/l/push", {"items": [1], "ttl": ttl})
    # Nothing was stored that breaks later writes; the maximum itself is accepted.
    assert site.send("PUT", f"{NS}/entries/after", {"value": 1}).status_code == 200
    response = site.send("PUT", f"{NS}/entries/longest", {"value": 1, "ttl": MAX_TTL})
    assert response.status_code == 200, response.text


def test_events_since_beyond_the_revision_range(site: Site) -> None:
    response = site.send("GET", f"{NS}/events?since=9223372036854775806")
    assert response.status_code == 410, response.text  # ahead of the store: resync
    response = site.send("GET", f"{NS}/events?since=9223372036854775808")
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("key", [["a"], {"a": 1}, 5, None, True])
@pytest.mark.parametrize("atomic", [True, False])
@pytest.mark.parametrize("op", ["put", "get", "delete"])
def test_batch_op_key_of_the_wrong_type(site: Site, key: Any, atomic: bool, op: str) -> None:
    item: dict[str, Any] = {"op": op, "key": key}
    if op == "put":
        item["value"] = 1
    _refused(site, "POST", f"{NS}/batch", {"ops": [item], "atomic": atomic})


def test_prefixes_at_the_edges_of_unicode(site: Site) -> None:
    for key in ("\ud7ffa", "\ue000", "\U0010ffffz"):
        assert site.http.put(f"{NS}/entries/{key}", json={"value": 1}).status_code == 200
    for raw, keys in (("%ED%9F%BF", ["\ud7ffa"]), ("%F4%8F%BF%BF", ["\U0010ffffz"])):
        response = site.send("GET", f"{NS}/entries?prefix={raw}")
        assert response.status_code == 200, response.text
        assert [e["key"] for e in response.json()["items"]] == keys
    response = site.send("POST", f"{NS}/prefix/delete", {"prefix": "\ud7ff"})
    assert (response.status_code, response.json()) == (200, {"count": 1})
    response = site.send("POST", f"{NS}/prefix/delete", {"prefix": "\U0010ffff"})
    assert (response.status_code, response.json()) == (200, {"count": 1})
    assert site.send("GET", f"{NS}/entries/%EE%80%80").status_code == 200  # U+E000 is kept


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{NS}/entries/%FF"),
        ("PUT", f"{NS}/entries/%FF"),
        ("PUT", f"{NS}/entries/a%FEb"),
        ("PUT", f"{NS}/entries/%ED%A0%80"),  # a surrogate, UTF-8-encoded
        ("DELETE", f"{NS}/entries/%C3"),
        ("GET", f"{NS}/entries?prefix=%FF"),
        ("POST", f"{NS}/lists/%FF/push"),
    ],
)
def test_key_paths_that_are_not_utf8_are_refused(site: Site, method: str, path: str) -> None:
    body = {"value": 1} if method == "PUT" else {"items": [1]} if method == "POST" else None
    _refused(site, method, path, body)


def test_distinct_invalid_keys_no_longer_alias(site: Site) -> None:
    assert site.send("PUT", f"{NS}/entries/%FF", {"value": 1}).status_code == 422
    assert site.send("GET", f"{NS}/entries/%FE").status_code == 422
    assert site.send("GET", f"{NS}/entries/%EF%BF%BD").status_code == 404  # U+FFFD itself
    assert site.send("PUT", f"{NS}/entries/%C3%A9", {"value": 2}).status_code == 200
    assert site.send("GET", f"{NS}/entries/%C3%A9").json()["key"] == "é"


_BAD_VALUES: list[Any] = [["a"], {"a": 1}, -1, 1.5, 1e308, True, None, "\ud7ff", "x" * 300,
                          9223372036854775807]  # fmt: skip
_BAD_QUERIES = ["%FF", "%ED%9F%BF", "-1", "99999999999999999999", "9223372036854775806", "nan"]


def test_no_route_answers_500_to_fields_of_the_wrong_type(site: Site) -> None:
    """Every route of the OpenAPI document, each body field and query argument replaced by
    values of the wrong type or range: never a 5xx, never a dropped connection."""
    spec = site.http.get("/openapi.json").json()
    failures = []
    for template, item in spec["paths"].items():
        path = re.sub(r"\{[^}]+\}", "x", template.replace("{ns}", "default"))
        for method, op in item.items():
            if method not in ("get", "put", "post", "patch", "delete"):
                continue
            content = (op.get("requestBody") or {}).get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            if "$ref" in schema:
                schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            fields = list(schema.get("properties") or {})
            tries: list[tuple[str, Any]] = []
            for field in fields:
                for bad in _BAD_VALUES:
                    tries.append((path, {**dict.fromkeys(fields, "k"), field: bad}))
            for param in op.get("parameters", []):
                if param.get("in") == "query":
                    tries += [(f"{path}?{param['name']}={q}", None) for q in _BAD_QUERIES]
            for target, body in tries:
                try:
                    response = site.send(method.upper(), target, body)
                except httpx.TransportError as exc:
                    failures.append((method, target, body, repr(exc)))
                    continue
                if response.status_code >= 500:
                    failures.append((method, target, body, response.text[:200]))
    assert failures == []
