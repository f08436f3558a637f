"""Embedders: the bundled MiniLM, an OpenAI-compatible endpoint (a real HTTP server), specs.

No mocks: MiniLM is the real model (loaded once per session), and the OpenAI embedder talks
to :class:`EmbeddingsServer` over a loopback socket, or to a tiny Starlette app that answers
malformed replies on purpose.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hivemem.errors import EmbedderUnavailable, InvalidArgument
from hivemem.memories.embed import (
    MINILM_NAME,
    Embedder,
    MiniLMEmbedder,
    OpenAIEmbedder,
    embedder_from,
)
from hivemem.testing.embeddings_server import EmbeddingsServer
from hivemem.testing.server import ServerThread, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.requests import Request

MODEL = "all-MiniLM-L6-v2"
KEY = "sk-test-0123"

TEXTS = [
    "The cat sat on the mat.",
    "A kitten is resting on the rug.",
    "Quarterly revenue grew by twelve percent.",
    "The deployment failed because the cache was cold.",
    "Paris is the capital of France.",
    "",
    "Un texte en français, pour changer.",
    "Agents share memory through namespaces with permissions.",
    "The weather tomorrow will be rainy and cold.",
    "A long text " + "with many repeated words " * 80,
]


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real MiniLM, loaded once for the session."""
    return MiniLMEmbedder().load()


@pytest.fixture(scope="module")
def server(minilm: MiniLMEmbedder) -> Iterator[EmbeddingsServer]:
    # The default embedder: a MiniLMEmbedder, sharing the model `minilm` loaded.
    with EmbeddingsServer(model=MODEL, api_key=KEY) as srv:
        yield srv


@pytest.fixture
def client(server: EmbeddingsServer) -> Iterator[OpenAIEmbedder]:
    with OpenAIEmbedder(server.url, MODEL, api_key=KEY, timeout=30) as emb:
        yield emb


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# ---------------------------------------------------------------------------------- MiniLM


def test_minilm_shape_dtype_and_unit_norm(minilm: MiniLMEmbedder) -> None:
    vecs = minilm.embed(TEXTS)
    assert vecs.shape == (len(TEXTS), 384)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vecs).all()
    assert minilm.name == MINILM_NAME == "minilm/all-MiniLM-L6-v2"
    assert minilm.dim == 384
    assert isinstance(minilm, Embedder)


def test_minilm_similar_sentences_score_higher(minilm: MiniLMEmbedder) -> None:
    cat, kitten, revenue, weather = minilm.embed(
        [TEXTS[0], TEXTS[1], TEXTS[2], "Tomorrow it will rain and be chilly."]
    )
    rainy = minilm.embed([TEXTS[8]])[0]
    assert cos(cat, kitten) > 0.5
    assert cos(cat, kitten) > cos(cat, revenue) + 0.3
    assert cos(weather, rainy) > cos(weather, revenue) + 0.3


def test_minilm_is_deterministic_and_batching_does_not_change_vectors(
    minilm: MiniLMEmbedder,
) -> None:
    once = minilm.embed(TEXTS)
    again = minilm.embed(TEXTS)
    np.testing.assert_array_equal(once, again)
    singles = np.stack([minilm.embed([t])[0] for t in TEXTS])
    np.testing.assert_allclose(singles, once, atol=1e-5)
    small_batches = MiniLMEmbedder(batch_size=3).embed(TEXTS)
    np.testing.assert_allclose(small_batches, once, atol=1e-5)


def test_minilm_matches_sentence_transformers_encode(minilm: MiniLMEmbedder) -> None:
    """The fast path gives the vectors of ``SentenceTransformer.encode`` itself."""
    from hivemem.memories import embed

    model = embed._minilm("cpu").model
    want = model.encode(
        TEXTS, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
    )
    np.testing.assert_allclose(minilm.embed(TEXTS), want, atol=1e-5)


def test_minilm_empty_input(minilm: MiniLMEmbedder) -> None:
    out = minilm.embed([])
    assert out.shape == (0, 384)
    assert out.dtype == np.float32


def test_minilm_rejects_non_text_input(minilm: MiniLMEmbedder) -> None:
    with pytest.raises(InvalidArgument):
        minilm.embed("a bare string")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        minilm.embed(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidArgument):
        MiniLMEmbedder(batch_size=0)


