"""A server loads its embedder at start; ``/readyz`` answers 503 until then (SPEC §10).

The first test runs ``hivemem serve`` with the real MiniLM as a subprocess and watches it
get ready; the others drive the app's lifespan in process with embedders whose load the
test controls (an embedder is pluggable: any object with ``name``, ``dim``, ``embed`` and,
to be loaded at start, ``load``), and the real MiniLM's model lock in a fresh process.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
from starlette.testclient import TestClient

from hivemem._connect import _open
from hivemem.errors import EmbedderUnavailable
from hivemem.memories.embed import MINILM_NAME
from hivemem.server import ServerConfig, create_app
from hivemem.testing.embedders import HashEmbedder
from hivemem.testing.server import free_port

if TYPE_CHECKING:
    from pathlib import Path

#: Seconds MiniLM may take to load on a busy machine (6 s on an idle one).
LOAD_DEADLINE = 240.0

_LOADED = "loaded the MiniLM embedder"
_READY = re.compile(r"embedder minilm/all-MiniLM-L6-v2 loaded in (\d+\.\d) s; ready")

#: A record of the size the memories hold: a few hundred characters.
NOTE = (
    "Timeline INC-8264: the alert fired at 02:10, sms-gateway had p99 latency above eight "
    "seconds; an expired TLS certificate on the internal load balancer was found after 25 "
    "minutes; rotating the certificate fixed it, and a renewal check now pages a week ahead."
)


def _wait(predicate: Any, what: str, deadline: float = LOAD_DEADLINE) -> Any:
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_serve_loads_minilm_at_start_and_readyz_waits_for_it(tmp_path: Path) -> None:
    """503 "embedder loading" while MiniLM loads (the server answers meanwhile), then 200;
    the load is logged with its seconds, and adding memories never loads it again."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    err = tmp_path / "serve.err"
    argv = [sys.executable, "-m", "hivemem", "serve", "--store", f"sqlite:///{tmp_path}/s.db",
            "--port", str(port), "--embedder", "minilm", "--log-level", "info",
            "--cleanup-interval", "0", "--decay-interval", "0"]  # fmt: skip
    with (tmp_path / "serve.out").open("wb") as out, err.open("wb") as errors:
        proc = subprocess.Popen(argv, stdout=out, stderr=errors, stdin=subprocess.DEVNULL)
    try:

        def answered() -> httpx.Response | None:
            assert proc.poll() is None, err.read_text()
            try:
                return httpx.get(url + "/readyz", timeout=5)
            except httpx.TransportError:
                return None

        first = _wait(answered, "the server to answer", 60)
        assert first.status_code == 503, first.text
        error = first.json()["error"]
        assert error["code"] == "embedder_unavailable"
        assert error["message"].startswith(f"embedder loading: {MINILM_NAME}")
        # Not ready, but alive: everything else answers meanwhile.
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200
        ready = _wait(lambda: (r := answered()) is not None and r.status_code == 200 and r, "ready")
        embedder = ready.json()["embedder"]
        assert (embedder["name"], embedder["state"]) == (MINILM_NAME, "ready")
        assert embedder["load_seconds"] > 0
        log = err.read_text()
        assert f"loading the embedder {MINILM_NAME}" in log
        (seconds,) = _READY.findall(log)
        assert float(seconds) == round(embedder["load_seconds"], 1)
        assert log.count(_LOADED) == 1

        token = _wait(lambda: re.search(r"admin token[^:]*: (\S+)", (tmp_path / "serve.out")
                                        .read_text()), "the admin token", 10).group(1)  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            started = time.monotonic()
            added = http.post("/v1/namespaces/kb/memories", json={"content": NOTE})
            first_add = time.monotonic() - started
            assert added.status_code == 201, added.text
            for i in range(20):
                body = {"content": f"{NOTE} (note {i}: follow-up {i * 7} on the renewal check)"}
                assert http.post("/v1/namespaces/kb/memories", json=body).status_code == 201
            found = http.post(
                "/v1/namespaces/kb/memories/semantic-search",
                json={"query": "which certificate expired on the load balancer", "k": 3},
            )
            assert found.status_code == 200, found.text
            assert found.json()["results"][0]["parts"]["vector"] > 0
        log = err.read_text()
        assert log.count(_LOADED) == 1  # the adds and the search used the model loaded at start
        assert "waits for the MiniLM model" not in log
        assert first_add < float(seconds) + 30, (first_add, seconds)
        print(f"\nMiniLM loaded at start in {seconds} s; the first add then took {first_add:.3f} s")
    finally:
        proc.terminate()
        proc.wait(30)


