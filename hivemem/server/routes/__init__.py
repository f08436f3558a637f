"""Every route of the server, by module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hivemem.server.routes import docs, entries, events, namespaces, registry, system

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from hivemem.server.app import ServerConfig

__all__ = ["ROUTES"]


def ROUTES(config: ServerConfig) -> list[BaseRoute]:
    """The routes of one app."""
    return [
        *system.ROUTES,
        *namespaces.ROUTES,
        *entries.ROUTES,
        *events.ROUTES,
        *registry.ROUTES,
        *docs.ROUTES,
    ]
