"""Permissions: every level x every operation, overrides and default deny (SPEC §1).

Levels are ordered ``read < write < admin``; ``None`` means no access. read/list/get_all/
watch/subscribe need read; write/delete/broadcast need write; clear, delete namespace,
update config and update permissions need admin. An agent's level is its override in
``permissions`` if it has one, else ``default_permission``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from hivemem import PermissionDenied
from hivemem.testing.helpers import snapshot

if TYPE_CHECKING:
    from collections.abc import Callable

NS = "guarded"
OWNER = "owner"
AGENT = "agent-x"

_RANK = {None: 0, "read": 1, "write": 2, "admin": 3}


def _watch(m: Any, a: str) -> None:
    list(m.watch(NS, a, timeout=0))


def _subscribe(m: Any, a: str) -> None:
    m.subscribe(NS, lambda ev: None, a)()


#: operation name -> (level it needs, call(mem, agent))
OPERATIONS: dict[str, tuple[str, Callable[[Any, str], object]]] = {
    "read": ("read", lambda m, a: m.read(NS, "k", a)),
    "get_entry": ("read", lambda m, a: m.get_entry(NS, "k", a)),
    "read_many": ("read", lambda m, a: m.read_many(NS, ["k"], a)),
    "get_keys": ("read", lambda m, a: m.get_keys(NS, a)),
    "get_all": ("read", lambda m, a: m.get_all(NS, a)),
    "list_entries": ("read", lambda m, a: m.list_entries(NS, a)),
    "get_namespace": ("read", lambda m, a: m.get_namespace(NS, a)),
    "watch": ("read", _watch),
    "subscribe": ("read", _subscribe),
    "write": ("write", lambda m, a: m.write(NS, "k", "new", a)),
    "write_many": ("write", lambda m, a: m.write_many(NS, {"k": "new", "k2": 2}, a)),
    "delete": ("write", lambda m, a: m.delete(NS, "k", a)),
    "broadcast": ("write", lambda m, a: m.broadcast(NS, "hello", a)),
    "clear_namespace": ("admin", lambda m, a: m.clear_namespace(NS, a)),
    "delete_namespace": ("admin", lambda m, a: m.delete_namespace(NS, a)),
    "update_namespace": ("admin", lambda m, a: m.update_namespace(NS, a, description="x")),
    "update_permissions": ("admin", lambda m, a: m.update_permissions(NS, {"other": "read"}, a)),
}


def _setup(mem: Any, level: str | None, via: str) -> None:
    if via == "override":
        # A default that would allow everything: the override must win.
        default = None if level == "admin" else "admin"
        mem.create_namespace(NS, OWNER, default_permission=default, permissions={AGENT: level})
    else:
        mem.create_namespace(NS, OWNER, default_permission=level)
    mem.write(NS, "k", "old", OWNER)


@pytest.mark.parametrize("via", ["override", "default"])
@pytest.mark.parametrize("level", [None, "read", "write", "admin"], ids=str)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_permission_matrix(mem, operation, level, via):
    """An operation succeeds iff the agent's level (from its override, or else the
    namespace default) is at least the level the operation needs; a refusal raises
    PermissionDenied, changes nothing and is audited as a failure."""
    needed, call = OPERATIONS[operation]
    _setup(mem, level, via)
    if _RANK[level] >= _RANK[needed]:
        call(mem, AGENT)
        return
    before = snapshot(mem, OWNER)
    with pytest.raises(PermissionDenied) as exc:
        call(mem, AGENT)
    assert exc.value.code == "permission_denied"
    assert exc.value.status == 403
    assert snapshot(mem, OWNER) == before
    denied = mem.access_log(agent_id=AGENT, success=False)
    assert len(denied) == 1
    assert denied[0].namespace == NS
    assert denied[0].success is False
    assert denied[0].error is not None
    assert "permission_denied" in denied[0].error


def test_none_override_denies_despite_write_default(mem):
    """An override of None means no access, even where the default is write."""
    mem.create_namespace(NS, OWNER, permissions={"banned": None})
    mem.write(NS, "k", 1, OWNER)
    with pytest.raises(PermissionDenied):
        mem.read(NS, "k", "banned")
    with pytest.raises(PermissionDenied):
        mem.write(NS, "k", 2, "banned")
    assert mem.read(NS, "k", "anyone") == 1


def test_default_deny_namespace(mem):
    """default_permission=None denies every agent without an override; the creator and
    named agents keep their levels."""
    mem.create_namespace(NS, OWNER, default_permission=None, permissions={"reader": "read"})
    mem.write(NS, "k", 1, OWNER)
    with pytest.raises(PermissionDenied):
        mem.read(NS, "k", "stranger")
    with pytest.raises(PermissionDenied):
        mem.write(NS, "other", 1, "stranger")
    assert mem.read(NS, "k", "reader") == 1
    assert mem.get_keys(NS, OWNER) == ["k"]


def test_override_lowers_below_default(mem):
    """An override below the default wins: a read override on a write namespace can't write."""
    mem.create_namespace(NS, OWNER, permissions={"viewer": "read"})
    mem.write(NS, "k", 1, "anyone")
    assert mem.read(NS, "k", "viewer") == 1
    with pytest.raises(PermissionDenied):
        mem.write(NS, "k", 2, "viewer")
    assert mem.read(NS, "k") == 1


