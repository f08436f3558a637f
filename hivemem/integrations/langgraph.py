"""``HivememStore``: a LangGraph ``BaseStore`` over any hivemem store (SPEC §16).

LangGraph agents keep long-term memory in a ``BaseStore``; this one keeps it in hivemem, so
graphs in different processes (or on different machines, through ``hivemem serve``) share
it::

    from hivemem.integrations.langgraph import HivememStore

    store = HivememStore(url="http://127.0.0.1:7700", token="...")
    graph = builder.compile(store=store)

How LangGraph's model maps onto hivemem:

- Every item lives in one hivemem namespace (``"langgraph"`` unless told otherwise), under a
  key made of the LangGraph namespace and key: each namespace label followed by ``/``, then
  ``:`` and the item key (``("users", "42")``, ``"prefs"`` → ``users/42/:prefs``). ``%``,
  ``/`` and ``:`` in labels, ``%`` in keys and control characters anywhere are
  percent-escaped, so any string works. The whole key must fit hivemem's 1,024 UTF-8 bytes;
  putting a longer one raises :class:`~hivemem.TooLarge` (getting one finds nothing).
- The item's value dict is the hivemem value; ``created_at`` and ``updated_at`` come from
  the hivemem entry (UTC datetimes). A value written by another hivemem client that is not
  a dict reads as ``{"value": <it>}``.
- ``search`` lists the entries under the encoded namespace prefix page by page (in key
  order) and filters them here with LangGraph's operators (plain equality, ``$eq``,
  ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``; nested dicts match field by field). An
  ordering comparison matches only numbers against numbers or strings against strings: an
  item whose field is missing or of another type does not match (it never raises).
  Without an ``index`` (or without a ``query``), as LangGraph's ``InMemoryStore`` does,
  the ``query`` argument is ignored, ``index`` arguments of ``put`` have no effect and
  results carry ``score=None``.
  Filtering happens in this process, so a search reads every entry under the prefix
  until it has ``offset + limit`` matches. Entries of the hivemem namespace whose keys
  this encoding did not make are skipped.
- Semantic search (``index=``, LangGraph's ``IndexConfig``; see the next section).
- ``list_namespaces`` scans the keys (under the literal part of a prefix condition) and
  lists the namespaces that hold at least one item, sorted, as LangGraph's SQL stores do.
- TTL (``supports_ttl`` is True): a ``ttl`` in minutes becomes the hivemem per-write TTL in
  seconds, and hivemem expires the entry. ``TTLConfig`` ``default_ttl`` and
  ``refresh_on_read`` apply as LangGraph documents; ``sweep_interval_minutes`` is not
  needed (the hivemem store sweeps) and expired items are never returned
  (``omit_expired`` holds always). Refreshing the TTL of an item on ``get``/``search``
  re-writes it with the same value and TTL (``expected_version`` guarded, so it never
  overwrites a newer write): hivemem has no touch, so a refresh also bumps the entry's
  version and ``updated_at`` and emits a ``memory:write`` event. The items returned carry
  the times as read, before the refresh. Refreshes are best effort: an agent without write
  permission still reads.
- ``batch``/``abatch`` follow LangGraph's reference stores: results come back in the order
  of the ops; reads (get, search, list_namespaces) see the store as it was before the
  batch's writes; the writes run last, and of several puts to one item the last wins. A
  put whose value is ``None`` deletes. The writes of one batch are not one transaction:
  puts with the same TTL go in one all-or-nothing ``write_many`` (per 100 items), deletes
  one by one.

Semantic search, with ``index={"dims": ..., "embed": ..., "fields": [...]}``:

- ``embed`` is what LangGraph accepts (a LangChain ``Embeddings``, a sync or async
  function of a list of texts, a ``"provider:model"`` string) or ``"hivemem"``: the
  built-in all-MiniLM-L6-v2 (:class:`HivememEmbeddings`, 384 dimensions, offline, the
  ``semantic`` extra). ``fields`` (default ``["$"]``, the whole value as JSON) name the
  texts with LangGraph's path syntax (``"a.b"``, ``"items[*].text"``, ``"{a,b}"``,
  ``"$"``), extracted by LangGraph's own ``get_text_at_path``: a path that selects
  several texts gives one vector each (``items[*].text.0``, ``.1``...), a missing field
  none. ``put(..., index=[...])`` uses those paths for that put, ``index=False`` embeds
  nothing.
- Embedding happens in ``put``/``batch``, once per distinct text of the batch, before
  anything is written (an embedder that fails writes nothing); a search embeds only its
  query. The vectors of item ``K`` are the hivemem entry ``"/" + K`` (:func:`vector_key`):
  float32, base64, with the ``dims`` and a digest of the value they were made from. No
  item key starts with ``/``, so they never collide with items, and ``get``, ``search``
  and ``list_namespaces`` skip them; other hivemem clients (the UI, ``get_keys``,
  exports, subscribers of ``memory:*`` events) see them as plain entries, and they count
  towards the namespace's ``max_entries``. The item and its vectors are written in one
  all-or-nothing ``write_many`` with the same TTL, so they expire together; a TTL refresh
  re-writes both; a delete (by any ``HivememStore``) deletes both. An indexed item's key
  must leave one byte for the vectors' key (1,023 bytes, :class:`~hivemem.TooLarge`
  otherwise). Being entries of the store, vectors are shared by every process using it.
- ``search(prefix, query=...)`` reads every item under the prefix that passes the
  filter, and the vectors under ``"/" + prefix``; ranks by cosine similarity, an item
  scoring its best vector (max pooling, as LangGraph's stores do); ties keep key order.
  ``SearchItem.score`` is that similarity. Items without usable vectors (put with
  ``index=False`` or without the fields, written by a store without an index or by
  another client since: the digest no longer matches, or vectors of other ``dims``) come
  after the scored ones, in key order, with ``score=None``; ``offset``/``limit`` page
  through that one list. The ranking runs in numpy (in a worker thread under asyncio);
  its cost is linear in the items under the prefix: about 0.15 ms per item with 384
  dimensions on one core (5,000 items: 0.7 to 1 s in process, docs/langgraph.md has the
  figures), about what ``InMemoryStore`` takes. Keep a semantic search's prefix to the
  thousands of items; scope namespaces (per user, per topic) for more.
- Known differences from ``InMemoryStore(index=...)``: a put replaces all of the item's
  vectors (``InMemoryStore`` keeps those of an earlier value a new put did not produce
  again, e.g. after ``index=False``); ``index=["$"]`` in a put embeds the whole value
  (``InMemoryStore`` finds no text); items without vectors page on where the previous
  page stopped (``InMemoryStore`` restarts them on every page after the first);
  ``InMemoryStore`` fails on a batch holding one text twice, this store embeds it once.
  Stores sharing a hivemem namespace should share their ``index``: vectors of another
  model with the same ``dims`` cannot be told apart.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from hivemem._async import AsyncMemory
from hivemem._connect import connect
from hivemem._plan import Local, adrive, drive
from hivemem._sync import Memory
from hivemem._validate import MAX_KEY_BYTES, check_namespace
from hivemem.errors import (
    ConflictError,
    EmbedderUnavailable,
    InvalidArgument,
    NamespaceNotFound,
    NotFound,
    PermissionDenied,
    TooLarge,
)

try:
    from langchain_core.embeddings import Embeddings
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        IndexConfig,
        Item,
        ListNamespacesOp,
        MatchCondition,
        PutOp,
        SearchItem,
        SearchOp,
        TTLConfig,
        ensure_embeddings,
        get_text_at_path,
        tokenize_path,
        validate_op_namespace,
    )
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"hivemem.integrations.langgraph needs LangGraph ({exc.name} is missing): "
        "pip install 'hivemem[langgraph]'"
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable

    import numpy as np
    from langgraph.store.base import Op, Result
    from numpy.typing import NDArray

    from hivemem.types import Entry, Page
else:  # imported on first use: only an index needs numpy
    from hivemem.memories._numpy import np

__all__ = [
    "DEFAULT_NAMESPACE",
    "HivememEmbeddings",
    "HivememStore",
    "decode_key",
    "encode_key",
    "vector_key",
]

#: The hivemem namespace a store keeps its items in unless told otherwise.
DEFAULT_NAMESPACE = "langgraph"

T = TypeVar("T")

if TYPE_CHECKING:
    #: A plan: a generator yielding the hivemem calls it needs and returning its result.
    _Plan = Generator["_Call | _Embed | Local", Any, T]

_LABEL_END = "/"
_KEY_MARK = ":"
_VECTOR_MARK = "/"
_LABEL_SPECIAL = re.compile(r"[%/:\x00-\x1f\x7f]")
_KEY_SPECIAL = re.compile(r"[%\x00-\x1f\x7f]")
_ESCAPED = re.compile(r"%([0-9A-F]{2})")
#: Items per ``write_many`` call of a batch.
_WRITE_CHUNK = 100


# ---------------------------------------------------------------- key encoding


def _escape(text: str, special: re.Pattern[str]) -> str:
    return special.sub(lambda m: f"%{ord(m.group()):02X}", text)


def _unescape(text: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def _encode_prefix(namespace: Iterable[str]) -> str:
    return "".join(_escape(label, _LABEL_SPECIAL) + _LABEL_END for label in namespace)


def _utf8_size(text: str) -> int:
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        raise InvalidArgument(
            "invalid namespace or key: not valid UTF-8 (lone surrogate)"
        ) from None


def encode_key(namespace: tuple[str, ...], key: str) -> str:
    """Return the hivemem key of a LangGraph item.

    Args:
        namespace: The LangGraph namespace, a tuple of labels.
        key: The item key.

    Returns:
        Each label (escaped) followed by ``/``, then ``:`` and the escaped key.

    Raises:
        TooLarge: the encoded key is longer than 1,024 UTF-8 bytes.
        InvalidArgument: a label or the key is not valid UTF-8.
    """
    encoded = _encode_prefix(namespace) + _KEY_MARK + _escape(key, _KEY_SPECIAL)
    size = _utf8_size(encoded)
    if size > MAX_KEY_BYTES:
        shown = "/".join(namespace)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise TooLarge(
            f"the LangGraph namespace ({shown}) and key ({len(key)} characters) make a "
            f"{size}-byte hivemem key; the limit is {MAX_KEY_BYTES} bytes: use shorter "
            "namespace labels or keys"
        )
    return encoded


def decode_key(encoded: str) -> tuple[tuple[str, ...], str] | None:
    """Return the LangGraph ``(namespace, key)`` of a hivemem key, or ``None`` if it is not one.

    Args:
        encoded: A key made by :func:`encode_key`.
    """
    labels, mark, key = encoded.partition(_KEY_MARK)
    if not mark or (labels and not labels.endswith(_LABEL_END)):
        return None
    parts = labels.split(_LABEL_END)[:-1]
    if any(not part for part in parts):
        return None
    return tuple(_unescape(part) for part in parts), _unescape(key)


def _check_vector_key(item_key: str) -> None:
    size = _utf8_size(vector_key(item_key))
    if size > MAX_KEY_BYTES:
        raise TooLarge(
            f"an indexed item's vectors are kept under a key one byte longer than its own "
            f"({size} bytes); the limit is {MAX_KEY_BYTES} bytes: use a shorter namespace "
            "or key, or put it with index=False"
        )


def vector_key(item_key: str) -> str:
    """Return the hivemem key of the vectors of the item stored under ``item_key``.

    ``/`` followed by the item's key: no :func:`encode_key` key starts with ``/`` (a first
    label is never empty and ``/`` in labels is escaped), so vectors never collide with
    items and :func:`decode_key` refuses them (listings of items skip them).

    Args:
        item_key: A key made by :func:`encode_key`.
    """
    return _VECTOR_MARK + item_key


# ---------------------------------------------------------------- semantic index


class HivememEmbeddings(Embeddings):
    """hivemem's built-in embedder (all-MiniLM-L6-v2, 384 dimensions) as LangChain ``Embeddings``.

    What ``index={"embed": "hivemem"}`` uses. The model loads on the first embedding (a few
    seconds, once per process; the ``semantic`` extra), then runs offline on the CPU. Rows
    are L2-normalised.
    """

    def __init__(self) -> None:
        from hivemem.memories.embed import MiniLMEmbedder

        self._embedder = MiniLMEmbedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts: one 384-float list per text."""
        rows: list[list[float]] = self._embedder.embed(list(texts)).tolist()
        return rows

    def embed_query(self, text: str) -> list[float]:
        """Embed one text (a query is embedded as a document is)."""
        return self.embed_documents([text])[0]


