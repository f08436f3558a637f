"""``mem.memories(namespace)``: the long-term memory API, sync and async (SPEC §10).

Embedded, each method drives its plan (:mod:`hivemem.memories.plans`) against the store;
over ``http://`` it sends one request to the server's memories routes, where the server
drives the same plan (and embeds with its own embedder, next to the records).

:class:`AsyncMemories` and the ``a``-functions are the source; :class:`Memories` and the
sync functions are generated from them (``python -m hivemem._unasync``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hivemem._plan import adrive, drive
from hivemem.memories.decay import DecayPolicy
from hivemem.memories.plans import (
    DEFAULT_NAMESPACE,
    MemoryPlans,
    Plan,
    get_session_plan,
    session_plan,
)
from hivemem.memories.registry import indexes_for
from hivemem.memories.validity import seconds
from hivemem.memories.wire import MemoryCall

if TYPE_CHECKING:
    from datetime import datetime

    from hivemem._core import Core
    from hivemem._plan import AsyncHandle, Handle
    from hivemem.types import Group, MemoryRecord, Page, ScoredMemory, Session

__all__ = ["AsyncMemories", "Memories", "adrive", "drive"]


def plans_for(
    core: Core, agent: str, namespace: str, session_id: str | None, admin: bool = False
) -> MemoryPlans:
    """The plans of ``namespace`` over ``core``'s store, for ``agent``."""
    s = core.settings
    return MemoryPlans(
        agent,
        namespace,
        clock=s.clock,
        max_value_bytes=s.max_value_bytes,
        embedder=s.embedder,
        policy=s.decay or DecayPolicy(),
        indexes=indexes_for(
            core.backend,
            s.index_dir if s.index_dir is not None else core.backend.default_index_dir(),
        ),
        session_id=session_id,
        admin=admin,
    )


def _is_remote(core: Core) -> bool:
    return core.backend.remote


_UNSET: Any = object()


def _given(**args: Any) -> dict[str, Any]:
    """The arguments the caller gave (``None`` included: it means "none")."""
    return {k: v for k, v in args.items() if v is not _UNSET}


def _validity(as_of: Any, include_superseded: Any) -> dict[str, Any]:
    """A search's validity arguments, as given (times as unix seconds; defaults left out)."""
    out: dict[str, Any] = {}
    if as_of is not None:
        out["as_of"] = seconds(as_of)
    if include_superseded is not False:
        out["include_superseded"] = include_superseded
    return out


#: Fields of records and filters that are times: a ``datetime`` travels as unix seconds.
_TIMES = frozenset(
    {
        "valid_from",
        "valid_to",
        "occurred_at",
        "created_after",
        "created_before",
        "updated_after",
        "updated_before",
        "occurred_after",
        "occurred_before",
        "as_of",
    }
)


def _times(fields: Mapping[str, Any] | None) -> Any:
    """``fields`` with its times (``datetime``s among them) as unix seconds."""
    if not isinstance(fields, Mapping):
        return fields  # (the plan refuses it)
    return {k: seconds(x) if k in _TIMES else x for k, x in fields.items()}


def _expansion(expand: Any) -> dict[str, Any]:
    """A search's ``expand`` argument, as given (the default left out of requests)."""
    return {} if expand == 0 and type(expand) is int else {"expand": expand}


def _add_spec(content: Any, **fields: Any) -> dict[str, Any]:
    spec = {"content": content, **{k: v for k, v in fields.items() if v is not None}}
    return spec


class _Base:
    def __init__(self, core: Core, namespace: str, agent: str, session_id: str | None) -> None:
        self._core = core
        self._remote = _is_remote(core)
        self._plans = plans_for(core, agent, namespace, session_id)
        self.namespace = self._plans.ns
        self.agent = agent

    @property
    def session_id(self) -> str | None:
        """The session new records are recorded in unless ``add`` names one."""
        return self._plans.session_id

    @session_id.setter
    def session_id(self, value: str | None) -> None:
        self._plans = plans_for(self._core, self.agent, self.namespace, value)

    def _op(self, method: str, args: dict[str, Any]) -> MemoryCall:
        return MemoryCall(agent=self.agent, ns=self.namespace, method=method, args=args)

    def _plan(self, method: str, args: dict[str, Any]) -> Plan[Any]:
        return self._plans.call(method, args)


