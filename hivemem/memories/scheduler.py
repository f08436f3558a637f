"""The server's decay scheduler: a decay pass over every memories namespace, periodically.

Namespaces holding memories carry a marker record (:data:`MARKER`, written with their first
record; ``_memories`` in an earlier version's layout, which the pass upgrades first). Over a
store shared by replicas, one replica at a time runs the pass (the store's ``decay``
lease), so each record decays once per period. Each pass logs one line with what
it changed (``hivemem`` logger, INFO; a namespace whose pass failed is logged apart, with
its traceback, and the others still run).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hivemem._validate import DECAY_AGENT
from hivemem.engine import ops as o
from hivemem.memories.api import drive, plans_for
from hivemem.memories.layout import OLD_MARKER
from hivemem.memories.plans import DECAY_COUNTS, MARKER

if TYPE_CHECKING:
    from hivemem._core import Core

__all__ = ["AGENT", "run_decay"]

log = logging.getLogger("hivemem")

#: The agent the scheduler acts as (with admin rights), as the audit log shows it.
AGENT = DECAY_AGENT


def run_decay(core: Core, lease_seconds: float | None = None) -> dict[str, dict[str, int]]:
    """One decay pass over every memories namespace; ``{namespace: counts}``.

    With ``lease_seconds``, only if this process holds (or takes) the store's decay lease.
    """
    if lease_seconds is not None and not core.backend.sweep_lease(lease_seconds, "decay"):
        return {}

    def run(op: o.Op[Any]) -> Any:
        return core.finish(core.backend.execute(op))

    out: dict[str, dict[str, int]] = {}
    failed = 0
    for info in run(o.ListNamespaces(agent=AGENT, admin=True)):
        if all(
            run(o.Get(agent=AGENT, admin=True, ns=info.name, key=key)) is None
            for key in (MARKER, OLD_MARKER)
        ):
            continue
        try:
            plans = plans_for(core, AGENT, info.name, None, True)
            out[info.name] = drive(run, plans.call("decay", {}))
        except Exception:  # one broken namespace must not stop the others
            failed += 1
            log.exception("hivemem: decay of namespace %r failed", info.name)
    total = {name: sum(c.get(name, 0) for c in out.values()) for name in DECAY_COUNTS}
    log.info(
        "hivemem: decay pass over %d memories namespaces: %s%s",
        len(out),
        " ".join(f"{name}={total[name]}" for name in DECAY_COUNTS),
        f" failed={failed}" if failed else "",
    )
    return out
