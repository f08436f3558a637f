"""``GET /openapi.json`` and ``GET /docs``: the API described, no token needed.

The docs page is self-contained (no CDN: servers often run without network access): a
small script fetches ``openapi.json`` next to it and lists every operation with its
parameters, body schema and responses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from starlette.responses import HTMLResponse, Response

from hivemem.server.app import hub_of

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["HANDLERS"]


async def openapi(request: Request) -> Response:
    """The OpenAPI document (built once per app)."""
    state = request.app.state
    body: bytes | None = getattr(state, "openapi", None)
    if body is None:
        from hivemem.server.openapi import build_openapi

        resolvers = list(hub_of(request).core.settings.resolvers)
        body = state.openapi = orjson.dumps(build_openapi(resolvers))
    return Response(body, media_type="application/json")


async def docs(request: Request) -> Response:
    """A human page rendering the route list from ``openapi.json``."""
    return HTMLResponse(_PAGE)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hivemem API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
details{border:1px solid #ccc;border-radius:4px;margin:.4rem 0;padding:.3rem .6rem}
summary{cursor:pointer}code,pre{font:12px ui-monospace,monospace}
pre{background:#f6f6f6;padding:.5rem;overflow:auto}
.m{display:inline-block;width:4.5rem;font-weight:bold}.lock{color:#a60}
</style></head><body>
<h1>hivemem API</h1>
<p>Machine-readable: <a href="openapi.json">openapi.json</a>.
Send <code>Authorization: Bearer &lt;token&gt;</code> on every route marked &#128274;.</p>
<div id="routes">loading&hellip;</div>
<script>
const ent = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"};
const esc = s => String(s).replace(/[&<>"]/g, c => ent[c]);
const pre = o => "<pre>" + esc(JSON.stringify(o, null, 2)) + "</pre>";
fetch("openapi.json").then(r => r.json()).then(doc => {
  document.querySelector("p").insertAdjacentHTML("afterend",
    "<p>" + esc(doc.info.description) + "</p>");
  let html = "";
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const lock = op.security && op.security.length ? " <span class=lock>&#128274;</span>" : "";
      html += "<details><summary><span class=m>" + method.toUpperCase() + "</span><code>"
        + esc(path) + "</code> &mdash; " + esc(op.summary) + lock + "</summary>";
      if (op.description) html += "<p>" + esc(op.description) + "</p>";
      if (op.parameters) html += "<h4>Parameters</h4>" + pre(op.parameters);
      if (op.requestBody)
        html += "<h4>Body</h4>" + pre(op.requestBody.content["application/json"].schema);
      html += "<h4>Responses</h4><ul>";
      for (const [code, r] of Object.entries(op.responses))
        html += "<li><b>" + esc(code) + "</b> " + esc(r.description) + "</li>";
      html += "</ul></details>";
    }
  }
  html += "<h2>Schemas</h2>";
  for (const [name, s] of Object.entries(doc.components.schemas))
    html += "<details><summary>" + esc(name) + "</summary>" + pre(s) + "</details>";
  document.getElementById("routes").innerHTML = html;
}).catch(e => {
  document.getElementById("routes").textContent = "could not load openapi.json: " + e;
});
</script></body></html>
"""

#: The handler of each route of the table served here, by route name.
HANDLERS = {"openapi": openapi, "docs": docs}
