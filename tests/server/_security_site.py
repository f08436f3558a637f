"""Helpers of the server security tests (``test_security.py``).

:class:`Site` is one app with auth on, mounted on a real uvicorn server over its own SQLite
file, with an admin token minted straight into the store: :meth:`Site.call` sends requests
with whatever token (or none) a test names, and :meth:`Site.snapshot` reads back, as admin,
everything a request could change. :class:`ServerProcess` runs ``_security_serve.py`` (the
same app, auth on) as a subprocess over a shared SQLite file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from hivemem._connect import _open
from hivemem.server.auth import TokenStore
from hivemem.testing.server import free_port

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from hivemem._core import Core

__all__ = ["ADMIN", "DEADLINE", "MAX_STREAMS", "ServerProcess", "Site", "mint_admin", "open_core"]

#: The agent of the admin token.
ADMIN = "root"
#: Streams one token may hold on a :class:`Site` (small, so the cap test opens few).
MAX_STREAMS = 3
#: Generous deadline (seconds) for anything that waits on the server.
DEADLINE = 30.0

LAUNCHER = Path(__file__).with_name("_security_serve.py")


def open_core(db: Path, durability: str = "full") -> Core:
    """Open the SQLite store at ``db`` as a server does (no sweeper)."""
    options = {"cleanup_interval": 0, "durability": durability}
    core: Core = _open(f"sqlite:///{db}", None, None, options)
    # A server loads its embedder at start (its lifespan, which a mounted app does not run):
    # here too, so no request waits for the model (once per process; tens of seconds busy).
    load = getattr(core.settings.embedder, "load", None)
    if load is not None:
        load()
    return core


def mint_admin(core: Core) -> str:
    """Create an admin token for :data:`ADMIN` straight in the store; return it."""
    tokens = TokenStore(core.backend)
    tokens.ensure()
    token: str = tokens.create(ADMIN, "admin")[0]
    return token


@dataclass
class Site:
    """One app with auth on, mounted on the test server, over its own SQLite file."""

    url: str
    db: Path
    core: Core
    app: Starlette
    admin: str
    http: httpx.Client
    tokens: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request (``token`` as a bearer token, if given) and read the answer."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.url + path, headers=sent, **kwargs)

    def ok(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        """Send a request that must succeed (2xx); return its JSON body."""
        resp = self.call(method, path, token, **kwargs)
        assert resp.is_success, (method, path, resp.status_code, resp.text)
        return resp.json()

    def admin_ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`ok` with the admin token."""
        return self.ok(method, path, self.admin, **kwargs)

    def token(self, agent: str, role: str = "agent") -> str:
        """A new token for ``agent`` (created through the API, as admin)."""
        body = self.admin_ok("POST", "/v1/tokens", json={"agent": agent, "role": role})
        token: str = body["token"]
        self.tokens[token] = body["id"]
        return token

    def token_id(self, token: str) -> str:
        """The id of a token made by :meth:`token`."""
        return self.tokens[token]

    def revoke(self, token: str) -> None:
        """Revoke a token made by :meth:`token` (as admin)."""
        self.admin_ok("DELETE", f"/v1/tokens/{self.tokens[token]}")

    def namespace(
        self,
        name: str,
        default_permission: str | None = "write",
        permissions: dict[str, str | None] | None = None,
        entries: dict[str, Any] | None = None,
    ) -> None:
        """Create (or, for ``default``, reconfigure) a namespace as admin and fill it.

        Overrides are given at creation: afterwards ``None`` in an update removes an override
        (SPEC §6) rather than denying access, so the ``default`` namespace (which always
        exists) cannot take a ``None`` override.
        """
        config: dict[str, Any] = {"default_permission": default_permission}
        if name == "default":
            assert None not in (permissions or {}).values(), "default takes no None override"
            self.admin_ok("PATCH", "/v1/namespaces/default", json=config)
            if permissions:
                body: dict[str, Any] = {"permissions": permissions}
                self.admin_ok("PUT", "/v1/namespaces/default/permissions", json=body)
        else:
            body = {"name": name, **config}
            if permissions:
                body["permissions"] = {ADMIN: "admin", **permissions}
            self.admin_ok("POST", "/v1/namespaces", json=body)
        for key, value in (entries or {}).items():
            self.admin_ok("PUT", f"/v1/namespaces/{name}/entries/{key}", json={"value": value})

    def snapshot(self, audit: bool = True) -> dict[str, Any]:
        """Everything a request could change, read as admin.

        Namespaces (config and revision), every entry of each, the token records and
        (with ``audit``) the audit records of every agent but the admin (whose own reads
        for this snapshot are audited too).
        """
        state: dict[str, Any] = {}
        namespaces = self.admin_ok("GET", "/v1/namespaces")["namespaces"]
        state["namespaces"] = sorted(namespaces, key=lambda n: n["name"])
        state["entries"] = {
            n["name"]: self.admin_ok("GET", f"/v1/namespaces/{n['name']}/entries?limit=10000")
            for n in namespaces
        }
        state["tokens"] = self.admin_ok("GET", "/v1/tokens")["tokens"]
        if audit:
            records = self.admin_ok("GET", "/v1/audit?limit=100000")["items"]
            state["audit"] = [r for r in records if r["agent_id"] != ADMIN]
        return state


class ServerProcess:
    """``_security_serve.py`` serving a SQLite file on a free port, in a subprocess."""

    def __init__(self, db: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = db.with_name(f"server-{self.port}.log")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(LAUNCHER), str(db), str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        """Return once ``/readyz`` answers 200 (fail if the process dies or takes too long)."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.log.read_text(errors="replace")
                raise AssertionError(f"server process exited with {self.proc.returncode}: {err}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server process on port {self.port} did not get ready")

    def stop(self) -> None:
        """Stop the process (by its pid) and wait for it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