class AsyncMemories(_Base):
    """Long-term memories of one namespace (asyncio). From ``amem.memories(namespace)``."""

    # -- unasync source "memories": Memories' methods are generated from here
    def __init__(
        self,
        mem: AsyncHandle,
        namespace: str = DEFAULT_NAMESPACE,
        agent: str | None = None,
        session_id: str | None = None,
    ) -> None:
        super().__init__(mem._c, namespace, mem._c.who(agent), session_id)
        self._mem = mem

    async def _go(self, method: str, **args: Any) -> Any:
        if self._remote:
            return await self._mem._run(self._op(method, args))
        return await adrive(self._mem._run, self._plan(method, args))

    async def add(
        self,
        content: str,
        *,
        memory_type: str = "general",
        tier: str = "short",
        importance: float = 0.5,
        metadata: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
        parent_id: str | None = None,
        session_id: str | None = None,
        valid_from: float | datetime | None = None,
        valid_to: float | datetime | None = None,
        slot: str | None = None,
        source: Mapping[str, Any] | None = None,
        occurred_at: float | datetime | None = None,
    ) -> MemoryRecord:
        """Add a record (embedded once, now, when an embedder is configured).

        Args:
            content: The text.
            memory_type: Free-form kind.
            tier: ``short``, ``medium`` or ``long``.
            importance: 0..1; slows decay.
            metadata: Free-form JSON object.
            tags: Labels.
            parent_id: An existing record it belongs under.
            session_id: The session it was recorded in.
            valid_from: When the fact starts to hold (unix seconds or datetime; default:
                when it happened).
            valid_to: When it stops holding (default: open-ended; not with ``slot``).
            slot: ``"<subject>/<attribute>"``: the record supersedes the slot's current
                record in the same atomic step (docs/memories.md, "Memories that change").
            source: Where it came from: a JSON object (conversation/message ids, run id,
                URL...), at most 64 fields and 16 KiB; searches filter on it by equality.
            occurred_at: When the remembered thing happened (unix seconds or datetime;
                default: now, when it is added).
        """
        spec = _add_spec(
            content,
            memory_type=memory_type,
            tier=tier,
            importance=importance,
            metadata=metadata,
            tags=tags,
            parent_id=parent_id,
            session_id=session_id or self.session_id,
            valid_from=seconds(valid_from),
            valid_to=seconds(valid_to),
            slot=slot,
            source=source,
            occurred_at=seconds(occurred_at),
        )
        record: MemoryRecord = await self._go("add", spec=spec)
        return record

    async def supersede(self, memory_id: str, content: str, **fields: Any) -> MemoryRecord:
        """Add a record that replaces ``memory_id``, in one atomic step.

        The old record stops holding (``valid_to``) when the new one starts (``valid_from``,
        default now); the new one has ``supersedes=memory_id``, the old one
        ``superseded_by``. ``fields`` are :meth:`add`'s. Raises ``ConflictError`` if
        ``memory_id`` was superseded already.
        """
        spec = _add_spec(content, **{k: seconds(x) for k, x in fields.items()})
        if "session_id" not in spec and self.session_id is not None:
            spec["session_id"] = self.session_id
        record: MemoryRecord = await self._go("supersede", rid=memory_id, spec=spec)
        return record

    async def slot(self, slot: str, *, as_of: float | datetime | None = None) -> MemoryRecord:
        """The current record of ``slot``, or the one that held at ``as_of``.

        Raises ``NotFound`` if there is none. Not counted as an access.
        """
        record: MemoryRecord = await self._go("slot", slot=slot, as_of=seconds(as_of))
        return record

    async def slot_history(self, slot: str, *, limit: int = 50) -> list[MemoryRecord]:
        """The records of ``slot``, newest first (by ``valid_from``), at most ``limit``."""
        records: list[MemoryRecord] = await self._go("slot_history", slot=slot, limit=limit)
        return records

    async def add_many(self, memories: list[Mapping[str, Any]]) -> list[MemoryRecord]:
        """Add records (dicts of ``add``'s arguments) in one atomic step, embedded in one batch."""
        records: list[MemoryRecord] = await self._go(
            "add_many", memories=[_times(spec) for spec in memories]
        )
        return records

    async def get(self, memory_id: str) -> MemoryRecord:
        """A record (counts as an access: strength back to 1). Raises ``NotFound``."""
        record: MemoryRecord = await self._go("get", rid=memory_id)
        return record

    async def get_many(self, ids: list[str]) -> list[MemoryRecord]:
        """The records that exist among ``ids``, in order (not counted as accesses)."""
        records: list[MemoryRecord] = await self._go("get_many", ids=list(ids))
        return records

    async def update(self, memory_id: str, **fields: Any) -> MemoryRecord:
        """Change fields of a record; new content is re-embedded.

        Fields: ``content``, ``memory_type``, ``tier``, ``importance``, ``metadata``,
        ``tags``, ``session_id``, ``parent_id``, ``source``, ``occurred_at`` (its validity,
        ``valid_from``, stays as it was set when the record was added).
        """
        record: MemoryRecord = await self._go("update", rid=memory_id, fields=_times(fields))
        return record

    async def delete(self, memory_id: str, cascade: bool = True) -> int:
        """Delete a record and (``cascade``) its descendants; return how many records."""
        count: int = await self._go("delete", rid=memory_id, cascade=cascade)
        return count

    async def search(
        self,
        query: str,
        *,
        memory_type: str | None = None,
        tags: list[str] | None = None,
        limit: int = 10,
        parent_id: str | None = None,
        filters: dict[str, Any] | None = None,
        as_of: float | datetime | None = None,
        include_superseded: bool = False,
        expand: int = 0,
    ) -> list[ScoredMemory]:
        """Keyword search, ranked by BM25 (``tags``: records carrying all of them).

        Only records that hold now, unless ``as_of`` (a time) asks what held then or
        ``include_superseded`` asks for all. ``expand`` (0 to 5): after each hit, up to
        that many neighbouring records of its session, next one first, marked
        ``parts == {"context": <the hit's score>}`` (docs/memories.md, "Expanding hits").
        """
        hits: list[ScoredMemory] = await self._go(
            "search",
            query=query,
            memory_type=memory_type,
            tags=tags,
            limit=limit,
            parent_id=parent_id,
            filters=_times(filters),
            **_validity(as_of, include_superseded),
            **_expansion(expand),
        )
        return hits

    async def semantic_search(
        self,
        query: str,
        *,
        k: int = 5,
        filters: dict[str, Any] | None = None,
        weights: dict[str, float] | None = None,
        as_of: float | datetime | None = None,
        include_superseded: bool = False,
        boosts: dict[str, Any] | None = None,
        expand: int = 0,
    ) -> list[ScoredMemory]:
        """Hybrid search: vector, keyword, previous, strength and recency.

        ``weights`` override the defaults (docs/memories.md, "How search ranks"); each
        result's ``parts`` shows the weighted components, which sum to its score. Only
        records that hold now, unless ``as_of`` (a time) asks what held then or
        ``include_superseded`` asks for all.

        ``boosts`` raise the candidates that match, without leaving the others out:
        ``{"metadata": {field: value}, "source": {field: value}, "tags": [...],
        "agent_id" / "session_id" / "memory_type": value or [values], "weight": 0.1}``;
        each field, tag and id is a clause, and ``parts["boost"]`` is ``weight`` (0 to 1)
        times the share of the clauses a record matches (docs/memories.md, "Boosts").

        ``expand`` (0 to 5): after each of the ``k`` hits, up to that many neighbouring
        records of its session, next one first, marked ``parts == {"context": <the hit's
        score>}`` (docs/memories.md, "Expanding hits").
        """
        hits: list[ScoredMemory] = await self._go(
            "semantic_search",
            query=query,
            k=k,
            filters=_times(filters),
            weights=weights,
            **_validity(as_of, include_superseded),
            **({} if boosts is None else {"boosts": boosts}),
            **_expansion(expand),
        )
        return hits

    async def timeline(
        self,
        *,
        filters: dict[str, Any] | None = None,
        sort_field: str = "created_at",
        limit: int = 100,
        cursor: str | None = None,
        as_of: float | datetime | None = None,
        include_superseded: bool = False,
    ) -> Page[MemoryRecord]:
        """The records passing ``filters`` by time, newest first, one page at a time.

        ``sort_field``: ``created_at``, ``updated_at``, ``occurred_at`` or ``valid_from``
        (ties by id); pass a page's ``next_cursor`` as ``cursor`` for the next. Only records
        that hold now, unless ``as_of`` or ``include_superseded``; not counted as accesses.
        """
        page: Page[MemoryRecord] = await self._go(
            "timeline",
            filters=filters,
            sort_field=sort_field,
            limit=limit,
            cursor=cursor,
            **_validity(as_of, include_superseded),
        )
        return page

    async def children(
        self,
        parent_id: str,
        *,
        limit: int = 50,
        sort_field: str = "created_at",
        sort_order: str = "desc",
    ) -> list[MemoryRecord]:
        """A record's children, sorted."""
        records: list[MemoryRecord] = await self._go(
            "children",
            parent_id=parent_id,
            limit=limit,
            sort_field=sort_field,
            sort_order=sort_order,
        )
        return records

    async def add_relationship(
        self, source_id: str, target_id: str, relationship_type: str, strength: float = 1.0
    ) -> dict[str, Any]:
        """Relate two records; return the relationship."""
        rel: dict[str, Any] = await self._go(
            "add_relationship",
            source_id=source_id,
            target_id=target_id,
            relationship_type=relationship_type,
            strength=strength,
        )
        return rel

    async def get_related(
        self, memory_id: str, relationship_type: str | None = None
    ) -> list[dict[str, Any]]:
        """Records related either way: ``{memory, relationship_type, strength, direction}``."""
        related: list[dict[str, Any]] = await self._go(
            "get_related", rid=memory_id, relationship_type=relationship_type
        )
        return related

    async def reinforce(self, memory_id: str, factor: float = 1.2) -> MemoryRecord:
        """Reinforce a record: strength back to 1, its half-life times ``factor`` from now on."""
        record: MemoryRecord = await self._go("reinforce", rid=memory_id, factor=factor)
        return record

    async def create_group(self, name: str, description: str | None = None) -> Group:
        """Create a context group."""
        group: Group = await self._go("create_group", name=name, description=description)
        return group

    async def add_to_group(self, memory_id: str, group_id: str) -> bool:
        """Put a record in a group."""
        added: bool = await self._go("add_to_group", rid=memory_id, gid=group_id)
        return added

    async def get_group(self, group_id: str) -> tuple[Group, list[MemoryRecord]]:
        """A group and its records."""
        got: tuple[Group, list[MemoryRecord]] = await self._go("get_group", gid=group_id)
        return got

    async def archive(self, memory_id: str) -> MemoryRecord:
        """Archive a record: searches skip it until :meth:`restore` (``memory:archived``)."""
        record: MemoryRecord = await self._go("archive", rid=memory_id)
        return record

    async def restore(self, memory_id: str) -> MemoryRecord:
        """Bring an archived record back to its tier, as an access (``memory:restored``)."""
        record: MemoryRecord = await self._go("restore", rid=memory_id)
        return record

    async def config(self) -> dict[str, Any]:
        """The namespace's memories settings: ``{"forget": policy or None}``."""
        settings: dict[str, Any] = await self._go("config")
        return settings

    async def configure(self, *, forget: Any = _UNSET) -> dict[str, Any]:
        """Change the namespace's memories settings (needs admin); return them all.

        Args:
            forget: The forgetting policy, ``{"below": 0.05, "action": "archive" |
                "delete", "min_age": seconds}``, or ``None`` for none (the default: nothing
                is ever forgotten).
        """
        settings: dict[str, Any] = await self._go("configure", **_given(forget=forget))
        return settings

    async def decay(self, now: float | None = None) -> dict[str, int]:
        """Run one decay pass now: ``{decayed, promoted, archived, deleted, skipped}``."""
        counts: dict[str, int] = await self._go("decay", now=now)
        return counts

    # -- end of unasync source "memories"


