"""Long-term memory and session routes (SPEC §10, §12), built from one table.

Each memories route of the route table (:data:`hivemem.wire.table.ROUTES`, those with a
``plan``) runs that plan method (:class:`hivemem.memories.plans.MemoryPlans`) with the
caller's agent and permissions;
the plans check every argument, so these handlers only gather them from the path, the
query and the body. Mutations honour ``Idempotency-Key``: a repeated request is applied
once and answered with the first outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem.errors import InvalidArgument
from hivemem.memories.api import adrive, plans_for
from hivemem.memories.plans import get_session_plan, session_plan
from hivemem.memories.wire import ROUTES as TABLE
from hivemem.memories.wire import to_json
from hivemem.server._http import json_response, query_bool, query_float, query_int, query_str
from hivemem.server.routes._common import body_of, endpoint, fields, integral
from hivemem.server.routes.entries import _idem

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.memories.plans import Plan
    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller
    from hivemem.wire.table import RouteSpec

__all__ = ["HANDLERS"]

_QUERY: dict[type, Callable[..., Any]] = {
    int: query_int,
    bool: query_bool,
    str: query_str,
    float: query_float,
}


async def _args(request: Request, hub: Hub, route: RouteSpec) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.path_params)
    args.pop("ns", None)
    for name, kind in route.query.items():
        value = _QUERY[kind](request, name)
        if value is not None:
            args[name] = value
    if route.whole_body is not None:
        args[route.whole_body] = await body_of(request, hub)
    elif route.fields:
        body = await body_of(request, hub)
        fields(body, route.fields)
        integral(body, "limit", "k", "expand")
        args.update(body)
    if route.idempotency_key:
        args["idem"] = _idem(request)
    return args


def _plan(
    route: RouteSpec, request: Request, hub: Hub, caller: Caller, args: dict[str, Any]
) -> Plan[Any]:
    method = route.plan
    assert method is not None
    if method == "create_session":
        return session_plan(caller.agent, hub.core.settings.clock, **args)
    if method == "get_session":
        return get_session_plan(caller.agent, args["session_id"])
    ns = hub.core.ns(request.path_params["ns"])
    plans = plans_for(hub.core, caller.agent, ns, None, admin=caller.admin)
    return plans.call(method, args)


def _handler(route: RouteSpec) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request, hub: Hub, caller: Caller) -> Response:
        args = await _args(request, hub, route)
        try:
            plan = _plan(route, request, hub, caller, args)
        except TypeError as exc:  # an argument the method does not take
            raise InvalidArgument(f"bad arguments for {route.plan}: {exc}") from None

        async def run(op: Any) -> Any:
            return await hub.run(caller, op)

        value = await adrive(run, plan)
        return json_response(to_json(method, value), route.status)

    method = route.plan or route.name
    handle.__name__ = method
    handle.__doc__ = f"Memories: {method}."
    return endpoint(handle)


#: A handler per memories route of the table, by route name.
HANDLERS = {r.name: _handler(r) for r in TABLE}
