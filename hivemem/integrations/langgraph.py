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
  Semantic search is not supported: like LangGraph's ``InMemoryStore`` without an
  ``index``, the ``query`` argument is ignored and ``index`` arguments of ``put`` have no
  effect; results carry ``score=None``.
  Filtering happens in this process, so a search reads every entry under the prefix
  until it has ``offset + limit`` matches. Entries of the hivemem namespace whose keys
  this encoding did not make are skipped.
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
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from hivemem._async import AsyncMemory
from hivemem._connect import connect
from hivemem._plan import adrive, drive
from hivemem._sync import Memory
from hivemem._validate import MAX_KEY_BYTES, check_namespace
from hivemem.errors import (
    ConflictError,
    InvalidArgument,
    NamespaceNotFound,
    NotFound,
    PermissionDenied,
    TooLarge,
)

try:
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        Item,
        ListNamespacesOp,
        MatchCondition,
        PutOp,
        SearchItem,
        SearchOp,
        TTLConfig,
        validate_op_namespace,
    )
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"hivemem.integrations.langgraph needs LangGraph ({exc.name} is missing): "
        "pip install 'hivemem[langgraph]'"
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable

    from langgraph.store.base import Op, Result

    from hivemem.types import Entry, Page

__all__ = ["DEFAULT_NAMESPACE", "HivememStore", "decode_key", "encode_key"]

#: The hivemem namespace a store keeps its items in unless told otherwise.
DEFAULT_NAMESPACE = "langgraph"

T = TypeVar("T")

if TYPE_CHECKING:
    #: A plan: a generator yielding the hivemem calls it needs and returning its result.
    _Plan = Generator["_Call", Any, T]

_LABEL_END = "/"
_KEY_MARK = ":"
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


def _caller(memory: Memory | AsyncMemory) -> Callable[[_Call], Any]:
    """How a plan's calls run on ``memory``; :mod:`hivemem._plan` drives the plan."""

    def call(step: _Call) -> Any:
        return getattr(memory, step.method)(*step.args, **step.kwargs)

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
            page_size: Entries fetched per request when ``search`` and ``list_namespaces``
                list keys (1 to 10,000).
            **options: Further :func:`hivemem.connect` options (with ``url`` only).

        Raises:
            InvalidArgument: both a handle and a URL, options with a handle, a bad
                namespace name or page size.
        """
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
        return drive(_caller(self._memory), self._plan_batch(ops))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute operations in one batch, from asyncio code (same as :meth:`batch`).

        Args:
            ops: ``GetOp``, ``SearchOp``, ``ListNamespacesOp`` and ``PutOp`` operations.

        Returns:
            One result per op, in order.
        """
        return await adrive(_caller(self._amemory), self._plan_batch(ops))

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
                # Every key is checked before anything is written.
                puts[encode_key(tuple(op.namespace), op.key)] = op
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
        return Item(
            value=_value(entry),
            key=op.key,
            namespace=tuple(op.namespace),
            created_at=_when(entry.created_at),
            updated_at=_when(entry.updated_at),
        )

    def _plan_search(self, op: SearchOp) -> _Plan[list[SearchItem]]:
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

    def _plan_puts(self, puts: dict[str, PutOp]) -> _Plan[None]:
        if not self._ready:
            # PermissionDenied: it exists and this agent cannot read its config (writes tell).
            with contextlib.suppress(PermissionDenied):
                yield _Call("create_namespace", (self.namespace,), {"exist_ok": True})
            self._ready = True
        by_ttl: dict[float | None, dict[str, dict[str, Any]]] = {}
        for hkey, op in puts.items():
            if op.value is None:
                yield _Call("delete", (self.namespace, hkey))
            else:
                seconds = None if op.ttl is None else float(op.ttl) * 60.0
                by_ttl.setdefault(seconds, {})[hkey] = dict(op.value)
        for seconds, items in by_ttl.items():
            keys = list(items)
            for start in range(0, len(keys), _WRITE_CHUNK):
                chunk = {k: items[k] for k in keys[start : start + _WRITE_CHUNK]}
                yield _Call("write_many", (self.namespace, chunk), {"ttl": seconds})