class Memories(_Base):
    """Long-term memories of one namespace (sync). From ``mem.memories(namespace)``."""

    # -- generated from api.py ("memories"): do not edit
    def __init__(
        self,
        mem: Handle,
        namespace: str = DEFAULT_NAMESPACE,
        agent: str | None = None,
        session_id: str | None = None,
    ) -> None:
        super().__init__(mem._c, namespace, mem._c.who(agent), session_id)
        self._mem = mem

    def _go(self, method: str, **args: Any) -> Any:
        if self._remote:
            return self._mem._run(self._op(method, args))
        return drive(self._mem._run, self._plan(method, args))

    def add(
        self,
        content: str,
        *,
        memory_type: str = "general",
        tier: str = "short",
        importance: float = 0.5,
        metadata: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
        parent_id: str | None = None,
        session_id: str | None = None,
        valid_from: float | datetime | None = None,
        valid_to: float | datetime | None = None,
        slot: str | None = None,
        source: Mapping[str, Any] | None = None,
        occurred_at: float | datetime | None = None,
    ) -> MemoryRecord:
        """Add a record (embedded once, now, when an embedder is configured).

        Args:
            content: The text.
            memory_type: Free-form kind.
            tier: ``short``, ``medium`` or ``long``.
            importance: 0..1; slows decay.
            metadata: Free-form JSON object.
            tags: Labels.
            parent_id: An existing record it belongs under.
            session_id: The session it was recorded in.
            valid_from: When the fact starts to hold (unix seconds or datetime; default:
                when it happened).
            valid_to: When it stops holding (default: open-ended; not with ``slot``).
            slot: ``"<subject>/<attribute>"``: the record supersedes the slot's current
                record in the same atomic step (docs/memories.md, "Memories that change").
            source: Where it came from: a JSON object (conversation/message ids, run id,
                URL...), at most 64 fields and 16 KiB; searches filter on it by equality.
            occurred_at: When the remembered thing happened (unix seconds or datetime;
                default: now, when it is added).
        """
        spec = _add_spec(
            content,
            memory_type=memory_type,
            tier=tier,
            importance=importance,
            metadata=metadata,
            tags=tags,
            parent_id=parent_id,
            session_id=session_id or self.session_id,
            valid_from=seconds(valid_from),
            valid_to=seconds(valid_to),
            slot=slot,
            source=source,
            occurred_at=seconds(occurred_at),
        )
        record: MemoryRecord = self._go("add", spec=spec)
        return record

    def supersede(self, memory_id: str, content: str, **fields: Any) -> MemoryRecord:
        """Add a record that replaces ``memory_id``, in one atomic step.

        The old record stops holding (``valid_to``) when the new one starts (``valid_from``,
        default now); the new one has ``supersedes=memory_id``, the old one
        ``superseded_by``. ``fields`` are :meth:`add`'s. Raises ``ConflictError`` if
        ``memory_id`` was superseded already.
        """
        spec = _add_spec(content, **{k: seconds(x) for k, x in fields.items()})
        if "session_id" not in spec and self.session_id is not None:
            spec["session_id"] = self.session_id
        record: MemoryRecord = self._go("supersede", rid=memory_id, spec=spec)
        return record

    def slot(self, slot: str, *, as_of: float | datetime | None = None) -> MemoryRecord:
        """The current record of ``slot``, or the one that held at ``as_of``.

        Raises ``NotFound`` if there is none. Not counted as an access.
        """
        record: MemoryRecord = self._go("slot", slot=slot, as_of=seconds(as_of))
        return record

    def slot_history(self, slot: str, *, limit: int = 50) -> list[MemoryRecord]:
        """The records of ``slot``, newest first (by ``valid_from``), at most ``limit``."""
        records: list[MemoryRecord] = self._go("slot_history", slot=slot, limit=limit)
        return records

    def add_many(self, memories: list[Mapping[str, Any]]) -> list[MemoryRecord]:
        """Add records (dicts of ``add``'s arguments) in one atomic step, embedded in one batch."""
        records: list[MemoryRecord] = self._go(
            "add_many", memories=[_times(spec) for spec in memories]
        )
        return records

    def get(self, memory_id: str) -> MemoryRecord:
        """A record (counts as an access: strength back to 1). Raises ``NotFound``."""
        record: MemoryRecord = self._go("get", rid=memory_id)
        return record

    def get_many(self, ids: list[str]) -> list[MemoryRecord]:
        """The records that exist among ``ids``, in order (not counted as accesses)."""
        records: list[MemoryRecord] = self._go("get_many", ids=list(ids))
        return records

    def update(self, memory_id: str, **fields: Any) -> MemoryRecord:
        """Change fields of a record; new content is re-embedded.

        Fields: ``content``, ``memory_type``, ``tier``, ``importance``, ``metadata``,
        ``tags``, ``session_id``, ``parent_id``, ``source``, ``occurred_at`` (its validity,
        ``valid_from``, stays as it was set when the record was added).
        """
        record: MemoryRecord = self._go("update", rid=memory_id, fields=_times(fields))
        return record

    def delete(self, memory_id: str, cascade: bool = True) -> int:
        """Delete a record and (``cascade``) its descendants; return how many records."""
        count: int = self._go("delete", rid=memory_id, cascade=cascade)
        return count

    def search(
        self,
        query: str,
        *,
        memory_type: str | None = None,
        tags: list[str] | None = None,
        limit: int = 10,
        parent_id: str | None = None,
        filters: dict[str, Any] | None = None,
        as_of: float | datetime | None = None,
        include_superseded: bool = False,
        expand: int = 0,
    ) -> list[ScoredMemory]:
        """Keyword search, ranked by BM25 (``tags``: records carrying all of them).

        Only records that hold now, unless ``as_of`` (a time) asks what held then or
        ``include_superseded`` asks for all. ``expand`` (0 to 5): after each hit, up to
        that many neighbouring records of its session, next one first, marked
        ``parts == {"context": <the hit's score>}`` (docs/memories.md, "Expanding hits").
        """
        hits: list[ScoredMemory] = self._go(
            "search",
            query=query,
            memory_type=memory_type,
            tags=tags,
            limit=limit,
            parent_id=parent_id,
            filters=_times(filters),
            **_validity(as_of, include_superseded),
            **_expansion(expand),
        )
        return hits

    def semantic_search(
        self,
        query: str,
        *,
        k: int = 5,
        filters: dict[str, Any] | None = None,
        weights: dict[str, float] | None = None,
        as_of: float | datetime | None = None,
        include_superseded: bool = False,
        boosts: dict[str, Any] | None = None,
        expand: int = 0,
    ) -> list[ScoredMemory]:
        """Hybrid search: vector, keyword, previous, strength and recency.

        ``weights`` override the defaults (docs/memories.md, "How search ranks"); each
        result's ``parts`` shows the weighted components, which sum to its score. Only
        records that hold now, unless ``as_of`` (a time) asks what held then or
        ``include_superseded`` asks for all.

        ``boosts`` raise the candidates that match, without leaving the others out:
        ``{"metadata": {field: value}, "source": {field: value}, "tags": [...],
        "agent_id" / "session_id" / "memory_type": value or [values], "weight": 0.1}``;
        each field, tag and id is a clause, and ``parts["boost"]`` is ``weight`` (0 to 1)
        times the share of the clauses a record matches (docs/memories.md, "Boosts").

        ``expand`` (0 to 5): after each of the ``k`` hits, up to that many neighbouring
        records of its session, next one first, marked ``parts == {"context": <the hit's
        score>}`` (docs/memories.md, "Expanding hits").
        """
        hits: list[ScoredMemory] = self._go(
            "semantic_search",
            query=query,
            k=k,
            filters=_times(filters),
            weights=weights,
            **_validity(as_of, include_superseded),
            **({} if boosts is None else {"boosts": boosts}),
            **_expansion(expand),
        )
        return hits

    def timeline(
        self,
        *,
        filters: dict[str, Any] | None = None,
        sort_field: str = "created_at",
        limit: int = 100,
        cursor: str | None = None,
        as_of: float | datetime | None = None,
        include_superseded: bool = False,
    ) -> Page[MemoryRecord]:
        """The records passing ``filters`` by time, newest first, one page at a time.

        ``sort_field``: ``created_at``, ``updated_at``, ``occurred_at`` or ``valid_from``
        (ties by id); pass a page's ``next_cursor`` as ``cursor`` for the next. Only records
        that hold now, unless ``as_of`` or ``include_superseded``; not counted as accesses.
        """
        page: Page[MemoryRecord] = self._go(
            "timeline",
            filters=filters,
            sort_field=sort_field,
            limit=limit,
            cursor=cursor,
            **_validity(as_of, include_superseded),
        )
        return page

    def children(
        self,
        parent_id: str,
        *,
        limit: int = 50,
        sort_field: str = "created_at",
        sort_order: str = "desc",
    ) -> list[MemoryRecord]:
        """A record's children, sorted."""
        records: list[MemoryRecord] = self._go(
            "children",
            parent_id=parent_id,
            limit=limit,
            sort_field=sort_field,
            sort_order=sort_order,
        )
        return records

    def add_relationship(
        self, source_id: str, target_id: str, relationship_type: str, strength: float = 1.0
    ) -> dict[str, Any]:
        """Relate two records; return the relationship."""
        rel: dict[str, Any] = self._go(
            "add_relationship",
            source_id=source_id,
            target_id=target_id,
            relationship_type=relationship_type,
            strength=strength,
        )
        return rel

    def get_related(
        self, memory_id: str, relationship_type: str | None = None
    ) -> list[dict[str, Any]]:
        """Records related either way: ``{memory, relationship_type, strength, direction}``."""
        related: list[dict[str, Any]] = self._go(
            "get_related", rid=memory_id, relationship_type=relationship_type
        )
        return related

    def reinforce(self, memory_id: str, factor: float = 1.2) -> MemoryRecord:
        """Reinforce a record: strength back to 1, its half-life times ``factor`` from now on."""
        record: MemoryRecord = self._go("reinforce", rid=memory_id, factor=factor)
        return record

    def create_group(self, name: str, description: str | None = None) -> Group:
        """Create a context group."""
        group: Group = self._go("create_group", name=name, description=description)
        return group

    def add_to_group(self, memory_id: str, group_id: str) -> bool:
        """Put a record in a group."""
        added: bool = self._go("add_to_group", rid=memory_id, gid=group_id)
        return added

    def get_group(self, group_id: str) -> tuple[Group, list[MemoryRecord]]:
        """A group and its records."""
        got: tuple[Group, list[MemoryRecord]] = self._go("get_group", gid=group_id)
        return got

    def archive(self, memory_id: str) -> MemoryRecord:
        """Archive a record: searches skip it until :meth:`restore` (``memory:archived``)."""
        record: MemoryRecord = self._go("archive", rid=memory_id)
        return record

    def restore(self, memory_id: str) -> MemoryRecord:
        """Bring an archived record back to its tier, as an access (``memory:restored``)."""
        record: MemoryRecord = self._go("restore", rid=memory_id)
        return record

    def config(self) -> dict[str, Any]:
        """The namespace's memories settings: ``{"forget": policy or None}``."""
        settings: dict[str, Any] = self._go("config")
        return settings

    def configure(self, *, forget: Any = _UNSET) -> dict[str, Any]:
        """Change the namespace's memories settings (needs admin); return them all.

        Args:
            forget: The forgetting policy, ``{"below": 0.05, "action": "archive" |
                "delete", "min_age": seconds}``, or ``None`` for none (the default: nothing
                is ever forgotten).
        """
        settings: dict[str, Any] = self._go("configure", **_given(forget=forget))
        return settings

    def decay(self, now: float | None = None) -> dict[str, int]:
        """Run one decay pass now: ``{decayed, promoted, archived, deleted, skipped}``."""
        counts: dict[str, int] = self._go("decay", now=now)
        return counts

    # -- end of generated "memories"


