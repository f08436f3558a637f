"""Every route of the server, by module."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    ui,
)

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from hivemem.server.app import ServerConfig

__all__ = ["ROUTES"]


def ROUTES(config: ServerConfig) -> list[BaseRoute]:
    """The routes of one app."""
    # Entries first: Starlette tries routes in order, and entry reads and writes are most
    # requests (no other route matches their paths, so the order changes no answer).
    return [
        *entries.ROUTES,
        *lists.ROUTES,
        *system.ROUTES,
        *namespaces.ROUTES,
        *events.ROUTES,
        *registry.ROUTES,
        *conversations.ROUTES,
        *memories.ROUTES,
        *docs.ROUTES,
        *(ui.ROUTES if config.ui else ()),
    ]
