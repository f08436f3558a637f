"""Namespace routes: list, create, show, update, permissions, clear, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from hivemem import _validate as v
from hivemem.engine import ops as o
from hivemem.errors import InvalidArgument
from hivemem.server._http import json_response, query_int, query_str
from hivemem.server.routes._common import body_of, endpoint, fields, integral

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller
    from hivemem.types import NamespaceInfo

__all__ = ["ROUTES"]

_CONFIG = {
    "default_permission",
    "permissions",
    "conflict_strategy",
    "resolver",
    "ttl",
    "max_entries",
    "description",
}


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
    fields(body, {"name", "exist_ok", *_CONFIG}, ("name",))
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
    fields(body, _CONFIG)
    _resolver(body)
    op = hub.core.update_namespace(_ns(request), caller.agent, body)
    return json_response((await hub.run(caller, op)).to_dict())


@endpoint
async def update_permissions(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, {"permissions"}, ("permissions",))
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


ROUTES = [
    Route("/v1/namespaces", list_namespaces, methods=["GET"]),
    Route("/v1/namespaces", create_namespace, methods=["POST"]),
    Route("/v1/namespaces/{ns}", get_namespace, methods=["GET"]),
    Route("/v1/namespaces/{ns}", update_namespace, methods=["PATCH"]),
    Route("/v1/namespaces/{ns}", delete_namespace, methods=["DELETE"]),
    Route("/v1/namespaces/{ns}/clear", clear_namespace, methods=["POST"]),
    Route("/v1/namespaces/{ns}/permissions", update_permissions, methods=["PUT"]),
]
