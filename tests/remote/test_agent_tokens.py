"""``connect(url, tokens=...)``: one process acting for several agents, each with its token."""

from __future__ import annotations

import queue
from typing import TYPE_CHECKING

import pytest

import hivemem

if TYPE_CHECKING:
    from tests.remote.conftest import Store


def test_each_call_authenticates_as_its_agent(store: Store) -> None:
    tokens = {name: store.token(name) for name in ("ann", "bob")}
    with hivemem.connect(store.url, agent="ann", tokens=tokens) as mem:
        mem.create_namespace("shared", permissions={"bob": "write"})
        mem.write("shared", "k", 1)  # as ann, the default
        mem.write("shared", "k", 2, "bob")  # as bob, with bob's token
        assert mem.as_agent("bob").read("shared", "k") == 2
        writers = [r.agent_id for r in mem.access_log(namespace="shared", action="write")]
        assert sorted(writers) == ["ann", "bob"]
        with pytest.raises(hivemem.Unauthenticated):  # carol has no token here, nor a default
            mem.write("shared", "k", 3, "carol")


def test_a_watch_streams_with_its_agents_token(store: Store) -> None:
    tokens = {name: store.token(name) for name in ("ann", "bob")}
    with hivemem.connect(store.url, agent="ann", tokens=tokens) as mem:
        mem.create_namespace("private", default_permission=None, permissions={"bob": "read"})
        seen: queue.Queue[str] = queue.Queue()
        unsubscribe = mem.as_agent("bob").subscribe("private", lambda ev: seen.put(ev.agent_id))
        try:
            mem.write("private", "k", 1)
            assert seen.get(timeout=10) == "ann"
        finally:
            unsubscribe()


def test_a_token_of_another_agent_is_refused_at_connect(store: Store) -> None:
    with pytest.raises(hivemem.PermissionDenied, match="cannot act as 'bob'"):
        hivemem.connect(
            store.url, agent="ann", tokens={"ann": store.token("ann"), "bob": store.token("eve")}
        )


@pytest.mark.parametrize(
    ("tokens", "said"),
    [
        ({"ann": ""}, "non-empty text"),
        ({"ann": 1}, "non-empty text"),
        (["ann"], "must map agent ids"),
        ({"bad id!": "t"}, "agent"),
    ],
)
def test_bad_tokens_are_refused(store: Store, tokens: object, said: str) -> None:
    with pytest.raises(hivemem.InvalidArgument, match=said):
        hivemem.connect(store.url, agent="ann", tokens=tokens)


def test_tokens_need_a_default_agent_and_a_server(store: Store) -> None:
    with pytest.raises(hivemem.InvalidArgument, match="agent="):
        hivemem.connect(store.url, tokens={"ann": store.token("ann")})
    with pytest.raises(hivemem.InvalidArgument, match="http:// stores"):
        hivemem.connect("memory://", tokens={"ann": "t"})
