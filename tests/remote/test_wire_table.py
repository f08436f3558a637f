"""The remote client's requests and the MCP tools follow the route table."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from hivemem.engine import ops as o
from hivemem.engine.txn import Stored
from hivemem.mcp.tools import TOOLS
from hivemem.memories.wire import ROUTES as MEMORY_ROUTES
from hivemem.memories.wire import MemoryCall
from hivemem.remote.wire import _CALLS, call_for
from hivemem.types import Event, NamespaceInfo
from hivemem.wire.table import BY_NAME, ROUTES, RouteSpec

A = "agent"
#: One op of each type the client sends, with awkward keys and names.
OPS: list[o.Op[Any]] = [
    o.CreateNamespace(agent=A, ns="n.1", permissions={"x": "read"}, exist_ok=True),
    o.GetNamespace(agent=A, ns="a:b"),
    o.ListNamespaces(agent=A),
    o.UpdateNamespace(agent=A, ns="n", changes={"ttl": 3}),
    o.UpdatePermissions(agent=A, ns="n", permissions={"a": None}),
    o.ClearNamespace(agent=A, ns="n"),
    o.DeleteNamespace(agent=A, ns=".."),
    o.Get(agent=A, ns="n", key="a/b c.."),
    o.Exists(agent=A, ns="n", key="a/b c.."),
    o.History(agent=A, ns="n", key="a/b c..", limit=5, before=9),
    o.ReadAsOf(agent=A, ns="n", key="a/b c..", revision=3),
    o.ReadAsOf(agent=A, ns="n", key="k", at=1.5),
    o.ListAsOf(agent=A, ns="n", revision=3, prefix="p", limit=2, cursor="Yg"),
    o.GetMany(agent=A, ns="n", keys=("a", "b")),
    o.ListEntries(agent=A, ns="n", prefix="p", limit=None, cursor="c"),
    o.Put(agent=A, ns="n", key="k/é", value_json="1", ttl=2.5, expected_version=3),
    o.PutMany(agent=A, ns="n", items=(("a", "1"), ("b", "2")), ttl=4),
    o.Delete(agent=A, ns="n", key="k", expected_version=2),
    o.Broadcast(agent=A, ns="n", message_json='"m"'),
    o.StartWatch(agent=A, ns="n", since=3, subscribe=True),
    o.EventsAfter(agent=A, ns="n", since=5, limit=10),
    o.AccessLogQuery(agent=A, agent_id="x", success=False, limit=7),
    o.Stats(agent=A),
    o.Sweep(agent=A),
    o.ListPush(agent=A, ns="n", key="l/1", items=("1", "2"), ttl=3),
    o.ListPop(agent=A, ns="n", key="l", index=2),
    o.ListInsert(agent=A, ns="n", key="l", index=0, item='"x"'),
    o.ListRemove(agent=A, ns="n", key="l", item='"x"'),
    o.ListRange(agent=A, ns="n", key="l", start=1, stop=4),
    o.ExpirePrefix(agent=A, ns="n", prefix="p", ttl=3),
    o.DeletePrefix(agent=A, ns="n", prefix="p"),
    o.DumpEntries(agent=A, ns="n", after="a/b", limit=10),
    o.DumpEvents(agent=A, ns="n", since=3, limit=10),
    o.Restore(
        agent=A,
        ns="n",
        config=NamespaceInfo(name="n"),
        entries=(("\x01k/é", Stored("1", "o", 2, 7, 1.0, 2.0, None)),),
        events=(Event("memory:write", "n", 7, 2.0, "o", key="k", value=1, version=2),),
    ),
    o.QueuePut(
        agent=A, ns="n", queue="q/1", task_id="ab" * 16, value_json="1", priority=2, delay=1.5
    ),
    o.QueueClaim(agent=A, ns="n", queue="q", worker="w", visibility=3.0, max_attempts=2),
    o.QueueAck(agent=A, ns="n", queue="q", task_id="ab" * 16, token=3),
    o.QueueNack(agent=A, ns="n", queue="q", task_id="ab" * 16, token=3, delay=1.0),
    o.QueueExtend(agent=A, ns="n", queue="q", task_id="ab" * 16, token=3, visibility=9.0),
    o.QueueStats(agent=A, ns="n", queue="q"),
    o.QueueDeadLetters(agent=A, ns="n", queue="q", limit=5),
    o.AddWebhook(
        agent=A, hook_id="h1", url="https://example.com/h", namespaces=("n",), secret="whsec_x"
    ),
    o.ListWebhooks(agent=A),
    o.RemoveWebhook(agent=A, hook_id="h/1"),
    o.WebhookDeliveries(agent=A, hook_id="h1", limit=3),
    o.GrantLease(agent=A, ns="n", ttl=2.5, lease_hex="ab" * 16),
    o.KeepAlive(agent=A, ns="n", lease_id="n/" + "ab" * 16),
    o.RevokeLease(agent=A, ns="n", lease_id="n/" + "ab" * 16),
    o.Join(agent=A, ns="n", lease_id="n/" + "ab" * 16, info_json='{"a": 1}'),
    o.ListPresence(agent=A, ns="n"),
    o.TryLock(agent=A, ns="n", name="deploy/é", ttl=3.0, ticket="t1", lease_hex="cd" * 16),
    o.Unlock(agent=A, ns="n", name="deploy/é", token=7),
    o.LockInfo(agent=A, ns="n", name="deploy/é"),
    o.LockTurn(agent=A, ns="n", name="deploy/é", ticket="t1"),
    o.ListLocks(agent=A, ns="n.1", limit=5, cursor="ZGVwbG95"),
    o.ListQueues(agent=A, ns="n:1", limit=2),
    o.Transaction(
        agent=A,
        compares=(o.TxnCompare("n", "k", "version", 1), o.TxnCompare("n", "k", "value", "1")),
        success=(o.TxnStep("write", "m", "k", "2", 5.0, 1), o.TxnStep("delete", "n", "j")),
        failure=(o.TxnStep("read", "n", "k"),),
    ),
]


def _route_of(method: str, path: str) -> RouteSpec:
    """The table's route a request goes to (as Starlette matches it: first match wins)."""
    for route in ROUTES:
        pattern = re.sub(r"{(\w+)}", lambda m: "(?P<" + m[1] + ">[^/]+)", route.path)
        if route.verb == method and re.fullmatch(pattern, path):
            return route
    raise AssertionError(f"no route of the table serves {method} {path}")


