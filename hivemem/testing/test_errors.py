"""Errors and bad input (SPEC §1, §11): stable codes, and no error leaves partial state."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pytest

import hivemem
from hivemem import (
    AlreadyExists,
    BackendUnavailable,
    CircuitOpen,
    ConflictError,
    HivememError,
    InvalidArgument,
    NamespaceFull,
    NamespaceNotFound,
    NotFound,
    PermissionDenied,
    RevisionCompacted,
    TooLarge,
    Unauthenticated,
)
from hivemem.testing.helpers import snapshot

if TYPE_CHECKING:
    from collections.abc import Callable

# ---------------------------------------------------------------- the exception tree


@pytest.mark.parametrize(
    ("cls", "code", "status", "base"),
    [
        (PermissionDenied, "permission_denied", 403, HivememError),
        (Unauthenticated, "unauthenticated", 401, HivememError),
        (NotFound, "not_found", 404, HivememError),
        (NamespaceNotFound, "namespace_not_found", 404, NotFound),
        (AlreadyExists, "already_exists", 409, HivememError),
        (ConflictError, "conflict", 409, HivememError),
        (NamespaceFull, "namespace_full", 409, HivememError),
        (InvalidArgument, "invalid_argument", 422, HivememError),
        (TooLarge, "too_large", 413, InvalidArgument),
        (RevisionCompacted, "revision_compacted", 410, HivememError),
        (BackendUnavailable, "backend_unavailable", 503, HivememError),
        (CircuitOpen, "circuit_open", 503, BackendUnavailable),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_error_codes_and_statuses(cls, code, status, base):
    """Every error class has its stable code and HTTP status, derives from HivememError,
    and its JSON form is {'error': {'code', 'message', ...}}."""
    assert issubclass(cls, base)
    assert issubclass(cls, HivememError)
    err = cls("how to fix it")
    assert (err.code, err.status) == (code, status)
    assert err.to_dict()["error"]["code"] == code
    assert err.to_dict()["error"]["message"] == "how to fix it"
    assert getattr(hivemem, cls.__name__) is cls


def test_invalid_argument_is_a_value_error():
    """InvalidArgument (and so TooLarge) is also a ValueError."""
    assert issubclass(InvalidArgument, ValueError)
    assert issubclass(TooLarge, ValueError)
    with pytest.raises(ValueError):
        raise InvalidArgument("bad")


def test_conflict_error_details():
    """ConflictError carries reason and current_version, also in its JSON form."""
    err = ConflictError("lost", reason="version_mismatch", current_version=3)
    assert (err.reason, err.current_version) == ("version_mismatch", 3)
    body = err.to_dict()["error"]
    assert (body["reason"], body["current_version"]) == ("version_mismatch", 3)


def test_revision_compacted_details():
    """RevisionCompacted carries oldest_available."""
    err = RevisionCompacted("gone", oldest_available=42)
    assert err.oldest_available == 42
    assert err.to_dict()["error"]["oldest_available"] == 42


# ---------------------------------------------------------------- bad input leaves nothing


def _seeded(mem: Any) -> dict[str, Any]:
    """A store with some data, so 'unchanged' means something."""
    mem.create_namespace("ns", description="existing")
    mem.write("ns", "k", {"keep": True})
    return snapshot(mem)


class _Opaque:
    pass


BAD_VALUES = {
    "set": {1, 2},
    "frozenset": frozenset({1}),
    "nan": math.nan,
    "inf": math.inf,
    "neg_inf": -math.inf,
    "nested_nan": {"a": [1, math.nan]},
    "object": _Opaque(),
    "nested_object": {"a": [_Opaque()]},
    "bytes": b"raw",
    "complex": 1j,
    "int_dict_key": {1: "one"},
    "tuple_dict_key": {(1, 2): "pair"},
    "none_dict_key": {None: "none"},
    "nested_int_dict_key": {"ok": {2: "two"}},
    "lone_surrogate": "\ud800",
}


@pytest.mark.parametrize("value", list(BAD_VALUES.values()), ids=list(BAD_VALUES))
def test_non_json_value_refused_nothing_stored(mem, value):
    """A value that is not JSON (sets, NaN, infinity, arbitrary objects, non-string object
    keys, text that is not valid Unicode) raises InvalidArgument on write, for a new or an
    existing key, and nothing is stored."""
    before = _seeded(mem)
    with pytest.raises(InvalidArgument):
        mem.write("ns", "new", value)
    with pytest.raises(InvalidArgument):
        mem.write("ns", "k", value)
    with pytest.raises(InvalidArgument):
        mem.write("fresh-ns", "k", value)
    assert snapshot(mem) == before


@pytest.mark.parametrize(
    "value", [{1, 2}, math.nan, _Opaque(), {1: "one"}], ids=["set", "nan", "object", "int_key"]
)
def test_non_json_broadcast_refused(mem, value):
    """A broadcast message that is not JSON raises InvalidArgument and sends nothing."""
    before = _seeded(mem)
    with pytest.raises(InvalidArgument):
        mem.broadcast("ns", value)
    assert snapshot(mem) == before


def test_value_over_max_value_bytes_is_too_large(make_mem):
    """A value whose serialized form exceeds max_value_bytes raises TooLarge and is not
    stored; one exactly at the limit is stored."""
    m = make_mem(max_value_bytes=100)
    m.write("ns", "k", "ok")
    before = snapshot(m)
    with pytest.raises(TooLarge) as exc:
        m.write("ns", "big", "x" * 99)  # 101 bytes serialized
    assert (exc.value.code, exc.value.status) == ("too_large", 413)
    with pytest.raises(TooLarge):
        m.write("ns", "k", "x" * 99)
    with pytest.raises(TooLarge):
        m.write_many("ns", {"a": 1, "big": "x" * 99})
    with pytest.raises(TooLarge):
        m.broadcast("ns", "x" * 99)
    with pytest.raises(TooLarge):
        m.write("ns", "multibyte", "é" * 50)  # 102 bytes serialized, 52 characters
    assert snapshot(m) == before
    assert m.write("ns", "edge", "x" * 98).value == "x" * 98  # exactly 100 bytes


def test_default_max_value_is_one_mib(mem):
    """By default a value over 1 MiB serialized raises TooLarge."""
    with pytest.raises(TooLarge):
        mem.write("ns", "big", "x" * (1 << 20))
    assert mem.write("ns", "fits", "x" * ((1 << 20) - 2)).version == 1


def test_merge_result_over_limit_refused(make_mem):
    """A merge whose result would exceed max_value_bytes raises TooLarge and keeps the
    stored value."""
    m = make_mem(max_value_bytes=100)
    m.create_namespace("ns", conflict_strategy="merge")
    m.write("ns", "k", ["x" * 40])
    before = snapshot(m)
    with pytest.raises(TooLarge):
        m.write("ns", "k", ["y" * 40, "z" * 20])
    assert snapshot(m) == before


@pytest.mark.parametrize(
    "key", ["x" * 1025, "é" * 513, "\U0001f41d" * 257], ids=["ascii", "two_byte", "four_byte"]
)
def test_key_over_1024_bytes_is_too_large(mem, key):
    """A key of more than 1024 UTF-8 bytes raises TooLarge, on write and on read."""
    before = _seeded(mem)
    with pytest.raises(TooLarge):
        mem.write("ns", key, 1)
    with pytest.raises(TooLarge):
        mem.read("ns", key)
    with pytest.raises(TooLarge):
        mem.write_many("ns", {"fine": 1, key: 2})
    assert snapshot(mem) == before


BAD_KEYS = {
    "empty": "",
    "newline": "a\nb",
    "nul": "a\x00b",
    "tab": "\t",
    "escape": "a\x1bb",
    "del": "a\x7fb",
    "lone_surrogate": "a\udc00",
    "int": 5,
    "none": None,
    "bytes": b"key",
}


@pytest.mark.parametrize("key", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_bad_key_refused(mem, key):
    """Empty keys, keys with control characters and non-string keys raise InvalidArgument
    on every entry operation, and nothing is stored."""
    before = _seeded(mem)
    calls: list[Callable[[], object]] = [
        lambda: mem.write("ns", key, 1),
        lambda: mem.read("ns", key),
        lambda: mem.get_entry("ns", key),
        lambda: mem.delete("ns", key),
        lambda: mem.write_many("ns", {"fine": 1, key: 2}),
        lambda: mem.read_many("ns", ["fine", key]),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument):
            call()
    assert snapshot(mem) == before


BAD_NAMESPACES = {
    "empty": "",
    "space": "a b",
    "slash": "a/b",
    "at": "a@b",
    "bang": "ns!",
    "too_long": "n" * 129,
    "unicode": "ñs",
    "newline": "ns\n",
    "int": 3,
    "none": None,
}


@pytest.mark.parametrize("name", list(BAD_NAMESPACES.values()), ids=list(BAD_NAMESPACES))
def test_bad_namespace_name_refused(mem, name):
    """A namespace name outside 1-128 chars of [A-Za-z0-9._:-] raises InvalidArgument on
    create and on every call that names it; nothing is created."""
    before = _seeded(mem)
    calls: list[Callable[[], object]] = [
        lambda: mem.create_namespace(name),
        lambda: mem.write(name, "k", 1),
        lambda: mem.read(name, "k"),
        lambda: mem.get_keys(name),
        lambda: mem.broadcast(name, "hi"),
        lambda: mem.get_namespace(name),
        lambda: mem.delete_namespace(name),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument):
            call()
    assert snapshot(mem) == before


def test_namespace_name_alphabet(mem):
    """Namespace names may use letters, digits and . _ : - up to 128 characters."""
    for name in ["a", "Team.Chat_2:x-y", "n" * 128]:
        assert mem.create_namespace(name).name == name


@pytest.mark.parametrize("strategy", ["newest-wins", "LATEST-WINS", "", None, 1])
def test_unknown_strategy_refused(mem, strategy):
    """An unknown conflict strategy raises InvalidArgument on create and on update."""
    before = _seeded(mem)
    with pytest.raises(InvalidArgument):
        mem.create_namespace("other", conflict_strategy=strategy)
    with pytest.raises(InvalidArgument):
        mem.update_namespace("ns", conflict_strategy=strategy)
    assert snapshot(mem) == before


@pytest.mark.parametrize(
    "ttl",
    [0, -1, -0.5, math.nan, math.inf, "10", True],
    ids=["zero", "negative", "negative_float", "nan", "inf", "string", "bool"],
)
def test_bad_ttl_refused(mem, ttl):
    """A TTL that is not a positive finite number of seconds raises InvalidArgument on
    write, write_many, create and update; nothing changes."""
    before = _seeded(mem)
    calls: list[Callable[[], object]] = [
        lambda: mem.write("ns", "new", 1, ttl=ttl),
        lambda: mem.write_many("ns", {"new": 1}, ttl=ttl),
        lambda: mem.create_namespace("other", ttl=ttl),
        lambda: mem.update_namespace("ns", ttl=ttl),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument):
            call()
    assert snapshot(mem) == before


BAD_AGENTS = {
    "empty": "",
    "space": "a b",
    "slash": "a/b",
    "too_long": "a" * 129,
    "unicode": "agént",
    "int": 7,
    "newline": "a\n",
}


@pytest.mark.parametrize("agent", list(BAD_AGENTS.values()), ids=list(BAD_AGENTS))
def test_bad_agent_id_refused(mem, agent):
    """An agent id outside 1-128 chars of [A-Za-z0-9._@:-] raises InvalidArgument wherever
    an agent is named (call argument, as_agent, permissions); nothing changes."""
    before = _seeded(mem)
    calls: list[Callable[[], object]] = [
        lambda: mem.write("ns", "new", 1, agent),
        lambda: mem.read("ns", "k", agent),
        lambda: mem.delete("ns", "k", agent),
        lambda: mem.create_namespace("other", agent),
        lambda: mem.as_agent(agent),
        lambda: mem.create_namespace("other", permissions={agent: "read"}),
        lambda: mem.update_permissions("ns", {agent: "write"}),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument):
            call()
    assert snapshot(mem) == before


@pytest.mark.parametrize("level", ["owner", "READ", "", 1, True])
def test_bad_permission_level_refused(mem, level):
    """A permission level other than None/'read'/'write'/'admin' raises InvalidArgument."""
    before = _seeded(mem)
    with pytest.raises(InvalidArgument):
        mem.create_namespace("other", default_permission=level)
    with pytest.raises(InvalidArgument):
        mem.create_namespace("other", permissions={"bob": level})
    with pytest.raises(InvalidArgument):
        mem.update_permissions("ns", {"bob": level})
    with pytest.raises(InvalidArgument):
        mem.update_namespace("ns", default_permission=level)
    assert snapshot(mem) == before


@pytest.mark.parametrize("version", [-1, "1", 1.5, True])
def test_bad_expected_version_refused(mem, version):
    """expected_version must be an integer >= 0; anything else raises InvalidArgument."""
    before = _seeded(mem)
    with pytest.raises(InvalidArgument):
        mem.write("ns", "k", 2, expected_version=version)
    with pytest.raises(InvalidArgument):
        mem.delete("ns", "k", expected_version=version)
    assert snapshot(mem) == before


@pytest.mark.parametrize("max_entries", [0, -1, 1.5, "10", True])
def test_bad_max_entries_refused(mem, max_entries):
    """max_entries must be a positive integer or None."""
    before = _seeded(mem)
    with pytest.raises(InvalidArgument):
        mem.create_namespace("other", max_entries=max_entries)
    with pytest.raises(InvalidArgument):
        mem.update_namespace("ns", max_entries=max_entries)
    assert snapshot(mem) == before


@pytest.mark.parametrize("limit", [0, -1, 10_001, "10", 2.5])
def test_bad_list_limit_refused(mem, limit):
    """list_entries limit must be an integer from 1 to 10,000."""
    _seeded(mem)
    with pytest.raises(InvalidArgument):
        mem.list_entries("ns", limit=limit)


@pytest.mark.parametrize("cursor", ["!!!not-a-cursor!!!", 5])
def test_bad_cursor_refused(mem, cursor):
    """A cursor that no listing returned raises InvalidArgument."""
    _seeded(mem)
    with pytest.raises(InvalidArgument):
        mem.list_entries("ns", cursor=cursor)


@pytest.mark.parametrize("idem", ["", "x" * 201, 5])
def test_bad_idempotency_key_refused(mem, idem):
    """An idempotency_key must be a string of 1-200 characters."""
    before = _seeded(mem)
    with pytest.raises(InvalidArgument):
        mem.write("ns", "new", 1, idempotency_key=idem)
    assert snapshot(mem) == before


def test_bad_write_many_items_refused(mem):
    """write_many takes a mapping of key to value; anything else raises InvalidArgument."""
    before = _seeded(mem)
    with pytest.raises(InvalidArgument):
        mem.write_many("ns", [("a", 1)])
    assert snapshot(mem) == before


def test_bad_watch_since_refused(mem):
    """watch(since=) must be a revision (integer >= 0)."""
    _seeded(mem)
    for since in (-1, "1", 1.5):
        with pytest.raises(InvalidArgument):
            list(mem.watch("ns", since=since, timeout=0))
