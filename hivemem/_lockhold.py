"""``mem.lock(...)``: take a lock, waiting in line, as a context manager (SPEC §19).

The wait is a loop in the caller, never an op that blocks the store: the waiter takes a
ticket (its place in line, :mod:`hivemem.engine.locks`) and asks ``try_lock`` with it;
between attempts it polls ``lock_info`` (a read: no commit, cheap on every backend) with a
capped backoff, and asks again as soon as the lock is free, or every third of the
ticket's life to keep its place. :class:`LockHold` (sync) is generated from
:class:`AsyncLockHold` (``python -m hivemem._unasync``).

The hold is not kept alive in the background: a body longer than ``ttl`` must call
``mem.keep_alive(lk.lease_id)``, and should write with ``fence=lk`` so that a hold that
ended cannot clobber its successor.
"""

from __future__ import annotations

import asyncio
import math
import time
from time import monotonic
from typing import TYPE_CHECKING, Any

from hivemem.errors import InvalidArgument, LockTimeout

if TYPE_CHECKING:
    from hivemem._plan import AsyncHandle, Handle
    from hivemem.types import Lock

__all__ = ["AsyncLockHold", "LockHold"]

#: First and longest pause between polls of a busy lock (seconds), embedded and remote.
FIRST_PAUSE = 0.001
MAX_PAUSE = 0.005
MAX_PAUSE_REMOTE = 0.02
#: How long a waiter's ticket lives without a refresh (it refreshes every third of it).
TICKET_TTL = 3.0


def check_wait(wait: Any) -> float | None:
    """``wait``: seconds >= 0 (``None``: forever)."""
    if wait is None:
        return None
    if (
        isinstance(wait, bool)
        or not isinstance(wait, int | float)
        or not (wait >= 0 and math.isfinite(wait))
    ):
        raise InvalidArgument(f"invalid wait {wait!r}: give seconds >= 0, or None for no limit")
    return float(wait)


async def _asleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


class AsyncLockHold:
    """``async with amem.lock(ns, name, ttl=30.0, wait=10.0) as lk``: the asyncio twin."""

    # -- unasync source "lock_hold": LockHold's methods are generated from here
    def __init__(
        self,
        mem: AsyncHandle,
        namespace: str,
        name: str,
        agent: str | None,
        ttl: float,
        wait: float | None,
    ) -> None:
        core = mem._c
        self._mem = mem
        self._first = core.try_lock(namespace, name, ttl, agent)  # checks every argument
        self._wait = check_wait(wait)
        self._agent = agent
        self.lock: Lock | None = None

    async def acquire(self) -> Lock:
        """Take the lock, waiting in line up to ``wait`` seconds.

        Raises:
            LockTimeout: ``wait`` ran out (the lock was busy all along).
        """
        mem, core, op = self._mem, self._mem._c, self._first
        if self._wait == 0:
            got = await mem._run(core.try_lock(op.ns, op.name, op.ttl, self._agent))
        else:
            deadline = math.inf if self._wait is None else monotonic() + self._wait
            ticket = core.new_ticket()
            mine = core.try_lock(op.ns, op.name, op.ttl, self._agent, ticket, TICKET_TTL)
            turn = core.lock_turn(op.ns, op.name, ticket, self._agent)
            cap = MAX_PAUSE_REMOTE if core.backend.remote else MAX_PAUSE
            pause, asked = FIRST_PAUSE, monotonic()
            got = await mem._run(mine)  # (busy: this stores the ticket, our place in line)
            while got is None and monotonic() < deadline:
                await _asleep(max(0.0, min(pause, deadline - monotonic())))
                pause = min(pause * 2, cap)
                now = monotonic()
                # Ask (a write) only when it is our turn, or to keep our place in line.
                if now - asked >= TICKET_TTL / 3 or await mem._run(turn):
                    asked = now
                    got = await mem._run(mine)
        if got is None:
            raise LockTimeout(
                f"lock {op.name!r} of namespace {op.ns!r} stayed busy for {self._wait} s",
                namespace=op.ns,
                name=op.name,
            )
        self.lock = got
        return got

    async def release(self) -> bool:
        """Release the hold (``False`` if it had ended already: expired or released)."""
        if self.lock is None:
            return False
        lock, self.lock = self.lock, None
        return await self._mem._run(self._mem._c.unlock(lock, self._agent))

    async def __aenter__(self) -> Lock:
        return await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        await self.release()

    # -- end of unasync source "lock_hold"


class LockHold:
    """``with mem.lock(ns, name, ttl=30.0, wait=10.0) as lk``: hold a lock for the block."""

    # -- generated from _lockhold.py ("lock_hold"): do not edit
    def __init__(
        self,
        mem: Handle,
        namespace: str,
        name: str,
        agent: str | None,
        ttl: float,
        wait: float | None,
    ) -> None:
        core = mem._c
        self._mem = mem
        self._first = core.try_lock(namespace, name, ttl, agent)  # checks every argument
        self._wait = check_wait(wait)
        self._agent = agent
        self.lock: Lock | None = None

    def acquire(self) -> Lock:
        """Take the lock, waiting in line up to ``wait`` seconds.

        Raises:
            LockTimeout: ``wait`` ran out (the lock was busy all along).
        """
        mem, core, op = self._mem, self._mem._c, self._first
        if self._wait == 0:
            got = mem._run(core.try_lock(op.ns, op.name, op.ttl, self._agent))
        else:
            deadline = math.inf if self._wait is None else monotonic() + self._wait
            ticket = core.new_ticket()
            mine = core.try_lock(op.ns, op.name, op.ttl, self._agent, ticket, TICKET_TTL)
            turn = core.lock_turn(op.ns, op.name, ticket, self._agent)
            cap = MAX_PAUSE_REMOTE if core.backend.remote else MAX_PAUSE
            pause, asked = FIRST_PAUSE, monotonic()
            got = mem._run(mine)  # (busy: this stores the ticket, our place in line)
            while got is None and monotonic() < deadline:
                _sleep(max(0.0, min(pause, deadline - monotonic())))
                pause = min(pause * 2, cap)
                now = monotonic()
                # Ask (a write) only when it is our turn, or to keep our place in line.
                if now - asked >= TICKET_TTL / 3 or mem._run(turn):
                    asked = now
                    got = mem._run(mine)
        if got is None:
            raise LockTimeout(
                f"lock {op.name!r} of namespace {op.ns!r} stayed busy for {self._wait} s",
                namespace=op.ns,
                name=op.name,
            )
        self.lock = got
        return got

    def release(self) -> bool:
        """Release the hold (``False`` if it had ended already: expired or released)."""
        if self.lock is None:
            return False
        lock, self.lock = self.lock, None
        return self._mem._run(self._mem._c.unlock(lock, self._agent))

    def __enter__(self) -> Lock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- end of generated "lock_hold"
