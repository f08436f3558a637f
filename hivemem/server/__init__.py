"""The hivemem server: the engine over HTTP (``hivemem serve``)."""

from __future__ import annotations

from hivemem.server.app import Hub, ServerConfig, create_app

__all__ = ["Hub", "ServerConfig", "create_app"]
