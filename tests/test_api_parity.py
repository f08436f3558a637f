"""The sync and async APIs are twins: same names, signatures and docstrings.

The async classes are the source and the sync ones are generated from them
(``python -m hivemem._unasync``); these tests fail if a generated region is stale (someone
edited one twin by hand) or if the hand-written parts drift apart.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

import hivemem
from hivemem import _plan
from hivemem._async import AsyncMemory, AsyncSubscription
from hivemem._lockhold import AsyncLockHold, LockHold
from hivemem._sync import Memory, Subscription
from hivemem._unasync import generate, unasync
from hivemem.conversations import (
    AsyncConversation,
    AsyncConversations,
    Conversation,
    Conversations,
)
from hivemem.memories import api as memories_api
from hivemem.memories.api import AsyncMemories, Memories
from hivemem.queues import AsyncQueue, Queue

#: (sync, async, names only the sync one has, names only the async one has,
#:  async names that are not awaited: views, in-process state, properties)
PAIRS: list[tuple[type, type, set[str], set[str], set[str]]] = [
    (
        Memory,
        AsyncMemory,
        {"close"},
        {"aclose"},
        {
            "agent",
            "as_agent",
            "namespace",
            "on",
            "memories",
            "conversation",
            "conversations",
            "circuit_breaker_status",
            "reset_circuit_breaker",
            "clear_cache",
            "get_metrics",
            "queue",
            "lock",
            "transaction",
        },
    ),
    (Conversation, AsyncConversation, set(), set(), {"id"}),
    (Conversations, AsyncConversations, set(), set(), set()),
    (Memories, AsyncMemories, set(), set(), {"session_id"}),
    (Subscription, AsyncSubscription, set(), {"aunsubscribe"}, {"active", "unsubscribe"}),
    (Queue, AsyncQueue, set(), set(), {"agent", "max_attempts", "name", "namespace"}),
    (LockHold, AsyncLockHold, set(), set(), {"lock"}),
]

FUNCTIONS = [
    (memories_api.create_session, memories_api.acreate_session),
    (memories_api.get_session, memories_api.aget_session),
    (_plan.drive, _plan.adrive),
]


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def _sync_text(annotation: Any) -> str:
    """An async annotation as its sync twin reads (``AsyncMemory`` -> ``Memory``)."""
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return re.sub(r"\bAsync(?=[A-Z])", "", text)


def _shape(fn: Any) -> list[tuple[str, Any, Any, str]]:
    sig = inspect.signature(fn)
    params = [
        (p.name, p.kind, p.default, _sync_text(p.annotation)) for p in sig.parameters.values()
    ]
    return [*params, ("return", None, None, _sync_text(sig.return_annotation))]


@pytest.mark.parametrize(("sync", "asyn", "sync_only", "async_only", "plain"), PAIRS)
def test_twins_expose_the_same_names(
    sync: type, asyn: type, sync_only: set[str], async_only: set[str], plain: set[str]
) -> None:
    """Both classes have the same public names, only the documented ones differ."""
    assert _public(sync) - _public(asyn) == sync_only
    assert _public(asyn) - _public(sync) == async_only


@pytest.mark.parametrize(("sync", "asyn", "sync_only", "async_only", "plain"), PAIRS)
def test_twins_have_the_same_signatures_and_docstrings(
    sync: type, asyn: type, sync_only: set[str], async_only: set[str], plain: set[str]
) -> None:
    """Parameters, defaults, annotations (modulo ``Async``) and docstrings are equal."""
    for name in sorted(_public(sync) & _public(asyn)):
        s, a = inspect.getattr_static(sync, name), inspect.getattr_static(asyn, name)
        assert type(s) is type(a), name
        if isinstance(s, property):
            assert isinstance(a, property)
            assert s.fget is not None and a.fget is not None
            assert _shape(s.fget) == _shape(a.fget), name
            assert inspect.getdoc(s) == inspect.getdoc(a), name
            continue
        assert callable(s), name
        assert _shape(s) == _shape(a), name
        assert inspect.getdoc(s) == inspect.getdoc(a), name
        assert inspect.getdoc(s), f"{sync.__name__}.{name} has no docstring"


@pytest.mark.parametrize(("sync", "asyn", "sync_only", "async_only", "plain"), PAIRS)
def test_async_twins_await_what_does_io(
    sync: type, asyn: type, sync_only: set[str], async_only: set[str], plain: set[str]
) -> None:
    """Every async method is a coroutine function except views and in-process state."""
    for name in sorted(_public(asyn)):
        a = inspect.getattr_static(asyn, name)
        if isinstance(a, property):
            assert name in plain, name
            continue
        assert inspect.iscoroutinefunction(a) == (name not in plain), name
    for name in sorted(_public(sync)):
        assert not inspect.iscoroutinefunction(inspect.getattr_static(sync, name)), name


@pytest.mark.parametrize(("sync", "asyn"), FUNCTIONS)
def test_twin_functions_match(sync: Any, asyn: Any) -> None:
    """Module-level twins: same signature (modulo ``Async``) and docstring; one is async."""
    assert _shape(sync) == _shape(asyn)
    assert inspect.getdoc(sync) == inspect.getdoc(asyn)
    assert inspect.iscoroutinefunction(asyn)
    assert not inspect.iscoroutinefunction(sync)


def test_generated_twins_are_current() -> None:
    """Regenerating the sync twins from the async source changes nothing.

    Fails when a generated region was edited by hand or the source changed without
    ``python -m hivemem._unasync``.
    """
    assert generate(check=True) == []


def test_unasync_changes_code_not_text() -> None:
    """Keywords and names change in code; strings and comments are copied as they are."""
    source = (
        "async def f(mem: AsyncMemory) -> None:\n"
        '    """Uses ``await amem.read()`` and AsyncMemory."""\n'
        "    async with x:  # AsyncMemory stays here\n"
        "        await adrive(mem._run, await mem.aexecute(op))\n"
    )
    assert unasync(source) == (
        "def f(mem: Memory) -> None:\n"
        '    """Uses ``await amem.read()`` and AsyncMemory."""\n'
        "    with x:  # AsyncMemory stays here\n"
        "        drive(mem._run, mem.execute(op))\n"
    )


async def test_async_destroy_closes_the_store() -> None:
    """``AsyncMemory.destroy`` is ``aclose``, as ``Memory.destroy`` is ``close``."""
    amem = hivemem.connect_async("memory://")
    await amem.write("ns", "k", 1)
    await amem.destroy()
    assert amem._c.closed.is_set()
    assert AsyncMemory.destroy is AsyncMemory.aclose
    assert Memory.destroy is Memory.close
