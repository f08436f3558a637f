"""Decay and reinforcement of long-term memories: the forgetting curve, promotion, forgetting.

The formula (SPEC §10). A record stores its ``strength`` as of a reference time ``t_ref``
(``decayed_at``: its creation, last access, reinforcement, promotion or restore). At
time ``t``::

    H(t)        = half_life[tier] * stability * (0.5 + importance)
    strength(t) = strength(t_ref) * 2 ** (-(t - t_ref) / H)

* ``half_life`` defaults: short 1 day, medium 7 days, long 90 days (an archived record
  keeps the curve of the tier it was archived from).
* ``importance`` (0..1) scales the half-life from 0.5x (0) through 1x (0.5) to 1.5x (1).
* ``stability`` starts at 1; each ``reinforce(factor)`` multiplies it by ``factor``, so a
  reinforced memory fades more slowly ever after.
* Reading a record (``get``), reinforcing or restoring it restores ``strength`` to 1 and
  moves ``t_ref`` to now; each counts as an access.

Strength is a pure function of the time, so it is computed when a record is read, never
written by a pass. A decay pass (``decay()``, or the server's scheduler) promotes a record
one tier when its ``access_count`` reaches ``promote_after[tier]`` (defaults: short ->
medium at 3 accesses, medium -> long at 10), anchoring its curve at the pass: stored
strength and ``t_ref`` become the pass's. Nothing is forgotten unless the namespace set a
:class:`ForgetPolicy`: then a record whose strength is below ``below`` and whose age
(since ``created_at``) is at least ``min_age`` is archived (tier ``archived``, restorable)
or deleted, as the policy says.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from hivemem.errors import InvalidArgument
from hivemem.types import ARCHIVED, TIERS

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: the server runs without the semantic extra
    from hivemem.memories._numpy import np

__all__ = ["ACTIONS", "DAY", "DecayPolicy", "ForgetPolicy", "curve_tier"]

DAY = 86_400.0
#: What a forgetting policy does with a record below its threshold.
ACTIONS = ("archive", "delete")


def _half_lives() -> dict[str, float]:
    return {"short": 1 * DAY, "medium": 7 * DAY, "long": 90 * DAY}


def _promote_after() -> dict[str, int]:
    return {"short": 3, "medium": 10}


def curve_tier(record: Mapping[str, Any]) -> str:
    """The tier whose half-life a record follows (an archived one: the tier it left)."""
    tier = record.get("tier", "short")
    if tier == ARCHIVED or record.get("forgotten"):
        tier = record.get("archived_from", tier)
    return tier if tier in TIERS else "short"


def curve_terms(record: Mapping[str, Any]) -> tuple[float, float, int]:
    """What :meth:`DecayPolicy.strengths` needs of a record, whatever the policy.

    Its strength at its reference time, ``stability * (0.5 + importance)`` and its curve's
    index in ``TIERS``.
    """
    importance = min(1.0, max(0.0, float(record.get("importance", 0.5))))
    stability = max(1e-6, float(record.get("stability", 1.0)))
    tier = TIERS.index(curve_tier(record))
    return float(record.get("strength", 1.0)), stability * (0.5 + importance), tier


def is_archived(record: Mapping[str, Any]) -> bool:
    """Whether a stored record is archived (``forgotten`` is how earlier versions said so)."""
    return record.get("tier") == ARCHIVED or bool(record.get("forgotten"))


@dataclass(frozen=True)
class ForgetPolicy:
    """A namespace's forgetting policy (``lt.configure(forget=...)``); none by default.

    Attributes:
        below: Strength under which a record is forgotten (0 < below < 1).
        action: ``"archive"`` (tier ``archived``, restorable) or ``"delete"``.
        min_age: Seconds since ``created_at`` before a record may be forgotten.
    """

    below: float
    action: Literal["archive", "delete"]
    min_age: float = 0.0

    @classmethod
    def parse(cls, value: Any) -> ForgetPolicy | None:
        """A policy from its JSON form (``None``: no policy); bad input is InvalidArgument."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise InvalidArgument("forget must be an object {below, action, min_age} or null")
        unknown = set(value) - {"below", "action", "min_age"}
        if unknown:
            raise InvalidArgument(f"unknown forget fields: {', '.join(sorted(unknown))}")
        below: Any = value.get("below")
        action: Any = value.get("action")
        min_age: Any = value.get("min_age", 0.0)
        if not _number(below) or not 0 < below < 1:
            raise InvalidArgument("forget.below must be a number between 0 and 1 (exclusive)")
        if action not in ACTIONS:
            raise InvalidArgument(f"forget.action must be one of {', '.join(ACTIONS)}")
        if not _number(min_age) or not 0 <= min_age <= 1e12:
            raise InvalidArgument("forget.min_age must be a number of seconds from 0 to 1e12")
        return cls(float(below), action, float(min_age))

    def to_dict(self) -> dict[str, Any]:
        """The policy as stored and as the API shows it."""
        return {"below": self.below, "action": self.action, "min_age": self.min_age}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class DecayPolicy:
    """How memories fade and climb tiers (see the module docstring).

    Forgetting is not part of it: a namespace sets its own (:class:`ForgetPolicy`).

    Attributes:
        half_lives: Seconds per tier for strength to halve (at stability 1, importance 0.5).
        promote_after: Accesses that move a record from this tier to the next one.
        forget_threshold: Ignored (earlier versions forgot records with it; deprecated).
        forget: Ignored (earlier versions deleted or marked records; deprecated).
    """

    half_lives: dict[str, float] = field(default_factory=_half_lives)
    promote_after: dict[str, int] = field(default_factory=_promote_after)
    forget_threshold: float | None = None
    forget: str | None = None

    def __post_init__(self) -> None:
        for tier in TIERS:
            h = self.half_lives.get(tier)
            if not _number(h) or not h > 0:  # type: ignore[operator]
                raise InvalidArgument(f"half_lives[{tier!r}] must be a positive number of seconds")
        for tier, n in self.promote_after.items():
            if tier not in TIERS[:-1] or isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise InvalidArgument(
                    f"promote_after maps {', '.join(TIERS[:-1])} to a count of accesses >= 1"
                )
        if self.forget_threshold is not None or self.forget is not None:
            warnings.warn(
                "DecayPolicy(forget=..., forget_threshold=...) is ignored: nothing is forgotten "
                "unless a namespace asks for it with memories(ns).configure(forget={...})",
                DeprecationWarning,
                stacklevel=3,
            )

    def half_life(self, record: Mapping[str, Any]) -> float:
        """The record's effective half-life in seconds."""
        importance = min(1.0, max(0.0, float(record.get("importance", 0.5))))
        stability = max(1e-6, float(record.get("stability", 1.0)))
        return self.half_lives[curve_tier(record)] * stability * (0.5 + importance)

    def strength_at(self, record: Mapping[str, Any], now: float) -> float:
        """The record's strength at ``now`` on its forgetting curve."""
        ref = float(record.get("decayed_at", record.get("created_at", now)))
        elapsed = max(0.0, now - ref)
        return float(record.get("strength", 1.0)) * math.pow(2.0, -elapsed / self.half_life(record))

    def strengths(
        self,
        strength: np.ndarray,
        ref: np.ndarray,
        stable: np.ndarray,
        curve: np.ndarray,
        now: float,
    ) -> np.ndarray:
        """:meth:`strength_at` of many records at once, from their :func:`curve_terms`."""
        half = np.array([self.half_lives[t] for t in TIERS], dtype=np.float64)[curve] * stable
        out: np.ndarray = strength * np.exp2(-np.maximum(0.0, now - ref) / half)
        return out

    def view(self, record: Mapping[str, Any], now: float) -> dict[str, Any]:
        """The record as readers see it at ``now``: current strength, archived state."""
        out = dict(record)
        out["strength"] = self.strength_at(record, now)
        archived = is_archived(record)
        out["forgotten"] = archived
        if archived:
            out["tier"] = ARCHIVED
        return out

    def promotion(self, record: Mapping[str, Any]) -> str | None:
        """The tier a pass promotes the record to, or ``None``."""
        if is_archived(record):
            return None
        tier = record.get("tier", "short")
        needed = self.promote_after.get(tier)
        if needed is None or int(record.get("access_count", 0)) < needed:
            return None
        return TIERS[TIERS.index(tier) + 1]

    def promote(self, record: Mapping[str, Any], now: float) -> dict[str, Any] | None:
        """The record promoted at ``now`` (its curve anchored there), or ``None``."""
        tier = self.promotion(record)
        if tier is None:
            return None
        new = dict(record)
        new["strength"] = self.strength_at(record, now)
        new["decayed_at"] = now
        new["tier"] = tier
        return new

    def forgets(self, record: Mapping[str, Any], now: float, policy: ForgetPolicy) -> bool:
        """Whether ``policy`` forgets the record at ``now``."""
        if is_archived(record):
            return False
        if now - float(record.get("created_at", now)) < policy.min_age:
            return False
        return self.strength_at(record, now) < policy.below

    @staticmethod
    def touch(record: Mapping[str, Any], now: float, factor: float | None = None) -> dict[str, Any]:
        """The record after an access (``factor=None``) or a reinforcement by ``factor``."""
        new = dict(record)
        new["strength"] = 1.0
        new["decayed_at"] = now
        new["last_accessed_at"] = now
        new["access_count"] = int(record.get("access_count", 0)) + 1
        if factor is not None:
            new["stability"] = min(1e6, float(record.get("stability", 1.0)) * factor)
        return new

    @staticmethod
    def archive(record: Mapping[str, Any], now: float) -> dict[str, Any] | None:
        """The record archived at ``now`` (``None`` if it already is)."""
        if is_archived(record):
            return None
        new = dict(record)
        new["archived_from"] = curve_tier(record)
        new["tier"] = ARCHIVED
        new["archived_at"] = now
        new["forgotten"] = False
        return new

    @staticmethod
    def restore(record: Mapping[str, Any], now: float) -> dict[str, Any] | None:
        """The record restored at ``now``, as an access (``None`` if it is not archived).

        It goes back to the tier it left, with strength 1.
        """
        if not is_archived(record):
            return None
        new = DecayPolicy.touch(record, now)
        new["tier"] = curve_tier(record)
        new["forgotten"] = False
        new.pop("archived_from", None)
        new.pop("archived_at", None)
        return new
