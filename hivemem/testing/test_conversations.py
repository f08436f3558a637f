"""Conversation memory (SPEC §7): fields, lists, messages, TTL, cleanup — seed 004's examples."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from hivemem import ConflictError, InvalidArgument, Message, PermissionDenied
from hivemem.testing.helpers import Recorder

# ---------------------------------------------------------------- seed 004: dict operations


def test_conv_dict_operations(mem):
    """set/get (with default)/update/contains/keys/items, as seed 004's dict example."""
    memory = mem.conversation("conv-1")
    memory.set("user_id", "user_123")
    memory.set("preferences", {"language": "en", "theme": "dark"})
    assert memory.get("user_id") == "user_123"
    assert memory.get("preferences", {}) == {"language": "en", "theme": "dark"}
    assert memory.get("missing", {"x": 1}) == {"x": 1}
    memory.update({"last_activity": 1700000000.5, "session_count": 1})
    assert "user_preferences" not in memory
    assert "user_id" in memory
    assert memory.contains("session_count")
    assert memory.keys() == ["last_activity", "preferences", "session_count", "user_id"]
    assert dict(memory.items()) == {
        "user_id": "user_123",
        "preferences": {"language": "en", "theme": "dark"},
        "last_activity": 1700000000.5,
        "session_count": 1,
    }


def test_conv_getitem_raises_keyerror(mem):
    """conv[name] raises KeyError for a missing field; conv[name] = v sets it."""
    memory = mem.conversation("conv-1")
    with pytest.raises(KeyError):
        memory["required_key"]
    memory["required_key"] = "initial_value"
    assert memory["required_key"] == "initial_value"
    del memory["required_key"]
    assert "required_key" not in memory


def test_conv_names_may_hold_any_characters(mem):
    """Field names with slashes, spaces and unicode are separate fields."""
    memory = mem.conversation("conv-1")
    for name in ("a/b", "a", "with space", "ünï", "a%2Fb"):
        memory.set(name, name)
    assert sorted(memory.keys()) == sorted(["a/b", "a", "with space", "ünï", "a%2Fb"])
    assert memory.get("a/b") == "a/b"
    assert memory.get("a%2Fb") == "a%2Fb"


def test_conversations_are_isolated(mem):
    """Two conversations never see each other's fields, lists or messages."""
    a = mem.conversation("a")
    b = mem.conversation("b")
    a.set("k", 1)
    a.append("l", 1)
    a.add_message("user", "hi")
    assert b.get("k") is None
    assert b.get_list("l") == []
    assert b.get_messages() == []


# ---------------------------------------------------------------- seed 004: list operations


def test_conv_list_operations(mem):
    """seed 004's list example: set [], append, extend, get_list, list_length, pop, insert."""
    memory = mem.conversation("conv-1")
    memory.set("activity_log", [])
    memory.append("activity_log", {"action": "login", "timestamp": 1.0})
    memory.extend(
        "activity_log",
        [{"action": "view_page", "page": "home"}, {"action": "click_button", "button": "submit"}],
    )
    activities = memory.get_list("activity_log")
    assert [a["action"] for a in activities] == ["login", "view_page", "click_button"]
    assert memory.list_length("activity_log") == 3
    last_item = memory.pop("activity_log")
    assert last_item == {"action": "click_button", "button": "submit"}
    memory.insert("activity_log", 0, {"action": "session_start"})
    assert [a["action"] for a in memory.get_list("activity_log")] == [
        "session_start",
        "login",
        "view_page",
    ]
    assert memory.get("activity_log")[0] == {"action": "session_start"}


def test_conv_list_semantics_match_python_lists(mem):
    """pop(index), insert(index) and remove(item) behave as Python's list methods."""
    memory = mem.conversation("conv-1")
    model: list[int] = []
    memory.extend("l", list(range(6)))
    model.extend(range(6))
    steps: list[tuple[str, Any]] = [
        ("pop", 0),
        ("pop", 2),
        ("pop", -2),
        ("insert", (1, 10)),
        ("insert", (-1, 11)),
        ("insert", (100, 12)),
        ("insert", (-100, 13)),
        ("remove", 10),
        ("append", 14),
    ]
    for action, arg in steps:
        if action == "pop":
            assert memory.pop("l", arg) == model.pop(arg)
        elif action == "insert":
            memory.insert("l", *arg)
            model.insert(*arg)
        elif action == "remove":
            memory.remove("l", arg)
            model.remove(arg)
        else:
            memory.append("l", arg)
            model.append(arg)
        assert memory.get_list("l") == model
        assert memory.list_length("l") == len(model)


