"""Quotas an operator sets: namespaces per agent, entries per namespace, bytes per store.

Each refusal is a :class:`~hivemem.QuotaExceeded` (``quota_exceeded``) naming the quota and
its limit, and changes nothing. Stores opened without quota options have none.
"""

from __future__ import annotations

import pytest

from hivemem import NamespaceFull, QuotaExceeded


def test_quota_namespaces_per_agent_created_and_auto_created(make_mem):
    """An agent creates at most max_namespaces_per_agent namespaces, auto-created ones
    included; the refused creation or write leaves nothing; other agents have their own."""
    m = make_mem(max_namespaces_per_agent=2)
    m.create_namespace("a", "alice")
    m.write("b", "k", 1, "alice")  # auto-created: the second one
    with pytest.raises(QuotaExceeded) as exc:
        m.create_namespace("c", "alice")
    assert exc.value.code == "quota_exceeded"
    assert exc.value.quota == "namespaces_per_agent"
    assert exc.value.limit == 2
    with pytest.raises(QuotaExceeded):
        m.write("d", "k", 1, "alice")
    names = {n.name for n in m.list_namespaces("alice")}
    assert {"c", "d"} & names == set()
    assert m.get_keys("b", "alice") == ["k"]
    m.create_namespace("e", "bob")  # bob's own quota
    m.write("b", "k2", 2, "alice")  # writing to an existing namespace is no creation
    m.delete_namespace("a", "alice")
    m.create_namespace("c", "alice")  # a deleted namespace frees its place


def test_quota_default_max_entries(make_mem):
    """default_max_entries caps namespaces without max_entries: a new key beyond it is
    refused (overwrites and deletes are not); a namespace's own max_entries wins."""
    m = make_mem(default_max_entries=3)
    for key in ("a", "b", "c"):
        m.write("ns", key, 1)
    with pytest.raises(QuotaExceeded) as exc:
        m.write("ns", "d", 1)
    assert exc.value.quota == "entries_per_namespace"
    assert exc.value.limit == 3
    with pytest.raises(QuotaExceeded):
        m.write_many("ns", {"c": 2, "e": 2})  # all or nothing
    assert m.get_all("ns") == {"a": 1, "b": 1, "c": 1}
    assert m.write("ns", "a", 2).version == 2
    m.delete("ns", "a")
    m.write("ns", "d", 1)
    m.create_namespace("big", max_entries=5)
    for i in range(5):
        m.write("big", f"k{i}", i)
    with pytest.raises(NamespaceFull):
        m.write("big", "k5", 5)


def test_quota_none_by_default(mem):
    """Without quota options nothing is capped: many namespaces and entries are fine."""
    for i in range(30):
        mem.write(f"ns{i}", "k", i, "alice")
    mem.write_many("ns0", {f"k{i}": i for i in range(50)})
    assert len(mem.get_keys("ns0")) == 51  # "k" and k0-k49


def test_quota_store_bytes(make_mem):
    """Over max_store_bytes, writes that add data are refused and change nothing, while
    deletes still run; a store that cannot measure itself (memory://) has no
    byte quota."""
    m = make_mem(max_store_bytes=1)
    if m.stats()["backend"] == "memory":
        m.write("ns", "k", 1)
        return
    with pytest.raises(QuotaExceeded) as exc:
        m.write("default", "k", "v")
    assert exc.value.quota == "store_bytes"
    assert exc.value.limit == 1
    with pytest.raises(QuotaExceeded):
        m.write_many("default", {"a": 1, "b": 2})
    assert m.get_keys("default") == []
    assert m.delete("default", "k") is False
