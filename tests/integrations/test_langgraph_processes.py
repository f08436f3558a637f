"""Issue 5, acceptance 3: LangGraph graphs in two processes share memory through one server.

A real ``hivemem serve`` process over a SQLite file; two agent processes
(``_langgraph_agent.py``, one driving its graph with ``invoke``, the other with ``ainvoke``)
each run a two-node graph whose nodes read and write through ``HivememStore`` with their own
agent token, and each must see the note the other stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

import hivemem
from hivemem.integrations.langgraph import HivememStore
from hivemem.testing.server import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

AGENT = [sys.executable, str(Path(__file__).with_name("_langgraph_agent.py"))]
ROOT = str(Path(hivemem.__file__).resolve().parent.parent)
DEADLINE = 60.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("HIVEMEM_URL", "HIVEMEM_TOKEN", "HIVEMEM_AGENT"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


def _hivemem(*args: str) -> list[str]:
    return [sys.executable, "-m", "hivemem", *args]


@contextlib.contextmanager
def _serve(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``hivemem serve`` on a free port; yield its URL and the admin token it printed."""
    port = free_port()
    out = tmp_path / "serve.out"
    with out.open("w") as stdout, (tmp_path / "serve.err").open("w") as stderr:
        proc = subprocess.Popen(
            _hivemem("serve", "--store", f"sqlite:///{tmp_path}/x.db", "--port", str(port)),
            stdout=stdout,
            stderr=stderr,
            text=True,
            env=_env(),
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + DEADLINE
        token = None
        while token is None:
            assert proc.poll() is None, (tmp_path / "serve.err").read_text()
            assert time.monotonic() < deadline, "hivemem serve did not start"
            for line in out.read_text().splitlines():
                if line.startswith("admin token"):
                    token = line.rsplit(" ", 1)[1]
            time.sleep(0.05)
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            assert proc.poll() is None and time.monotonic() < deadline, "no /healthz"
            time.sleep(0.05)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _agent_token(url: str, admin: str, agent: str) -> str:
    done = subprocess.run(
        _hivemem("token", "create", agent, "--url", url, "--token", admin),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=_env(),
        check=True,
    )
    return done.stdout.strip()


def test_graphs_in_two_processes_see_each_others_memories(tmp_path: Path) -> None:
    with _serve(tmp_path) as (url, admin):
        alice, bob = _agent_token(url, admin, "alice"), _agent_token(url, admin, "bob")
        procs = {
            "alice": subprocess.Popen(
                [*AGENT, url, alice, "alice", "alice likes tea", "--expect", "bob"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(),
            ),
            "bob": subprocess.Popen(
                [*AGENT, url, bob, "bob", "bob plays jazz", "--expect", "alice", "--async"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(),
            ),
        }
        states = {}
        for name, proc in procs.items():
            try:
                stdout, stderr = proc.communicate(timeout=DEADLINE + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, stderr = proc.communicate()
            assert proc.returncode == 0, f"{name} failed:\n{stdout}\n{stderr}"
            states[name] = json.loads(stdout.strip().splitlines()[-1])
        for name in ("alice", "bob"):
            assert states[name]["seen"] == {
                "alice": ["alice likes tea"],
                "bob": ["bob plays jazz"],
            }, name
            assert states[name]["rounds"] >= 1

        # A third look, from this process: both processes' items, written by their agents.
        with HivememStore(url=url, token=admin) as store:
            items = {i.namespace: i.value for i in store.search(("notes",))}
            assert items == {
                ("notes", "alice"): {"notes": ["alice likes tea"], "by": "alice"},
                ("notes", "bob"): {"notes": ["bob plays jazz"], "by": "bob"},
            }
            owners = {
                e.key: e.owner for e in store.memory.list_entries("langgraph", prefix="notes/")
            }
            assert owners == {"notes/alice/:log": "alice", "notes/bob/:log": "bob"}


def _run(args: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("_langgraph_index_agent.py")), *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE * 3,
        env=_env(),
    )
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout.strip().splitlines()[-1]


def test_a_graph_in_another_process_searches_by_meaning_what_one_process_stored(
    tmp_path: Path,
) -> None:
    """Issue 16, item 5: one process puts with ``index``, another's graph node searches."""
    from _langgraph_index_agent import FIELDS, ITEMS, build, puts
    from _lg_fixture import QUERIES, catalog
    from langgraph.store.base import get_text_at_path
    from langgraph.store.memory import InMemoryStore

    from hivemem.memories.embed import MiniLMEmbedder

    with _serve(tmp_path) as (url, admin):
        writer, reader = _agent_token(url, admin, "writer"), _agent_token(url, admin, "reader")
        stored = json.loads(_run(["put", url, writer]))
        searched = json.loads(_run(["search", url, reader]))
        with HivememStore(url=url, token=admin) as plain:
            owners = {e.owner for e in plain.memory.list_entries("langgraph", limit=1000).items}
            assert owners == {"writer"}
            assert len(plain.search((), limit=1000)) == ITEMS  # vectors are not items

    # The reference: LangGraph's InMemoryStore with the same model, fed the same vectors
    # (every distinct text embedded in one call, in the order the writer's batch met them).
    model = MiniLMEmbedder()
    texts = list(
        dict.fromkeys(
            text
            for _, _, value in catalog(ITEMS)
            for f in FIELDS
            for text in get_text_at_path(value, f)
        )
    )
    cache = dict(zip(texts, model.embed(texts).tolist(), strict=True))

    def embed(batch: Any) -> list[list[float]]:
        missing = [t for t in batch if t not in cache]
        if missing:
            cache.update(zip(missing, model.embed(missing).tolist(), strict=True))
        return [cache[t] for t in batch]

    ref = InMemoryStore(index={"dims": 384, "embed": embed, "fields": FIELDS})
    for op in puts():
        ref.batch([op])
    expected = build(ref).invoke({"queries": QUERIES, "top": []})["top"]
    assert stored == {"stored": sum(1 for ns, _, _ in catalog(ITEMS) if ns[0] == "kb")}
    assert [(ns, key) for ns, key, _ in searched] == [(ns, key) for ns, key, _ in expected]
    for (_, _, got), (_, _, want) in zip(searched, expected, strict=True):
        assert abs(got - want) < 1e-5
    assert len({key for _, key, _ in searched}) > 1  # different queries, different answers
