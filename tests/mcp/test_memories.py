"""The long-term memory tools (SPEC §10, §14) over stdio and ``/mcp``, with the real MiniLM.

The memories are the longest sixty of the labelled retrieval set (``benchmarks/data/
retrieval``, written to read like a company's accumulated notes), the queries those of the
set that they answer. Each transport adds them through the official ``mcp`` client,
searches (hybrid by default: each hit with its score and the score's parts), links, updates,
archives and restores; then the store is read back through another path. A read-only agent
gets tool errors with the stable code for every change, and the store is unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _mcp_clients import call, fail, http_session, stdio_session

import hivemem
from hivemem.mcp.tools import TOOLS
from hivemem.memories.embed import MINILM_NAME
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from conftest import Site
    from mcp import ClientSession

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "retrieval"


def _load() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    memories = [json.loads(line) for line in (DATA / "memories.jsonl").read_text().splitlines()]
    chosen = [m for m in memories if len(m["content"]) >= 150][:60]
    ids = {m["id"] for m in chosen}
    queries = [json.loads(line) for line in (DATA / "queries.jsonl").read_text().splitlines()]
    return chosen, [q for q in queries if set(q["relevant"]) <= ids]


MEMORIES, QUERIES = _load()


def test_the_data_is_realistic() -> None:
    """Dozens of memories of a few hundred characters; queries of every kind among them."""
    assert len(MEMORIES) == 60
    assert min(len(m["content"]) for m in MEMORIES) >= 150
    assert len(QUERIES) >= 10
    assert {q["kind"] for q in QUERIES} == {"exact", "mixed", "paraphrase"}


def test_record_fields_and_filters_follow_the_route_table() -> None:
    """add_memory/update_memory take the routes' fields; filters are the route's schema."""
    add = BY_NAME["memories_add"].body_schema([])
    update = BY_NAME["memories_update"].body_schema([])
    assert add is not None and update is not None
    add_props = TOOLS["add_memory"].input_schema()["properties"]
    assert set(add_props) == {"namespace", *add["properties"]}
    assert TOOLS["add_memory"].input_schema()["required"] == ["content"]
    assert set(TOOLS["update_memory"].input_schema()["properties"]) == {
        "namespace",
        "memory_id",
        *update["properties"],
    }
    search = BY_NAME["memories_semantic_search"].body_schema([])
    assert search is not None
    filters = TOOLS["search_memories"].input_schema()["properties"]["filters"]
    assert set(filters["properties"]) == set(search["properties"]["filters"]["properties"])


async def _add_all(s: ClientSession, ns: str) -> dict[str, str]:
    """Add every memory; return the set's id -> the memory's id."""
    ids = {}
    for m in MEMORIES:
        added = await call(
            s,
            "add_memory",
            namespace=ns,
            content=m["content"],
            memory_type=m["memory_type"],
            tags=m["tags"],
            importance=m["importance"],
            metadata={"set_id": m["id"]},
        )
        assert (added["content"], added["tags"]) == (m["content"], m["tags"])
        ids[m["id"]] = added["id"]
    return ids


async def _exercise(s: ClientSession, ns: str, agent: str) -> dict[str, str]:
    """Add, search, link, update, archive and restore through the tools; return the ids."""
    ids = await _add_all(s, ns)
    assert len(set(ids.values())) == len(MEMORIES)

    # Hybrid by default, each hit with its parts; a query in words finds its answer in the
    # top five, an exact identifier is keyword search's (as in tests/memories'
    # retrieval-quality test: each part wins where it should).
    for q in QUERIES:
        found = await call(s, "search_memories", namespace=ns, query=q["query"], limit=5)
        assert found["mode"] == "hybrid" and "fallback" not in found
        hits = found["results"]
        assert len(hits) == 5
        assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
        for hit in hits:
            assert {"vector", "keyword"} <= set(hit["parts"])
            assert sum(hit["parts"].values()) == pytest.approx(hit["score"], abs=1e-6)
        top = [h["memory"]["metadata"]["set_id"] for h in hits]
        if q["kind"] != "exact":
            assert set(q["relevant"]) & set(top), (q, top)
            continue
        found = await call(
            s, "search_memories", namespace=ns, query=q["query"], limit=1, mode="keyword"
        )
        assert found["mode"] == "keyword"
        assert found["results"][0]["memory"]["metadata"]["set_id"] in q["relevant"], q

    # A paraphrase shares few words with its answer: the vector part carries it.
    paraphrase = next(q for q in QUERIES if q["kind"] == "paraphrase")
    found = await call(s, "search_memories", namespace=ns, query=paraphrase["query"], limit=1)
    (best,) = found["results"]
    assert best["memory"]["metadata"]["set_id"] in paraphrase["relevant"]
    assert best["parts"]["vector"] > best["parts"]["keyword"]

    # mode=keyword runs BM25 alone; filters pass through to the API.
    exact = next(q for q in QUERIES if q["kind"] == "exact")
    incident = exact["query"].split()[0]
    keyword = await call(s, "search_memories", namespace=ns, query=incident, mode="keyword")
    assert keyword["mode"] == "keyword"
    assert set(keyword["results"][0]["parts"]) == {"keyword"}
    assert incident in keyword["results"][0]["memory"]["content"]
    events = await call(
        s, "search_memories", namespace=ns, query="outage", filters={"memory_type": "event"}
    )
    assert events["results"] and {h["memory"]["memory_type"] for h in events["results"]} == {
        "event"
    }
    bad = await fail(s, "search_memories", namespace=ns, query="x", filters={"colour": "red"})
    assert bad["code"] == "invalid_argument" and "colour" in bad["message"]

    # Links, either way.
    cause, effect = ids[MEMORIES[0]["id"]], ids[MEMORIES[1]["id"]]
    link = await call(
        s,
        "link_memories",
        namespace=ns,
        source_id=cause,
        target_id=effect,
        relationship_type="caused_by",
        strength=0.8,
    )
    assert (link["relationship_type"], link["strength"], link["agent_id"]) == (
        "caused_by",
        0.8,
        agent,
    )
    related = (await call(s, "get_related", namespace=ns, memory_id=effect))["related"]
    assert [(r["memory"]["id"], r["direction"]) for r in related] == [(cause, "incoming")]
    assert (await call(s, "get_related", namespace=ns, memory_id=cause, relationship_type="other"))[
        "related"
    ] == []

    # Update, then read back.
    changed = await call(
        s, "update_memory", namespace=ns, memory_id=effect, importance=0.95, tags=["reviewed"]
    )
    assert (changed["importance"], changed["tags"]) == (0.95, ["reviewed"])
    got = await call(s, "get_memory", namespace=ns, memory_id=effect)
    assert got["tags"] == ["reviewed"] and got["content"] == MEMORIES[1]["content"]
    assert (await fail(s, "update_memory", namespace=ns, memory_id=effect))["code"] == (
        "invalid_argument"
    )

    # Archive: searches skip it unless asked; restore=true brings it back.
    target = ids[paraphrase["relevant"][0]]
    archived = await call(s, "archive_memory", namespace=ns, memory_id=target)
    assert archived["tier"] == "archived"
    found = await call(s, "search_memories", namespace=ns, query=paraphrase["query"], limit=60)
    assert target not in {h["memory"]["id"] for h in found["results"]}
    found = await call(
        s,
        "search_memories",
        namespace=ns,
        query=paraphrase["query"],
        limit=1,
        filters={"include_archived": True},
    )
    assert found["results"][0]["memory"]["id"] == target
    restored = await call(s, "archive_memory", namespace=ns, memory_id=target, restore=True)
    assert restored["tier"] != "archived"
    # Archive one for good, for the store check afterwards.
    await call(s, "archive_memory", namespace=ns, memory_id=ids[MEMORIES[-1]["id"]])
    assert (await fail(s, "get_memory", namespace=ns, memory_id="no-such-id"))["code"] == (
        "not_found"
    )
    return ids


def _check_store(mem: hivemem.Memory, ns: str, ids: dict[str, str], agent: str) -> None:
    """What the tools did, read back through the Python API."""
    lt = mem.memories(ns)
    records = {r.id: r for r in lt.get_many(list(ids.values()))}
    assert len(records) == len(MEMORIES)
    assert {r.agent_id for r in records.values()} == {agent}
    assert records[ids[MEMORIES[-1]["id"]]].tier == "archived"
    assert records[ids[MEMORIES[1]["id"]]].tags == ["reviewed"]
    related = lt.get_related(ids[MEMORIES[0]["id"]])
    assert [(r["memory"].id, r["relationship_type"]) for r in related] == [
        (ids[MEMORIES[1]["id"]], "caused_by")
    ]


async def _refused(s: ClientSession, ns: str, ids: dict[str, str]) -> None:
    """Every change a read-only agent tries is a permission_denied tool error."""
    some, other = ids[MEMORIES[2]["id"]], ids[MEMORIES[3]["id"]]
    archived = ids[MEMORIES[-1]["id"]]
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("add_memory", {"content": "The reader tried to remember this, and must not."}),
        ("update_memory", {"memory_id": some, "content": "Overwritten by the reader."}),
        ("archive_memory", {"memory_id": some}),
        ("archive_memory", {"memory_id": archived, "restore": True}),
        ("link_memories", {"source_id": some, "target_id": other, "relationship_type": "x"}),
    ]
    for tool, arguments in attempts:
        error = await fail(s, tool, namespace=ns, **arguments)
        assert error["code"] == "permission_denied", (tool, error)
    # Reads work: the reader sees what the writer stored.
    found = await call(s, "search_memories", namespace=ns, query=QUERIES[0]["query"], limit=3)
    assert found["mode"] == "hybrid" and len(found["results"]) == 3
    assert (await call(s, "get_related", namespace=ns, memory_id=other))["related"] == []


def _snapshot(mem: hivemem.Memory, ns: str, ids: dict[str, str]) -> list[tuple[Any, ...]]:
    records = mem.memories(ns).get_many(list(ids.values()))
    return [
        (r.id, r.content, r.tier, r.importance, r.tags, r.metadata, r.updated_at) for r in records
    ]


async def test_stdio_memory_tools_with_minilm(tmp_path: Path) -> None:
    """``hivemem mcp`` over an embedded store: add, hybrid search, link, archive, audit."""
    url = f"sqlite:///{tmp_path}/x.db"
    async with stdio_session("--url", url, "--agent", "a1") as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert tools["search_memories"].annotations.read_only_hint
        assert not tools["archive_memory"].annotations.destructive_hint
        ids = await _exercise(s, "kb", "a1")
    with hivemem.connect(url, agent="checker", embedder="none") as mem:
        records = mem.access_log(agent_id="a1", namespace="kb", limit=10_000)
        _check_store(mem, "kb", ids, "a1")
    # Every change was audited as the --agent (a transaction per add, link, update...).
    writes = [r for r in records if r.action == "transact" and r.success]
    assert len(writes) >= len(MEMORIES) + 5
    assert not [r for r in records if not r.success and r.action == "transact"]


async def test_http_memory_tools_read_only_token_and_audit(site: Site) -> None:
    """/mcp as the token's agent; a read-only token changes nothing; the audit has both."""
    embedder = site.core.settings.embedder
    assert embedder is not None and embedder.name == MINILM_NAME
    embedder.load()  # as a server does at start (a cold load may outlast the client timeout)
    with site.http() as http:
        body = {"name": "kb", "default_permission": "read", "permissions": {"writer": "write"}}
        assert http.post("/v1/namespaces", json=body).status_code == 201
    async with http_session(site.url, site.token("writer")) as s:
        ids = await _exercise(s, "kb", "writer")
    with hivemem.connect(site.url, token=site.admin) as mem:
        _check_store(mem, "kb", ids, "writer")
        before = _snapshot(mem, "kb", ids)
        async with http_session(site.url, site.token("reader")) as s:
            await _refused(s, "kb", ids)
        # The reader over stdio, through the server with its token: refused the same way.
        async with stdio_session("--url", site.url, "--token", site.token("reader")) as s:
            await _refused(s, "kb", ids)
        assert _snapshot(mem, "kb", ids) == before
        lt = mem.memories("kb")
        assert lt.search("reader", filters={"include_archived": True}) == []
        assert lt.get_related(ids[MEMORIES[3]["id"]]) == []
        assert lt.get(ids[MEMORIES[-1]["id"]]).tier == "archived"
    writer = site.audit(agent_id="writer", namespace="kb")
    assert len([r for r in writer if r["action"] == "transact" and r["success"]]) >= len(MEMORIES)
    refused = [r for r in site.audit(agent_id="reader", namespace="kb") if not r["success"]]
    # Two sessions; in each the refused add, update, archive, restore and link are audited
    # as the transaction they tried (archive and restore: the empty one their up-front
    # permission check sends, so that the store audits the refusal).
    assert len([r for r in refused if r["action"] == "transact"]) == 10
    assert all(r["error"].startswith("permission_denied") for r in refused)


