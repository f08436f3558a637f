"""Task queues (SPEC §19): ``q = mem.queue(ns, "jobs")``, then put, claim, ack, nack, extend.

Each call is one atomic op of the store (:mod:`hivemem.engine.queues` says what each does,
and how the queue is kept as internal records of the namespace), so every backend and
``http://`` behave alike. ``claim(wait=...)`` is the one loop here: it retries the claim,
sleeping until the namespace's next event (a put, an ack, a nack...) or a capped backoff
(a lapsed claim or an ended delay makes no event), never holding anything in the store.

:class:`AsyncQueue` is the source; :class:`Queue` is generated from it
(``python -m hivemem._unasync``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hivemem.engine import ops as o
from hivemem.engine import queues as q

if TYPE_CHECKING:
    from hivemem._core import Core
    from hivemem._plan import AsyncHandle, Handle
    from hivemem.types import Task

__all__ = ["DEFAULT_MAX_ATTEMPTS", "AsyncQueue", "Queue"]

#: Claims of a task before it goes to the dead letters, unless the queue says otherwise.
DEFAULT_MAX_ATTEMPTS = 5
#: Longest sleep of ``claim(wait=...)`` between two tries when no event wakes it (due tasks
#: make no event), and the first one (it doubles up to the longest).
_BACKOFF_MAX = 0.25
_BACKOFF_MIN = 0.01


def _change(core: Core, ns: str, agent: str, since: int, timeout: float) -> None:
    """Return at the namespace's first event after ``since``, or after ``timeout`` s."""
    events = core.backend.follow(agent, ns, since, timeout, core.closed)
    try:
        for _ in events:
            return
    finally:
        events.close()  # type: ignore[attr-defined]


async def _achange(core: Core, ns: str, agent: str, since: int, timeout: float) -> None:
    """Async twin of :func:`_change`."""
    events = core.backend.afollow(agent, ns, since, timeout, core.closed)
    try:
        async for _ in events:
            return
    finally:
        await events.aclose()  # type: ignore[attr-defined]


# -- unasync source "queue": Queue below is generated from here
class AsyncQueue:
    """A task queue of a namespace: ``amem.queue(ns, name)``.

    Higher priority first, then FIFO. A claimed task not acked within its visibility returns
    to ready (at the next claim of the queue); a task claimed ``max_attempts`` times moves
    to the dead letters instead. Acting on a queue needs write permission on its namespace,
    reading its stats and dead letters needs read.
    """

    def __init__(
        self,
        mem: AsyncHandle,
        namespace: str,
        name: str,
        agent: str,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self._m = mem
        self.namespace = mem._c.ns(namespace)
        self.name = q.check_queue(name)
        self.agent = agent
        self.max_attempts = q.check_max_attempts(max_attempts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.namespace!r}, {self.name!r})"

    async def put(
        self,
        task: Any,
        *,
        priority: int = 0,
        delay: float = 0.0,
        idempotency_key: str | None = None,
    ) -> Task:
        """Add a task (any JSON value); return it.

        Args:
            task: The task's value.
            priority: Higher is claimed first (a 32-bit integer).
            delay: Seconds before it may be claimed.
            idempotency_key: A second put with the same key into this queue, within the
                store's idempotency window (600 s by default), returns the first task
                instead of adding one.
        """
        c = self._m._c
        op = c.queue_put(
            self.agent, self.namespace, self.name, task, priority, delay, idempotency_key
        )
        return await self._m._run(op)

    async def claim(
        self, worker: str | None = None, visibility: float = 30.0, wait: float = 0.0
    ) -> Task | None:
        """Claim the next task for ``visibility`` seconds; ``None`` if none is ready.

        Args:
            worker: Who claims (default: the agent); shown as the task's ``claimed_by``.
            visibility: Seconds the claim lasts unless extended; then the task returns.
            wait: Seconds to wait for a task when none is ready (0: answer at once).
        """
        c = self._m._c
        op = c.queue_claim(
            self.agent, self.namespace, self.name, worker, visibility, self.max_attempts
        )
        wait = q.check_delay(wait)
        deadline = time.monotonic() + wait
        backoff = _BACKOFF_MIN
        watch = o.StartWatch(agent=self.agent, ns=self.namespace)
        while True:
            since = await self._m._run(watch) if wait > 0 else 0  # (what wakes the wait)
            task: Task | None = await self._m._run(op)
            left = deadline - time.monotonic()
            if task is not None or left <= 0:
                return task
            await _achange(c, self.namespace, self.agent, since, min(backoff, left))
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def ack(self, task: Task) -> None:
        """Finish a claimed task.

        Raises:
            ConflictError: ``reason="claim_lost"``: the claim lapsed, or is not this
                agent's (nothing changes).
        """
        await self._m._run(self._m._c.queue_ack(self.agent, self.namespace, self.name, task))

    async def nack(self, task: Task, delay: float = 0.0) -> None:
        """Give a claimed task back: claimable again after ``delay`` seconds.

        A task claimed ``max_attempts`` times goes to the dead letters instead.

        Raises:
            ConflictError: ``reason="claim_lost"``, as for :meth:`ack`.
        """
        c = self._m._c
        op = c.queue_nack(self.agent, self.namespace, self.name, task, delay, self.max_attempts)
        await self._m._run(op)

    async def extend(self, task: Task, visibility: float) -> Task:
        """Keep a claim ``visibility`` more seconds from now; return the task.

        Raises:
            ConflictError: ``reason="claim_lost"``, as for :meth:`ack`.
        """
        c = self._m._c
        op = c.queue_extend(self.agent, self.namespace, self.name, task, visibility)
        return await self._m._run(op)

    async def stats(self) -> dict[str, int]:
        """``{ready, claimed, delayed, dead}`` counts, read in O(1).

        A lapsed claim counts as claimed until the next claim of the queue returns it.
        """
        op = o.QueueStats(agent=self.agent, ns=self.namespace, queue=self.name)
        return await self._m._run(op)

    async def dead_letters(self, limit: int = 100) -> list[Task]:
        """The dead tasks, oldest death first (at most ``limit``, up to 10,000)."""
        op = o.QueueDeadLetters(agent=self.agent, ns=self.namespace, queue=self.name, limit=limit)
        return await self._m._run(op)


