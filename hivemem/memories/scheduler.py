"""The server's decay scheduler: a decay pass over every memories namespace, periodically.

Namespaces holding memories carry a marker entry (:data:`MARKER`, written with their first
record). Over a store shared by replicas, one replica at a time runs the pass (the store's
``decay`` lease), so each record decays once per period.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hivemem._validate import DECAY_AGENT
from hivemem.engine import ops as o
from hivemem.memories.api import drive, plans_for
from hivemem.memories.plans import MARKER

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
    for info in run(o.ListNamespaces(agent=AGENT, admin=True)):
        if run(o.Get(agent=AGENT, admin=True, ns=info.name, key=MARKER)) is None:
            continue
        try:
            out[info.name] = drive(run, plans_for(core, AGENT, info.name, None, True).decay())
        except Exception:  # one broken namespace must not stop the others
            log.exception("hivemem: decay of namespace %r failed", info.name)
    return out
