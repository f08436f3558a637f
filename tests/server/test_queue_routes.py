"""The queue routes refuse malformed input with a stable 4xx and change nothing; never a 5xx."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _api_site import Api

Q = "/v1/namespaces/team/queues/jobs"
TID = "0" * 32

BAD: list[tuple[str, str, Any]] = [
    ("POST", f"{Q}/tasks", {}),
    ("POST", f"{Q}/tasks", {"task": 1, "priority": 1.5}),
    ("POST", f"{Q}/tasks", {"task": 1, "priority": 1 << 40}),
    ("POST", f"{Q}/tasks", {"task": 1, "delay": -1}),
    ("POST", f"{Q}/tasks", {"task": 1, "delay": 1e300}),
    ("POST", f"{Q}/tasks", {"task": 1, "delay": "soon"}),
    ("POST", f"{Q}/tasks", {"task": 1, "extra": True}),
    ("POST", f"{Q}/tasks", {"task": 1, "idempotency_key": ""}),
    ("POST", f"{Q}/tasks", [1, 2]),
    ("POST", f"{Q}/claim", {"visibility": 0}),
    ("POST", f"{Q}/claim", {"visibility": -5}),
    ("POST", f"{Q}/claim", {"visibility": 1e12}),
    ("POST", f"{Q}/claim", {"visibility": None}),
    ("POST", f"{Q}/claim", {"max_attempts": 0}),
    ("POST", f"{Q}/claim", {"worker": "\x00"}),
    ("POST", f"{Q}/tasks/{TID}/ack", {}),
    ("POST", f"{Q}/tasks/{TID}/ack", {"token": -1}),
    ("POST", f"{Q}/tasks/{TID}/ack", {"token": "1"}),
    ("POST", f"{Q}/tasks/nothex/ack", {"token": 1}),
    ("POST", f"{Q}/tasks/{TID}/ack", {"token": 0}),
    ("POST", f"{Q}/tasks/{TID}/ack", {"token": 5}),
    ("POST", f"{Q}/tasks/{TID}/nack", {"token": 5, "delay": -1}),
    ("POST", f"{Q}/tasks/{TID}/extend", {"token": 5}),
    ("POST", f"{Q}/tasks/{TID}/extend", {"token": 5, "visibility": 0}),
    ("GET", f"{Q}/dead?limit=0", None),
    ("GET", f"{Q}/dead?limit=x", None),
    ("GET", "/v1/namespaces/team/queues/bad%20name/stats", None),
    ("GET", "/v1/namespaces/team/queues/a%2Fb/stats", None),
]


@pytest.mark.parametrize(("verb", "path", "body"), BAD, ids=[f"{v} {p} {b}" for v, p, b in BAD])
def test_malformed_queue_requests_are_refused_cleanly(
    api: Api, verb: str, path: str, body: Any
) -> None:
    """A 4xx with a stable error code (never internal), the store unchanged."""
    with api.client(api.agent) as http:
        assert http.post(f"{Q}/tasks", json={"task": "seed"}).status_code == 201
        before = http.get(f"{Q}/stats").json()
        snap = api.snapshot()
        r = http.request(verb, path, json=body) if body is not None else http.request(verb, path)
        assert 400 <= r.status_code < 500, (r.status_code, r.text)
        assert r.json()["error"]["code"] not in ("internal", "")
        assert http.get(f"{Q}/stats").json() == before
    assert api.snapshot()["namespaces"] == snap["namespaces"]


def test_queue_round_trip_over_http(api: Api) -> None:
    """put (201), claim, extend, ack; the reader token sees stats but cannot claim."""
    with api.client(api.agent) as http:
        put = http.post(f"{Q}/tasks", json={"task": {"x": 1}, "priority": 7})
        assert put.status_code == 201 and put.json()["priority"] == 7
        claimed = http.post(f"{Q}/claim", json={"visibility": 30}).json()["task"]
        assert claimed["token"] > 0
        path = f"{Q}/tasks/{claimed['id']}"
        ext = http.post(f"{path}/extend", json={"token": claimed["token"], "visibility": 60})
        assert ext.status_code == 200
        assert http.post(f"{path}/ack", json={"token": claimed["token"]}).json() == {"acked": True}
        again = http.post(f"{path}/ack", json={"token": claimed["token"]})
        assert again.status_code == 409 and again.json()["error"]["reason"] == "claim_lost"
        shared = "/v1/namespaces/shared/queues/jobs"
        assert http.get(f"{shared}/stats").status_code == 200
        assert http.post(f"{shared}/claim", json={}).status_code == 403
        assert http.get("/v1/namespaces/private/queues/jobs/stats").status_code in (403, 404)
