"""Export and import over HTTP (SPEC §20): the routes of ``hivemem export|import`` on a server.

``GET .../dump/entries`` and ``GET .../dump/events`` page a namespace's stored entries and
retained events as export records (namespace admins); ``POST .../restore`` writes them
back verbatim (the server's admin token only). The records are those of the export file,
checked by :mod:`hivemem.engine.restore` as for an embedded import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem._validate import check_namespace
from hivemem.engine import ops as o
from hivemem.engine.restore import (
    MAX_BATCH,
    config_from_record,
    entry_record,
    event_from_record,
    stored_from_record,
)
from hivemem.errors import InvalidArgument
from hivemem.server._http import json_response, query_int, query_str
from hivemem.server.routes._common import body_of, endpoint, fields

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["HANDLERS"]


def _limit(request: Request) -> int:
    limit = query_int(request, "limit", MAX_BATCH)
    if limit is None or not 1 <= limit <= MAX_BATCH:
        raise InvalidArgument(f"limit must be between 1 and {MAX_BATCH}, not {limit}")
    return limit


@endpoint
async def dump_entries(request: Request, hub: Hub, caller: Caller) -> Response:
    ns = check_namespace(request.path_params["ns"])
    op = o.DumpEntries(
        agent=caller.agent, ns=ns, after=query_str(request, "after"), limit=_limit(request)
    )
    rows, after = await hub.run(caller, op)
    return json_response(
        {"entries": [entry_record(ns, k, stored) for k, stored in rows], "after": after}
    )


@endpoint
async def dump_events(request: Request, hub: Hub, caller: Caller) -> Response:
    since = query_int(request, "since", 0) or 0
    op = o.DumpEvents(
        agent=caller.agent,
        ns=check_namespace(request.path_params["ns"]),
        since=since,
        limit=_limit(request),
    )
    return json_response({"events": [e.to_dict() for e in await hub.run(caller, op)]})


def _records(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items = body.get(name, [])
    if not isinstance(items, list) or not all(isinstance(r, dict) for r in items):
        raise InvalidArgument(f"{name} must be a list of objects")
    if len(items) > MAX_BATCH:
        raise InvalidArgument(f"at most {MAX_BATCH} {name} per request")
    return items


@endpoint
async def restore(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, {"config", "entries", "events", "replace"})
    ns = check_namespace(request.path_params["ns"])
    config = body.get("config")
    if config is not None and not isinstance(config, dict):
        raise InvalidArgument("config must be an object or null")
    replace = body.get("replace", False)
    if not isinstance(replace, bool):
        raise InvalidArgument("replace must be a boolean")
    op = o.Restore(
        agent=caller.agent,
        ns=ns,
        config=None if config is None else config_from_record({**config, "name": ns}),
        entries=tuple(stored_from_record(r) for r in _records(body, "entries")),
        events=tuple(
            event_from_record({k: v for k, v in r.items() if k != "kind"})
            for r in _records(body, "events")
        ),
        replace=replace,
    )
    return json_response({"count": await hub.run(caller, op)})


HANDLERS = {"dump_entries": dump_entries, "dump_events": dump_events, "restore": restore}
