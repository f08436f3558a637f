"""Namespaces: creation, configuration, listing, clearing, deletion (SPEC §1, §6)."""

from __future__ import annotations

import pytest

from hivemem import (
    AlreadyExists,
    InvalidArgument,
    NamespaceInfo,
    NamespaceNotFound,
)
from hivemem.testing.helpers import Recorder, snapshot


def test_create_namespace_returns_its_configuration(mem, clock):
    """create_namespace returns the NamespaceInfo it stored; the creator gets admin."""
    info = mem.create_namespace(
        "team",
        "alice",
        default_permission="read",
        conflict_strategy="first-wins",
        ttl=30,
        max_entries=10,
        description="the team's board",
    )
    assert info == NamespaceInfo(
        name="team",
        default_permission="read",
        permissions={"alice": "admin"},
        conflict_strategy="first-wins",
        resolver=None,
        ttl=30.0,
        max_entries=10,
        description="the team's board",
        created_by="alice",
        created_at=clock.now,
        revision=1,
    )
    assert mem.get_namespace("team", "alice") == info


def test_create_namespace_defaults(mem, clock):
    """A namespace created without options is write-for-all, latest-wins, no TTL, no cap."""
    info = mem.create_namespace("plain", "alice")
    assert info.default_permission == "write"
    assert info.permissions == {"alice": "admin"}
    assert info.conflict_strategy == "latest-wins"
    assert info.resolver is None
    assert info.ttl is None
    assert info.max_entries is None
    assert info.description == ""
    assert info.created_by == "alice"
    assert info.created_at == clock.now


def test_create_namespace_adds_creator_as_admin_unless_named(mem):
    """Explicit permissions keep their entries; the creator is added as admin unless named."""
    info = mem.create_namespace("a", "alice", permissions={"bob": "read", "carol": None})
    assert info.permissions == {"bob": "read", "carol": None, "alice": "admin"}
    info = mem.create_namespace("b", "alice", permissions={"alice": "write"})
    assert info.permissions == {"alice": "write"}


def test_create_existing_namespace_raises_already_exists(mem):
    """Creating a namespace twice raises AlreadyExists and leaves the first config."""
    first = mem.create_namespace("dup", "alice", description="first")
    with pytest.raises(AlreadyExists) as exc:
        mem.create_namespace("dup", "bob", description="second")
    assert exc.value.code == "already_exists"
    assert mem.get_namespace("dup", "alice") == first


def test_create_namespace_exist_ok_returns_existing(mem):
    """exist_ok=True returns the existing namespace unchanged instead of raising."""
    first = mem.create_namespace("dup", "alice", description="first")
    again = mem.create_namespace("dup", "alice", description="second", exist_ok=True)
    assert again == first


def test_get_missing_namespace_raises_namespace_not_found(mem):
    """get_namespace of a namespace that does not exist raises NamespaceNotFound."""
    with pytest.raises(NamespaceNotFound) as exc:
        mem.get_namespace("nowhere")
    assert exc.value.code == "namespace_not_found"
    assert exc.value.status == 404


def test_default_namespace_always_exists(mem):
    """The namespace 'default' exists in a fresh store, writable by any agent."""
    info = mem.get_namespace("default")
    assert info.name == "default"
    assert info.default_permission == "write"
    assert [n.name for n in mem.list_namespaces()] == ["default"]
    mem.write("default", "k", 1, "anyone")
    assert mem.read("default", "k", "someone-else") == 1


def test_delete_default_namespace_is_refused(mem):
    """Deleting the namespace 'default' raises InvalidArgument and keeps it and its data."""
    mem.write("default", "k", 1)
    with pytest.raises(InvalidArgument):
        mem.delete_namespace("default")
    assert mem.read("default", "k") == 1


def test_list_namespaces_sorted_and_readable_only(mem):
    """list_namespaces returns, by name, exactly the namespaces the agent can read."""
    mem.create_namespace("zeta", "alice")
    mem.create_namespace("alpha", "alice")
    mem.create_namespace("secret", "alice", default_permission=None)
    mem.create_namespace("shared", "alice", default_permission=None, permissions={"bob": "read"})
    assert [n.name for n in mem.list_namespaces("alice")] == [
        "alpha",
        "default",
        "secret",
        "shared",
        "zeta",
    ]
    assert [n.name for n in mem.list_namespaces("bob")] == ["alpha", "default", "shared", "zeta"]
    assert [n.name for n in mem.list_namespaces("eve")] == ["alpha", "default", "zeta"]


