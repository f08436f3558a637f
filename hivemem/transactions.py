"""``mem.transaction()``: compares, then one branch of ops, atomically (SPEC §19).

>>> import hivemem
>>> mem = hivemem.connect("memory://")
>>> _ = mem.write("bank", "alice", 10)
>>> txn = mem.transaction()
>>> _ = txn.compare("bank", "alice", version=1)
>>> _ = txn.on_success.write("bank", "alice", 5).write("bank", "bob", 5)
>>> txn.commit().succeeded
True
>>> mem.close()

A builder collects the compares and both branches in the caller's process (each argument
checked as it is added); :meth:`Transaction.commit` sends them as ONE op
(:class:`~hivemem.engine.ops.Transaction`), which the store runs in one atomic step
(:mod:`hivemem.engine.transactions`). The builder may be committed again (say, after a
failed compare changed nothing), each commit a new transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem._core import NOT_GIVEN

if TYPE_CHECKING:
    from hivemem._core import Core
    from hivemem._plan import AsyncHandle, Handle
    from hivemem.engine import ops as o
    from hivemem.types import TxnResult

__all__ = ["AsyncTransaction", "Transaction", "TxnBranch"]


class TxnBranch:
    """The ops of one branch (``txn.on_success`` or ``txn.on_failure``), in order."""

    def __init__(self, core: Core) -> None:
        self._c = core
        self.steps: list[o.TxnStep] = []

    def write(
        self,
        namespace: str,
        key: str,
        value: Any,
        *,
        ttl: float | None = None,
        expected_version: int | None = None,
    ) -> TxnBranch:
        """Write ``value`` (as ``mem.write`` would: permission, strategy, events, audit)."""
        self.steps.append(self._c.txn_step("write", namespace, key, value, ttl, expected_version))
        return self

    def delete(self, namespace: str, key: str, *, expected_version: int | None = None) -> TxnBranch:
        """Delete a key (its result: whether a live entry was removed)."""
        self.steps.append(self._c.txn_step("delete", namespace, key, None, None, expected_version))
        return self

    def read(self, namespace: str, key: str) -> TxnBranch:
        """Read a key in the transaction's step (its result: the ``Entry`` or ``None``)."""
        self.steps.append(self._c.txn_step("read", namespace, key))
        return self


class _Builder:
    def __init__(self, core: Core, agent: str | None) -> None:
        self._c = core
        self._agent = agent
        self._compares: list[o.TxnCompare] = []
        #: The ops that run when every compare holds.
        self.on_success = TxnBranch(core)
        #: The ops that run when any compare fails.
        self.on_failure = TxnBranch(core)

    def compare(
        self,
        namespace: str,
        key: str,
        *,
        version: int = NOT_GIVEN,
        value: Any = NOT_GIVEN,
        exists: bool = NOT_GIVEN,
    ) -> Any:
        """Add conditions on a key: its ``version`` (0: no live entry), ``value``, ``exists``.

        Each argument given is one condition; all must hold for ``on_success`` to run.
        Returns the transaction (so calls chain).
        """
        self._compares.extend(self._c.txn_compare(namespace, key, version, value, exists))
        return self

    def _op(self, idempotency_key: str | None) -> o.Transaction:
        return self._c.transaction(
            self._agent,
            self._compares,
            self.on_success.steps,
            self.on_failure.steps,
            idempotency_key,
        )


class Transaction(_Builder):
    """A transaction being built for a :class:`~hivemem.Memory` (``mem.transaction()``)."""

    def __init__(self, mem: Handle, agent: str | None = None) -> None:
        super().__init__(mem._c, agent)
        self._mem = mem

    def commit(self, idempotency_key: str | None = None) -> TxnResult:
        """Run the compares and one branch atomically; return what happened.

        Raises:
            InvalidArgument: a malformed transaction (too many ops, a key written twice
                in a branch), or namespaces a Redis Cluster cannot join (``cross_slot``).
            PermissionDenied: the agent lacks read or write on a namespace named.
            ConflictError: a write of the branch was refused (nothing was changed).
        """
        return self._mem._run(self._op(idempotency_key))


class AsyncTransaction(_Builder):
    """A transaction being built for an :class:`~hivemem.AsyncMemory`."""

    def __init__(self, mem: AsyncHandle, agent: str | None = None) -> None:
        super().__init__(mem._c, agent)
        self._mem = mem

    async def commit(self, idempotency_key: str | None = None) -> TxnResult:
        """Run the compares and one branch atomically; return what happened.

        Raises:
            InvalidArgument: a malformed transaction (too many ops, a key written twice
                in a branch), or namespaces a Redis Cluster cannot join (``cross_slot``).
            PermissionDenied: the agent lacks read or write on a namespace named.
            ConflictError: a write of the branch was refused (nothing was changed).
        """
        return await self._mem._run(self._op(idempotency_key))
