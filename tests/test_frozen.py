"""``fast_init`` builds records exactly as the dataclass's own ``__init__`` would."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import pytest

from hivemem._frozen import fast_init
from hivemem.engine import ops as o
from hivemem.types import Entry, Event


@dataclass(frozen=True, slots=True, kw_only=True)
class _Base:
    agent: str
    admin: bool = False


@dataclass(frozen=True, slots=True)
class _Plain:
    a: int
    b: str = "b"
    c: list[int] = field(default_factory=list)
    d: int = field(default=4, kw_only=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Child(_Base):
    ns: str
    tags: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Checked:
    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("negative")


@pytest.mark.parametrize("cls", [_Plain, _Child, _Checked])
def test_the_signature_and_the_fields_are_the_dataclasses(cls: type) -> None:
    before = inspect.signature(cls.__init__)
    fast_init(cls)
    after = inspect.signature(cls.__init__)
    assert [(p.name, p.kind) for p in after.parameters.values()] == [
        (p.name, p.kind) for p in before.parameters.values()
    ]


def test_defaults_factories_keywords_and_post_init() -> None:
    fast_init(_Plain)
    fast_init(_Child)
    fast_init(_Checked)
    p = _Plain(1)
    assert (p.a, p.b, p.c, p.d) == (1, "b", [], 4)
    q = _Plain(1)
    assert p.c is not q.c  # a fresh default per instance
    assert _Plain(2, "x", [1], d=9) == _Plain(a=2, b="x", c=[1], d=9)
    with pytest.raises(TypeError):
        _Plain(1, "x", [], 9)  # type: ignore[misc]  # d is keyword-only
    with pytest.raises(TypeError):
        _Plain()  # type: ignore[call-arg]
    c = _Child(agent="a", ns="n")
    assert (c.agent, c.admin, c.ns, c.tags) == ("a", False, "n", {})
    with pytest.raises(TypeError):
        _Child("a", "n")  # type: ignore[misc]
    with pytest.raises(ValueError, match="negative"):
        _Checked(-1)
    assert _Checked(3).n == 3


def test_records_stay_frozen_and_compare_as_before() -> None:
    entry = Entry("n", "k", {"v": 1}, "o", 1, 2, 1.0, 2.0)
    assert entry.expires_at is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.value = 2  # type: ignore[misc]
    assert entry == Entry("n", "k", {"v": 1}, "o", 1, 2, 1.0, 2.0, None)
    assert dataclasses.replace(entry, version=5).version == 5
    assert hash(Event("memory:write", "n", 1, 1.0, "a", key="k")) == hash(
        Event("memory:write", "n", 1, 1.0, "a", key="k")
    )
    op = o.Put(agent="a", ns="n", key="k", value_json="1")
    assert (op.admin, op.internal, op.ttl, op.resolved) == (False, False, None, False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.key = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        o.Get("a", "n", "k")  # type: ignore[misc]  # ops are keyword-only


def test_a_class_without_slots_is_refused() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    with pytest.raises(TypeError, match="slot"):
        fast_init(NoSlots)
