"""The server and the store without the ``semantic`` extra (issue 15, item 8): ``hivemem
serve`` starts, entries and memories (add, get, update, delete) work; what needs numpy
answers 503 ``embedder_unavailable`` with the extra to install."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hivemem.testing.server import free_port

_BLOCKER = str(Path(__file__).parent / "_no_numpy")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([_BLOCKER, env.get("PYTHONPATH", "")])
    return env


def test_numpy_is_really_blocked() -> None:
    code = "import importlib.util as u, sys; import hivemem; print(u.find_spec('numpy'))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "None"


def test_embedded_memories_without_numpy() -> None:
    code = """
import hivemem
from hivemem.errors import EmbedderUnavailable
mem = hivemem.connect("memory://")
memories = mem.memories()
record = memories.add("the deploy runs on fridays", tags=["ops"])
assert memories.get(record.id).content == "the deploy runs on fridays"
assert memories.update(record.id, importance=0.9).importance == 0.9
try:
    memories.search("deploy")
except EmbedderUnavailable as exc:
    assert "hivemem[semantic]" in str(exc), exc
else:
    raise AssertionError("search worked without numpy?")
assert memories.delete(record.id) == 1
import sys
assert "numpy" not in sys.modules
print("OK")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "OK", out.stderr


def test_hivemem_serve_without_numpy(tmp_path: Path) -> None:
    port = free_port()
    store = f"sqlite:///{tmp_path / 's.db'}"
    cmd = [sys.executable, "-m", "hivemem", "serve", "--store", store, "--no-auth"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        with httpx.Client(base_url=base, headers={"X-Agent-Id": "a1"}, timeout=10) as http:
            ns = "/v1/namespaces/default"
            assert http.put(f"{ns}/entries/k", json={"value": 1}).status_code == 200
            added = http.post(f"{ns}/memories", json={"content": "fridays we deploy"})
            assert added.status_code in (200, 201), added.text
            rid = added.json()["id"]
            got = http.get(f"{ns}/memories/{rid}")
            assert got.json()["content"] == "fridays we deploy"
            found = http.post(f"{ns}/memories/search", json={"query": "deploy"})
            assert found.status_code == 503, found.text
            error = found.json()["error"]
            assert error["code"] == "embedder_unavailable"
            assert "hivemem[semantic]" in error["message"]
            assert http.get("/healthz").status_code == 200
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=10)
