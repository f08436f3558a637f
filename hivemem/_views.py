"""Views: a namespace-bound handle whose methods drop the namespace argument."""

from __future__ import annotations

from typing import Any

__all__ = ["NamespaceView"]

_BOUND = (
    "write",
    "read",
    "get_entry",
    "delete",
    "get_keys",
    "get_all",
    "list_entries",
    "write_many",
    "read_many",
    "watch",
    "broadcast",
)
_BOUND_NS = (
    "get_namespace",
    "update_namespace",
    "update_permissions",
    "clear_namespace",
    "delete_namespace",
)


class NamespaceView:
    """A namespace-bound handle: ``mem.namespace("team")``.

    ``view.write(key, value)``, ``view.read(key)``, ``view.subscribe(callback)``... (awaitable
    when made from an ``AsyncMemory``).
    """

    def __init__(self, memory: Any, name: str) -> None:
        self.memory = memory
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        if attr in _BOUND or attr in _BOUND_NS:
            method = getattr(self.memory, attr)

            def bound(*args: Any, **kwargs: Any) -> Any:
                return method(self.name, *args, **kwargs)

            bound.__name__ = attr
            bound.__doc__ = method.__doc__
            return bound
        raise AttributeError(attr)

    def subscribe(self, callback: Any, agent: str | None = None) -> Any:
        """Subscribe to this namespace's events."""
        return self.memory.subscribe(self.name, callback, agent)

    def __repr__(self) -> str:
        return f"<NamespaceView {self.name!r} agent={self.memory.agent!r}>"