def _session(core: Core, method: str, args: dict[str, Any]) -> tuple[Any, Plan[Session] | None]:
    """A session call: ``(op, None)`` for a remote store, ``(None, plan)`` for an embedded one."""
    if _is_remote(core):
        return MemoryCall(agent=core.agent, ns="sessions", method=method, args=args), None
    if method == "create_session":
        return None, session_plan(core.agent, core.settings.clock, **args)
    return None, get_session_plan(core.agent, args["session_id"])


def _session_args(user_id: str, session_type: str, metadata: Any) -> dict[str, Any]:
    return {"user_id": user_id, "session_type": session_type, "metadata": metadata}


# -- unasync source "sessions": create_session and get_session are generated from here
async def acreate_session(
    mem: AsyncHandle,
    user_id: str,
    session_type: str = "conversation",
    metadata: Mapping[str, Any] | None = None,
) -> Session:
    """Create a session (namespace ``sessions``)."""
    op, plan = _session(mem._c, "create_session", _session_args(user_id, session_type, metadata))
    session: Session = await mem._run(op) if plan is None else await adrive(mem._run, plan)
    return session


async def aget_session(mem: AsyncHandle, session_id: str) -> Session:
    """A session by id."""
    op, plan = _session(mem._c, "get_session", {"session_id": session_id})
    session: Session = await mem._run(op) if plan is None else await adrive(mem._run, plan)
    return session


# -- end of unasync source "sessions"


# -- generated from api.py ("sessions"): do not edit
def create_session(
    mem: Handle,
    user_id: str,
    session_type: str = "conversation",
    metadata: Mapping[str, Any] | None = None,
) -> Session:
    """Create a session (namespace ``sessions``)."""
    op, plan = _session(mem._c, "create_session", _session_args(user_id, session_type, metadata))
    session: Session = mem._run(op) if plan is None else drive(mem._run, plan)
    return session


def get_session(mem: Handle, session_id: str) -> Session:
    """A session by id."""
    op, plan = _session(mem._c, "get_session", {"session_id": session_id})
    session: Session = mem._run(op) if plan is None else drive(mem._run, plan)
    return session


# -- end of generated "sessions"
