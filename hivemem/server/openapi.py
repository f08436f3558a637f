"""The OpenAPI 3.1 document of the server, built from the route table.

Every operation comes from :data:`hivemem.wire.table.ROUTES` (the table the server routes
and the client calls with), its schemas from :mod:`hivemem.wire.schemas`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem.wire.schemas import COMPONENTS, ref
from hivemem.wire.table import IDEMPOTENCY_KEY, ROUTES

if TYPE_CHECKING:
    from hivemem.wire.table import RouteSpec

__all__ = ["build_openapi"]

Schema = dict[str, Any]

_STATUS_TEXT = {
    401: "no valid token",
    403: "the token's agent lacks the permission (or names another agent)",
    404: "no such namespace, key, token, memory, group or session",
    409: "conflict: already exists, first-wins, version mismatch, namespace full, quota exceeded",
    410: "the revision asked for is compacted",
    413: "the body, a key or a value is too large",
    422: "invalid input: malformed JSON, wrong types, unknown fields, bad names",
    429: "the token's rate limit (retry after Retry-After), or too many event streams",
    503: "the store does not answer (or, for memories, no embedder is configured)",
}


def _operation(route: RouteSpec, resolvers: list[str]) -> Schema:
    """One operation: its parameters, body, success and error responses."""
    ok: Schema = {"description": "success", "content": {route.media: {"schema": route.ok or {}}}}
    ok["content"].update({media: {"schema": schema} for media, schema in route.also.items()})
    if route.headers:
        ok["headers"] = route.headers
    responses: Schema = {str(route.status): ok}
    body = route.body_schema(resolvers)
    # Every authenticated call counts against its token's rate limit: any may answer 429.
    codes = set(route.errors) | ({401, 403, 422, 429, 503} if route.auth else set())
    if body is not None:
        codes |= {413, 422}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": _STATUS_TEXT[code],
            "content": {"application/json": {"schema": ref("Error")}},
        }
    out: Schema = {"operationId": route.name, "summary": route.summary, "responses": responses}
    params = [p.openapi() for p in route.params]
    if route.idempotency_key:
        params.append(IDEMPOTENCY_KEY.openapi())
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    out["security"] = [{"bearer": []}] if route.auth else []
    if route.description:
        out["description"] = route.description
    return out


def build_openapi(resolvers: list[str] | None = None) -> Schema:
    """The OpenAPI 3.1 document of every route.

    Args:
        resolvers: Names of the resolvers registered on the server (for ``custom``).

    Returns:
        The document as JSON-ready data.
    """
    names = sorted(resolvers or [])
    paths: Schema = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.verb.lower()] = _operation(route, names)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hivemem",
            "version": "1",
            "description": (
                "Shared memory for multi-agent AI systems. Errors answer "
                '{"error": {"code", "message", ...}}. Bodies are at most the server\'s '
                "max_body_bytes (2 MiB by default); JSON with NaN, infinities, integers "
                "beyond 64 bits or invalid UTF-8 is refused."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": dict(COMPONENTS),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