def test_minilm_instances_share_one_model(minilm: MiniLMEmbedder) -> None:
    from hivemem.memories import embed

    before = embed._minilm("cpu")
    MiniLMEmbedder(batch_size=8).embed(["shared"])
    assert embed._minilm("cpu") is before


def test_minilm_is_thread_safe(minilm: MiniLMEmbedder) -> None:
    want = minilm.embed(TEXTS)
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = MiniLMEmbedder().embed([TEXTS[i]])[0]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(TEXTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, vec in results.items():
        np.testing.assert_allclose(vec, want[i], atol=1e-5)


def test_minilm_construction_imports_nothing() -> None:
    code = (
        "import sys\n"
        "from hivemem.memories.embed import MiniLMEmbedder, embedder_from\n"
        "e = MiniLMEmbedder(); e2 = embedder_from('minilm')\n"
        "assert e.dim == 384 and e2.name == 'minilm/all-MiniLM-L6-v2'\n"
        "e.embed([])\n"
        "heavy = [m for m in ('sentence_transformers', 'torch', 'transformers') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HIVEMEM_EMBEDDER"}
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stderr


def test_minilm_keeps_torch_thread_setting(minilm: MiniLMEmbedder) -> None:
    import torch

    threads = torch.get_num_threads()
    minilm.embed(["one text"])
    minilm.embed([f"text number {i}" for i in range(40)])
    assert torch.get_num_threads() == threads


def test_length_batches() -> None:
    from hivemem.memories.embed import _length_batches

    texts = ["x" * 1000, "y" * 600, "z" * 400, "w" * 30, "v" * 20, "u" * 10]
    assert _length_batches(texts, 64) == [[0, 1], [2], [3, 4, 5]]
    assert _length_batches(texts, 1) == [[i] for i in range(6)]
    assert _length_batches(["a"] * 5, 2) == [[0, 1], [2, 3], [4]]
    assert _length_batches([], 8) == []


def test_minilm_without_the_semantic_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['sentence_transformers'] = None  # as if not installed\n"
        "from hivemem.errors import EmbedderUnavailable\n"
        "from hivemem.memories.embed import MiniLMEmbedder\n"
        "try:\n"
        "    MiniLMEmbedder().embed(['x'])\n"
        "except EmbedderUnavailable as exc:\n"
        "    print(exc.message)\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "sentence_transformers" in out.stdout
    assert "hivemem[semantic]" in out.stdout


# ------------------------------------------------------------------ OpenAI vs EmbeddingsServer


def test_openai_vectors_equal_minilm(client: OpenAIEmbedder, minilm: MiniLMEmbedder) -> None:
    assert client.name == f"openai/{MODEL}"
    assert client.dim is None
    got = client.embed(TEXTS)
    want = minilm.embed(TEXTS)
    assert got.shape == (len(TEXTS), 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    for g, w in zip(got, want, strict=True):
        assert cos(g, w) > 0.999
    assert client.dim == 384
    assert client.embed([]).shape == (0, 384)


def test_openai_batches_preserve_order(server: EmbeddingsServer, minilm: MiniLMEmbedder) -> None:
    want = minilm.embed(TEXTS)
    before = server.requests
    with OpenAIEmbedder(server.url, MODEL, api_key=KEY, batch_size=3) as emb:
        got = emb.embed(TEXTS)
    assert server.requests - before == 4  # 3 + 3 + 3 + 1
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert server.last_body == {"model": MODEL, "input": [TEXTS[9]]}


def test_openai_sends_dimensions(server: EmbeddingsServer) -> None:
    with OpenAIEmbedder(server.url, MODEL, api_key=KEY, dimensions=64) as emb:
        assert emb.dim == 64
        got = emb.embed(TEXTS[:3])
    assert server.last_body is not None
    assert server.last_body["dimensions"] == 64
    assert got.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_openai_api_key_required_and_sent(server: EmbeddingsServer) -> None:
    with (
        OpenAIEmbedder(server.url, MODEL, api_key="sk-wrong") as emb,
        pytest.raises(EmbedderUnavailable) as err,
    ):
        emb.embed(["x"])
    assert "401" in err.value.message
    assert "Incorrect API key" in err.value.message
    assert "sk-wrong" not in err.value.message


def test_openai_api_key_from_environment(
    server: EmbeddingsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HIVEMEM_EMBEDDER_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with OpenAIEmbedder(server.url, MODEL) as emb, pytest.raises(EmbedderUnavailable) as err:
        emb.embed(["x"])
    assert "401" in err.value.message
    assert "didn't provide an API key" in err.value.message

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with OpenAIEmbedder(server.url, MODEL) as emb:
        assert emb.embed(["x"]).shape == (1, 384)
    # $HIVEMEM_EMBEDDER_API_KEY wins over $OPENAI_API_KEY.
    monkeypatch.setenv("HIVEMEM_EMBEDDER_API_KEY", "sk-wrong")
    with OpenAIEmbedder(server.url, MODEL) as emb, pytest.raises(EmbedderUnavailable):
        emb.embed(["x"])


def test_openai_wrong_model_carries_server_message(server: EmbeddingsServer) -> None:
    with (
        OpenAIEmbedder(server.url, "no-such-model", api_key=KEY) as emb,
        pytest.raises(EmbedderUnavailable) as err,
    ):
        emb.embed(["x"])
    assert "404" in err.value.message
    assert "The model `no-such-model` does not exist" in err.value.message
    assert err.value.code == "embedder_unavailable"


def test_openai_server_down_fails_fast() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with OpenAIEmbedder(url, MODEL, timeout=5) as emb:
        start = time.monotonic()
        with pytest.raises(EmbedderUnavailable) as err:
            emb.embed(["x"])
        assert time.monotonic() - start < 2
    assert "cannot reach" in err.value.message


def test_embeddings_server_validates_requests(server: EmbeddingsServer) -> None:
    import httpx

    auth = {"Authorization": f"Bearer {KEY}"}
    url = f"{server.url}/embeddings"
    one = httpx.post(url, json={"model": MODEL, "input": "hello"}, headers=auth)
    assert one.status_code == 200
    body = one.json()
    assert body["object"] == "list"
    assert body["model"] == MODEL
    assert body["data"][0]["object"] == "embedding"
    assert body["data"][0]["index"] == 0
    assert len(body["data"][0]["embedding"]) == 384
    assert body["usage"]["prompt_tokens"] > 0
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"]
    for bad in ({"model": MODEL, "input": []}, {"model": MODEL, "input": [1, 2]}, {"input": "x"}):
        answer = httpx.post(url, json=bad, headers=auth)
        assert answer.status_code == 400
        assert answer.json()["error"]["type"] == "invalid_request_error"
    missing = httpx.post(url, json={"model": MODEL, "input": "x"})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"


# ------------------------------------------------------------------------ malformed answers

MALFORMED: dict[str, Any] = {
    "not_json": Response(b"<html>oops</html>", media_type="text/html"),
    "no_data": JSONResponse({"object": "list"}),
    "wrong_count": JSONResponse(
        {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [1.0, 0.0]}]}
    ),
    "ragged": JSONResponse(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
                {"object": "embedding", "index": 1, "embedding": [1.0, 0.0, 0.0]},
            ],
        }
    ),
    "bad_index": JSONResponse(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
                {"object": "embedding", "index": 0, "embedding": [0.0, 1.0]},
            ],
        }
    ),
    "not_numbers": JSONResponse(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": 0, "embedding": ["a", "b"]},
                {"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
            ],
        }
    ),
    "server_error": Response(b"upstream exploded", status_code=502),
}


