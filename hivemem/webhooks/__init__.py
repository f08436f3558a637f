"""Webhooks (SPEC §19): signed POSTs of namespaces' events to outside systems.

- :mod:`.sign`: Standard Webhooks signatures and secrets;
- :mod:`.guard`: which targets may be called (http(s) only; non-public addresses only when
  allowed), checked when a webhook is added and before every delivery;
- :mod:`.worker`: the delivery worker (:class:`~.worker.Deliverer`), driven by the event
  log (it needs httpx: the ``server`` extra; nothing else here does).

The records (webhooks, cursors, delivery logs, claims) are the engine's
(:mod:`hivemem.engine.webhooks`), in the store itself. Deliveries run where a
:class:`Deliverer` runs: ``hivemem serve`` starts one per server process (replicas take
turns per webhook through claims). An embedded program without a server runs one itself::

    mem = hivemem.connect_async("sqlite:///team.db")
    task = asyncio.create_task(hivemem.webhooks.deliver(mem, allow="127.0.0.1"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hivemem._async import AsyncMemory

__all__ = ["deliver"]


async def deliver(mem: AsyncMemory, *, allow: str | None = None, **options: Any) -> None:
    """Deliver the store's webhooks until cancelled (an embedded store without a server).

    Args:
        mem: An embedded store (not ``http://``: its server delivers).
        allow: Comma-separated targets allowed despite a non-public address.
        **options: :class:`~.worker.Deliverer` options (``max_failures``, ``batch``...).
    """
    from hivemem.webhooks.guard import Allow
    from hivemem.webhooks.worker import Deliverer

    await Deliverer(mem._c.backend, allow=Allow.parse(allow), **options).run()