def test_list_namespaces_reports_current_revision(mem):
    """NamespaceInfo.revision is the namespace's current revision, wherever it is read."""
    mem.create_namespace("ns", "alice")
    mem.write("ns", "a", 1, "alice")
    mem.write("ns", "b", 2, "alice")
    (info,) = [n for n in mem.list_namespaces("alice") if n.name == "ns"]
    assert info.revision == 3
    assert mem.get_namespace("ns", "alice").revision == 3


def test_write_auto_creates_namespace_with_writer_as_admin(mem, clock):
    """A write to a missing namespace creates it with default config; the writer is admin."""
    entry = mem.write("fresh", "k", "v", "alice")
    info = mem.get_namespace("fresh", "alice")
    assert info.permissions == {"alice": "admin"}
    assert info.created_by == "alice"
    assert info.created_at == clock.now
    assert info.default_permission == "write"
    assert info.conflict_strategy == "latest-wins"
    assert entry.revision == 2  # 1 was namespace:created
    assert info.revision == 2


def test_broadcast_auto_creates_namespace(mem):
    """A broadcast to a missing namespace creates it; the sender is admin."""
    event = mem.broadcast("announce", {"text": "hi"}, "alice")
    assert event.revision == 2
    info = mem.get_namespace("announce", "alice")
    assert info.permissions == {"alice": "admin"}


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.read("missing", "k"),
        lambda m: m.get_entry("missing", "k"),
        lambda m: m.get_keys("missing"),
        lambda m: m.get_all("missing"),
        lambda m: m.list_entries("missing"),
        lambda m: m.read_many("missing", ["k"]),
        lambda m: m.get_namespace("missing"),
        lambda m: m.clear_namespace("missing"),
        lambda m: m.delete_namespace("missing"),
        lambda m: m.update_namespace("missing", description="x"),
        lambda m: m.update_permissions("missing", {"bob": "read"}),
    ],
    ids=[
        "read",
        "get_entry",
        "get_keys",
        "get_all",
        "list_entries",
        "read_many",
        "get_namespace",
        "clear_namespace",
        "delete_namespace",
        "update_namespace",
        "update_permissions",
    ],
)
def test_missing_namespace_raises_not_found_and_is_not_created(mem, call):
    """Reads, listings and admin calls on a missing namespace raise NamespaceNotFound and
    do not create it."""
    with pytest.raises(NamespaceNotFound):
        call(mem)
    assert [n.name for n in mem.list_namespaces()] == ["default"]


def test_namespaces_isolate_keys(mem):
    """The same key in two namespaces holds two independent values."""
    mem.write("one", "k", 1)
    mem.write("two", "k", 2)
    mem.delete("one", "k")
    assert mem.read("one", "k") is None
    assert mem.read("two", "k") == 2
    assert mem.get_entry("two", "k").version == 1


def test_update_namespace_changes_config(mem):
    """update_namespace changes the given fields, keeps the others, returns the new info."""
    before = mem.create_namespace("ns", "alice", description="old", ttl=10)
    after = mem.update_namespace(
        "ns", "alice", description="new", max_entries=5, default_permission="read"
    )
    assert after.description == "new"
    assert after.max_entries == 5
    assert after.default_permission == "read"
    assert after.ttl == before.ttl == 10.0
    assert after.permissions == before.permissions
    assert after.revision == 2
    assert mem.get_namespace("ns", "alice") == after


def test_update_namespace_ttl_can_be_removed(mem):
    """update_namespace(ttl=None) removes the namespace's default TTL."""
    mem.create_namespace("ns", "alice", ttl=10)
    assert mem.update_namespace("ns", "alice", ttl=None).ttl is None
    assert mem.write("ns", "k", 1, "alice").expires_at is None


def test_update_namespace_strategy_takes_effect(mem):
    """A changed conflict strategy applies to the next write."""
    mem.create_namespace("ns", "alice")
    mem.write("ns", "k", 1, "alice")
    mem.update_namespace("ns", "alice", conflict_strategy="merge")
    mem.write("ns", "k", 2, "alice")
    mem.write("ns", "obj", {"a": 1}, "alice")
    mem.write("ns", "obj", {"b": 2}, "alice")
    assert mem.read("ns", "obj") == {"a": 1, "b": 2}


