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
from hivemem._lockhold import AsyncLockHold
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
    from hivemem.queues import AsyncQueue
    from hivemem.records import RecordPlans
    from hivemem.transactions import (
        AsyncTransaction,
    )
    from hivemem.types import (
        AccessLogEntry,
        Entry,
        Event,
        Lease,
        Lock,
        NamespaceInfo,
        Page,
        Presence,
        QueueInfo,
        Session,
        Version,
        Webhook,
        WebhookDelivery,
    )

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
        group: str | None = None,
    ) -> NamespaceInfo:
        """Create a namespace; its creator gets admin unless ``permissions`` name it.

        ``group`` (fixed at creation): on Redis Cluster, namespaces of one group share a
        hash slot, so one transaction may span them; other stores record it only.

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
                group,
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
        lease: str | Lease | None = None,
        fence: Lock | None = None,
    ) -> Entry:
        """Write a value under the namespace's conflict strategy; return the stored entry.

        ``lease``: the entry lives as long as that lease (no ``ttl`` then); ``fence``: a
        held :class:`Lock` whose token must still hold it.

        Raises:
            ConflictError: the strategy or ``expected_version`` refused the write; with
                ``reason="fenced"``, ``fence``'s token no longer holds its lock.
            LeaseExpired: ``lease`` is gone.
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
                lease,
                fence,
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

    # ------------------------------------------------------------ webhooks (SPEC §19)
    async def add_webhook(
        self,
        url: str,
        namespaces: list[str] | tuple[str, ...],
        events: list[str] | tuple[str, ...] = ("memory:*",),
        secret: str | None = None,
        *,
        agent: str | None = None,
    ) -> Webhook:
        """Send the namespaces' events to ``url``: signed POSTs (Standard Webhooks).

        Admin only: a server admin, or an agent with admin on every namespace. Deliveries
        start with the events after this call, in revision order per namespace, at least
        once (see docs/coordination.md, "Webhooks"); ``events`` are patterns of event
        types (``"memory:*"``, ``"*"``).

        Args:
            url: An ``http://`` or ``https://`` URL; a server refuses loopback and private
                targets unless started with ``--allow-webhook-host``.
            namespaces: The namespaces to watch (1-32).
            events: Event type patterns (1-32, ``fnmatch`` style).
            secret: ``whsec_<base64>``; ``None`` makes one. Returned only here.
            agent: Act as this agent (default: the connection's; embedded code without
                ``agent`` acts as the store's owner).

        Returns:
            The webhook, with its ``secret``.

        Raises:
            InvalidArgument: not an http(s) URL, a refused target, a bad secret or pattern.
            PermissionDenied: the agent is not admin of every namespace.
        """
        return await self._run(self._c.add_webhook(url, namespaces, events, secret, agent))

    async def webhooks(self, *, agent: str | None = None) -> list[Webhook]:
        """The webhooks the agent administers (every one for the owner), secrets hidden."""
        return await self._run(o.ListWebhooks(agent=self._c.who(agent), admin=agent is None))

    async def remove_webhook(self, hook_id: str, *, agent: str | None = None) -> bool:
        """Remove a webhook with its delivery log (admin of its namespaces).

        Raises:
            NotFound: no such webhook that the agent administers.
        """
        op = o.RemoveWebhook(
            agent=self._c.who(agent), admin=agent is None, hook_id=self._c.webhook_id(hook_id)
        )
        return await self._run(op)

    async def webhook_deliveries(
        self, hook_id: str, *, limit: int = 100, agent: str | None = None
    ) -> list[WebhookDelivery]:
        """A webhook's recent delivery attempts, newest first (at most 100 are kept).

        Raises:
            NotFound: no such webhook that the agent administers.
        """
        op = o.WebhookDeliveries(
            agent=self._c.who(agent),
            admin=agent is None,
            hook_id=self._c.webhook_id(hook_id),
            limit=self._c.webhook_limit(limit),
        )
        return await self._run(op)

    # ------------------------------------------------------------ remote client
    # ------------------------------------------------------------ task queues (SPEC §19)
    def queue(
        self,
        namespace: str,
        name: str,
        agent: str | None = None,
        *,
        max_attempts: int = 5,
    ) -> AsyncQueue:
        """A task queue of the namespace: put, claim, ack, nack, extend, stats, dead letters.

        Args:
            namespace: The namespace it lives in (created by the first put).
            name: The queue's name (1-128 characters of ``A-Za-z0-9._:-``).
            agent: Who acts (default: this handle's agent).
            max_attempts: Claims of a task before it moves to the dead letters.
        """
        from hivemem.queues import AsyncQueue

        return AsyncQueue(self, namespace, name, self._c.who(agent), max_attempts)

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

    # ------------------------------------------------------------ leases and locks (§19)
    async def grant_lease(
        self, ttl: float, agent: str | None = None, *, ns: str | None = None
    ) -> Lease:
        """Grant a lease that lives ``ttl`` seconds unless kept alive.

        Args:
            ttl: Seconds (above 0); each ``keep_alive`` extends the lease by as much.
            agent: The agent the lease is granted to (only it uses it).
            ns: The lease's home namespace (needs write there); default a reserved one.
                Entries, presence and locks of other namespaces may attach to it.

        Raises:
            InvalidArgument: a bad ttl (negative, zero, NaN, above 10 years).
        """
        return await self._run(self._c.grant_lease(ttl, ns, agent))

    async def keep_alive(self, lease_id: str | Lease, agent: str | None = None) -> Lease:
        """Extend a live lease (and everything attached to it) by its ttl, from now.

        Raises:
            LeaseExpired: the lease expired, was revoked, or never existed.
        """
        return await self._run(self._c.keep_alive(lease_id, agent))

    async def revoke_lease(self, lease_id: str | Lease, agent: str | None = None) -> None:
        """End a lease now: what it carries goes with it.

        Its entries are deleted (``memory:deleted``, reason ``lease_revoked``), its presence
        leaves, its locks are released.

        Raises:
            LeaseExpired: the lease expired, was revoked, or never existed.
        """
        await self._run(self._c.revoke_lease(lease_id, agent))

    async def join(
        self,
        namespace: str,
        agent: str | None = None,
        *,
        lease: str | Lease,
        info: Any = None,
    ) -> Presence:
        """Mark the agent present in the namespace as long as ``lease`` lives.

        ``presence:joined`` on the first join under a lease (a second join only updates
        ``info``); ``presence:left`` when the lease ends.
        """
        return await self._run(self._c.join(namespace, lease, info, agent))

    async def presence(self, namespace: str, agent: str | None = None) -> list[Presence]:
        """The agents present in the namespace (their leases live), by agent id."""
        return await self._run(self._c.presence(namespace, agent))

    async def try_lock(
        self, namespace: str, name: str, agent: str | None = None, *, ttl: float = 30.0
    ) -> Lock | None:
        """Take the lock if it is free and nobody waits for it; else return ``None``.

        The hold lives ``ttl`` seconds unless its lease is kept alive
        (``keep_alive(lk.lease_id)``).
        """
        return await self._run(self._c.try_lock(namespace, name, ttl, agent))

    def lock(
        self,
        namespace: str,
        name: str,
        agent: str | None = None,
        *,
        ttl: float = 30.0,
        wait: float | None = 10.0,
    ) -> AsyncLockHold:
        """Hold a lock for a block: ``with mem.lock(ns, "deploy") as lk:`` (``async with``).

        Waiters are served first come, first served; ``wait=None`` waits without limit.
        The block gets the :class:`Lock`; write with ``fence=lk``.

        Raises:
            LockTimeout: on entering, ``wait`` ran out.
        """
        return AsyncLockHold(self, namespace, name, agent, ttl, wait)

    async def unlock(self, lock: Lock, agent: str | None = None) -> bool:
        """Release a hold; ``False`` if it had ended already (expired or released).

        Raises:
            ConflictError: ``reason="not_holder"``: another agent holds it (only its
                holder or a namespace admin may unlock it).
        """
        return await self._run(self._c.unlock(lock, agent))

    async def lock_info(self, namespace: str, name: str, agent: str | None = None) -> Lock | None:
        """Who holds the lock now (holder, token, lease), or ``None`` if it is free."""
        return await self._run(self._c.lock_info(namespace, name, agent))

    async def locks(
        self,
        namespace: str,
        agent: str | None = None,
        *,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Lock]:
        """The namespace's held locks (holder, token, lease, expiry) in name order.

        ``limit`` (1-1000) lock records are scanned per page; pass ``next_cursor`` for the
        next page.
        """
        return await self._run(self._c.list_locks(namespace, agent, limit, cursor))

    async def queues(
        self,
        namespace: str,
        agent: str | None = None,
        *,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[QueueInfo]:
        """The namespace's queues with their counts (ready, claimed, delayed, dead).

        At most ``limit`` (1-100) queues per page, in name order; pass ``next_cursor`` for
        the next page.
        """
        return await self._run(self._c.list_queues(namespace, agent, limit, cursor))

    # ------------------------------------------------------------ transactions (§19)
    def transaction(self, agent: str | None = None) -> AsyncTransaction:
        """A transaction: ``compare(...)``, then ``on_success``/``on_failure`` ops, ``commit()``.

        All compares and then one branch run atomically, across any namespaces, each write
        with its usual permission, strategy, event and audit (SPEC §19).
        """
        from hivemem.transactions import AsyncTransaction

        return AsyncTransaction(self, agent)

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
