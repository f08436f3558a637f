"""Webhook routes (SPEC §19): add, list, remove, delivery log.

Adding checks the target here, in the server, with the server's own resolver and
``--allow-webhook-host`` setting (:mod:`hivemem.webhooks.guard`), before the engine checks
permissions and stores the webhook; the delivery worker checks the address again before
every request.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from hivemem.engine import ops as o
from hivemem.server._http import json_response, query_int
from hivemem.server.routes._common import body_of, endpoint, fields
from hivemem.webhooks.guard import Allow, resolve
from hivemem.wire.table import BY_NAME

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from hivemem.server.app import Hub
    from hivemem.server.auth import Caller

__all__ = ["HANDLERS"]

_ADD = BY_NAME["add_webhook"]


@endpoint
async def list_webhooks(request: Request, hub: Hub, caller: Caller) -> Response:
    hooks = await hub.run(caller, o.ListWebhooks(agent=caller.agent))
    return json_response({"webhooks": [h.to_dict() for h in hooks]})


@endpoint
async def add_webhook(request: Request, hub: Hub, caller: Caller) -> Response:
    body = await body_of(request, hub)
    fields(body, _ADD.fields, _ADD.required)
    op = hub.core.add_webhook(
        body["url"],
        body["namespaces"],
        body.get("events", ["memory:*"]),
        body.get("secret"),
        caller.agent,
    )
    allow = Allow.parse(hub.config.allow_webhook_hosts)
    await asyncio.to_thread(resolve, op.url, allow)  # the SSRF guard, before anything is stored
    hook = await hub.run(caller, op)
    return json_response(hook.to_dict(), 201)


def _hook_id(request: Request, hub: Hub) -> str:
    return hub.core.webhook_id(request.path_params["hook_id"])


@endpoint
async def remove_webhook(request: Request, hub: Hub, caller: Caller) -> Response:
    op = o.RemoveWebhook(agent=caller.agent, hook_id=_hook_id(request, hub))
    return json_response({"removed": await hub.run(caller, op)})


@endpoint
async def webhook_deliveries(request: Request, hub: Hub, caller: Caller) -> Response:
    limit = query_int(request, "limit", 100)
    op = o.WebhookDeliveries(
        agent=caller.agent,
        hook_id=_hook_id(request, hub),
        limit=hub.core.webhook_limit(100 if limit is None else limit),
    )
    deliveries = await hub.run(caller, op)
    return json_response({"deliveries": [d.to_dict() for d in deliveries]})


#: The handler of each route of the table served here, by route name.
HANDLERS = {
    "list_webhooks": list_webhooks,
    "add_webhook": add_webhook,
    "remove_webhook": remove_webhook,
    "webhook_deliveries": webhook_deliveries,
}
