"""Namespace routes: list, create, show, update, permissions, clear, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hivemem import _validate as v
from hivemem.engine import ops as o
from hivemem.errors import InvalidArgument
from hivemem.server._http import json_response, query_int, query_str
from hivemem.server.routes._common import body_of, endpoint, fields, integral
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller
    from hivemem.types import NamespaceInfo

__all__ = ["HANDLERS"]

_CREATE = BY_NAME["create_namespace"]
_UPDATE = BY_NAME["update_namespace"]
_PERMISSIONS = BY_NAME["update_permissions"]


def _ns(request: Request) -> str:
    return str(request.path_params["ns"])


def _resolver(body: dict[str, object]) -> None:
    """Refuse what only a Python caller can give (a callable resolver), or no store can keep."""
    if body.get("resolver") is not None and not isinstance(body["resolver"], str):
        raise InvalidArgument("resolver must be the name of a resolver registered on the server")
    integral(body, "max_entries")
    limit = body.get("max_entries")
    if isinstance(limit, int) and limit > v.MAX_INT:
        raise InvalidArgument(f"invalid max_entries {limit}: at most {v.MAX_INT}")


#: Most namespaces one ``GET /v1/namespaces?limit=`` page answers.
MAX_NAMESPACE_PAGE = 10_000


@endpoint
async def list_namespaces(request: Request, hub: Hub, caller: Caller) -> Response:
    """Every readable namespace, or with ``limit`` one page of them.

    ``next_cursor`` names the next page (``None`` on the last, and always without ``limit``).
    """
    limit = query_int(request, "limit")
    cursor = query_str(request, "cursor")
    if limit is not None and not 1 <= limit <= MAX_NAMESPACE_PAGE:
        raise InvalidArgument(f"limit must be 1-{MAX_NAMESPACE_PAGE}")
    op = o.ListNamespaces(agent=caller.agent, after=cursor, limit=limit)
    infos = await hub.run(caller, op)
    more = limit is not None and len(infos) == limit
    # Encoding thousands of namespaces takes milliseconds: off the event loop, as their read.
    return await hub.off_loop(_namespaces_page, infos, more)


def _namespaces_page(infos: list[NamespaceInfo], more: bool) -> Response:
    return json_response(
        {
            "namespaces": [i.to_dict() for i in infos],
            "next_cursor": infos[-1].name if more else None,
        }
    )


@endpoint
async def create_namespace(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, _CREATE.fields, _CREATE.required)
    _resolver(body)
    op = hub.core.create_namespace(
        body["name"],
        caller.agent,
        body.get("default_permission", "write"),
        body.get("permissions"),
        body.get("conflict_strategy", "latest-wins"),
        body.get("resolver"),
        body.get("ttl"),
        body.get("max_entries"),
        body.get("description", ""),
        _flag(body.get("exist_ok", False), "exist_ok"),
        body.get("group"),
    )
    info = await hub.run(caller, op)
    return json_response(info.to_dict(), 201)


@endpoint
async def get_namespace(request: Request, hub: Hub, caller: Caller) -> Response:
    op = o.GetNamespace(agent=caller.agent, ns=hub.core.ns(_ns(request)))
    return json_response((await hub.run(caller, op)).to_dict())


@endpoint
async def update_namespace(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, _UPDATE.fields)
    _resolver(body)
    op = hub.core.update_namespace(_ns(request), caller.agent, body)
    return json_response((await hub.run(caller, op)).to_dict())


@endpoint
async def update_permissions(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, _PERMISSIONS.fields, _PERMISSIONS.required)
    op = hub.core.update_permissions(_ns(request), body["permissions"], caller.agent)
    return json_response((await hub.run(caller, op)).to_dict())


@endpoint
async def clear_namespace(request: Request, hub: Hub, caller: Caller) -> Response:
    op = o.ClearNamespace(agent=caller.agent, ns=hub.core.ns(_ns(request)))
    return json_response({"cleared": await hub.run(caller, op)})


@endpoint
async def delete_namespace(request: Request, hub: Hub, caller: Caller) -> Response:
    op = o.DeleteNamespace(agent=caller.agent, ns=hub.core.ns(_ns(request)))
    await hub.run(caller, op)
    return json_response({"deleted": True})


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name} must be true or false")
    return value


#: The handler of each route of the table served here, by route name.
HANDLERS = {
    "list_namespaces": list_namespaces,
    "create_namespace": create_namespace,
    "get_namespace": get_namespace,
    "update_namespace": update_namespace,
    "delete_namespace": delete_namespace,
    "clear_namespace": clear_namespace,
    "update_permissions": update_permissions,
}
