"""Seed 000's registry routes over namespace ``default``.

``GET /shared-memory`` answers ``{key: {value, timestamp, owner}}`` for the live entries,
one page at a time: ``limit`` (default :data:`DEFAULT_PAGE`, at most :data:`MAX_PAGE`) and
``cursor``; when more remain, the ``X-Next-Cursor`` header carries the (opaque, base64url)
cursor of the next page (a header, so the body keeps seed 000's shape);
``POST /shared-memory`` takes ``{key, value, owner}`` and writes it. The owner recorded is
always the authenticated agent, whatever the body says.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from hivemem.engine.apply import DEFAULT_NAMESPACE
from hivemem.errors import InvalidArgument
from hivemem.server._http import json_response, query_int, query_str
from hivemem.server.routes._common import body_of, endpoint, fields
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["HANDLERS"]

_PUT = BY_NAME["registry_put"]


#: Entries one ``GET /shared-memory`` answers when the request gives no ``limit``.
DEFAULT_PAGE = 1000
#: Most entries one ``GET /shared-memory?limit=`` answers.
MAX_PAGE = 10_000
#: The response header that carries the cursor of the next page (absent on the last page).
NEXT_CURSOR = "X-Next-Cursor"


@endpoint
async def get_shared_memory(request: Request, hub: Hub, caller: Caller) -> Response:
    """One page of ``default``; the body stays seed 000's map, the next cursor is a header."""
    limit = query_int(request, "limit", DEFAULT_PAGE)
    if limit is None or not 1 <= limit <= MAX_PAGE:
        raise InvalidArgument(f"limit must be 1-{MAX_PAGE}")
    cursor = _decode_cursor(query_str(request, "cursor"))
    op = hub.core.list_entries(DEFAULT_NAMESPACE, caller.agent, "", limit, cursor)
    page = await hub.run(caller, op)
    headers = {NEXT_CURSOR: _encode_cursor(page.next_cursor)} if page.next_cursor else None
    return json_response(
        {e.key: {"value": e.value, "timestamp": e.updated_at, "owner": e.owner} for e in page},
        headers=headers,
    )


def _encode_cursor(cursor: str) -> str:
    # Base64url: a header holds latin-1 only, and the token survives any URL encoding.
    return base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=")


def _decode_cursor(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        return raw.decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("cursor must be the X-Next-Cursor of a previous page") from None


@endpoint
async def post_shared_memory(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, _PUT.fields, _PUT.required)
    op = hub.core.put(DEFAULT_NAMESPACE, body["key"], body["value"], caller.agent, None, None, None)
    entry = await hub.run(caller, op)
    return json_response(
        {
            "status": "success",
            "key": entry.key,
            "entry": {"value": entry.value, "timestamp": entry.updated_at, "owner": entry.owner},
        }
    )


#: The handler of each route of the table served here, by route name.
HANDLERS = {"registry_list": get_shared_memory, "registry_put": post_shared_memory}
