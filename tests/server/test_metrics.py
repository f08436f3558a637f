"""``/metrics``: Prometheus families parsed by prometheus_client, moved by real requests.

A real server (uvicorn on a free port) over a fresh SQLite store; requests go over HTTP,
through the entry fast path and the routed endpoints alike.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import hivemem
from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app
from hivemem.server.app import metrics_access
from hivemem.server.serve import ServeOptions
from hivemem.testing.helpers import wait_until
from hivemem.testing.server import ServerThread

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from prometheus_client.metrics_core import Metric

#: Family (as the parser names it: counters without ``_total``) -> its type.
FAMILIES = {
    "hivemem_http_requests": "counter",
    "hivemem_http_request_seconds": "histogram",
    "hivemem_ops": "counter",
    "hivemem_op_seconds": "histogram",
    "hivemem_events_published": "counter",
    "hivemem_token_cache_lookups": "counter",
    "hivemem_group_commit_ops": "histogram",
    "hivemem_event_streams": "gauge",
    "hivemem_watchers": "gauge",
    "hivemem_embedder_queue_calls": "gauge",
    "hivemem_embedder_queue_texts": "gauge",
    # kept from before: the transport's gauges and counters
    "hivemem_open_connections": "gauge",
    "hivemem_request_bodies_in_flight_bytes": "gauge",
    "hivemem_rate_limited_requests": "counter",
    "hivemem_fanout_cache_bytes": "gauge",
    "hivemem_stream_wakeups": "counter",
    "hivemem_uptime_seconds": "gauge",
}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as srv:
        yield srv


class Site:
    """A fresh SQLite store served by the test server."""

    def __init__(self, server: ServerThread, tmp_path: Path, **config: Any) -> None:
        options = {"cleanup_interval": 0, "embedder": config.pop("embedder", None)}
        self.core = _open(f"sqlite:///{tmp_path}/m.db", None, None, options)
        self.app = create_app(self.core, ServerConfig(**config))
        self.url = self.app_url = server.mount(self.app)
        self.hub = self.app.state.hub
        self.admin = self.token("boss", "admin")

    def token(self, agent: str, role: str = "agent") -> str:
        return self.hub.tokens.create(agent, role)[0]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def scrape(self) -> dict[str, Metric]:
        with self.client(self.admin) as c:
            r = c.get("/metrics")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        return {f.name: f for f in text_string_to_metric_families(r.text)}


@pytest.fixture
def make_site(server: ServerThread, tmp_path: Path) -> Iterator[Callable[..., Site]]:
    made: list[Site] = []

    def make(**config: Any) -> Site:
        sub = tmp_path / f"s{len(made)}"
        sub.mkdir()
        site = Site(server, sub, **config)
        made.append(site)
        return site

    yield make
    for site in made:
        server.unmount(site.url)
        site.core.close()


def value(families: dict[str, Metric], sample: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    family = sample.removesuffix("_total").removesuffix("_bucket")
    family = family.removesuffix("_count").removesuffix("_sum")
    for s in families[family].samples:
        if s.name == sample and s.labels == labels:
            return s.value
    return 0.0


def test_every_family_parses_with_its_type(make_site: Callable[..., Site]) -> None:
    site = make_site()
    with site.client(site.admin) as c:
        assert c.put("/v1/namespaces/ns/entries/k", json={"value": 1}).status_code == 200
    families = site.scrape()
    for name, kind in FAMILIES.items():
        assert name in families, name
        assert families[name].type == kind, name
    for family in families.values():
        assert family.name.startswith("hivemem_")


def test_operations_count_by_op_and_outcome(make_site: Callable[..., Site]) -> None:
    site = make_site()
    agent = site.token("alice")
    before = site.scrape()
    with site.client(agent) as c:
        for i in range(7):  # the fast path
            assert c.put(f"/v1/namespaces/ns/entries/k{i}", json={"value": i}).status_code == 200
        for i in range(5):
            assert c.get(f"/v1/namespaces/ns/entries/k{i}").status_code == 200
        for _ in range(3):
            assert c.get("/v1/namespaces/ns/entries/nope").status_code == 404
        stale = {"value": 0, "expected_version": 99}
        assert c.put("/v1/namespaces/ns/entries/k0", json=stale).status_code == 409
        # routed endpoints
        assert c.get("/v1/namespaces/ns/entries", params={"limit": 3}).status_code == 200
        assert c.get("/v1/namespaces/ns/entries", params={"limit": -1}).status_code == 422
        assert c.delete("/v1/namespaces/ns/entries/k6").status_code == 200
        # the error is the answer's "result" when the client asks for its events
        events = {"X-Hivemem-Events": "1"}
        assert c.put("/v1/namespaces/ns/entries/k0", json=stale, headers=events).status_code == 409
    with site.client("hm_not-a-token") as c:
        assert c.get("/v1/namespaces/ns/entries/k1").status_code == 401
    after = site.scrape()

    def moved(op: str, code: str) -> float:
        sample = "hivemem_ops_total"
        return value(after, sample, op=op, code=code) - value(before, sample, op=op, code=code)

    assert moved("put_entry", "ok") == 7
    assert moved("get_entry", "ok") == 5
    assert moved("get_entry", "not_found") == 3
    assert moved("put_entry", "conflict") == 2
    assert moved("get_entry", "unauthenticated") == 1
    assert moved("list_entries", "ok") == 1
    assert moved("list_entries", "invalid_argument") == 1
    assert moved("delete_entry", "ok") == 1

    def latency(op: str, sample: str, **labels: str) -> float:
        name = f"hivemem_op_seconds{sample}"
        return value(after, name, op=op, **labels) - value(before, name, op=op, **labels)

    assert latency("put_entry", "_count") == 9  # successes and failures alike
    assert latency("get_entry", "_count") == 9
    assert latency("put_entry", "_bucket", le="+Inf") == 9
    assert latency("put_entry", "_sum") > 0
    buckets = [
        s.value
        for s in after["hivemem_op_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["op"] == "put_entry"
    ]
    assert buckets == sorted(buckets)  # cumulative

    # events published, group commits, token cache
    assert (
        value(after, "hivemem_events_published_total", type="memory:write")
        - value(before, "hivemem_events_published_total", type="memory:write")
        == 7
    )
    assert (
        value(after, "hivemem_events_published_total", type="memory:delete")
        - value(before, "hivemem_events_published_total", type="memory:delete")
        == 1
    )
    committed = value(after, "hivemem_group_commit_ops_sum") - value(
        before, "hivemem_group_commit_ops_sum"
    )
    assert committed >= 8  # 7 puts and a delete, at least (refusals and audit rows too)
    commits = value(after, "hivemem_group_commit_ops_count") - value(
        before, "hivemem_group_commit_ops_count"
    )
    assert 1 <= commits <= committed
    hits = value(after, "hivemem_token_cache_lookups_total", result="hit") - value(
        before, "hivemem_token_cache_lookups_total", result="hit"
    )
    assert hits >= 15  # the agent's token is looked up in the store once, then cached
    assert value(after, "hivemem_http_requests_total", method="PUT", status="200") >= 7


def test_labels_never_carry_keys_namespaces_or_agents(make_site: Callable[..., Site]) -> None:
    """Series are bounded: a thousand distinct names add none."""
    site = make_site()

    def traffic(tag: str, n: int) -> None:
        for i in range(n):
            token = site.token(f"agent-{tag}{i}")
            with site.client(token) as c:
                c.put(f"/v1/namespaces/ns-{tag}{i}/entries/key-{tag}{i}", json={"value": i})
                c.get(f"/v1/namespaces/ns-{tag}{i}/entries/missing-{tag}{i}")
                c.get(f"/v1/namespaces/ns-{tag}{i}/entries")

    def series(families: dict[str, Metric]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
        return {
            (s.name, tuple(sorted(s.labels.items()))) for f in families.values() for s in f.samples
        }

    site.scrape()  # the scrape's own series (op="metrics") exist from here on
    traffic("a", 5)
    first = series(site.scrape())
    traffic("b", 40)
    second = series(site.scrape())
    assert second == first
    text = repr(second)
    for word in ("agent-", "ns-", "key-", "missing-"):
        assert word not in text


def test_streams_and_watchers_are_gauges(make_site: Callable[..., Site]) -> None:
    site = make_site(heartbeat=0.2)
    agent = site.token("alice")
    with site.client(agent) as c:
        c.put("/v1/namespaces/ns/entries/k", json={"value": 0})
        with c.stream("GET", "/v1/namespaces/ns/events") as stream:
            assert stream.status_code == 200
            wait_until(lambda: value(site.scrape(), "hivemem_event_streams") == 1)
            wait_until(lambda: value(site.scrape(), "hivemem_watchers") >= 1)
    wait_until(lambda: value(site.scrape(), "hivemem_event_streams") == 0)


class _GatedEmbedder:
    """An embedder that waits for the test to let it answer."""

    name = "test/gated"
    dim = 4

    def __init__(self) -> None:
        self.go = threading.Event()

    def embed(self, texts: Any) -> Any:
        import numpy as np

        assert self.go.wait(20)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = 1.0
        return out


def test_the_embedder_queue_depth_is_reported(make_site: Callable[..., Site]) -> None:
    gated = _GatedEmbedder()
    site = make_site(embedder=gated)
    token = site.token("alice")
    mem = hivemem.connect(site.url, token=token)
    added: list[Any] = []
    adds = [
        threading.Thread(target=lambda i=i: added.append(mem.memories("kb").add(f"fact {i}")))
        for i in range(3)
    ]
    try:
        for t in adds:
            t.start()
        wait_until(lambda: value(site.scrape(), "hivemem_embedder_queue_calls") == 3, 20)
        assert value(site.scrape(), "hivemem_embedder_queue_texts") == 3
        gated.go.set()
        for t in adds:
            t.join(20)
        assert value(site.scrape(), "hivemem_embedder_queue_calls") == 0
        assert sorted(r.content for r in added) == ["fact 0", "fact 1", "fact 2"]
    finally:
        gated.go.set()
        mem.close()


@pytest.mark.parametrize(
    ("access", "auth", "anonymous", "agent", "admin"),
    [
        ("open", True, 200, 200, 200),
        ("auth", True, 401, 403, 200),
        ("off", True, 404, 404, 404),
        ("auth", False, 200, 200, 200),  # no tokens at all (loopback development)
    ],
)
def test_who_may_read_the_metrics(
    make_site: Callable[..., Site], access: str, auth: bool, anonymous: int, agent: int, admin: int
) -> None:
    site = make_site(metrics=access, auth=auth)
    for token, status in ((None, anonymous), (site.token("alice"), agent), (site.admin, admin)):
        with site.client(token if auth else None) as c:
            r = c.get("/metrics")
        assert r.status_code == status, (token, r.text)
        if status == 401:
            assert r.headers["www-authenticate"].startswith("Bearer")


def test_the_default_is_open_on_loopback_only() -> None:
    assert metrics_access(None, loopback=True) == "open"
    assert metrics_access(None, loopback=False) == "auth"
    assert metrics_access("off", loopback=True) == "off"
    assert ServeOptions(host="127.0.0.1").server_config().metrics == "open"
    assert ServeOptions(host="::1").server_config().metrics == "open"
    assert ServeOptions(host="0.0.0.0").server_config().metrics == "auth"
    assert ServeOptions(host="0.0.0.0", metrics="open").server_config().metrics == "open"
    assert ServerConfig().metrics == "auth"  # an app built by hand: the safe side
    with pytest.raises(ValueError, match="metrics must be one of"):
        ServerConfig(metrics="public")
