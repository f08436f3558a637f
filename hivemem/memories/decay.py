"""Decay and reinforcement of long-term memories: the forgetting curve, promotion, forgetting.

The formula (SPEC §10). A record stores its ``strength`` as of a reference time ``t_ref``
(its last access, reinforcement or decay pass). At time ``t``::

    H(t)        = half_life[tier] * stability * (0.5 + importance)
    strength(t) = strength(t_ref) * 2 ** (-(t - t_ref) / H)

* ``half_life`` defaults: short 1 day, medium 7 days, long 90 days.
* ``importance`` (0..1) scales the half-life from 0.5x (0) through 1x (0.5) to 1.5x (1).
* ``stability`` starts at 1; each ``reinforce(factor)`` multiplies it by ``factor``, so a
  reinforced memory fades more slowly ever after.
* Reading a record (``get``) or reinforcing it restores ``strength`` to 1 and moves
  ``t_ref`` to now; both count as an access.
* A decay pass (``decay()``, or the server's scheduler) stores each record's current
  strength, then promotes it one tier when its ``access_count`` reaches
  ``promote_after[tier]`` (defaults: short -> medium at 3 accesses, medium -> long at 10),
  then forgets it if its strength is below ``forget_threshold`` (default 0.05): deletes it
  (``forget="delete"``, the default) or keeps it marked ``forgotten`` (``forget="mark"``),
  which hides it from searches.

Because the curve is exponential, running the pass often or rarely gives the same
strengths: ``s * 2**(-a/H) * 2**(-b/H) == s * 2**(-(a+b)/H)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from hivemem.errors import InvalidArgument
from hivemem.types import TIERS

__all__ = ["DAY", "DecayPolicy"]

DAY = 86_400.0


def _half_lives() -> dict[str, float]:
    return {"short": 1 * DAY, "medium": 7 * DAY, "long": 90 * DAY}


def _promote_after() -> dict[str, int]:
    return {"short": 3, "medium": 10}


@dataclass(frozen=True)
class DecayPolicy:
    """How memories fade, climb tiers and are forgotten (see the module docstring).

    Attributes:
        half_lives: Seconds per tier for strength to halve (at stability 1, importance 0.5).
        promote_after: Accesses that move a record from this tier to the next one.
        forget_threshold: Strength under which a decay pass forgets a record.
        forget: ``"delete"`` the record, or ``"mark"`` it ``forgotten`` and keep it.
    """

    half_lives: dict[str, float] = field(default_factory=_half_lives)
    promote_after: dict[str, int] = field(default_factory=_promote_after)
    forget_threshold: float = 0.05
    forget: Literal["delete", "mark"] = "delete"

    def __post_init__(self) -> None:
        for tier in TIERS:
            h = self.half_lives.get(tier)
            if not isinstance(h, int | float) or isinstance(h, bool) or not h > 0:
                raise InvalidArgument(f"half_lives[{tier!r}] must be a positive number of seconds")
        if not 0 <= self.forget_threshold < 1:
            raise InvalidArgument("forget_threshold must be in [0, 1)")
        if self.forget not in ("delete", "mark"):
            raise InvalidArgument("forget must be 'delete' or 'mark'")

    def half_life(self, record: dict[str, Any]) -> float:
        """The record's effective half-life in seconds."""
        importance = min(1.0, max(0.0, float(record.get("importance", 0.5))))
        stability = max(1e-6, float(record.get("stability", 1.0)))
        return self.half_lives[record.get("tier", "short")] * stability * (0.5 + importance)

    def strength_at(self, record: dict[str, Any], now: float) -> float:
        """The record's strength at ``now`` on its forgetting curve."""
        ref = float(record.get("decayed_at", record.get("created_at", now)))
        elapsed = max(0.0, now - ref)
        return float(record.get("strength", 1.0)) * math.pow(2.0, -elapsed / self.half_life(record))

    def step(self, record: dict[str, Any], now: float) -> tuple[dict[str, Any] | None, set[str]]:
        """One decay pass over one record: ``(new record or None to delete, what happened)``.

        What happened is a subset of ``{"decayed", "promoted", "forgotten"}``; an empty set
        means nothing worth writing changed.
        """
        if record.get("forgotten"):
            return record, set()
        happened: set[str] = set()
        new = dict(record)
        strength = self.strength_at(record, now)
        if abs(strength - float(record.get("strength", 1.0))) >= 1e-4:
            happened.add("decayed")
        new["strength"] = strength
        new["decayed_at"] = now
        tier = new.get("tier", "short")
        needed = self.promote_after.get(tier)
        if needed is not None and int(new.get("access_count", 0)) >= needed:
            new["tier"] = TIERS[TIERS.index(tier) + 1]
            happened.add("promoted")
        if strength < self.forget_threshold:
            happened.add("forgotten")
            if self.forget == "delete":
                return None, happened
            new["forgotten"] = True
        return new, happened

    @staticmethod
    def touch(record: dict[str, Any], now: float, factor: float | None = None) -> dict[str, Any]:
        """The record after an access (``factor=None``) or a reinforcement by ``factor``."""
        new = dict(record)
        new["strength"] = 1.0
        new["decayed_at"] = now
        new["last_accessed_at"] = now
        new["access_count"] = int(record.get("access_count", 0)) + 1
        new["forgotten"] = False
        if factor is not None:
            new["stability"] = min(1e6, float(record.get("stability", 1.0)) * factor)
        return new