class _GatedEmbedder(HashEmbedder):
    """A pluggable embedder whose ``load()`` returns when the test says, or fails."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.release = threading.Event()
        self.loads = 0
        self.fail = fail

    def load(self) -> None:
        self.loads += 1
        self.release.wait(60)
        if self.fail:
            raise EmbedderUnavailable("the model file is corrupt")


def _app(tmp_path: Path, embedder: Any) -> tuple[Any, Any]:
    core = _open(f"sqlite:///{tmp_path}/s.db", None, None, {"embedder": embedder})
    return core, create_app(core, ServerConfig(auth=False))


def test_readyz_is_503_until_the_load_ends(tmp_path: Path) -> None:
    """The lifespan starts the load without waiting for it; /readyz follows it."""
    gated = _GatedEmbedder()
    core, app = _app(tmp_path, gated)
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            loading = client.get("/readyz")
            assert loading.status_code == 503
            assert loading.json()["error"]["code"] == "embedder_unavailable"
            assert "embedder loading: test/hash-16" in loading.json()["error"]["message"]
            # Entries are served meanwhile.
            put = client.put("/v1/namespaces/n/entries/k", json={"value": 1})
            assert put.status_code == 200
            gated.release.set()
            ready = _wait(lambda: (r := client.get("/readyz")).status_code == 200 and r, "ready")
            assert ready.json()["embedder"]["state"] == "ready"
        with TestClient(app, base_url="http://127.0.0.1") as client:  # a second lifespan
            assert client.get("/readyz").status_code == 200
        assert gated.loads == 1
    finally:
        core.close()


def test_a_failed_load_keeps_readyz_503_with_the_cause(tmp_path: Path) -> None:
    broken = _GatedEmbedder(fail=True)
    broken.release.set()
    core, app = _app(tmp_path, broken)
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:

            def failed() -> Any:
                answer = client.get("/readyz").json()
                return "failed to load" in answer.get("error", {}).get("message", "") and answer

            answer = _wait(failed, "the failure")
            assert answer["error"]["code"] == "embedder_unavailable"
            assert "the model file is corrupt" in answer["error"]["message"]
            assert client.get("/healthz").status_code == 200
    finally:
        core.close()


def test_no_embedder_or_nothing_to_load_is_ready_at_once(tmp_path: Path) -> None:
    """--embedder none, or an embedder without load() (an HTTP endpoint): ready at once."""
    for i, (embedder, expected) in enumerate((("none", None), (HashEmbedder(), "test/hash-16"))):
        (tmp_path / str(i)).mkdir()
        core, app = _app(tmp_path / str(i), embedder)
        try:
            with TestClient(app, base_url="http://127.0.0.1") as client:
                answer = client.get("/readyz")
                assert answer.status_code == 200, answer.text
                got = answer.json()["embedder"]
                assert (got and got["name"]) == expected
        finally:
            core.close()


def test_an_embedding_during_the_load_waits_for_it_logged(tmp_path: Path) -> None:
    """The real MiniLM, in a fresh process: a warm-up loads it while an embedding is asked
    for; the embedding waits (a warning says so) and the model loads once."""
    script = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
        "from hivemem.memories.embed import EmbedderWarmup, MiniLMEmbedder\n"
        "warm = EmbedderWarmup(MiniLMEmbedder())\n"
        "warm.start()\n"
        "vec = MiniLMEmbedder().embed(['" + NOTE + "'])\n"
        "print(vec.shape)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=LOAD_DEADLINE
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 384)"
    assert done.stderr.count(_LOADED) == 1
    assert done.stderr.count("waits for the MiniLM model, which is still loading") == 1