@pytest.fixture(scope="module")
def bad_server() -> Iterator[str]:
    async def reply(request: Request) -> Response:
        return MALFORMED[request.path_params["kind"]]

    async def reversed_order(request: Request) -> Response:
        body = await request.json()
        data = [
            {"object": "embedding", "index": i, "embedding": [float(i + 1), 1.0]}
            for i in range(len(body["input"]))
        ]
        return JSONResponse({"object": "list", "data": data[::-1], "model": body["model"]})

    app = Starlette(
        routes=[
            Route("/reversed/embeddings", reversed_order, methods=["POST"]),
            Route("/{kind}/embeddings", reply, methods=["POST"]),
        ]
    )
    with ServerThread() as st:
        yield st.mount(app)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("not_json", "not JSON"),
        ("no_data", "no 'data'"),
        ("wrong_count", "sent 2 texts, got 1"),
        ("ragged", "different dimensions"),
        ("bad_index", "index 0"),
        ("not_numbers", "other than numbers"),
        ("server_error", "HTTP 502 Bad Gateway: upstream exploded"),
    ],
)
def test_openai_malformed_answers(bad_server: str, kind: str, words: str) -> None:
    with (
        OpenAIEmbedder(f"{bad_server}/{kind}", "m") as emb,
        pytest.raises(EmbedderUnavailable) as err,
    ):
        emb.embed(["a", "b"])
    assert words in err.value.message