def test_conv_pop_empty_raises_indexerror(mem):
    """pop on an empty or missing list raises IndexError; out-of-range index too."""
    memory = mem.conversation("conv-1")
    with pytest.raises(IndexError):
        memory.pop("my_list")
    memory.append("my_list", 1)
    with pytest.raises(IndexError):
        memory.pop("my_list", 5)
    assert memory.pop("my_list") == 1
    with pytest.raises(IndexError):
        memory.pop("my_list")


def test_conv_remove_absent_raises_valueerror(mem):
    """remove of an absent item raises ValueError and changes nothing."""
    memory = mem.conversation("conv-1")
    memory.extend("l", [1, 2])
    with pytest.raises(ValueError):
        memory.remove("l", 3)
    assert memory.get_list("l") == [1, 2]


def test_conv_list_ops_on_a_non_list_refused(mem):
    """append on a field holding a non-list value raises WrongType (a TypeError)."""
    memory = mem.conversation("conv-1")
    memory.set("name", "ann")
    with pytest.raises(TypeError):
        memory.append("name", "x")
    assert memory.get("name") == "ann"


def test_conv_concurrent_appends_all_land(mem):
    """8 threads x 25 appends to one list and one message log: exactly 200 each, none lost."""
    memory = mem.conversation("busy")
    memory.set("seed", 0)

    def run(i: int) -> None:
        conv = mem.conversation("busy", f"agent-{i}")
        for n in range(25):
            conv.append("items", f"{i}-{n}")
            conv.add_message("user", f"{i}-{n}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = sorted(f"{i}-{n}" for i in range(8) for n in range(25))
    assert sorted(memory.get_list("items")) == expected
    assert sorted(m.content for m in memory.get_messages()) == expected
    assert memory.list_length("items") == 200
    assert memory.get_message_count() == 200
    for i in range(8):  # each agent's items stay in its own order
        mine = [x for x in memory.get_list("items") if x.startswith(f"{i}-")]
        assert mine == [f"{i}-{n}" for n in range(25)]


# ---------------------------------------------------------------- seed 004: messages


def test_conv_messages(mem, clock):
    """add_message returns a Message; get_messages(limit) gives the last ones, oldest first."""
    memory = mem.conversation("chat")
    first = memory.add_message("user", "Hello", {"message_id": "m-1"})
    assert isinstance(first, Message)
    assert (first.role, first.content, first.metadata) == ("user", "Hello", {"message_id": "m-1"})
    assert first.timestamp == clock()
    assert len(first.id) == 32
    clock.advance(1)
    memory.add_message("assistant", "Hi! How can I help?")
    for i in range(10):
        memory.add_message("user", f"q{i}")
    assert memory.get_message_count() == 12
    everything = memory.get_messages()
    assert [m.content for m in everything][:2] == ["Hello", "Hi! How can I help?"]
    assert everything[0] == first
    recent = memory.get_messages(limit=5)
    assert [m.content for m in recent] == ["q5", "q6", "q7", "q8", "q9"]
    assert memory.get_messages(limit=100) == everything


def test_conv_message_role_checked(mem):
    """A message needs a non-empty role and a mapping as metadata."""
    memory = mem.conversation("chat")
    with pytest.raises(InvalidArgument):
        memory.add_message("", "x")
    with pytest.raises(InvalidArgument):
        memory.add_message("user", "x", ["not", "a", "mapping"])
    assert memory.get_message_count() == 0


# ---------------------------------------------------------------- TTL, size, cleanup


def test_conv_field_ttl_and_set_ttl(mem, clock):
    """set(ttl=) expires one field; set_ttl() expires every field, list and message."""
    memory = mem.conversation("conv-1")
    memory.set("short", 1, ttl=10)
    memory.set("long", 2)
    memory.append("l", 1)
    memory.add_message("user", "hi")
    clock.advance(10)
    assert memory.get("short") is None
    assert memory.get("long") == 2
    memory.set_ttl(30)
    clock.advance(29)
    assert memory.get("long") == 2
    assert memory.get_list("l") == [1]
    clock.advance(1)
    assert memory.get("long") is None
    assert memory.get_list("l") == []
    assert memory.get_messages() == []
    assert memory.get_message_count() == 0


def test_conv_ttl_applies_to_later_writes(mem, clock):
    """A conversation opened with ttl= gives that TTL to every field and message it writes."""
    memory = mem.conversation("conv-1", ttl=5)
    memory.set("a", 1)
    memory.add_message("user", "hi")
    clock.advance(5)
    assert memory.get("a") is None
    assert memory.get_messages() == []


def test_conv_memory_size(mem):
    """get_memory_size counts fields, bytes and messages."""
    memory = mem.conversation("conv-1")
    assert memory.get_memory_size() == {
        "total_fields": 0,
        "total_size_bytes": 0,
        "message_count": 0,
    }
    memory.set("a", "xyz")
    memory.set("b", [1, 2])
    memory.add_message("user", "hi")
    size = memory.get_memory_size()
    assert size["total_fields"] == 2
    assert size["message_count"] == 1
    assert size["total_size_bytes"] > len('"xyz"') + len("[1,2]")


def test_conv_clear_all(mem):
    """clear_all deletes every field, list and message of the conversation only."""
    a = mem.conversation("a")
    b = mem.conversation("b")
    a.set("k", 1)
    a.extend("l", [1, 2])
    a.add_message("user", "hi")
    b.set("k", 2)
    assert a.clear_all() >= 4
    assert a.keys() == []
    assert a.get_messages() == []
    assert b.get("k") == 2


def test_conversations_manager(mem, clock):
    """list, stats, cleanup and cleanup_expired(max_age_seconds) of every conversation."""
    a = mem.conversation("a")
    b = mem.conversation("b")
    a.set("k", 1)
    a.add_message("user", "hi")
    b.set("k", 2)
    assert mem.conversations.list() == ["a", "b"]
    stats = mem.conversations.stats()
    assert stats["total_conversations"] == 2
    rows = {r["conversation_id"]: r for r in stats["conversations"]}
    assert rows["a"]["message_count"] == 1
    assert rows["b"]["total_fields"] == 1
    clock.advance(100)
    b.set("k", 3)  # b stays active
    assert mem.conversations.cleanup_expired(max_age_seconds=50) == 1
    assert mem.conversations.list() == ["b"]
    assert a.get("k") is None
    mem.conversations.cleanup("b")
    assert mem.conversations.list() == []


def test_conversations_empty_store(mem):
    """A store without conversations lists none and reads defaults."""
    assert mem.conversations.list() == []
    assert mem.conversation("x").get("k", 7) == 7
    assert mem.conversation("x").get_list("l") == []


def test_conv_bad_ids_refused(mem):
    """Conversation ids are 1-200 characters without '/'."""
    for bad in ("", "a/b", "x" * 201, 7):
        with pytest.raises(InvalidArgument):
            mem.conversation(bad)


# ---------------------------------------------------------------- permissions and events


def test_conv_permissions_apply(mem):
    """The conversations namespace's permissions apply: a reader cannot append."""
    mem.create_namespace("conversations", default_permission="read")
    mem.conversation("c").append("l", 1)
    reader = mem.conversation("c", "reader")
    assert reader.get_list("l") == [1]
    with pytest.raises(PermissionDenied):
        reader.append("l", 2)
    with pytest.raises(PermissionDenied):
        reader.add_message("user", "x")
    assert reader.get_list("l") == [1]


def test_conv_list_ops_emit_write_events(mem):
    """An append is seen by subscribers as writes (the item and the list header)."""
    rec = Recorder()
    mem.conversation("c").set("x", 1)
    mem.subscribe("conversations", rec)
    mem.conversation("c").append("l", "v")
    from hivemem.testing.helpers import wait_until

    wait_until(lambda: len(rec.of("memory:write")) >= 2)
    assert "v" in [e.value for e in rec.of("memory:write")]


def test_list_ops_are_idempotent(mem):
    """A list op repeated with the same idempotency key is applied once."""
    from hivemem.engine import ops as o

    first = mem._run(o.ListPush(agent="a", ns="ns", key="l", items=('"x"',), idempotency_key="k1"))
    again = mem._run(o.ListPush(agent="a", ns="ns", key="l", items=('"x"',), idempotency_key="k1"))
    assert first == again == 1
    assert mem._run(o.ListRange(agent="a", ns="ns", key="l")) == (["x"], 1)


def test_conflict_error_is_not_swallowed(mem):
    """A first-wins conversations namespace refuses a second set of the same field."""
    mem.create_namespace("conversations", conflict_strategy="first-wins")
    memory = mem.conversation("c")
    memory.set("k", 1)
    with pytest.raises(ConflictError):
        memory.set("k", 2)
    assert memory.get("k") == 1


# ---------------------------------------------------------------- async twin


async def test_async_conversation(amem):
    """The async twin: the same operations, awaited."""
    memory = amem.conversation("conv-1")
    await memory.set("user_id", "user_123")
    assert await memory.get("user_id") == "user_123"
    await memory.extend("l", [1, 2, 3])
    assert await memory.pop("l") == 3
    assert await memory.get_list("l") == [1, 2]
    await memory.add_message("user", "hello")
    assert [m.content for m in await memory.get_messages(limit=1)] == ["hello"]
    assert await memory.get_message_count() == 1
    with pytest.raises(IndexError):
        await amem.conversation("other").pop("nothing")
    assert await amem.conversations.list() == ["conv-1"]
