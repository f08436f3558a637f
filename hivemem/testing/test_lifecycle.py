"""Connections and handles: default agent, as_agent, namespace views, close (SPEC §6)."""

from __future__ import annotations

import threading

import pytest

import hivemem
from hivemem import InvalidArgument, Memory
from hivemem.testing.helpers import Recorder, wait_until


def test_default_agent_is_local(mem):
    """A connection opened without agent= acts as 'local'."""
    assert mem.agent == "local"
    assert mem.write("ns", "k", 1).owner == "local"
    assert mem.get_namespace("ns").permissions == {"local": "admin"}


def test_connect_agent_is_default(make_mem):
    """connect(agent=...) sets the agent of calls that name none."""
    m = make_mem(agent="planner")
    assert m.agent == "planner"
    assert m.write("ns", "k", 1).owner == "planner"
    assert m.write("ns", "k", 2, "other").owner == "other"


def test_as_agent_view(mem):
    """as_agent returns a handle on the same store acting as that agent by default."""
    a1 = mem.as_agent("a1")
    assert isinstance(a1, Memory)
    assert a1.agent == "a1"
    assert a1.write("ns", "k", 1).owner == "a1"
    assert mem.read("ns", "k") == 1
    assert mem.agent == "local"
    assert mem.write("ns", "k", 2).owner == "local"
    assert a1.read("ns", "k") == 2


def test_listeners_shared_with_as_agent_views(mem):
    """Listeners belong to the store: one registered on the connection hears writes made
    through views created before or after it, and one registered on a view hears writes
    through the connection."""
    early = mem.as_agent("early")
    rec = Recorder()
    mem.on("memory:write", rec)
    late = mem.as_agent("late")
    early.write("ns", "a", 1)
    late.write("ns", "b", 2)
    mem.write("ns", "c", 3)
    assert [(e.key, e.agent_id) for e in rec.events] == [
        ("a", "early"),
        ("b", "late"),
        ("c", "local"),
    ]
    view_rec = Recorder()
    early.on("memory:write", view_rec)
    mem.write("ns", "d", 4)
    assert [e.key for e in view_rec.events] == ["d"]


def test_namespace_view_drops_namespace_argument(mem):
    """mem.namespace(name, agent=) returns a view whose methods drop the namespace."""
    team = mem.namespace("team", agent="a1")
    entry = team.write("status", "ready")
    assert (entry.namespace, entry.owner) == ("team", "a1")
    assert team.read("status") == "ready"
    assert team.get_entry("status") == entry
    team.write_many({"x": 1, "y": 2})
    assert team.get_keys() == ["status", "x", "y"]
    assert team.get_all(prefix="x") == {"x": 1}
    assert team.read_many(["x", "nope"]) == {"x": 1}
    assert [e.key for e in team.list_entries(limit=2).items] == ["status", "x"]
    assert team.delete("x") is True
    assert team.get_namespace().name == "team"
    assert mem.read("team", "y") == 2


def test_namespace_view_subscribe_and_broadcast(mem):
    """A namespace view subscribes and broadcasts in its namespace."""
    team = mem.namespace("team")
    rec = Recorder()
    sub = team.subscribe(rec)
    team.broadcast({"hi": 1})
    wait_until(lambda: rec.of("memory:broadcast"))
    sub()
    assert rec.of("memory:broadcast")[0].message == {"hi": 1}
    assert [e.type for e in team.watch(since=0, timeout=0)] == [
        "namespace:created",
        "memory:broadcast",
    ]


def test_ping(mem):
    """ping() returns True when the store answers."""
    assert mem.ping() is True


def test_close_is_idempotent(make_mem):
    """close() may be called more than once."""
    m = make_mem()
    m.write("ns", "k", 1)
    m.close()
    m.close()


def test_context_manager_closes(make_mem):
    """A Memory is a context manager that closes on exit: its background threads
    (subscriptions, sweeper) stop."""
    baseline = set(threading.enumerate())
    with make_mem(cleanup_interval=0.05) as m:
        assert isinstance(m, Memory)
        rec = Recorder()
        m.subscribe("ns", rec)
        m.write("ns", "k", 1)
        wait_until(lambda: rec.events)
    wait_until(lambda: set(threading.enumerate()) <= baseline)


def test_close_stops_background_work(make_mem):
    """close() stops every subscription and the sweeper: their threads end."""
    baseline = set(threading.enumerate())
    m = make_mem(cleanup_interval=0.05)
    m.create_namespace("ns")
    for _ in range(3):
        m.subscribe("ns", Recorder())
    m.close()
    wait_until(lambda: set(threading.enumerate()) <= baseline)


def test_unknown_connect_option_refused(make_mem):
    """connect() with an unknown option raises InvalidArgument."""
    with pytest.raises(InvalidArgument):
        make_mem(no_such_option=1)


def test_unknown_url_scheme_refused():
    """connect() with an unknown URL scheme raises InvalidArgument."""
    with pytest.raises(InvalidArgument):
        hivemem.connect("nosuch://somewhere")


@pytest.mark.parametrize("agent", ["", "has space", "x" * 129, "slash/agent", "ü", 7])
def test_connect_bad_default_agent_refused(make_mem, agent):
    """connect(agent=) with an invalid agent id raises InvalidArgument."""
    with pytest.raises(InvalidArgument):
        make_mem(agent=agent)


def test_agent_id_alphabet(mem):
    """Agent ids may use letters, digits and . _ @ : - up to 128 characters."""
    for agent in ["a", "A.b_c@d:e-f", "x" * 128, "agent-1", "user@example.com"]:
        assert mem.write("ns", "k", agent, agent).owner == agent