def test_every_op_type_is_sampled() -> None:
    assert {type(op) for op in OPS} | {MemoryCall} == set(_CALLS)


@pytest.mark.parametrize("op", OPS, ids=lambda op: type(op).__name__)
def test_each_call_is_a_table_route(op: o.Op[Any]) -> None:
    """Verb and path are a table route's; its idempotency header and resend safety too."""
    call = call_for(op)
    route = _route_of(call.method, call.path)
    assert call.retry_safe == route.retry_safe
    if "Idempotency-Key" in call.headers:
        assert route.idempotency_key
    elif route.idempotency_key:
        assert isinstance(op, o.GetMany)  # an atomic read through the batch route
    if call.body is not None:
        body = orjson.loads(call.body)
        assert set(body) <= route.fields
        assert set(route.required) <= set(body)


@pytest.mark.parametrize("route", MEMORY_ROUTES, ids=lambda r: r.name)
def test_each_memories_call_is_its_route(route: RouteSpec) -> None:
    """A memories method's request goes to the route of that method."""
    assert route.plan is not None
    args: dict[str, Any] = {name: "x.y" for name in route.path_names if name != "ns"}
    if route.whole_body is not None:
        args[route.whole_body] = {"content": "c"}
    call = call_for(MemoryCall(agent=A, ns="n", method=route.plan, args=args))
    assert _route_of(call.method, call.path) is route
    assert ("Idempotency-Key" in call.headers) == route.idempotency_key


def test_mcp_arguments_take_the_routes_schemas() -> None:
    """The tools' arguments that the HTTP API also takes accept what its routes accept."""

    def bare(schema: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in schema.items() if k != "description"}

    write = TOOLS["write"].input_schema()["properties"]
    put = BY_NAME["put_entry"]
    body = put.body_schema([])
    assert body is not None
    for name in ("value", "ttl", "expected_version"):
        assert bare(write[name]) == bare(body["properties"][name])
    params = {p.name: p.schema for p in put.params}
    assert bare(write["namespace"]) == bare(params["ns"])
    assert bare(write["key"]) == bare(params["key"])
