"""The conversation, entity, tool-usage and summary routes (SPEC §7, §8) over real HTTP."""

from __future__ import annotations

import httpx

from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app
from hivemem.testing.server import ServerThread


def test_conversation_routes_roundtrip(tmp_path):
    core = _open(f"sqlite:///{tmp_path}/c.db", None, None, {"cleanup_interval": 0})
    app = create_app(core, ServerConfig(auth=True))
    token, _ = app.state.hub.tokens.create("alice", "agent")
    try:
        with ServerThread() as server:
            url = server.mount(app)
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as h:
                c = "/v1/conversations/conv-1"
                assert h.put(f"{c}/fields/user", json={"value": {"n": 1}}).status_code == 200
                assert h.get(f"{c}/fields/user").json() == {"value": {"n": 1}}
                assert h.get(f"{c}/fields/nope").status_code == 404
                assert h.post(f"{c}/lists/todo/extend", json={"items": [1, 2, 3]}).json() == {
                    "length": 3
                }
                assert h.post(f"{c}/lists/todo/pop", json={}).json() == {"value": 3}
                assert h.post(f"{c}/lists/todo/insert", json={"index": 0, "item": 0}).json() == {
                    "length": 3
                }
                assert h.get(f"{c}/lists/todo").json() == {"items": [0, 1, 2], "length": 3}
                r = h.post(f"{c}/lists/empty/pop", json={})
                assert (r.status_code, r.json()["error"]["code"]) == (409, "index_out_of_range")
                r = h.post(f"{c}/lists/todo/remove", json={"item": 9})
                assert (r.status_code, r.json()["error"]["code"]) == (404, "item_not_found")
                msg = h.post(f"{c}/messages", json={"role": "user", "content": "hi"})
                assert msg.status_code == 201
                assert msg.json()["role"] == "user"
                got = h.get(f"{c}/messages", params={"limit": 5}).json()
                assert got["count"] == 1
                assert got["messages"][0]["content"] == "hi"
                shown = h.get(c).json()
                assert shown["fields"]["user"] == {"n": 1}
                assert shown["message_count"] == 1
                assert h.get("/v1/conversations").json() == {"conversations": ["conv-1"]}
                assert h.put(f"{c}/ttl", json={"seconds": 3600}).json()["updated"] >= 3
                assert h.put("/v1/entities/user/u1", json={"data": {"a": 1}}).status_code == 200
                assert h.get("/v1/entities/user/u1").json() == {"data": {"a": 1}}
                assert h.get("/v1/entities/user").json() == {"entities": {"u1": {"a": 1}}}
                assert h.delete("/v1/entities/user/u1").json() == {"deleted": True}
                assert (
                    h.post("/v1/tool-usage", json={"tool": "calc", "args": [1]}).status_code == 201
                )
                items = h.get("/v1/tool-usage", params={"tool": "calc"}).json()["items"]
                assert [(i["tool"], i["agent"]) for i in items] == [("calc", "alice")]
                summary = h.get("/v1/summary").json()
                assert summary["tools"] == {"calc": 1}
                assert h.delete(c).json()["deleted"] >= 3
                assert h.get("/v1/conversations").json() == {"conversations": []}
                assert httpx.get(f"{url}/v1/summary").status_code == 401
    finally:
        core.close()