def test_openai_orders_by_index(bad_server: str) -> None:
    with OpenAIEmbedder(f"{bad_server}/reversed", "m") as emb:
        got = emb.embed(["a", "b", "c"])
    want = np.array([[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert got.dtype == np.float32


def test_openai_timeout(minilm: MiniLMEmbedder) -> None:
    class Slow:
        name = "slow"
        dim = 384

        def embed(self, texts: Any) -> np.ndarray:
            time.sleep(1.5)
            return minilm.embed(texts)

    with EmbeddingsServer(Slow(), model=MODEL) as srv:
        with (
            OpenAIEmbedder(srv.url, MODEL, timeout=0.3) as emb,
            pytest.raises(EmbedderUnavailable) as err,
        ):
            emb.embed(["x"])
        assert "timed out after 0.3s" in err.value.message


def test_openai_rejects_bad_arguments() -> None:
    for args, kwargs in [
        (("ftp://x/v1", "m"), {}),
        (("not a url", "m"), {}),
        (("http://x/v1", ""), {}),
        (("http://x/v1", "m"), {"batch_size": 0}),
        (("http://x/v1", "m"), {"timeout": 0}),
        (("http://x/v1", "m"), {"dimensions": -1}),
    ]:
        with pytest.raises(InvalidArgument):
            OpenAIEmbedder(*args, **kwargs)


# -------------------------------------------------------------------------- embedder_from


def test_embedder_from_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIVEMEM_EMBEDDER", raising=False)
    assert embedder_from(None) is None
    assert embedder_from("none") is None
    assert embedder_from(" None ") is None
    mini = embedder_from("minilm")
    assert isinstance(mini, MiniLMEmbedder)
    assert embedder_from(mini) is mini

    oa = embedder_from("openai:http://127.0.0.1:8001/v1?model=text-embedding-3-small&x=1")
    assert isinstance(oa, OpenAIEmbedder)
    assert oa.name == "openai/text-embedding-3-small"
    assert oa.base_url == "http://127.0.0.1:8001/v1"
    assert oa.model == "text-embedding-3-small"
    oa.close()

    class Custom:
        name = "custom/v1"
        dim = 2

        def embed(self, texts: Any) -> np.ndarray:
            return np.ones((len(texts), 2), dtype=np.float32) / np.sqrt(2)

    custom = Custom()
    assert embedder_from(custom) is custom


def test_embedder_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIVEMEM_EMBEDDER", "minilm")
    assert isinstance(embedder_from(None), MiniLMEmbedder)
    monkeypatch.setenv("HIVEMEM_EMBEDDER", "none")
    assert embedder_from(None) is None
    monkeypatch.setenv("HIVEMEM_EMBEDDER", "")
    assert embedder_from(None) is None
    monkeypatch.setenv("HIVEMEM_EMBEDDER", "openai:https://api.example.com/v1?model=e5")
    oa = embedder_from(None)
    assert isinstance(oa, OpenAIEmbedder)
    assert oa.name == "openai/e5"
    oa.close()
    # An explicit spec wins over the environment.
    assert embedder_from("none") is None
    monkeypatch.setenv("HIVEMEM_EMBEDDER", "word2vec")
    with pytest.raises(InvalidArgument, match="HIVEMEM_EMBEDDER"):
        embedder_from(None)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "word2vec",
        "minilm:large",
        "openai:http://127.0.0.1:8001/v1",
        "openai:http://127.0.0.1:8001/v1?model=",
        "openai:http://127.0.0.1:8001/v1?dimensions=3",
        "openai:?model=m",
        "openai:ftp://host/v1?model=m",
        "openai:127.0.0.1:8001/v1?model=m",
        42,
        object(),
    ],
)
def test_embedder_from_bad_specs(spec: Any) -> None:
    with pytest.raises(InvalidArgument):
        embedder_from(spec)
