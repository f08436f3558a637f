"""``AsyncMemory``: the asyncio API, the same names as ``Memory``, awaitable.

Ops run through the backend's ``aexecute``: inline for work that never blocks (no thread
hop per call), awaiting the writer only where a durable commit is needed.

This module is the one definition of both APIs: :mod:`hivemem._sync` is generated from the
region marked below (``python -m hivemem._unasync``). Closing and subscriptions differ for
real and are written by hand in each.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeVar

from hivemem._core import Core, Listener
from hivemem._core import since_arg as _since
from hivemem._plan import adrive
from hivemem._sync import _agent_core
from hivemem._views import NamespaceView
from hivemem.engine import ops as o
from hivemem.errors import HivememError

if TYPE_CHECKING:
    import datetime
    from collections.abc import AsyncIterator, Callable, Mapping

    from hivemem.conversations import AsyncConversation, AsyncConversations
    from hivemem.memories.api import AsyncMemories
    from hivemem.records import RecordPlans
    from hivemem.types import AccessLogEntry, Entry, Event, NamespaceInfo, Page, Session, Version

__all__ = ["AsyncMemory", "AsyncSubscription"]

log = logging.getLogger("hivemem")
R = TypeVar("R")


class AsyncMemory:
    """The shared memory for asyncio code. Open one with :func:`hivemem.connect_async`.

    Every method that acts for an agent takes it as its last positional argument or as
    ``agent=``; without one, the connection's default agent acts.
    """

    # -- unasync source "memory": the body of Memory in _sync.py is generated from here
    def __init__(self, core: Core) -> None:
        self._c = core
        self._b = core.backend

    async def _run(self, op: o.Op[R]) -> R:
        start = perf_counter()
        result = await self._b.aexecute(op)
        self._c.op_metrics.record(op, result.error, perf_counter() - start)
        value: R = self._c.finish(result)
        return value

    # ------------------------------------------------------------ views and lifecycle
    @property
    def agent(self) -> str:
        """The default agent of this handle."""
        return self._c.agent

    def as_agent(self, agent: str) -> AsyncMemory:
        """Return a handle on the same store whose default agent is ``agent``."""
        core = _agent_core(self._c, agent)
        return type(self)(core)

    def namespace(self, name: str, agent: str | None = None) -> NamespaceView:
        """Return a view whose methods drop the namespace argument."""
        return NamespaceView(self if agent is None else self.as_agent(agent), name)

    async def ping(self) -> bool:
        """Return True if the store answers."""
        await self._run(o.Stats(agent=self._c.agent, admin=True))
        return True

    # ------------------------------------------------------------ namespaces
    async def create_namespace(
        self,
        name: str,
        agent: str | None = None,
        *,
        default_permission: str | None = "write",
        permissions: Mapping[str, str | None] | None = None,
        conflict_strategy: str = "latest-wins",
        resolver: Any = None,
        ttl: float | None = None,
        max_entries: int | None = None,
        description: str = "",
        exist_ok: bool = False,
    ) -> NamespaceInfo:
        """Create a namespace; its creator gets admin unless ``permissions`` name it.

        Raises:
            AlreadyExists: the namespace exists (unless ``exist_ok``).
            InvalidArgument: a bad name, level, strategy, TTL or resolver.
        """
        return await self._run(
            self._c.create_namespace(
                name,
                agent,
                default_permission,
                permissions,
                conflict_strategy,
                resolver,
                ttl,
                max_entries,
                description,
                exist_ok,
            )
        )

    async def get_namespace(self, name: str, agent: str | None = None) -> NamespaceInfo:
        """Return a namespace's configuration (needs read)."""
        return await self._run(o.GetNamespace(agent=self._c.who(agent), ns=self._c.ns(name)))

    async def list_namespaces(self, agent: str | None = None) -> list[NamespaceInfo]:
        """Return the namespaces the agent can read."""
        return await self._run(o.ListNamespaces(agent=self._c.who(agent)))

    async def update_namespace(
        self, name: str, agent: str | None = None, **config: Any
    ) -> NamespaceInfo:
        """Change configuration fields (needs admin)."""
        return await self._run(self._c.update_namespace(name, agent, config))

    async def update_permissions(
        self, name: str, permissions: Mapping[str, str | None], agent: str | None = None
    ) -> NamespaceInfo:
        """Merge per-agent permission overrides; ``None`` removes one (needs admin)."""
        return await self._run(self._c.update_permissions(name, permissions, agent))

    async def clear_namespace(self, name: str, agent: str | None = None) -> int:
        """Delete every entry of a namespace; return how many (needs admin)."""
        return await self._run(o.ClearNamespace(agent=self._c.who(agent), ns=self._c.ns(name)))

    async def delete_namespace(self, name: str, agent: str | None = None) -> None:
        """Delete a namespace and its entries (needs admin)."""
        await self._run(o.DeleteNamespace(agent=self._c.who(agent), ns=self._c.ns(name)))

    # ------------------------------------------------------------ entries
    async def write(
        self,
        namespace: str,
        key: str,
        value: Any,
        agent: str | None = None,
        *,
        ttl: float | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Entry:
        """Write a value under the namespace's conflict strategy; return the stored entry.

        Raises:
            ConflictError: the strategy or ``expected_version`` refused the write.
            PermissionDenied: the agent lacks write permission.
            NamespaceFull: the write would exceed ``max_entries``.
            InvalidArgument, TooLarge: bad key, value or TTL.
        """
        return await self._run(
            self._c.put(
                namespace,
                key,
                value,
                agent,
                ttl,
                expected_version,
                idempotency_key,
            )
        )

    async def read(
        self,
        namespace: str,
        key: str,
        agent: str | None = None,
        *,
        default: Any = None,
        as_of: int | float | datetime.datetime | None = None,
    ) -> Any:
        """Return the key's value, or ``default`` if it is absent or expired.

        Args:
            namespace: The namespace.
            key: The key.
            agent: Who reads (default: the store's agent).
            default: What an absent key reads as.
            as_of: Read the value the key held after this revision of the namespace, or at
                this time (a datetime, or Unix seconds as a float: the last revision at or
                before it), from the retained event log (SPEC §20).

        Raises:
            RevisionCompacted: ``as_of`` is older than what the log retains.
        """
        if as_of is not None:
            entry = await self._run(self._c.read_as_of(namespace, key, agent, as_of))
        else:
            entry = await self._run(self._c.get(namespace, key, agent))
        return default if entry is None else entry.value

    async def get_entry(
        self,
        namespace: str,
        key: str,
        agent: str | None = None,
        *,
        as_of: int | float | datetime.datetime | None = None,
    ) -> Entry | None:
        """Return the key's entry (value, owner, version, times), or ``None``.

        ``as_of`` as in :meth:`read`: an entry read from the log has ``expires_at=None``.
        """
        if as_of is not None:
            return await self._run(self._c.read_as_of(namespace, key, agent, as_of))
        return await self._run(self._c.get(namespace, key, agent))

    async def history(
        self,
        namespace: str,
        key: str,
        limit: int = 50,
        before: int | None = None,
        agent: str | None = None,
    ) -> list[Version]:
        """Return the key's retained versions, newest first (SPEC §20).

        Deletions, expiries and clears of the namespace appear as versions with
        ``deleted=True``. Page with ``before=`` the last ``revision`` returned.

        Args:
            namespace: The namespace.
            key: The key.
            limit: At most this many versions (1 to 1,000).
            before: Only changes with a revision below this one.
            agent: Who reads (default: the store's agent).

        Raises:
            RevisionCompacted: ``before`` is older than the retained log.
            NamespaceNotFound: the namespace does not exist.
            PermissionDenied: the agent may not read it.
        """
        return await self._run(self._c.history(namespace, key, agent, limit, before))

    async def exists(self, namespace: str, key: str, agent: str | None = None) -> bool:
        """Return whether the key holds a live entry (needs read; audited as ``exists``).

        Raises:
            NamespaceNotFound: the namespace does not exist.
            PermissionDenied: the agent may not read it.
        """
        return await self._run(self._c.exists(namespace, key, agent))

    async def delete(
        self,
        namespace: str,
        key: str,
        agent: str | None = None,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        """Delete a key; return whether a live entry was deleted."""
        return await self._run(
            self._c.delete(
                namespace,
                key,
                agent,
                expected_version,
                idempotency_key,
            )
        )

    async def get_keys(
        self, namespace: str, agent: str | None = None, *, prefix: str = ""
    ) -> list[str]:
        """Return every live key (with ``prefix``), in key order."""
        page = await self._run(self._c.list_entries(namespace, agent, prefix, None, None))
        return [e.key for e in page.items]

    async def get_all(
        self, namespace: str, agent: str | None = None, *, prefix: str = ""
    ) -> dict[str, Any]:
        """Return every live key and value (with ``prefix``)."""
        page = await self._run(self._c.list_entries(namespace, agent, prefix, None, None))
        return {e.key: e.value for e in page.items}

    async def list_entries(
        self,
        namespace: str,
        agent: str | None = None,
        *,
        prefix: str = "",
        limit: int = 100,
        cursor: str | None = None,
        as_of: int | float | datetime.datetime | None = None,
    ) -> Page[Entry]:
        """Return one page of entries in key order; pass ``next_cursor`` for the next.

        ``as_of``: the entries as they were after that revision or at that time (see
        :meth:`read`).
        """
        if as_of is not None:
            return await self._run(
                self._c.list_as_of(namespace, agent, as_of, prefix, limit, cursor)
            )
        return await self._run(self._c.list_entries(namespace, agent, prefix, limit, cursor))

    async def write_many(
        self,
        namespace: str,
        items: Mapping[str, Any],
        agent: str | None = None,
        *,
        ttl: float | None = None,
        idempotency_key: str | None = None,
    ) -> list[Entry]:
        """Write several keys, all or nothing: if one is refused, none is stored."""
        return await self._run(self._c.put_many(namespace, items, agent, ttl, idempotency_key))

    async def read_many(
        self, namespace: str, keys: Any, agent: str | None = None
    ) -> dict[str, Any]:
        """Return the values of the given keys that exist."""
        found = await self._run(self._c.get_many(namespace, keys, agent))
        return {k: e.value for k, e in found.items()}

    # ------------------------------------------------------------ events
    def on(self, event_type: str, callback: Listener) -> Callable[[], None]:
        """Listen in-process to every event of a type (``"*"`` for all); return ``off()``."""
        return self._c.on(event_type, callback)

    async def subscribe(
        self, namespace: str, callback: Listener, agent: str | None = None
    ) -> AsyncSubscription:
        """Call ``callback(event)`` for each change in the namespace, in revision order.

        ``Memory`` runs it in a background thread and returns a :class:`Subscription`;
        ``AsyncMemory`` runs it as a task on the running loop (``callback`` may then be a
        coroutine function) and returns an :class:`AsyncSubscription`. Call the
        subscription to stop it.
        """
        who = self._c.who(agent)
        start = await self._run(o.StartWatch(agent=who, ns=self._c.ns(namespace), subscribe=True))
        return AsyncSubscription(self._c, namespace, who, callback, start)

    async def watch(
        self,
        namespace: str,
        agent: str | None = None,
        *,
        since: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[Event]:
        """Iterate the namespace's events: retained ones after ``since``, then live ones.

        ``for event in mem.watch("ns")``; with ``AsyncMemory``,
        ``async for event in await amem.watch("ns")``.

        Args:
            namespace: The namespace to follow (it may not exist yet).
            agent: The watching agent (needs read permission, checked on every pull).
            since: Resume after this revision (default: the current one, live only).
            timeout: Stop after this many seconds without an event (default: never).

        Raises:
            RevisionCompacted: ``since`` is older than the retained events.
        """
        who = self._c.who(agent)
        start = await self._run(
            o.StartWatch(agent=who, ns=self._c.ns(namespace), since=_since(since))
        )
        return _afollow(self._c, namespace, who, since if since is not None else start, timeout)

    async def broadcast(
        self,
        namespace: str,
        message: Any,
        agent: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Event:
        """Send a message to every subscriber and watcher of the namespace (needs write)."""
        return await self._run(self._c.broadcast(namespace, message, agent, idempotency_key))

    # ------------------------------------------------------------ audit and stats
    async def access_log(
        self,
        agent_id: str | None = None,
        namespace: str | None = None,
        action: str | None = None,
        success: bool | None = None,
        since: float | None = None,
        limit: int = 100,
        *,
        agent: str | None = None,
    ) -> list[AccessLogEntry]:
        """Return audit records, newest first.

        Without ``agent`` the whole log is visible (embedded code owns its store); with
        ``agent=`` only the namespaces where that agent is admin.
        """
        return await self._run(
            self._c.access_log(
                agent,
                agent_id,
                namespace,
                action,
                success,
                since,
                limit,
            )
        )

    async def stats(self) -> dict[str, Any]:
        """Return counts: namespaces, entries, audit records, subscriptions, per namespace."""
        return self._c.stats_extra(await self._run(o.Stats(agent=self._c.agent, admin=True)))

    async def cleanup(self) -> int:
        """Sweep expired entries now (the background sweeper does it every interval)."""
        return self._c.sweep()

    # ------------------------------------------------------------ long-term memories
    def memories(
        self,
        namespace: str = "memories",
        agent: str | None = None,
        *,
        session_id: str | None = None,
    ) -> AsyncMemories:
        """Long-term memories of a namespace (SPEC §10): records, search, decay."""
        from hivemem.memories.api import AsyncMemories

        return AsyncMemories(self, namespace, agent, session_id)

    async def create_session(
        self,
        user_id: str,
        session_type: str = "conversation",
        metadata: Mapping[str, Any] | None = None,
    ) -> Session:
        """Create a session that memories can be recorded in (namespace ``sessions``)."""
        from hivemem.memories.api import acreate_session

        return await acreate_session(self, user_id, session_type, metadata)

    async def get_session(self, session_id: str) -> Session:
        """A session by id."""
        from hivemem.memories.api import aget_session

        return await aget_session(self, session_id)

    # ------------------------------------------------------------ conversations
    def conversation(
        self,
        conversation_id: str,
        agent: str | None = None,
        *,
        namespace: str = "conversations",
        ttl: float | None = None,
    ) -> AsyncConversation:
        """A conversation's fields, lists and messages (SPEC §7)."""
        from hivemem.conversations import AsyncConversation

        return AsyncConversation(self, conversation_id, self._c.who(agent), namespace, ttl)

    @property
    def conversations(self) -> AsyncConversations:
        """Every conversation of namespace ``conversations``: list, cleanup, stats."""
        from hivemem.conversations import AsyncConversations

        return AsyncConversations(self, self._c.agent)

    # ------------------------------------------------------------ entities, tools, summary
    def _records(self, agent: str | None) -> RecordPlans:
        from hivemem.records import RecordPlans

        s = self._c.settings
        return RecordPlans(self._c.who(agent), s.clock, s.max_value_bytes)

    async def save_entity(
        self, entity_type: str, entity_id: str, data: Any, agent: str | None = None
    ) -> None:
        """Save an entity's data under its type and id (namespace ``entities``)."""
        await adrive(self._run, self._records(agent).save_entity(entity_type, entity_id, data))

    async def load_entity(self, entity_type: str, entity_id: str, agent: str | None = None) -> Any:
        """An entity's data, or ``None``."""
        return await adrive(self._run, self._records(agent).load_entity(entity_type, entity_id))

    async def delete_entity(
        self, entity_type: str, entity_id: str, agent: str | None = None
    ) -> bool:
        """Delete an entity; return whether it existed."""
        return await adrive(self._run, self._records(agent).delete_entity(entity_type, entity_id))

    async def list_entities(self, entity_type: str, agent: str | None = None) -> dict[str, Any]:
        """Every entity of a type: ``{id: data}``."""
        return await adrive(self._run, self._records(agent).list_entities(entity_type))

    async def save_tool_usage(
        self,
        tool_name: str,
        args: Any,
        result: Any,
        agent: str | None = None,
        *,
        conversation_id: str | None = None,
        duration_ms: float | None = None,
    ) -> dict[str, Any]:
        """Record one tool call (namespace ``tool_usage``); return the record."""
        plan = self._records(agent).save_tool_usage(
            tool_name, args, result, conversation_id, duration_ms
        )
        return await adrive(self._run, plan)

    async def get_tool_usage(
        self, tool_name: str | None = None, agent: str | None = None, *, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The last ``limit`` tool calls (of one tool, or all), oldest first."""
        return await adrive(self._run, self._records(agent).get_tool_usage(tool_name, limit))

    async def save_conversation_history(
        self,
        conversation_id: str,
        messages: Any,
        agent: str | None = None,
        *,
        namespace: str = "conversations",
    ) -> int:
        """Replace a conversation's messages (seed 002); return how many were saved."""
        plan = self._records(agent).save_conversation_history(conversation_id, messages, namespace)
        return await adrive(self._run, plan)

    async def load_conversation_history(
        self,
        conversation_id: str,
        agent: str | None = None,
        *,
        limit: int | None = None,
        namespace: str = "conversations",
    ) -> list[dict[str, Any]]:
        """A conversation's messages as dicts, oldest first (the last ``limit``)."""
        plan = self._records(agent).load_conversation_history(conversation_id, limit, namespace)
        return await adrive(self._run, plan)

    async def get_memory_summary(self, agent: str | None = None) -> dict[str, Any]:
        """Counts and recent activity per namespace, conversation, entity type and tool."""
        return await adrive(self._run, self._records(agent).summary())

    # ------------------------------------------------------------ remote client
    def circuit_breaker_status(self) -> dict[str, Any]:
        """``{state: closed|open|half_open, failures, opened_at}`` of a remote store's breaker.

        Embedded stores have no breaker and always answer ``closed``.
        """
        return self._c.breaker_status()

    def reset_circuit_breaker(self) -> None:
        """Close the circuit breaker now (calls go to the server again)."""
        self._c.reset_breaker()

    def clear_cache(self) -> None:
        """Empty the near-cache of a remote store opened with ``cache=True``."""
        self._c.clear_cache()

    def get_metrics(self) -> dict[str, Any]:
        """Client-side metrics: near-cache hits, misses and hit rate; circuit breaker state."""
        return self._c.metrics()

    # -- end of unasync source "memory"

    async def aclose(self) -> None:
        """Stop the sweeper and subscriptions and close the store (idempotent)."""
        for sub in list(self._c.subscriptions):
            if isinstance(sub, AsyncSubscription):
                await sub.aunsubscribe()
        if not self._c.closed.is_set():
            await self._b.aclose()
        self._c.close()

    destroy = aclose

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _afollow(
    core: Core, ns: str, agent: str, since: int, timeout: float | None
) -> AsyncIterator[Event]:
    async for event in core.backend.afollow(agent, ns, since, timeout, core.closed):
        yield event


class AsyncSubscription:
    """A running async subscription; ``await sub.aunsubscribe()`` or call ``sub()`` to stop."""

    def __init__(
        self, core: Core, ns: str, agent: str, callback: Callable[[Event], Any], start: int
    ) -> None:
        self.namespace = ns
        self.agent = agent
        self.last_revision = start
        self.error: HivememError | None = None
        self._core = core
        self._callback = callback
        core.subscriptions.add(self)
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def active(self) -> bool:
        """Whether events are still being delivered."""
        return not self._task.done()

    async def _run(self) -> None:
        try:
            async for event in _afollow(
                self._core, self.namespace, self.agent, self.last_revision, None
            ):
                self.last_revision = event.revision
                try:
                    out = self._callback(event)
                    if inspect.isawaitable(out):
                        await out
                except Exception:
                    log.exception("hivemem: subscriber callback failed on %s", event.type)
        except HivememError as exc:
            self.error = exc
            log.warning("hivemem: subscription to %r stopped: %s", self.namespace, exc)
        finally:
            self._core.subscriptions.discard(self)

    def unsubscribe(self) -> None:
        """Stop delivering events (idempotent)."""
        self._task.cancel()
        self._core.subscriptions.discard(self)

    __call__ = unsubscribe

    async def aunsubscribe(self) -> None:
        """Stop and wait until the task has ended."""
        self.unsubscribe()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
