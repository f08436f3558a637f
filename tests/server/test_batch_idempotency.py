"""A repeated non-atomic batch with the same Idempotency-Key applies each op once; a
malformed Idempotency-Key is refused before anything runs."""

from __future__ import annotations

import httpx

from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app
from hivemem.testing.server import ServerThread


def test_non_atomic_batch_is_idempotent(tmp_path):
    core = _open(f"sqlite:///{tmp_path}/b.db", None, None, {"cleanup_interval": 0})
    app = create_app(core, ServerConfig(auth=True))
    token, _ = app.state.hub.tokens.create("alice", "agent")
    ops = [
        {"op": "put", "key": "a", "value": 1},
        {"op": "put", "key": "b", "value": 2},
        {"op": "delete", "key": "a"},
    ]
    try:
        with (
            ServerThread() as server,
            httpx.Client(
                base_url=server.mount(app), headers={"Authorization": f"Bearer {token}"}
            ) as http,
        ):
            first = http.post(
                "/v1/namespaces/ns/batch", json={"ops": ops}, headers={"Idempotency-Key": "k"}
            ).json()
            again = http.post(
                "/v1/namespaces/ns/batch", json={"ops": ops}, headers={"Idempotency-Key": "k"}
            ).json()
            assert again == first
            assert http.get("/v1/namespaces/ns/entries/b").json()["version"] == 1
            assert http.get("/v1/namespaces/ns/entries/a").status_code == 404
            revision = http.get("/v1/namespaces/ns").json()["revision"]
            assert revision == 4  # created, put a, put b, delete a: once each
            bad = http.post(
                "/v1/namespaces/ns/batch", json={"ops": ops}, headers={"Idempotency-Key": "x" * 201}
            )
            assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_argument")
            assert http.get("/v1/namespaces/ns").json()["revision"] == revision
    finally:
        core.close()
