"""What a put or a delete does, given the entry's current state: decided here, once.

Pure functions over the entry's head (version, creation and expiry times), the namespace's
conflict strategy and the op's condition. Every write path asks them: the engine
(:func:`hivemem.engine.apply._write_one` and ``_delete_one``), SQLite's fast put, and Redis's
``redis_write.lua``, which cannot call Python and so transcribes the same cases in the same
order (its comments name them). ``tests/test_fast_paths.py`` runs every strategy and case on
all three and compares results, entries and events byte for byte.

A put, in order (the first case that applies decides):

====  ===============================================  ====================================
case  when                                             then
====  ===============================================  ====================================
P0    an entry is stored but has expired               it is expired first (its event takes
                                                       a revision); the key counts as absent
P1    ``expected`` given and not the live version      refuse ``version_mismatch``
      (0 when absent)
P2    strategy ``version`` and no ``expected``         refuse ``version_required``
P3    strategy ``first-wins`` and a live entry         refuse ``first_wins``
P4    strategy ``merge``/``custom`` and a live entry   the stored value is resolved from both
                                                       values (:mod:`hivemem.engine.conflicts`)
P5    otherwise                                        the incoming value is stored
====  ===============================================  ====================================

A put that writes gets version ``live + 1`` (1 when absent) and keeps the live entry's
``created_at`` (``now`` when absent); one that adds an entry (none live) must find room under
the namespace's cap. A delete: D1 ``expected`` given and not the live version: refuse
``version_mismatch``; D2 nothing stored: nothing happens; D3 stored but expired: it is
expired (its event); D4 otherwise it is deleted.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from hivemem.errors import ConflictError

__all__ = [
    "ABSENT",
    "DELETED",
    "EXPIRED",
    "DeleteDecision",
    "Head",
    "HeadLike",
    "PutDecision",
    "decide_delete",
    "decide_put",
    "refusal",
    "state_free",
]

#: Delete outcomes (:attr:`DeleteDecision.outcome`; ``redis_write.lua`` answers the same).
ABSENT, EXPIRED, DELETED = 0, 1, 2

#: Builds a decision without the NamedTuple's Python-level ``__new__`` (every write asks).
_new = tuple.__new__

#: Strategies that store the incoming value over a live entry; of the others, first-wins
#: refuses (P3) and every other (merge, custom) resolves (P4).
_PLAIN = frozenset({"latest-wins", "version"})


class HeadLike(Protocol):
    """What a decision reads of a stored entry (a ``Stored`` row has it)."""

    @property
    def version(self) -> int:
        """The entry's version."""

    @property
    def created_at(self) -> float:
        """When the entry was created."""

    @property
    def expires_at(self) -> float | None:
        """When the entry expires (``None``: never)."""


class Head(NamedTuple):
    """An entry's head: what a decision reads of it, kept by fast paths without the value."""

    version: int
    created_at: float
    expires_at: float | None


class PutDecision(NamedTuple):
    """What a put does (see the module's table)."""

    #: ``None`` when the put may write; else the ``ConflictError`` reason (P1-P3).
    refusal: str | None
    #: The live entry's version (0: none live): the refusal's ``current_version``.
    current: int
    #: The version of a stored, expired entry to expire first (P0); 0: none.
    expired: int
    #: Whether the value is resolved from the live one and the incoming one (P4).
    resolve: bool
    #: Whether the put adds an entry (none live): the namespace's cap must leave room.
    adds: bool
    #: The version the write takes.
    version: int
    #: The written entry's ``created_at``.
    created_at: float


class DeleteDecision(NamedTuple):
    """What a delete does (see the module's docstring)."""

    #: ``None``, or ``"version_mismatch"`` (D1).
    refusal: str | None
    #: :data:`ABSENT` (D2), :data:`EXPIRED` (D3) or :data:`DELETED` (D4).
    outcome: int
    #: The stored entry's version (0: nothing stored); with a refusal, the live version.
    version: int


def state_free(strategy: str, expected: int | None) -> bool:
    """Whether no live entry can refuse the put: only its version and ``created_at`` matter.

    True for latest-wins without ``expected``: a fast path may then write without reading
    the entry first (SQLite's upsert computes P5's version and ``created_at`` itself).
    """
    return expected is None and strategy == "latest-wins"


def decide_put(
    head: HeadLike | None, strategy: str, expected: int | None, now: float
) -> PutDecision:
    """What a put does to a key whose stored entry is ``head`` (``None``: nothing stored).

    Args:
        head: The stored entry, expired or not.
        strategy: The namespace's conflict strategy (``latest-wins`` for a pre-resolved put).
        expected: The op's compare-and-set condition (0: must not exist), or ``None``.
        now: The op's time.
    """
    expired = 0
    if head is None:
        current = 0
    elif head.expires_at is not None and head.expires_at <= now:  # P0
        expired, current, head = head.version, 0, None
    else:
        current = head.version
    if expected is not None and expected != current:  # P1
        return _new(PutDecision, ("version_mismatch", current, expired, False, False, 0, now))
    if strategy != "latest-wins":
        if strategy == "version" and expected is None:  # P2
            return _new(PutDecision, ("version_required", current, expired, False, False, 0, now))
        if head is not None and strategy not in _PLAIN:
            if strategy == "first-wins":  # P3
                return _new(PutDecision, ("first_wins", current, expired, False, False, 0, now))
            # P4
            return _new(PutDecision, (None, current, 0, True, False, current + 1, head.created_at))
    if head is None:  # P5, a new entry
        return _new(PutDecision, (None, 0, expired, False, True, 1, now))
    return _new(PutDecision, (None, current, 0, False, False, current + 1, head.created_at))


def decide_delete(head: HeadLike | None, expected: int | None, now: float) -> DeleteDecision:
    """What a delete does to a key whose stored entry is ``head`` (``None``: nothing stored)."""
    if head is None:
        stored, live = 0, 0
    else:
        stored = head.version
        live = stored if head.expires_at is None or head.expires_at > now else 0
    if expected is not None and expected != live:  # D1
        return _new(DeleteDecision, ("version_mismatch", ABSENT, live))
    if head is None:  # D2
        return _new(DeleteDecision, (None, ABSENT, 0))
    if not live:  # D3
        return _new(DeleteDecision, (None, EXPIRED, stored))
    return _new(DeleteDecision, (None, DELETED, stored))  # D4


def refusal(reason: str, ns: str, key: str, current: int, expected: int | None) -> ConflictError:
    """The :class:`ConflictError` a refused write raises (worded once, for every path)."""
    if reason == "version_mismatch":
        text = f"key {key!r} is at version {current}, not {expected}"
    elif reason == "version_required":
        text = (
            f"namespace {ns!r} uses the 'version' strategy: pass expected_version (0 for a new key)"
        )
    else:
        text = f"key {key!r} exists and namespace {ns!r} is first-wins"
    return ConflictError(text, reason=reason, current_version=current)
