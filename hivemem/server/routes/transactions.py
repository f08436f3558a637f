"""The transaction route (SPEC §19): one POST carries the whole transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem._core import NOT_GIVEN
from hivemem.engine.transactions import KINDS
from hivemem.errors import InvalidArgument
from hivemem.server._http import json_response
from hivemem.server.routes._common import body_of, endpoint, fields, integral
from hivemem.server.routes.entries import _idem
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.engine import ops as o
    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["HANDLERS"]

_TXN = BY_NAME["transaction"]
_COMPARE_FIELDS = frozenset({"namespace", "key", "version", "value", "exists"})
_STEP_FIELDS = frozenset({"op", "namespace", "key", "value", "ttl", "expected_version"})


def _items(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items = body.get(name, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidArgument(f"{name} must be a list of objects")
    return items


def _compares(hub: Hub, items: list[dict[str, Any]]) -> list[o.TxnCompare]:
    out: list[o.TxnCompare] = []
    for item in items:
        fields(item, _COMPARE_FIELDS, ("namespace", "key"))
        integral(item, "version")
        targets = [t for t in ("version", "value", "exists") if t in item]
        if len(targets) != 1:
            raise InvalidArgument(
                "a compare names exactly one of version, value, exists", reason="unknown_op"
            )
        args = {t: item.get(t, NOT_GIVEN) for t in ("version", "value", "exists")}
        out += hub.core.txn_compare(item["namespace"], item["key"], **args)
    return out


def _steps(hub: Hub, items: list[dict[str, Any]]) -> list[o.TxnStep]:
    out: list[o.TxnStep] = []
    for item in items:
        fields(item, _STEP_FIELDS, ("op", "namespace", "key"))
        integral(item, "expected_version")
        kind = item["op"]
        if kind not in KINDS:
            raise InvalidArgument(
                f"unknown transaction op {kind!r}: use write, delete or read", reason="unknown_op"
            )
        extra = set(item) - {"op", "namespace", "key"}
        allowed = {"write": {"value", "ttl", "expected_version"}, "delete": {"expected_version"}}
        if extra - allowed.get(kind, set()):
            raise InvalidArgument(f"a {kind} does not take {', '.join(sorted(extra))}")
        if kind == "write" and "value" not in item:
            raise InvalidArgument("a write needs a value")
        out.append(
            hub.core.txn_step(
                kind,
                item["namespace"],
                item["key"],
                item.get("value"),
                item.get("ttl"),
                item.get("expected_version"),
            )
        )
    return out


@endpoint
async def transaction(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, _TXN.fields, _TXN.required)
    op = hub.core.transaction(
        caller.agent,
        _compares(hub, _items(body, "compares")),
        _steps(hub, _items(body, "success")),
        _steps(hub, _items(body, "failure")),
        _idem(request),
    )
    done = await hub.run(caller, op)
    results = [r.to_dict() if hasattr(r, "to_dict") else r for r in done.results]
    return json_response(
        {"succeeded": done.succeeded, "results": results, "revisions": done.revisions}
    )


#: The handler of each route of the table served here, by route name.
HANDLERS = {"transaction": transaction}
