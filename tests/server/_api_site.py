"""One hivemem app on a test server: a fresh SQLite store, auth on, an admin and an agent token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app
from hivemem.server.auth import TokenStore

if TYPE_CHECKING:
    from pathlib import Path

    from hivemem.testing.server import ServerThread


@dataclass
class Api:
    """One mounted app: its base URL, its store and two tokens."""

    url: str
    core: Any
    admin: str
    agent: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.admin}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def snapshot(self) -> dict[str, Any]:
        """What the store holds: stats (minus the audit count), namespaces and entries."""
        with self.client() as http:
            stats = http.get("/v1/stats").json()
            stats.pop("total_access_logs")
            names = [n["name"] for n in http.get("/v1/namespaces").json()["namespaces"]]
            entries = {
                name: http.get(f"/v1/namespaces/{name}/entries", params={"limit": 10_000}).json()
                for name in names
            }
            namespaces = {name: http.get(f"/v1/namespaces/{name}").json() for name in names}
        return {"stats": stats, "namespaces": namespaces, "entries": entries}


def seed(api: Api) -> None:
    """Namespaces where the agent token can write, only read, or not even see; some entries."""
    with api.client() as http:
        for name, level in (("shared", "read"), ("private", None), ("team", "write")):
            body = {"name": name, "default_permission": level}
            assert http.post("/v1/namespaces", json=body).status_code == 201
        for name in ("default", "shared", "private", "team"):
            r = http.put(f"/v1/namespaces/{name}/entries/greeting", json={"value": {"hi": 1}})
            assert r.status_code == 200, r.text


def mount(server: ServerThread, tmp_path: Path, **config: Any) -> Api:
    """Serve a fresh SQLite store with auth on; mint a ``root`` admin and a ``worker`` token."""
    core = _open(f"sqlite:///{tmp_path}/store.db", None, None, {})
    url = server.mount(create_app(core, ServerConfig(auth=True, **config)))
    tokens = TokenStore(core.backend)
    admin, _ = tokens.create("root", "admin")
    agent, _ = tokens.create("worker", "agent")
    return Api(url, core, admin, agent)
