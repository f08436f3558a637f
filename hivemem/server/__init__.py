"""The hivemem server: the engine over HTTP (``hivemem serve``).

The app's names load on first use, so that modules of this package without the ``server``
extra's dependencies (its defaults, read by the CLI's ``--help``) import on a base install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hivemem.server.app import Hub, ServerConfig
    from hivemem.server.asgi import create_app

__all__ = ["Hub", "ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from hivemem.server import asgi

        return asgi.create_app
    if name in __all__:
        from hivemem.server import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