def test_update_namespace_unknown_field_is_refused(mem):
    """update_namespace with an unknown field raises InvalidArgument and changes nothing."""
    mem.create_namespace("ns", "alice")
    before = snapshot(mem, "alice")
    with pytest.raises(InvalidArgument):
        mem.update_namespace("ns", "alice", colour="blue")
    assert snapshot(mem, "alice") == before


def test_update_permissions_merges_and_none_removes(mem):
    """update_permissions merges overrides into the existing ones; None removes one."""
    mem.create_namespace("ns", "alice", permissions={"bob": "read", "carol": "write"})
    info = mem.update_permissions("ns", {"dave": "write", "bob": "admin"}, "alice")
    assert info.permissions == {"alice": "admin", "bob": "admin", "carol": "write", "dave": "write"}
    info = mem.update_permissions("ns", {"carol": None}, "alice")
    assert info.permissions == {"alice": "admin", "bob": "admin", "dave": "write"}
    assert mem.get_namespace("ns", "alice").permissions == info.permissions


def test_update_permissions_emits_permissions_updated(mem):
    """update_permissions emits namespace:permissions_updated (not namespace:updated) with
    its own revision, and is audited as update_permissions."""
    mem.create_namespace("ns", "alice")
    rec = Recorder()
    mem.on("*", rec)
    mem.update_permissions("ns", {"bob": "read"}, "alice")
    assert rec.types == ["namespace:permissions_updated"]
    assert rec.events[0].revision == 2
    assert rec.events[0].agent_id == "alice"
    (log,) = mem.access_log(namespace="ns", limit=1)
    assert log.action == "update_permissions"
    assert log.success is True


def test_update_namespace_emits_updated(mem):
    """update_namespace emits namespace:updated with the next revision."""
    mem.create_namespace("ns", "alice")
    rec = Recorder()
    mem.on("*", rec)
    mem.update_namespace("ns", "alice", description="x")
    assert rec.types == ["namespace:updated"]
    assert rec.events[0].revision == 2


def test_clear_namespace_removes_entries_keeps_config(mem):
    """clear_namespace deletes every entry, returns how many, and keeps the namespace."""
    info = mem.create_namespace("ns", "alice", description="kept", permissions={"bob": "read"})
    mem.write_many("ns", {"a": 1, "b": 2, "c": 3}, "alice")
    assert mem.clear_namespace("ns", "alice") == 3
    assert mem.get_keys("ns", "alice") == []
    after = mem.get_namespace("ns", "alice")
    assert after.description == "kept"
    assert after.permissions == info.permissions
    assert mem.clear_namespace("ns", "alice") == 0


def test_clear_then_write_restarts_versions(mem):
    """After clear_namespace, writing a cleared key creates version 1 again."""
    mem.write("ns", "k", 1, "alice")
    mem.write("ns", "k", 2, "alice")
    mem.clear_namespace("ns", "alice")
    assert mem.write("ns", "k", 3, "alice").version == 1


def test_delete_namespace_removes_it_and_its_entries(mem):
    """delete_namespace removes the namespace and its entries; reads then raise
    NamespaceNotFound, and creating it again starts empty."""
    mem.create_namespace("ns", "alice", description="old")
    mem.write("ns", "k", 1, "alice")
    assert mem.delete_namespace("ns", "alice") is None
    with pytest.raises(NamespaceNotFound):
        mem.get_namespace("ns", "alice")
    with pytest.raises(NamespaceNotFound):
        mem.read("ns", "k", "alice")
    assert "ns" not in [n.name for n in mem.list_namespaces("alice")]
    info = mem.create_namespace("ns", "bob")
    assert info.description == ""
    assert info.permissions == {"bob": "admin"}
    assert mem.get_keys("ns", "bob") == []
    assert mem.write("ns", "k", 2, "bob").version == 1


def test_deleted_namespace_keeps_revisions_increasing(mem):
    """A namespace deleted and created again continues its revision counter (a watcher
    never sees one revision twice)."""
    mem.create_namespace("ns", "alice")
    mem.write("ns", "k", 1, "alice")
    mem.delete_namespace("ns", "alice")  # revision 3
    info = mem.create_namespace("ns", "alice")
    assert info.revision == 4
    assert mem.write("ns", "k", 1, "alice").revision == 5