#: A field path and its tokens (``"$"`` for the whole value).
_Field = tuple[str, "list[str] | str"]


def _tokenized(paths: Iterable[str]) -> list[_Field]:
    return [(path, path if path == "$" else tokenize_path(path)) for path in paths]


def _texts_to_embed(value: Mapping[str, Any], fields: list[_Field]) -> list[tuple[str, str]]:
    """``(path name, text)`` pairs of a value, named as LangGraph's stores name them.

    A path that selects one text is named by itself; one that selects several (``[*]``,
    ``*``) gives ``path.0``, ``path.1``... Missing fields give nothing.
    """
    out: list[tuple[str, str]] = []
    for path, tokens in fields:
        texts = get_text_at_path(dict(value), tokens)
        if len(texts) == 1:
            out.append((path, texts[0]))
        else:
            out.extend((f"{path}.{i}", text) for i, text in enumerate(texts))
    return out


def _digest(value: Any) -> str:
    """A fingerprint of a value: a vector entry is used only for the value it was made from."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError) as exc:  # what hivemem's own encoding refuses too
        raise InvalidArgument(f"value is not JSON-serializable: {exc}") from None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _pack(vector: list[float]) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _unpack(text: str) -> NDArray[np.float32] | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        return None
    if len(raw) % 4:
        return None
    return np.frombuffer(raw, dtype="<f4")


def _item_vectors(vector_entry: Entry | None, value: Any, dims: int) -> list[NDArray[Any]]:
    """The usable vectors of an item: none if the entry is missing, stale or of other dims."""
    if vector_entry is None:
        return []
    stored = vector_entry.value
    if (
        not isinstance(stored, dict)
        or stored.get("dims") != dims
        or stored.get("digest") != _digest(value)
        or not isinstance(stored.get("vectors"), dict)
    ):
        return []
    out = []
    for packed in stored["vectors"].values():
        vector = _unpack(packed) if isinstance(packed, str) else None
        if vector is not None and len(vector) == dims:
            out.append(vector)
    return out


def _rank(
    query: list[float], candidates: list[list[NDArray[Any]]]
) -> list[tuple[int, float | None]]:
    """Order candidates by their best cosine similarity to ``query`` (max pooling).

    Returns:
        ``(index, score)`` of every candidate: those with vectors best first (ties keep
        the candidates' order), then those without, in order, with score ``None``.
    """
    owners = [i for i, vectors in enumerate(candidates) for _ in vectors]
    ranked: list[tuple[int, float | None]] = []
    if owners:
        matrix = np.vstack([v for vectors in candidates for v in vectors]).astype(np.float64)
        q = np.asarray(query, dtype=np.float64)
        norms = np.linalg.norm(matrix, axis=1)
        q_norm = float(np.linalg.norm(q))
        scores = np.zeros(len(owners), dtype=np.float64)
        usable = norms != 0
        if q_norm:
            scores[usable] = matrix[usable] @ q / (norms[usable] * q_norm)
        seen: set[int] = set()
        for row in np.argsort(-scores, kind="stable").tolist():
            owner = owners[row]
            if owner not in seen:
                seen.add(owner)
                ranked.append((owner, float(scores[row])))
    ranked.extend((i, None) for i, vectors in enumerate(candidates) if not vectors)
    return ranked


# ---------------------------------------------------------------- filters and matching


def _ordered(value: Any, other: Any) -> bool:
    """Whether two values can be ordered: numbers with numbers, strings with strings."""
    if isinstance(value, bool) or isinstance(other, bool):
        return False
    if isinstance(value, int | float) and isinstance(other, int | float):
        return True
    return isinstance(value, str) and isinstance(other, str)


def _apply_operator(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(value == operand)
    if operator == "$ne":
        return bool(value != operand)
    if operator not in ("$gt", "$gte", "$lt", "$lte"):
        raise InvalidArgument(
            f"unsupported filter operator {operator!r}: use $eq, $ne, $gt, $gte, $lt or $lte"
        )
    if not _ordered(value, operand):
        return False
    if operator == "$gt":
        return bool(value > operand)
    if operator == "$gte":
        return bool(value >= operand)
    if operator == "$lt":
        return bool(value < operand)
    return bool(value <= operand)


def _matches(value: Any, condition: Any) -> bool:
    """LangGraph's filter semantics for one field (as ``InMemoryStore`` applies them)."""
    if isinstance(condition, dict):
        if any(isinstance(k, str) and k.startswith("$") for k in condition):
            return all(_apply_operator(value, op, operand) for op, operand in condition.items())
        if not isinstance(value, dict):
            return False
        return all(_matches(value.get(k), v) for k, v in condition.items())
    if isinstance(condition, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(condition)
            and all(_matches(v, c) for v, c in zip(value, condition, strict=True))
        )
    return bool(value == condition)


def _namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise InvalidArgument(f"unsupported match type {condition.match_type!r}")
    return all(p == "*" or label == p for label, p in pairs)


# ---------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class _Call:
    """One call of the hivemem API that a plan needs made (sync or awaited)."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Embed:
    """Texts a plan needs embedded (by the store's embeddings, sync or awaited)."""

    texts: tuple[str, ...]
    query: bool = False


def _caller(
    memory: Memory | AsyncMemory, embeddings: Embeddings | None = None
) -> Callable[[_Call | _Embed], Any]:
    """How a plan's steps run on ``memory``; :mod:`hivemem._plan` drives the plan."""
    is_async = isinstance(memory, AsyncMemory)

    def call(step: _Call | _Embed) -> Any:
        if isinstance(step, _Call):
            return getattr(memory, step.method)(*step.args, **step.kwargs)
        if embeddings is None:  # pragma: no cover - plans embed only with an index
            raise InvalidArgument("this store has no index to embed with")
        texts = list(step.texts)
        if step.query:
            q = texts[0]
            return embeddings.aembed_query(q) if is_async else embeddings.embed_query(q)
        if is_async:
            return embeddings.aembed_documents(texts)
        return embeddings.embed_documents(texts)

    return call


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _value(entry: Entry) -> dict[str, Any]:
    value = entry.value
    return value if isinstance(value, dict) else {"value": value}


# ---------------------------------------------------------------- the store


class HivememStore(BaseStore):
    """A LangGraph ``BaseStore`` keeping its items in one namespace of a hivemem store.

    Give it a :class:`~hivemem.Memory` and/or :class:`~hivemem.AsyncMemory` you opened (the
    store does not close them), or a URL and ``connect()`` options (the store opens the
    connection and :meth:`close` closes it). With one of the two APIs only, the other is
    made over the same connection, so both ``batch`` and ``abatch`` work either way.

    Example::

        store = HivememStore(url="sqlite:///agents.db", agent="planner")
        store.put(("users", "42"), "prefs", {"theme": "dark"})
        store.get(("users", "42"), "prefs").value  # {'theme': 'dark'}
        store.close()
    """

    supports_ttl: bool = True

    def __init__(
        self,
        memory: Memory | AsyncMemory | None = None,
        *,
        amemory: AsyncMemory | None = None,
        url: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        agent: str | None = None,
        token: str | None = None,
        ttl: TTLConfig | None = None,
        index: IndexConfig | None = None,
        page_size: int = 1000,
        **options: Any,
    ) -> None:
        """Open the store.

        Args:
            memory: A synchronous (or asyncio) handle on a hivemem store.
            amemory: An asyncio handle on the same store.
            url: A hivemem URL (``memory://``, ``sqlite:///file.db``, ``redis://...``,
                ``http://...``) to connect to when no handle is given; without any, the
                default of :func:`hivemem.connect` (``$HIVEMEM_URL`` or ``./hivemem.db``).
            namespace: The hivemem namespace that holds the items (created on the first
                write if missing).
            agent: The agent acting (for a given handle: via ``as_agent``).
            token: A server token, for ``http://`` URLs.
            ttl: LangGraph ``TTLConfig``: ``default_ttl`` (minutes) and ``refresh_on_read``.
            index: LangGraph ``IndexConfig`` for semantic search: ``dims``, ``embed`` (a
                LangChain ``Embeddings``, a sync or async function of a list of texts, a
                ``"provider:model"`` string as LangGraph accepts, or ``"hivemem"`` for
                :class:`HivememEmbeddings`, whose ``dims`` is 384 and may be left out) and
                ``fields`` (paths of the texts to embed, default ``["$"]``: the whole
                value as JSON).
            page_size: Entries fetched per request when ``search`` and ``list_namespaces``
                list keys (1 to 10,000).
            **options: Further :func:`hivemem.connect` options (with ``url`` only).

        Raises:
            InvalidArgument: both a handle and a URL, options with a handle, a bad
                namespace name or page size, an index without ``embed`` or with bad
                ``dims`` or ``fields``.
        """
        self.index_config: dict[str, Any] | None = None
        self.embeddings: Embeddings | None = None
        self._fields: list[_Field] = []
        self._dims = 0
        if index is not None:
            self._setup_index(index)
        if isinstance(memory, AsyncMemory):
            if amemory is not None:
                raise InvalidArgument("give one AsyncMemory, as memory= or amemory=")
            memory, amemory = None, memory
        if isinstance(page_size, bool) or not isinstance(page_size, int):
            raise InvalidArgument(f"page_size must be an integer, got {page_size!r}")
        if not 1 <= page_size <= 10_000:
            raise InvalidArgument(f"page_size must be from 1 to 10,000, got {page_size}")
        handles = memory is not None or amemory is not None
        if handles and (url is not None or token is not None or options):
            raise InvalidArgument("give either a Memory/AsyncMemory or a URL and options, not both")
        self._owned = not handles
        if not handles:
            memory = connect(url, agent=agent, token=token, **options)
        elif agent is not None:
            memory = memory.as_agent(agent) if memory is not None else None
            amemory = amemory.as_agent(agent) if amemory is not None else None
        # Memory and AsyncMemory are two shells over one core: share it when given only one.
        if memory is None:
            assert amemory is not None
            memory = Memory(amemory._c)
        if amemory is None:
            amemory = AsyncMemory(memory._c)
        self._memory: Memory = memory
        self._amemory: AsyncMemory = amemory
        self.namespace = check_namespace(namespace)
        self.ttl_config = ttl
        self.page_size = page_size
        self._ready = False

    def _setup_index(self, index: IndexConfig) -> None:
        if not isinstance(index, Mapping):
            raise InvalidArgument(f"index must be a LangGraph IndexConfig dict, got {index!r}")
        embed = index.get("embed")
        dims: Any = index.get("dims")
        if embed is None:
            raise InvalidArgument("index needs 'embed': Embeddings, a function or 'hivemem'")
        if embed == "hivemem":
            from hivemem.memories.embed import MINILM_DIM

            if dims is None:
                dims = MINILM_DIM
            elif dims != MINILM_DIM:
                raise InvalidArgument(
                    f"index dims {dims!r} does not match embed='hivemem' ({MINILM_DIM})"
                )
            embeddings: Embeddings = HivememEmbeddings()
        else:
            embeddings = ensure_embeddings(embed)
        if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
            raise InvalidArgument(f"index 'dims' must be a positive integer, got {dims!r}")
        fields: Any = index.get("fields") or ["$"]
        if isinstance(fields, str) or not all(isinstance(f, str) and f for f in fields):
            raise InvalidArgument(f"index 'fields' must be a list of paths, got {fields!r}")
        try:
            np.float64  # noqa: B018 - fail now, not at the first put, if numpy is missing
        except EmbedderUnavailable:
            raise EmbedderUnavailable(
                "HivememStore(index=...) needs numpy: pip install 'hivemem[semantic]'"
            ) from None
        self.index_config = {**index, "dims": dims, "fields": list(fields)}
        self.embeddings = embeddings
        self._fields = _tokenized(fields)
        self._dims = dims

    @property
    def memory(self) -> Memory:
        """The synchronous hivemem handle the store works through."""
        return self._memory

    @property
    def amemory(self) -> AsyncMemory:
        """The asyncio hivemem handle the store works through."""
        return self._amemory

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the connection if the store opened it (from a URL); idempotent."""
        if self._owned:
            self._memory.close()

    async def aclose(self) -> None:
        """Close the connection if the store opened it, from asyncio code."""
        if self._owned:
            await self._amemory.aclose()

    def __enter__(self) -> HivememStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> HivememStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ BaseStore
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute operations in one batch (see the module notes for the semantics).

        Args:
            ops: ``GetOp``, ``SearchOp``, ``ListNamespacesOp`` and ``PutOp`` operations.

        Returns:
            One result per op, in order: an ``Item`` or ``None``, a list of ``SearchItem``,
            a list of namespace tuples, ``None`` for a put.

        Raises:
            InvalidNamespaceError: a bad namespace label.
            TooLarge: a namespace and key too long for a hivemem key.
            HivememError: what the hivemem store raises (permissions, values...).
        """
        return drive(_caller(self._memory, self.embeddings), self._plan_batch(ops))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute operations in one batch, from asyncio code (same as :meth:`batch`).

        Args:
            ops: ``GetOp``, ``SearchOp``, ``ListNamespacesOp`` and ``PutOp`` operations.

        Returns:
            One result per op, in order.
        """
        return await adrive(_caller(self._amemory, self.embeddings), self._plan_batch(ops))

    # ------------------------------------------------------------ plans
    def _plan_batch(self, ops: Iterable[Op]) -> _Plan[list[Result]]:
        ops = list(ops)
        puts: dict[str, PutOp] = {}  # by hivemem key: the last put to an item wins
        for op in ops:
            if not isinstance(op, GetOp | SearchOp | ListNamespacesOp | PutOp):
                raise InvalidArgument(f"unknown LangGraph store operation: {type(op).__name__}")
            validate_op_namespace(op)
            if isinstance(op, PutOp):
                if op.value is not None and not isinstance(op.value, Mapping):
                    raise InvalidArgument(
                        f"LangGraph values are dicts, got {type(op.value).__name__}"
                    )
                if op.index not in (None, False) and (
                    not isinstance(op.index, list | tuple)
                    or not all(isinstance(f, str) and f for f in op.index)
                ):
                    raise InvalidArgument(
                        f"a put's index is None, False or a list of paths, got {op.index!r}"
                    )
                # Every key is checked before anything is written.
                hkey = encode_key(tuple(op.namespace), op.key)
                if op.value is not None and self._indexes(op):
                    _check_vector_key(hkey)
                puts[hkey] = op
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                results.append((yield from self._plan_get(op)))
            elif isinstance(op, SearchOp):
                results.append((yield from self._plan_search(op)))
            elif isinstance(op, ListNamespacesOp):
                results.append((yield from self._plan_list_namespaces(op)))
            else:
                results.append(None)
        if puts:
            yield from self._plan_puts(puts)
        return results

    def _plan_get(self, op: GetOp) -> _Plan[Item | None]:
        try:
            hkey = encode_key(tuple(op.namespace), op.key)
        except TooLarge:
            return None  # no put could have stored it
        try:
            entry: Entry | None = yield _Call("get_entry", (self.namespace, hkey))
        except NamespaceNotFound:
            return None
        if entry is None:
            return None
        if op.refresh_ttl:
            yield from self._plan_refresh(entry)
            yield from self._plan_refresh_vectors([entry])
        return Item(
            value=_value(entry),
            key=op.key,
            namespace=tuple(op.namespace),
            created_at=_when(entry.created_at),
            updated_at=_when(entry.updated_at),
        )

    def _plan_search(self, op: SearchOp) -> _Plan[list[SearchItem]]:
        if op.query and self.embeddings is not None:
            return (yield from self._plan_semantic_search(op))
        prefix = _encode_prefix(op.namespace_prefix)
        if _utf8_size(prefix) > MAX_KEY_BYTES:
            return []
        offset, limit = op.offset, op.limit
        # Without a filter, stop once offset + limit items are in hand (a negative bound
        # counts from the end, as a slice does: then read everything).
        stop = offset + limit if min(offset, limit) >= 0 else None
        if stop == 0:
            return []
        found: list[tuple[tuple[str, ...], str, Entry]] = []
        cursor: str | None = None
        page_size = self.page_size if op.filter else min(stop or self.page_size, self.page_size)
        while True:
            try:
                page: Page[Entry] = yield _Call(
                    "list_entries",
                    (self.namespace,),
                    {"prefix": prefix, "limit": page_size, "cursor": cursor},
                )
            except NamespaceNotFound:
                return []
            for entry in page.items:
                decoded = decode_key(entry.key)
                if decoded is None:
                    continue
                value = _value(entry)
                if op.filter and not all(_matches(value.get(k), c) for k, c in op.filter.items()):
                    continue
                found.append((decoded[0], decoded[1], entry))
                if stop is not None and len(found) >= stop:
                    break
            cursor = page.next_cursor
            if cursor is None or (stop is not None and len(found) >= stop):
                break
        chosen = found[offset : offset + limit]
        if op.refresh_ttl:
            for _, _, entry in chosen:
                yield from self._plan_refresh(entry)
            yield from self._plan_refresh_vectors([entry for _, _, entry in chosen])
        return [
            SearchItem(
                namespace=namespace,
                key=key,
                value=_value(entry),
                created_at=_when(entry.created_at),
                updated_at=_when(entry.updated_at),
            )
            for namespace, key, entry in chosen
        ]

    def _plan_semantic_search(self, op: SearchOp) -> _Plan[list[SearchItem]]:
        """Rank every item under the prefix that passes the filter by meaning (see module)."""
        assert op.query is not None
        prefix = _encode_prefix(op.namespace_prefix)
        if _utf8_size(prefix) > MAX_KEY_BYTES:
            return []
        query: list[float] = yield _Embed((op.query,), query=True)
        self._check_dims([query])
        found: list[tuple[tuple[str, ...], str, Entry]] = []
        vectors: dict[str, Entry] = {}
        try:
            for entry in (yield from self._plan_list(prefix)):
                decoded = decode_key(entry.key)
                if decoded is None:
                    if entry.key.startswith(_VECTOR_MARK):  # listed with the items (prefix "")
                        vectors[entry.key] = entry
                    continue
                value = _value(entry)
                if op.filter and not all(_matches(value.get(k), c) for k, c in op.filter.items()):
                    continue
                found.append((decoded[0], decoded[1], entry))
            if prefix and found:
                for entry in (yield from self._plan_list(vector_key(prefix))):
                    vectors[entry.key] = entry
        except NamespaceNotFound:
            return []
        ranked: list[tuple[int, float | None]] = yield Local(
            self._score, (query, [entry for _, _, entry in found], vectors)
        )
        chosen = ranked[op.offset : op.offset + op.limit]
        if op.refresh_ttl:
            for i, _ in chosen:
                yield from self._plan_refresh(found[i][2])
            yield from self._plan_refresh_vectors([found[i][2] for i, _ in chosen], vectors)
        results = []
        for i, score in chosen:
            namespace, key, entry = found[i]
            results.append(
                SearchItem(
                    namespace=namespace,
                    key=key,
                    value=_value(entry),
                    created_at=_when(entry.created_at),
                    updated_at=_when(entry.updated_at),
                    score=score,
                )
            )
        return results

    def _score(
        self, query: list[float], entries: list[Entry], vectors: dict[str, Entry]
    ) -> list[tuple[int, float | None]]:
        """Decode the candidates' vectors and rank them (CPU work: a thread under asyncio)."""
        candidates = [
            _item_vectors(vectors.get(vector_key(e.key)), _value(e), self._dims) for e in entries
        ]
        return _rank(query, candidates)

    def _plan_list(self, prefix: str) -> _Plan[list[Entry]]:
        """Every entry under ``prefix``, page by page."""
        entries: list[Entry] = []
        cursor: str | None = None
        while True:
            page: Page[Entry] = yield _Call(
                "list_entries",
                (self.namespace,),
                {"prefix": prefix, "limit": self.page_size, "cursor": cursor},
            )
            entries.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return entries

    def _plan_list_namespaces(self, op: ListNamespacesOp) -> _Plan[list[tuple[str, ...]]]:
        conditions = tuple(op.match_conditions or ())
        literal: list[str] = []
        for condition in conditions:
            if condition.match_type == "prefix":
                for label in condition.path:
                    if label == "*":
                        break
                    literal.append(label)
                break
        prefix = _encode_prefix(literal)
        namespaces: set[tuple[str, ...]] = set()
        cursor: str | None = None
        while True:
            try:
                page: Page[Entry] = yield _Call(
                    "list_entries",
                    (self.namespace,),
                    {"prefix": prefix, "limit": self.page_size, "cursor": cursor},
                )
            except NamespaceNotFound:
                return []
            for entry in page.items:
                decoded = decode_key(entry.key)
                if decoded is not None:
                    namespaces.add(decoded[0])
            cursor = page.next_cursor
            if cursor is None:
                break
        matching = [ns for ns in namespaces if all(_namespace_matches(c, ns) for c in conditions)]
        if op.max_depth is not None:
            result = sorted({ns[: op.max_depth] for ns in matching})
        else:
            result = sorted(matching)
        return result[op.offset : op.offset + op.limit]

    def _plan_refresh(self, entry: Entry) -> _Plan[None]:
        """Re-write an entry that expires with its TTL, unless someone wrote it since."""
        if entry.expires_at is None:
            return
        ttl = entry.expires_at - entry.updated_at
        if ttl <= 0:
            return
        try:
            yield _Call(
                "write",
                (self.namespace, entry.key, entry.value),
                {"ttl": ttl, "expected_version": entry.version},
            )
        except (ConflictError, NotFound, PermissionDenied):
            return  # written or deleted since (that is fresher), or a read-only agent

    def _plan_refresh_vectors(
        self, entries: list[Entry], known: dict[str, Entry] | None = None
    ) -> _Plan[None]:
        """Refresh the vector entries of refreshed items, so they expire together."""
        if self.embeddings is None:
            return
        for entry in entries:
            if entry.expires_at is None:
                continue
            vkey = vector_key(entry.key)
            if known is not None:
                vector = known.get(vkey)
            elif _utf8_size(vkey) > MAX_KEY_BYTES:
                continue
            else:
                try:
                    vector = yield _Call("get_entry", (self.namespace, vkey))
                except (NamespaceNotFound, PermissionDenied):
                    return
            if vector is not None:
                yield from self._plan_refresh(vector)

    def _indexes(self, op: PutOp) -> bool:
        """Whether a put of this store embeds texts (it has an index, the op does not opt out)."""
        return self.embeddings is not None and op.index is not False

    def _check_dims(self, vectors: list[list[float]]) -> None:
        for vector in vectors:
            if len(vector) != self._dims:
                raise InvalidArgument(
                    f"the embedder returned a {len(vector)}-dimensional vector; the index "
                    f"has dims={self._dims}"
                )

    def _plan_embed(self, puts: dict[str, PutOp]) -> _Plan[dict[str, dict[str, Any]]]:
        """The vector entry of every put that has texts to embed, embedding each text once."""
        named: dict[str, list[tuple[str, str]]] = {}
        for hkey, op in puts.items():
            if op.value is None or not self._indexes(op):
                continue
            fields = _tokenized(op.index) if isinstance(op.index, list | tuple) else self._fields
            pairs = _texts_to_embed(op.value, fields)
            if pairs:
                named[hkey] = pairs
        if not named:
            return {}
        unique = list(dict.fromkeys(text for pairs in named.values() for _, text in pairs))
        embedded: list[list[float]] = yield _Embed(tuple(unique))
        if len(embedded) != len(unique):
            raise InvalidArgument(
                f"the embedder returned {len(embedded)} vectors for {len(unique)} texts"
            )
        self._check_dims(embedded)
        by_text = dict(zip(unique, embedded, strict=True))
        return {
            hkey: {
                "dims": self._dims,
                "digest": _digest(dict(puts[hkey].value or {})),
                "vectors": {path: _pack(by_text[text]) for path, text in pairs},
            }
            for hkey, pairs in named.items()
        }

    def _plan_puts(self, puts: dict[str, PutOp]) -> _Plan[None]:
        if not self._ready:
            # PermissionDenied: it exists and this agent cannot read its config (writes tell).
            with contextlib.suppress(PermissionDenied):
                yield _Call("create_namespace", (self.namespace,), {"exist_ok": True})
            self._ready = True
        # Embedded before anything is written: an embedder that fails writes nothing.
        vectors = yield from self._plan_embed(puts)
        by_ttl: dict[float | None, list[str]] = {}
        for hkey, op in puts.items():
            if op.value is None:
                yield _Call("delete", (self.namespace, hkey))
            else:
                seconds = None if op.ttl is None else float(op.ttl) * 60.0
                by_ttl.setdefault(seconds, []).append(hkey)
            vkey = vector_key(hkey)
            stale = op.value is None or (self.embeddings is not None and hkey not in vectors)
            if stale and _utf8_size(vkey) <= MAX_KEY_BYTES:
                # Deleted, or put without texts to embed: an earlier value's vectors go.
                yield _Call("delete", (self.namespace, vkey))
        for seconds, keys in by_ttl.items():
            for start in range(0, len(keys), _WRITE_CHUNK):
                chunk: dict[str, Any] = {}
                for hkey in keys[start : start + _WRITE_CHUNK]:
                    chunk[hkey] = dict(puts[hkey].value or {})
                    if hkey in vectors:  # in the same all-or-nothing write as its item
                        chunk[vector_key(hkey)] = vectors[hkey]
                yield _Call("write_many", (self.namespace, chunk), {"ttl": seconds})
