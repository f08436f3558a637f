"""Plans and the one driver that runs them, sync or async.

A plan is a generator written once: it yields steps and receives their results (or has
their errors thrown in). A step is either handed to the caller's ``run`` (an op for
``Memory._run``, a LangGraph store's API call...) or is a :class:`Local` step, blocking work
the driver runs itself: inline under :func:`drive`, in a worker thread under :func:`adrive`.

Conversations, records, memories and the LangGraph store all describe their methods as plans;
:func:`adrive` is the source and :func:`drive` is generated from it (:mod:`hivemem._unasync`).
The handles the API classes take are typed by :class:`Handle` and :class:`AsyncHandle`, so
those modules never import ``Memory`` or ``AsyncMemory``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from hivemem._core import Core
    from hivemem.engine import ops as o

__all__ = ["AsyncHandle", "AsyncRun", "Handle", "Local", "Plan", "Run", "adrive", "drive"]

T = TypeVar("T")
R = TypeVar("R")

#: A plan: yields steps, receives their results, returns a ``T``.
Plan = Generator[Any, Any, T]
#: How the sync driver runs a step that is not :class:`Local`.
Run = Callable[[Any], Any]
#: How the async driver runs a step that is not :class:`Local` (its result is awaited).
AsyncRun = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Local:
    """A step the driver runs in process: ``fn(*args)`` (blocking; a thread under asyncio)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]

    def call(self) -> Any:
        """Run the step here (the sync API blocks its caller anyway)."""
        return self.fn(*self.args)

    async def acall(self) -> Any:
        """Run the step in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.fn, *self.args)


class Handle(Protocol):
    """What a sync API class needs of the ``Memory`` it works through."""

    _c: Core

    def _run(self, op: o.Op[R]) -> R: ...


class AsyncHandle(Protocol):
    """What an async API class needs of the ``AsyncMemory`` it works through."""

    _c: Core

    def _run(self, op: o.Op[R]) -> Awaitable[R]: ...


# -- unasync source "driver": drive() below is generated from here
async def adrive(run: AsyncRun, plan: Plan[T]) -> T:
    """Run a plan: steps through ``run``, :class:`Local` steps by the driver itself.

    An error a step raises is thrown into the plan at its ``yield`` (a plan may catch it);
    the plan's return value is the result.
    """
    try:
        step = next(plan)
        while True:
            try:
                result = await step.acall() if isinstance(step, Local) else await run(step)
            except Exception as exc:
                step = plan.throw(exc)
            else:
                step = plan.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


# -- end of unasync source "driver"


# -- generated from _plan.py ("driver"): do not edit
def drive(run: Run, plan: Plan[T]) -> T:
    """Run a plan: steps through ``run``, :class:`Local` steps by the driver itself.

    An error a step raises is thrown into the plan at its ``yield`` (a plan may catch it);
    the plan's return value is the result.
    """
    try:
        step = next(plan)
        while True:
            try:
                result = step.call() if isinstance(step, Local) else run(step)
            except Exception as exc:
                step = plan.throw(exc)
            else:
                step = plan.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


# -- end of generated "driver"