async def test_search_without_an_embedder_says_which_search_ran(tmp_path: Path) -> None:
    """No embedder: search_memories falls back to keyword and says why; mode=hybrid errors."""
    url = f"sqlite:///{tmp_path}/x.db"
    with hivemem.connect(url, agent="a1", embedder="none") as mem:
        mem.memories("kb").add_many(
            [{"content": m["content"], "tags": m["tags"]} for m in MEMORIES[:20]]
        )
    # HIVEMEM_EMBEDDER=none in the child: the SDK passes only the variables given here.
    env = {"HIVEMEM_EMBEDDER": "none"}
    async with stdio_session("--url", url, "--agent", "a1", env=env) as s:
        found = await call(s, "search_memories", namespace="kb", query="incident root cause")
        assert found["mode"] == "keyword"
        assert "embedder" in found["fallback"]
        assert found["results"] and all(set(h["parts"]) == {"keyword"} for h in found["results"])
        error = await fail(s, "search_memories", namespace="kb", query="x", mode="hybrid")
        assert error["code"] == "embedder_unavailable"
        bad = await fail(s, "search_memories", namespace="kb", query="x", mode="fuzzy")
        assert bad["code"] == "invalid_argument"


async def test_admin_token_has_the_same_rights_as_on_the_routes(site: Site) -> None:
    """An admin token archives in a namespace it holds no permission on, as over HTTP."""
    site.core.settings.embedder.load()
    with site.http() as http:
        body = {"name": "vault", "default_permission": None, "permissions": {"owner": "admin"}}
        assert http.post("/v1/namespaces", json=body).status_code == 201
    note = MEMORIES[5]["content"]
    async with http_session(site.url, site.token("owner")) as s:
        first = (await call(s, "add_memory", namespace="vault", content=note))["id"]
        second = (await call(s, "add_memory", namespace="vault", content=note + " (copy)"))["id"]
    async with http_session(site.url, site.token("outsider")) as s:
        refused = await fail(s, "archive_memory", namespace="vault", memory_id=first)
        assert refused["code"] == "permission_denied"
    async with http_session(site.url, site.admin) as s:
        archived = await call(s, "archive_memory", namespace="vault", memory_id=first)
        assert archived["tier"] == "archived"
    with site.http() as http:  # the route agrees
        answer = http.post(f"/v1/namespaces/vault/memories/{second}/archive")
        assert answer.status_code == 200 and answer.json()["tier"] == "archived"
