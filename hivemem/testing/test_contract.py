"""The backend contract (``hivemem.backends.base.Backend``): errors come back one way.

Every failure of an op is its result's ``error``, whatever failed (the engine's refusal, a
closed store, a driver error): ``execute`` and ``aexecute`` never raise for it, and the
caller raises the error. Optional capabilities are declared by every backend (class flags
and methods with defaults), so callers never probe for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem import BackendUnavailable, HivememError, NamespaceNotFound
from hivemem.engine import ops as o

if TYPE_CHECKING:
    from collections.abc import Callable

    import hivemem
    from hivemem.backends.base import Backend
    from hivemem.engine.txn import Result
    from hivemem.testing.clock import FakeClock

_FLAGS = (
    "shared_between_processes",
    "remote",
    "client_resolvers",
    "supports_change_token",
    "supports_cluster",
)


def _backend(mem: Any) -> Backend:
    backend: Backend = mem._b
    return backend


def _ops() -> list[o.Op[Any]]:
    return [
        o.Get(agent="a", ns="ns", key="k"),
        o.ListEntries(agent="a", ns="ns"),
        o.Put(agent="a", ns="ns", key="k", value_json="2"),
        o.Delete(agent="a", ns="ns", key="k"),
    ]


def _failed_softly(result: Result, closed_refuses: bool) -> None:
    assert result.error is None or isinstance(result.error, HivememError)
    if closed_refuses:
        assert isinstance(result.error, BackendUnavailable), result


def test_every_backend_declares_its_capabilities(mem: hivemem.Memory) -> None:
    """Each optional capability is a declared bool flag or a method with a default."""
    backend = _backend(mem)
    for flag in _FLAGS:
        assert type(getattr(type(backend), flag)) is bool, flag
    assert mem.circuit_breaker_status()["state"] == "closed"
    mem.reset_circuit_breaker()
    mem.clear_cache()
    cache = mem.get_metrics()["cache"]
    assert cache is None or isinstance(cache, dict)
    if backend.supports_change_token:
        assert isinstance(backend.change_token(), int)


async def test_apeek_reads_a_live_value_without_the_engine_checks(
    amem: hivemem.AsyncMemory, clock: FakeClock
) -> None:
    """``apeek`` answers a live entry's value, ``None`` for a missing or expired one."""
    await amem.create_namespace("ns", permissions={"bob": "write"}, agent="bob")
    await amem.write("ns", "k", {"v": 1}, agent="bob")
    await amem.write("ns", "short", 1, agent="bob", ttl=5)
    backend = _backend(amem)
    assert await backend.apeek("ns", "k") == {"v": 1}
    assert await backend.apeek("ns", "nothing") is None
    clock.advance(10)
    assert await backend.apeek("ns", "short") is None


def test_an_op_refusal_is_its_result_not_an_exception(mem: hivemem.Memory) -> None:
    """The engine's refusal comes back in the result; the caller raises it."""
    result = _backend(mem).execute(o.Get(agent="a", ns="missing", key="k"))
    assert isinstance(result.error, NamespaceNotFound)


def test_a_closed_store_answers_in_results(make_mem: Callable[..., hivemem.Memory]) -> None:
    """Ops on a closed store, reads and writes alike, come back as results, never raised;
    a store other processes share (it holds connections) refuses them as unavailable."""
    mem = make_mem()
    mem.write("ns", "k", 1)
    backend = _backend(mem)
    mem.close()
    for op in _ops():
        _failed_softly(backend.execute(op), backend.shared_between_processes)


async def test_a_closed_store_answers_in_results_async(
    make_mem: Callable[..., hivemem.Memory],
) -> None:
    """The asyncio twin: ``aexecute`` on a closed store returns its failures too."""
    mem = make_mem()
    mem.write("ns", "k", 1)
    backend = _backend(mem)
    mem.close()
    for op in _ops():
        _failed_softly(await backend.aexecute(op), backend.shared_between_processes)
