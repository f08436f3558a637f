"""Reserved agent ids (issue 15, item 8): ``system``, ``admin`` and the store's own agents
cannot be minted as tokens, named by ``--no-auth``'s ``X-Agent-Id``, or used by a token
minted before they were reserved (such a token does not administer ``default``)."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from hivemem import _validate as v
from hivemem._connect import _open
from hivemem.engine import ops as o
from hivemem.errors import InvalidArgument
from hivemem.server import ServerConfig, create_app
from hivemem.server.auth import TOKENS_NAMESPACE, TokenStore, digest
from hivemem.testing.server import ServerThread

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

RESERVED = sorted(v.RESERVED_AGENTS)


def test_the_store_s_own_agents_are_reserved() -> None:
    from hivemem.engine.apply import SYSTEM_AGENT
    from hivemem.memories.scheduler import AGENT as DECAY
    from hivemem.server.fanout import _STORE

    assert {SYSTEM_AGENT, DECAY, _STORE.agent, "admin"} <= v.RESERVED_AGENTS


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as thread:
        yield thread


def _mount(server: ServerThread, tmp_path: Path, auth: bool) -> tuple[str, Any]:
    core = _open(f"sqlite:///{tmp_path}/s.db", None, None, {})
    return server.mount(create_app(core, ServerConfig(auth=auth))), core


@pytest.mark.parametrize("agent", RESERVED)
def test_no_token_can_be_minted_for_a_reserved_agent(tmp_path: Path, agent: str) -> None:
    core = _open(f"sqlite:///{tmp_path}/s.db", None, None, {})
    try:
        tokens = TokenStore(core.backend)
        tokens.ensure()
        with pytest.raises(InvalidArgument, match="reserved"):
            tokens.create(agent, "admin")
        assert tokens.list() == []
    finally:
        core.close()
    cli = [sys.executable, "-m", "hivemem", "token", "create", agent]
    out = subprocess.run(
        [*cli, "--store", f"sqlite:///{tmp_path}/s.db"], capture_output=True, text=True
    )
    assert out.returncode != 0 and "reserved" in out.stderr, out


def test_no_token_can_be_minted_through_the_server(server: ServerThread, tmp_path: Path) -> None:
    url, core = _mount(server, tmp_path, auth=True)
    try:
        root, _ = TokenStore(core.backend).create("root", "admin")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {root}"}) as http:
            for agent in RESERVED:
                response = http.post("/v1/tokens", json={"agent": agent, "role": "agent"})
                assert response.status_code == 422, response.text
    finally:
        server.unmount(url)
        core.close()


def test_an_old_token_for_system_does_not_administer_default(
    server: ServerThread, tmp_path: Path
) -> None:
    url, core = _mount(server, tmp_path, auth=True)
    try:
        # A token record written before the ids were reserved (as create() used to).
        token = "hm_old-system-token"
        value = {"agent": "system", "role": "agent", "label": "", "created_at": 0.0}
        put = o.Put(
            agent="system",
            admin=True,
            internal=True,
            ns=TOKENS_NAMESPACE,
            key=digest(token),
            value_json=orjson.dumps(value).decode(),
        )
        TokenStore(core.backend).ensure()
        core.backend.execute(put).unwrap()
        assert TokenStore(core.backend).lookup(token) is not None
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
            assert http.patch("/v1/namespaces/default", json={"ttl": 5}).status_code == 403
            assert http.put("/v1/namespaces/default/permissions",
                            json={"permissions": {"x": "admin"}}).status_code == 403  # fmt: skip
            assert http.get("/v1/namespaces/default/entries").status_code == 403
        assert (
            core.backend.execute(o.GetNamespace(agent="root", admin=True, ns="default"))
            .unwrap()
            .ttl
            is None
        )
    finally:
        server.unmount(url)
        core.close()


@pytest.mark.parametrize("agent", RESERVED)
def test_no_auth_cannot_name_a_reserved_agent(
    server: ServerThread, tmp_path: Path, agent: str
) -> None:
    url, core = _mount(server, tmp_path, auth=False)
    try:
        with httpx.Client(base_url=url, headers={"X-Agent-Id": agent}) as http:
            response = http.patch("/v1/namespaces/default", json={"ttl": 5})
            assert response.status_code == 422, response.text
            assert "reserved" in response.json()["error"]["message"]
            response = http.put("/v1/namespaces/default/entries/k", json={"value": 1})
            assert response.status_code == 422, response.text
        with httpx.Client(base_url=url, headers={"X-Agent-Id": "worker"}) as http:
            assert http.put("/v1/namespaces/default/entries/k", json={"value": 1}).is_success
    finally:
        server.unmount(url)
        core.close()


def test_the_server_s_first_admin_token_still_works(server: ServerThread, tmp_path: Path) -> None:
    """``hivemem serve`` mints its first admin token for the reserved ``admin`` agent itself;
    a plain agent token for ``admin`` (minted before the ids were reserved) is refused."""
    url, core = _mount(server, tmp_path, auth=True)
    try:
        tokens = TokenStore(core.backend)
        tokens.ensure()
        first, record = tokens.create("admin", "admin", "created on first start", first=True)
        assert (record.agent, record.role) == ("admin", "admin")
        with pytest.raises(InvalidArgument):
            tokens.create("admin", "agent", first=True)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {first}"}) as http:
            assert http.patch("/v1/namespaces/default", json={"ttl": 5}).status_code == 200
    finally:
        server.unmount(url)
        core.close()
