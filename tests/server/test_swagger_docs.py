"""``/docs``: Swagger UI served by the server itself, offline, under a strict CSP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import orjson
import pytest
from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from hivemem.errors import HivememError
from hivemem.server import swagger
from hivemem.server._http import error_response
from hivemem.server.openapi import build_openapi
from hivemem.testing.server import ServerThread

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.requests import Request

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
]
DOCUMENT = build_openapi([])


async def _openapi(request: Request) -> Response:
    return Response(orjson.dumps(DOCUMENT), media_type="application/json")


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HivememError)
    return error_response(exc)


@pytest.fixture(scope="module")
def docs_url() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/openapi.json", _openapi),
            Route("/docs", swagger.page),
            *swagger.ASSET_ROUTES,
        ],
        exception_handlers={HivememError: _error},
    )
    with ServerThread() as thread:
        url = thread.mount(app)
        yield url
        thread.unmount(url)


def test_docs_page_and_files_carry_the_strict_policy(docs_url: str) -> None:
    for path in ("/docs", *(f"/docs/assets/{name}" for name in swagger.ASSETS)):
        answer = httpx.get(docs_url + path, timeout=10)
        assert answer.status_code == 200, path
        assert answer.headers["content-security-policy"] == swagger.CSP
        assert "'unsafe-inline'" not in swagger.CSP and "'unsafe-eval'" not in swagger.CSP
    assert httpx.get(docs_url + "/docs/assets/index.html", timeout=10).status_code == 404
    assert httpx.get(docs_url + "/docs/assets/..%2Finit.js", timeout=10).status_code == 404


def test_swagger_ui_renders_every_operation_with_no_outside_request(docs_url: str) -> None:
    operations = sum(
        1
        for item in DOCUMENT["paths"].values()
        for method in item
        if method in {"get", "put", "post", "delete", "patch"}
    )
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(docs_url + "/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            shown = page.locator(".opblock").count()
            title = page.locator(".info .title").inner_text()
        finally:
            browser.close()
    assert errors == []
    origin = docs_url.split("/s", 1)[0]
    assert requests and all(url.startswith(origin) for url in requests), requests
    assert shown == operations
    assert DOCUMENT["info"]["title"] in title
