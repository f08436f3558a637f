"""Every route of the server, built from the route table (:mod:`hivemem.wire.table`).

Each module serves some of the table's routes: its ``HANDLERS`` maps a route's name to
the endpoint answering it (the memories routes' endpoints are generated from the table).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from hivemem.server.routes import (
    conversations,
    docs,
    entries,
    events,
    lists,
    memories,
    namespaces,
    registry,
    system,
    transfer,
    ui,
)
from hivemem.server.routes._common import counted
from hivemem.wire.table import ROUTES as TABLE

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from hivemem.server.app import ServerConfig

__all__ = ["HANDLERS", "ROUTES"]

#: The endpoint of every route of the table, by route name.
HANDLERS = {
    **entries.HANDLERS,
    **lists.HANDLERS,
    **system.HANDLERS,
    **namespaces.HANDLERS,
    **events.HANDLERS,
    **transfer.HANDLERS,
    **registry.HANDLERS,
    **conversations.HANDLERS,
    **memories.HANDLERS,
    **docs.HANDLERS,
}
if set(HANDLERS) != {r.name for r in TABLE}:  # a table entry without a handler, or the reverse
    raise RuntimeError(f"routes and handlers differ: {set(HANDLERS) ^ {r.name for r in TABLE}}")


def ROUTES(config: ServerConfig) -> list[BaseRoute]:
    """The routes of one app: the table's, in its order, then the web UI's.

    Each of the table's is counted in the op metrics (:func:`._common.counted`).
    """
    routes: list[BaseRoute] = [
        Route(r.route_path, counted(r.name, HANDLERS[r.name]), methods=[r.verb]) for r in TABLE
    ]
    return [*routes, *(ui.ROUTES if config.ui else ())]
