"""A real OpenAI-compatible embeddings server on a free loopback port, for tests.

:class:`EmbeddingsServer` runs uvicorn (a real socket, real HTTP) over a small Starlette
app in a daemon thread, like :class:`hivemem.testing.server.ServerThread`. It answers
``POST /v1/embeddings`` in the OpenAI API's shape with the vectors of an embedder (the
bundled MiniLM by default), so :class:`hivemem.memories.embed.OpenAIEmbedder` can be tested
end to end without a network::

    with EmbeddingsServer(api_key="sk-test") as server:
        emb = OpenAIEmbedder(server.url, "all-MiniLM-L6-v2", api_key="sk-test")
        emb.embed(["hello"])
        assert server.requests == 1
"""

from __future__ import annotations

import base64
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

from hivemem.memories.embed import MiniLMEmbedder
from hivemem.testing.server import free_port

if TYPE_CHECKING:
    from starlette.requests import Request

    from hivemem.memories.embed import Embedder

__all__ = ["EmbeddingsServer", "openai_error"]


def openai_error(status: int, message: str, type_: str, code: str | None) -> JSONResponse:
    """An error answer in the OpenAI API's shape."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


def _tokens(text: str) -> int:
    """A rough token count (OpenAI's rule of thumb: four characters a token)."""
    return max(1, (len(text) + 3) // 4)


class EmbeddingsServer:
    """uvicorn serving OpenAI-shaped ``/v1/embeddings`` on a free port, in a daemon thread.

    Args:
        embedder: What computes the vectors; default :class:`MiniLMEmbedder`.
        model: The one model name it accepts (others get OpenAI's 404 ``model_not_found``).
        api_key: When set, requests must carry ``Authorization: Bearer <api_key>`` (else 401).

    Attributes:
        url: The API's base URL, ending in ``/v1``.
        requests: How many ``/v1/embeddings`` requests it answered with vectors.
        last_body: The JSON body of the last such request.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        model: str = "all-MiniLM-L6-v2",
        api_key: str | None = None,
    ) -> None:
        self.embedder = embedder if embedder is not None else MiniLMEmbedder()
        self.model = model
        self.api_key = api_key
        self.requests = 0
        self.last_body: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.url = f"http://{self.host}:{self.port}/v1"
        self.app = Starlette(routes=[Route("/v1/embeddings", self._embeddings, methods=["POST"])])
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, name="hivemem-embeddings-server", daemon=True
        )

    async def _embeddings(self, request: Request) -> JSONResponse:
        if self.api_key is not None:
            auth = request.headers.get("authorization", "")
            if auth != f"Bearer {self.api_key}":
                message = (
                    "You didn't provide an API key." if not auth else "Incorrect API key provided."
                )
                return openai_error(401, message, "invalid_request_error", "invalid_api_key")
        try:
            body = await request.json()
        except ValueError:
            return openai_error(400, "The body is not valid JSON.", "invalid_request_error", None)
        if not isinstance(body, dict):
            return openai_error(
                400, "The body must be a JSON object.", "invalid_request_error", None
            )
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return openai_error(
                400, "You must provide a model parameter.", "invalid_request_error", None
            )
        if model != self.model:
            return openai_error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return openai_error(
                400,
                "'input' must be a string or a non-empty array of strings.",
                "invalid_request_error",
                None,
            )
        dimensions = body.get("dimensions")
        if dimensions is not None and (
            not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1
        ):
            return openai_error(
                400, "'dimensions' must be a positive integer.", "invalid_request_error", None
            )
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            return openai_error(
                400,
                "'encoding_format' must be 'float' or 'base64'.",
                "invalid_request_error",
                None,
            )
        try:
            vectors = await run_in_threadpool(self.embedder.embed, texts)
        except Exception as exc:
            return openai_error(500, f"The embedder failed: {exc}", "server_error", None)
        if dimensions is not None:
            if dimensions > vectors.shape[1]:
                return openai_error(
                    400,
                    f"This model has {vectors.shape[1]} dimensions; asked for {dimensions}.",
                    "invalid_request_error",
                    None,
                )
            # Shortened like OpenAI's text-embedding-3 models: cut, then renormalise.
            vectors = vectors[:, :dimensions]
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = np.asarray(vectors, dtype=np.float32)
        with self._lock:
            self.requests += 1
            self.last_body = body
        data = []
        for i, row in enumerate(vectors):
            embedding: Any
            if encoding == "base64":
                embedding = base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
            else:
                embedding = row.tolist()
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        tokens = sum(_tokens(t) for t in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": self.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    def start(self) -> EmbeddingsServer:
        """Start serving; return once the socket accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the embeddings server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> EmbeddingsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
