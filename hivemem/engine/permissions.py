"""Permission levels: who may do what in a namespace.

Levels are ordered ``read < write < admin``. An agent's level in a namespace is its
override in ``permissions`` if it has one (``None`` there means no access), else the
namespace's ``default_permission``. Server admins have admin everywhere.
"""

from __future__ import annotations

from hivemem.errors import PermissionDenied
from hivemem.types import LEVELS, NamespaceInfo

__all__ = ["READ", "WRITE", "ADMIN", "level_of", "require"]

READ, WRITE, ADMIN = LEVELS["read"], LEVELS["write"], LEVELS["admin"]
_NAMES = {READ: "read", WRITE: "write", ADMIN: "admin"}


def level_of(info: NamespaceInfo, agent: str, admin: bool = False) -> int:
    """Return the agent's level in the namespace as an int (0 = no access)."""
    if admin:
        return ADMIN
    perms = info.permissions
    level = perms.get(agent, info.default_permission)
    return LEVELS[level] if level else 0


def require(info: NamespaceInfo, agent: str, needed: int, admin: bool = False) -> None:
    """Raise :class:`PermissionDenied` unless the agent has at least level ``needed``."""
    if level_of(info, agent, admin) < needed:
        raise PermissionDenied(
            f"agent {agent!r} needs {_NAMES[needed]} permission on namespace {info.name!r}",
            namespace=info.name,
            needed=_NAMES[needed],
        )
