"""/openapi.json and /docs: served without a token, describing every route the app has."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx
import orjson
from starlette.routing import Route

from hivemem.server import ServerConfig
from hivemem.server.openapi import build_openapi
from hivemem.server.routes import ROUTES, ui

if TYPE_CHECKING:
    from _api_site import Api


def test_openapi_served_without_token(api: Api) -> None:
    """The document is OpenAPI 3.1, needs no token and is the one build_openapi() makes."""
    response = httpx.get(f"{api.url}/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc = response.json()
    assert doc["openapi"] == "3.1.0"
    expected = build_openapi(list(api.core.settings.resolvers))
    assert doc == orjson.loads(orjson.dumps(expected))
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}


def test_openapi_lists_every_route() -> None:
    """Every (method, path) the app routes is documented, and nothing else."""
    routed = set()
    for route in ROUTES(ServerConfig()):
        assert isinstance(route, Route)
        if route in ui.ROUTES:
            # The web UI's page and static files: HTML/JS/CSS for browsers, not the API.
            continue
        path = route.path.replace("{key:path}", "{key}")
        routed |= {(m.lower(), path) for m in route.methods or () if m != "HEAD"}
    doc = build_openapi()
    documented = {(m, path) for path, ops in doc["paths"].items() for m in ops}
    assert documented == routed


def test_every_operation_documents_its_errors() -> None:
    """Token routes answer 401/403/422 as the error JSON; bodies can be 413."""
    doc = build_openapi()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            if op["security"]:
                for code in ("401", "403", "422"):
                    schema = responses[code]["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path)
            if "requestBody" in op:
                assert "413" in responses, (method, path)
                body = op["requestBody"]["content"]["application/json"]["schema"]
                assert body["additionalProperties"] is False, (method, path)


def test_events_documented_as_sse() -> None:
    op = build_openapi()["paths"]["/v1/namespaces/{ns}/events"]["get"]
    assert set(op["responses"]["200"]["content"]) == {"text/event-stream", "application/json"}
    assert "410" in op["responses"]


def test_docs_page_without_token(api: Api) -> None:
    """Swagger UI (no CDN: every file from this server) over openapi.json, no token needed."""
    response = httpx.get(f"{api.url}/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "http://" not in response.text and "https://" not in response.text
    assets = re.findall(r'(?:src|href)="(docs/assets/[^"]+)"', response.text)
    assert "docs/assets/swagger-ui-bundle.js" in assets and "docs/assets/init.js" in assets
    for path in assets:
        answer = httpx.get(f"{api.url}/{path}")
        assert answer.status_code == 200, path
        assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert '"openapi.json"' in httpx.get(f"{api.url}/docs/assets/init.js").text


def test_method_not_allowed_lists_every_method(api: Api) -> None:
    """A 405 names every method of the path, not only those of the first route matched."""
    with api.client() as http:
        response = http.request("OPTIONS", "/v1/namespaces/default")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["allow"] == "DELETE, GET, HEAD, PATCH"


def test_events_json_forms_match_schema(api: Api) -> None:
    """The JSON forms of the events route: a probe answers {revision}, since= the events."""
    with api.client(api.agent) as http:
        accept = {"Accept": "application/json"}
        probe = http.get("/v1/namespaces/shared/events", headers=accept)
        assert probe.status_code == 200 and isinstance(probe.json()["revision"], int)
        events = http.get("/v1/namespaces/shared/events", params={"since": 0}, headers=accept)
        assert events.status_code == 200
        assert [e["type"] for e in events.json()["events"]] == ["namespace:created", "memory:write"]
        hidden = http.get("/v1/namespaces/private/events", params={"since": 0}, headers=accept)
        assert hidden.status_code in (403, 404) and "error" in hidden.json()
        for bad in ({"since": ""}, {"since": "x"}, {"since": -1}, {"limit": 0, "since": 0}):
            response = http.get("/v1/namespaces/shared/events", params=bad, headers=accept)
            assert response.status_code == 422, (bad, response.text)