def test_creator_is_admin(mem):
    """The creator of a namespace can do everything in it, even under default deny."""
    mem.create_namespace(NS, OWNER, default_permission=None)
    mem.write(NS, "k", 1, OWNER)
    mem.update_namespace(NS, OWNER, description="mine")
    assert mem.clear_namespace(NS, OWNER) == 1
    mem.delete_namespace(NS, OWNER)


def test_granted_permission_applies_immediately(mem):
    """update_permissions takes effect on the very next call of the agent."""
    mem.create_namespace(NS, OWNER, default_permission=None)
    mem.write(NS, "k", 1, OWNER)
    with pytest.raises(PermissionDenied):
        mem.read(NS, "k", "late")
    mem.update_permissions(NS, {"late": "write"}, OWNER)
    assert mem.read(NS, "k", "late") == 1
    mem.write(NS, "k", 2, "late")
    mem.update_permissions(NS, {"late": "read"}, OWNER)
    with pytest.raises(PermissionDenied):
        mem.write(NS, "k", 3, "late")
    assert mem.read(NS, "k", OWNER) == 2


def test_removing_override_falls_back_to_default(mem):
    """Removing an override (None in update_permissions) gives the agent the default level."""
    mem.create_namespace(NS, OWNER, default_permission="read", permissions={"w": "write"})
    mem.write(NS, "k", 1, "w")
    mem.update_permissions(NS, {"w": None}, OWNER)
    with pytest.raises(PermissionDenied):
        mem.write(NS, "k", 2, "w")
    assert mem.read(NS, "k", "w") == 1


def test_default_permission_change_applies(mem):
    """Changing default_permission changes what agents without an override may do."""
    mem.create_namespace(NS, OWNER)
    mem.write(NS, "k", 1, "anyone")
    mem.update_namespace(NS, OWNER, default_permission="read")
    with pytest.raises(PermissionDenied):
        mem.write(NS, "k", 2, "anyone")
    mem.update_namespace(NS, OWNER, default_permission=None)
    with pytest.raises(PermissionDenied):
        mem.read(NS, "k", "anyone")


def test_admin_can_demote_itself_and_loses_admin(mem):
    """An admin who lowers its own level loses the admin operations at once."""
    mem.create_namespace(NS, OWNER)
    mem.update_permissions(NS, {OWNER: "write"}, OWNER)
    with pytest.raises(PermissionDenied):
        mem.clear_namespace(NS, OWNER)
    mem.write(NS, "k", 1, OWNER)


def test_permissions_are_per_namespace(mem):
    """A level in one namespace grants nothing in another."""
    mem.create_namespace("mine", "alice", default_permission=None)
    mem.create_namespace("theirs", "bob", default_permission=None)
    mem.write("mine", "k", 1, "alice")
    mem.write("theirs", "k", 2, "bob")
    with pytest.raises(PermissionDenied):
        mem.read("theirs", "k", "alice")
    with pytest.raises(PermissionDenied):
        mem.clear_namespace("mine", "bob")
    assert mem.read("mine", "k", "alice") == 1
