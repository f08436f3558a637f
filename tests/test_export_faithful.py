"""SPEC §20: export then import into an empty store of any backend reproduces its state.

Round trip memory:// -> sqlite:// -> redis:// -> sqlite:// (and through a server, as an
admin): every export equals the first byte for byte, nothing is re-embedded, and
compare-and-set with the versions of the source works on the copy.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import TYPE_CHECKING, Any

import orjson
import pytest

import hivemem
from hivemem.cli._dump import export_records
from hivemem.cli._restore import Restorer
from hivemem.engine import ops as o
from hivemem.errors import AlreadyExists, ConflictError, PermissionDenied
from hivemem.testing.embedders import HashEmbedder
from hivemem.testing.redis import RedisServer, redis_available

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_prefixes = itertools.count()


class CountingEmbedder(HashEmbedder):
    """A :class:`HashEmbedder` that counts the texts it embedded."""

    def __init__(self) -> None:
        super().__init__(16)
        self.calls = 0

    def embed(self, texts: Any) -> Any:
        self.calls += len(texts)
        return super().embed(texts)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not redis_available():
        pytest.skip("redis-server is not installed")
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


def _fill(mem: hivemem.Memory) -> None:
    mem.create_namespace(
        "results",
        default_permission="read",
        permissions={"worker-1": "write"},
        conflict_strategy="merge",
        description="task results",
    )
    mem.create_namespace("locks", conflict_strategy="version", max_entries=50)
    mem.write("locks", "deploy", "a", expected_version=0)
    mem.write("locks", "deploy", "b", expected_version=1)  # version 2
    mem.write("locks", "lease", "x", expected_version=0, ttl=3600)
    mem.write("results", "task-1", {"status": "done", "score": 0.9, "é": [1, None]}, "worker-1")
    mem.write("results", "task-1", {"status": "checked"}, "worker-1")
    mem.write("default", "gone", 1)
    mem.delete("default", "gone")
    internal = o.Put(agent="planner", ns="default", key="\x01lock/x", value_json='{"h":1}')
    mem._run(dataclasses.replace(internal, admin=True))  # an engine-internal key: state too
    for i in range(1100):  # more than a page of entries and of events
        mem.write("default", f"bulk/{i:05d}", {"i": i}, f"agent-{i % 3}")
    conv = mem.conversation("c1")
    conv.add_message("user", "hello there")
    conv.extend("todo", ["a", "b", "c"])
    conv.pop("todo", 0)
    lt = mem.memories("facts")
    one = lt.add("the sky is blue", memory_type="fact", tags=["color"])
    two = lt.add("grass is green", memory_type="fact", importance=0.8)
    lt.add_relationship(one.id, two.id, "related")


def _export(mem: hivemem.Memory) -> list[bytes]:
    """The store's export, without its header (its time differs)."""
    return [orjson.dumps(r) for r in export_records(mem) if r["kind"] != "header"]


def _import(mem: hivemem.Memory, lines: list[bytes], merge: str | None = None) -> Restorer:
    restorer = Restorer(mem, merge=merge)
    for line in lines:
        restorer.add(orjson.loads(line))
    restorer.flush()
    return restorer


def test_round_trip_through_every_backend(tmp_path: Path, redis_url: str) -> None:
    """memory -> sqlite -> redis -> sqlite: every export equal; no embedding; old CAS works."""
    embedder = CountingEmbedder()
    with hivemem.connect("memory://", agent="planner", embedder=embedder) as source:
        _fill(source)
        first = _export(source)
    embedded = embedder.calls
    assert embedded >= 2
    kinds = {orjson.loads(line)["kind"] for line in first}
    assert kinds == {"namespace", "entry", "event", "end"}
    # The memories' vectors, relationships and settings are internal records: exported as
    # state, never in an event (SPEC §10).
    facts = [r for r in map(orjson.loads, first) if r.get("namespace") == "facts"]
    internal = sorted(r["key"] for r in facts if r["kind"] == "entry" and r["key"] < "\x02")
    assert [k.split("/")[1] for k in internal] == ["r", "ri", "settings", "v", "v"]
    assert all(k.startswith("\x01mem/") for k in internal)
    assert all(r.get("key") is None or r["key"] > "\x02" for r in facts if r["kind"] == "event")
    urls = [
        f"sqlite:///{tmp_path}/a.db",
        f"{redis_url}?prefix=rt{next(_prefixes)}:",
        f"sqlite:///{tmp_path}/b.db",
    ]
    lines = first
    for url in urls:
        with hivemem.connect(url, agent="planner", embedder=embedder) as mem:
            _import(mem, lines)
            lines = _export(mem)
            assert lines == first, url
            entry = mem.get_entry("locks", "deploy")
            assert entry is not None and (entry.value, entry.version) == ("b", 2)
            with pytest.raises(ConflictError):
                mem.write("locks", "deploy", "c", expected_version=1)
            assert mem.write("locks", "deploy", "c", expected_version=2).version == 3
            hits = mem.memories("facts").semantic_search("blue sky", k=1)
            assert hits and hits[0].memory.content == "the sky is blue"
            assert mem.conversation("c1").get_list("todo") == ["b", "c"]
    # Only the semantic searches' queries were embedded: no record was.
    assert embedder.calls == embedded + len(urls)


def _replay(mem: hivemem.Memory, since: int) -> list[tuple[str, int, Any]]:
    """What a watcher resuming after ``since`` gets."""
    events = mem._run(o.EventsAfter(agent=mem.agent, ns="default", since=since))
    return [(e.type, e.revision, e.value) for e in events]


def test_history_and_revisions_survive(tmp_path: Path) -> None:
    """Revisions and retained events come back: watching from an old revision replays."""
    with hivemem.connect("memory://", agent="a") as source:
        for i in range(5):
            source.write("default", "k", i)
        rev = source.get_namespace("default").revision
        events = _replay(source, 2)
        lines = _export(source)
    with hivemem.connect(f"sqlite:///{tmp_path}/h.db", agent="a") as mem:
        _import(mem, lines)
        assert mem.get_namespace("default").revision == rev
        assert _replay(mem, 2) == events
        assert mem.write("default", "k", 9).revision == rev + 1


def test_import_refuses_data_unless_merge_says_how(tmp_path: Path) -> None:
    with hivemem.connect("memory://", agent="a") as source:
        source.write("team", "k", "theirs")
        source.write("team", "only-file", 1)
        lines = _export(source)
    url = f"sqlite:///{tmp_path}/m.db"
    with hivemem.connect(url, agent="a") as mem:
        mem.write("team", "k", "mine")
        mem.write("team", "only-store", 2)
        with pytest.raises(AlreadyExists):
            _import(mem, lines)
        assert mem.get_all("team") == {"k": "mine", "only-store": 2}
        done = _import(mem, lines, merge="skip")
        assert done.counts["namespaces_skipped"] == 1
        assert mem.get_all("team") == {"k": "mine", "only-store": 2}
        rev = mem.get_namespace("team").revision
        done = _import(mem, lines, merge="overwrite")
        assert done.counts["namespaces_replaced"] == 1
        assert mem.get_all("team") == {"k": "theirs", "only-file": 1, "only-store": 2}
        assert mem.get_namespace("team").revision > rev  # its history went on


def test_restore_needs_a_store_admin() -> None:
    """Over a server, an agent's token may not restore (it would write any owner)."""
    from hivemem.types import NamespaceInfo

    with hivemem.connect("memory://", agent="a") as mem, pytest.raises(PermissionDenied):
        mem._run(o.Restore(agent="a", ns="x", config=NamespaceInfo(name="x")))
