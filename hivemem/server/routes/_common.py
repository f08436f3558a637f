"""What every route module uses: the authenticated endpoint wrapper and body checks."""

from __future__ import annotations

import asyncio
import functools
from time import perf_counter
from typing import TYPE_CHECKING, Any

import orjson

from hivemem.errors import HivememError, InvalidArgument
from hivemem.server._http import JSON, error_response, json_response, read_json
from hivemem.server.app import EVENT_SINK, hub_of
from hivemem.server.metrics import OK

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from collections.abc import Set as AbstractSet

    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller
    from hivemem.types import Event

    Handler = Callable[[Request, Hub, Caller], Awaitable[Response]]

__all__ = ["CODE_KEY", "body_of", "counted", "endpoint", "fields", "integral", "status_code"]

#: Where an endpoint that answered an error without raising it (``X-Hivemem-Events``) leaves
#: the error's code for the operation metrics.
CODE_KEY = "hivemem.code"


def status_code(status: int) -> str:
    """The ``code`` label of an error answered without an exception, by its status."""
    return "not_found" if status == 404 else f"http_{status}"


def counted(
    name: str, handler: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a route's endpoint so that each call counts in ``hivemem_ops_total{op=name}``.

    The outcome is ``ok``, the :class:`~hivemem.errors.HivememError`'s code, ``internal``
    for any other exception, ``cancelled`` when the client went away.
    """

    @functools.wraps(handler)
    async def counted_handler(request: Request) -> Response:
        start = perf_counter()
        code = "internal"
        try:
            response = await handler(request)
            status = response.status_code
            code = OK if status < 400 else request.scope.get(CODE_KEY) or status_code(status)
            return response
        except HivememError as exc:
            code = exc.code
            raise
        except asyncio.CancelledError:
            code = "cancelled"
            raise
        finally:
            hub_of(request).metrics.op(name, code, perf_counter() - start)

    return counted_handler


def endpoint(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler ``fn(request, hub, caller)``: authenticate first, then call it."""

    @functools.wraps(fn)
    async def handler(request: Request) -> Response:
        hub = hub_of(request)
        caller = await hub.caller(request)
        if request.headers.get("x-hivemem-events") != "1":
            return await fn(request, hub, caller)
        return await _with_events(fn, request, hub, caller)

    return handler


async def _with_events(fn: Handler, request: Request, hub: Hub, caller: Caller) -> Response:
    """Answer ``{"result": <the usual body>, "events": [...]}``.

    The events are those of the caller's own ops, for the in-process listeners (``on``) of
    a remote client.
    """
    sink: list[Event] = []
    token = EVENT_SINK.set(sink)
    try:
        try:
            response = await fn(request, hub, caller)
        except HivememError as exc:
            request.scope[CODE_KEY] = exc.code
            response = error_response(exc)
    finally:
        EVENT_SINK.reset(token)
    body = getattr(response, "body", None)
    if body is None or response.media_type != JSON:
        return response
    wrapped = {"result": orjson.Fragment(body), "events": [e.to_dict() for e in sink]}
    return json_response(wrapped, response.status_code)


async def body_of(request: Request, hub: Hub) -> dict[str, Any]:
    """The request's JSON object body (bounded by the server's body limit)."""
    body = await read_json(request, hub.config.max_body_bytes)
    if not isinstance(body, dict):
        raise InvalidArgument("request body must be a JSON object")
    return body


def fields(body: dict[str, Any], allowed: AbstractSet[str], required: tuple[str, ...] = ()) -> None:
    """Refuse unknown fields and missing required ones.

    Raises:
        InvalidArgument: naming the offending fields.
    """
    unknown = set(body) - allowed
    if unknown:
        raise InvalidArgument(
            f"unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}"
        )
    missing = [f for f in required if f not in body]
    if missing:
        raise InvalidArgument(f"missing field(s): {', '.join(missing)}")


def integral(body: dict[str, Any], *names: str) -> None:
    """Take integral numbers written as floats (``2.0``) as integers, as JSON Schema does."""
    for name in names:
        value = body.get(name)
        if isinstance(value, float) and value.is_integer():
            body[name] = int(value)


def page_response(page: Any) -> Response:
    """A :class:`~hivemem.types.Page` as JSON: ``{"items": [...], "next_cursor"}``."""
    return json_response(
        {"items": [item.to_dict() for item in page.items], "next_cursor": page.next_cursor}
    )