# -- end of unasync source "queue"


# -- generated from queues.py ("queue"): do not edit
class Queue:
    """A task queue of a namespace: ``amem.queue(ns, name)``.

    Higher priority first, then FIFO. A claimed task not acked within its visibility returns
    to ready (at the next claim of the queue); a task claimed ``max_attempts`` times moves
    to the dead letters instead. Acting on a queue needs write permission on its namespace,
    reading its stats and dead letters needs read.
    """

    def __init__(
        self,
        mem: Handle,
        namespace: str,
        name: str,
        agent: str,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self._m = mem
        self.namespace = mem._c.ns(namespace)
        self.name = q.check_queue(name)
        self.agent = agent
        self.max_attempts = q.check_max_attempts(max_attempts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.namespace!r}, {self.name!r})"

    def put(
        self,
        task: Any,
        *,
        priority: int = 0,
        delay: float = 0.0,
        idempotency_key: str | None = None,
    ) -> Task:
        """Add a task (any JSON value); return it.

        Args:
            task: The task's value.
            priority: Higher is claimed first (a 32-bit integer).
            delay: Seconds before it may be claimed.
            idempotency_key: A second put with the same key into this queue, within the
                store's idempotency window (600 s by default), returns the first task
                instead of adding one.
        """
        c = self._m._c
        op = c.queue_put(
            self.agent, self.namespace, self.name, task, priority, delay, idempotency_key
        )
        return self._m._run(op)

    def claim(
        self, worker: str | None = None, visibility: float = 30.0, wait: float = 0.0
    ) -> Task | None:
        """Claim the next task for ``visibility`` seconds; ``None`` if none is ready.

        Args:
            worker: Who claims (default: the agent); shown as the task's ``claimed_by``.
            visibility: Seconds the claim lasts unless extended; then the task returns.
            wait: Seconds to wait for a task when none is ready (0: answer at once).
        """
        c = self._m._c
        op = c.queue_claim(
            self.agent, self.namespace, self.name, worker, visibility, self.max_attempts
        )
        wait = q.check_delay(wait)
        deadline = time.monotonic() + wait
        backoff = _BACKOFF_MIN
        watch = o.StartWatch(agent=self.agent, ns=self.namespace)
        while True:
            since = self._m._run(watch) if wait > 0 else 0  # (what wakes the wait)
            task: Task | None = self._m._run(op)
            left = deadline - time.monotonic()
            if task is not None or left <= 0:
                return task
            _change(c, self.namespace, self.agent, since, min(backoff, left))
            backoff = min(backoff * 2, _BACKOFF_MAX)

    def ack(self, task: Task) -> None:
        """Finish a claimed task.

        Raises:
            ConflictError: ``reason="claim_lost"``: the claim lapsed, or is not this
                agent's (nothing changes).
        """
        self._m._run(self._m._c.queue_ack(self.agent, self.namespace, self.name, task))

    def nack(self, task: Task, delay: float = 0.0) -> None:
        """Give a claimed task back: claimable again after ``delay`` seconds.

        A task claimed ``max_attempts`` times goes to the dead letters instead.

        Raises:
            ConflictError: ``reason="claim_lost"``, as for :meth:`ack`.
        """
        c = self._m._c
        op = c.queue_nack(self.agent, self.namespace, self.name, task, delay, self.max_attempts)
        self._m._run(op)

    def extend(self, task: Task, visibility: float) -> Task:
        """Keep a claim ``visibility`` more seconds from now; return the task.

        Raises:
            ConflictError: ``reason="claim_lost"``, as for :meth:`ack`.
        """
        c = self._m._c
        op = c.queue_extend(self.agent, self.namespace, self.name, task, visibility)
        return self._m._run(op)

    def stats(self) -> dict[str, int]:
        """``{ready, claimed, delayed, dead}`` counts, read in O(1).

        A lapsed claim counts as claimed until the next claim of the queue returns it.
        """
        op = o.QueueStats(agent=self.agent, ns=self.namespace, queue=self.name)
        return self._m._run(op)

    def dead_letters(self, limit: int = 100) -> list[Task]:
        """The dead tasks, oldest death first (at most ``limit``, up to 10,000)."""
        op = o.QueueDeadLetters(agent=self.agent, ns=self.namespace, queue=self.name, limit=limit)
        return self._m._run(op)


# -- end of generated "queue"
