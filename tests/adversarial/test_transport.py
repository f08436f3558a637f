"""One caller cannot hold, flood or abuse the server's transport (issue 15, items 4 and 6).

Real ``hivemem serve`` processes on free ports, small configured limits so each attack runs in
seconds: half-sent bodies (raw asyncio sockets), bodies in flight, an event-stream client that
never reads, ``--no-auth`` requests another web page could send, the rate limit, request ids.
Assertions are on answers and on the server's own metrics, not on timing (deadlines only
detect hangs).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import hivemem
from tests.cli.conftest import Server, serving

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: Longest any single step may take before the test calls it a hang.
HANG = 20.0


def _token(server: Server, agent: str) -> str:
    """A new agent token minted through the admin API."""
    admin = server.admin_token
    assert admin is not None
    answer = httpx.post(
        server.url + "/v1/tokens",
        json={"agent": agent},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=HANG,
    )
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


def _metrics(server: Server) -> dict[str, float]:
    """The server's ``/metrics`` as ``{name: value}`` (unlabelled lines only)."""
    admin = server.admin_token
    text = httpx.get(
        server.url + "/metrics", headers={"Authorization": f"Bearer {admin}"}, timeout=HANG
    ).text
    values = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(hivemem_[a-z_]+) ([0-9.e+-]+)", line)
        if match:
            values[match[1]] = float(match[2])
    return values


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


async def _open(server: Server, head: bytes, body: bytes = b"") -> tuple[Any, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
    writer.write(head + body)
    await writer.drain()
    return reader, writer


def _put_head(token: str, length: int, key: str = "k") -> bytes:
    return (
        f"PUT /v1/namespaces/default/entries/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def _answer(reader: Any) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# ----------------------------------------------------------------- request bodies


@pytest.fixture(scope="module")
def bodies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with a 1 s body deadline, 256 KiB bodies, 1 MiB of bodies in flight."""
    path = tmp_path_factory.mktemp("bodies") / "store.db"
    with serving(
        f"sqlite:///{path}",
        "--body-timeout",
        "1",
        "--max-body",
        str(256 << 10),
        "--max-bodies-in-flight",
        str(1 << 20),
    ) as server:
        yield server


def test_half_sent_bodies_are_closed_within_the_body_deadline(bodies: Server) -> None:
    token = _token(bodies, "slow-sender")

    async def attack() -> list[bytes]:
        # Each declares 100 bytes and sends 10: within the in-flight bound, never finished.
        conns = [
            await _open(bodies, _put_head(token, 100, f"k{i}"), b'{"value":') for i in range(40)
        ]
        answers = await asyncio.wait_for(
            asyncio.gather(*(_answer(reader) for reader, _ in conns)), HANG
        )
        for _, writer in conns:
            writer.close()
        return answers

    started = time.monotonic()
    answers = asyncio.run(attack())
    assert time.monotonic() - started < 10  # 1 s deadline: all closed long before a hang
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers[:3]
    assert _metrics(bodies)["hivemem_connections_body_timeouts_total"] >= 40
    # The server still serves, and nothing was written.
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        httpx.get(bodies.url + "/v1/namespaces/default/entries/k0", headers=headers).status_code
        == 404
    )


def test_a_bad_token_is_refused_before_its_body_is_read(bodies: Server) -> None:
    async def attack() -> bytes:
        reader, writer = await _open(bodies, _put_head("hm_not-a-token", 200_000), b"x" * 1000)
        try:
            # The answer comes at once, with the body still 199,000 bytes short.
            return await asyncio.wait_for(_answer(reader), 0.9)
        finally:
            writer.close()

    answer = asyncio.run(attack())
    assert answer.startswith(b"HTTP/1.1 401"), answer
    assert b"connection: close" in answer.lower()


def test_bodies_in_flight_are_bounded(bodies: Server) -> None:
    # One caller holds at most a quarter of the 1 MiB in flight (here 256 KiB = the body
    # limit): its second half-sent body is turned away at once, not buffered.
    token = _token(bodies, "hoarder")
    other = _token(bodies, "bystander")

    async def attack() -> tuple[list[bytes], dict[str, float], int]:
        first = await _open(bodies, _put_head(token, 200_000, "a"), b"{")
        await asyncio.sleep(0.2)
        seconds = [await _open(bodies, _put_head(token, 200_000, f"b{i}"), b"{") for i in range(5)]
        refused = await asyncio.wait_for(
            asyncio.gather(*(_answer(reader) for reader, _ in seconds)), HANG
        )
        held = await asyncio.to_thread(_metrics, bodies)
        # Another caller still gets its writes through meanwhile.
        async with httpx.AsyncClient() as client:
            ok = await client.put(
                bodies.url + "/v1/namespaces/default/entries/fine",
                json={"value": 1},
                headers={"Authorization": f"Bearer {other}"},
            )
        first[1].close()
        for _, writer in seconds:
            writer.close()
        return refused, held, ok.status_code

    refused, held, ok = asyncio.run(attack())
    for answer in refused:
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert b'"server_busy"' in answer and b"retry-after: 1" in answer.lower()
    assert held["hivemem_request_bodies_in_flight_bytes"] == 200_000
    assert held["hivemem_request_bodies_refused_total"] >= 5
    assert ok == 200
    deadline = time.monotonic() + HANG
    while _metrics(bodies)["hivemem_request_bodies_in_flight_bytes"] != 0:
        assert time.monotonic() < deadline, "the reservation of a closed body was never freed"
        time.sleep(0.05)


def test_a_declared_length_over_the_limit_is_refused_unread(bodies: Server) -> None:
    token = _token(bodies, "big")

    async def attack() -> bytes:
        reader, writer = await _open(bodies, _put_head(token, 10 << 20), b"{")
        try:
            return await asyncio.wait_for(_answer(reader), HANG)
        finally:
            writer.close()

    answer = asyncio.run(attack())
    assert answer.startswith(b"HTTP/1.1 413") and b'"too_large"' in answer


# ----------------------------------------------------------------- event streams


def test_an_event_stream_client_that_stops_reading_is_dropped(tmp_path: Path) -> None:
    with serving(
        f"sqlite:///{tmp_path}/store.db",
        "--stream-buffer-bytes",
        str(256 << 10),
        "--stream-buffer-events",
        "100000",
    ) as server:
        token = _token(server, "stalled")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", _port(server)))
        sock.sendall(
            (
                "GET /v1/namespaces/feed/events?since=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        sock.settimeout(HANG)
        assert sock.recv(12) == b"HTTP/1.1 200"
        # Then it never reads again, while writes flow.
        writer = hivemem.connect(server.url, token=server.admin_token)
        value = "x" * (60 << 10)
        dropped = 0.0
        peak = 0.0
        try:
            for i in range(2000):
                writer.write("feed", f"k{i % 50}", value)
                if i % 10 == 9:
                    metrics = _metrics(server)
                    peak = max(peak, metrics["hivemem_event_stream_buffered_bytes"])
                    dropped = metrics.get("hivemem_slow_consumers_dropped_total", 0.0)
                    if dropped:
                        break
        finally:
            writer.close()
        assert dropped == 1, "a client that never read was never dropped"
        # What the server held for it stayed within the bound (plus one chunk of frames).
        assert peak <= (256 << 10) + (1 << 20)
        metrics = _metrics(server)
        assert metrics["hivemem_event_streams"] == 0
        assert metrics["hivemem_event_stream_buffered_bytes"] == 0
        # Its connection was aborted: reading what was buffered ends in a reset or EOF.
        with contextlib.suppress(ConnectionError):
            while sock.recv(1 << 20):
                pass
        sock.close()


# ----------------------------------------------------------------- --no-auth


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("noauth") / "store.db"
    with serving(f"sqlite:///{path}", "--no-auth") as server:
        yield server


def _plan(server: Server) -> int:
    return httpx.get(server.url + "/v1/namespaces/project/entries/plan", timeout=HANG).status_code


def test_no_auth_refuses_requests_another_web_page_could_send(open_server: Server) -> None:
    url = open_server.url
    created = httpx.put(url + "/v1/namespaces/project/entries/plan", json={"value": 1})
    assert created.status_code == 200, created.text
    batch = b'{"ops":[{"op":"delete","key":"plan"}]}'
    target = url + "/v1/namespaces/project/batch"
    cases = {
        "cross-site page": (
            {"Origin": "http://evil.example", "Content-Type": "application/json"},
            403,
            "origin_refused",
        ),
        "plain-text form": ({"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        "no content type": ({}, 415, "unsupported_media_type"),
        "dns rebinding": (
            {"Host": "evil.example", "Content-Type": "application/json"},
            403,
            "origin_refused",
        ),
        "rebinding, our port": (
            {"Host": f"evil.example:{_port(open_server)}", "Content-Type": "application/json"},
            403,
            "origin_refused",
        ),
        "null origin": (
            {"Origin": "null", "Content-Type": "application/json"},
            403,
            "origin_refused",
        ),
    }
    for name, (headers, status, code) in cases.items():
        answer = httpx.post(target, content=batch, headers=headers, timeout=HANG)
        assert answer.status_code == status, (name, answer.text)
        assert answer.json()["error"]["code"] == code, name
        assert _plan(open_server) == 200, f"{name}: the refused request changed something"
    rebound_read = httpx.get(
        url + "/v1/namespaces/project/entries/plan", headers={"Host": "evil.example"}
    )
    assert rebound_read.status_code == 403


def test_no_auth_still_serves_its_own_pages_and_clients(open_server: Server) -> None:
    url = open_server.url
    port = _port(open_server)
    assert httpx.get(url + "/", timeout=HANG).status_code == 200  # the UI
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        same_origin = httpx.put(
            url + "/v1/namespaces/project/entries/ui",
            json={"value": host},
            headers={"Host": host, "Origin": f"http://{host}", "X-Agent-Id": "dev"},
            timeout=HANG,
        )
        assert same_origin.status_code == 200, same_origin.text
    with hivemem.connect(url, agent="dev") as mem:
        mem.write("project", "client", {"ok": True})
        assert mem.read("project", "client") == {"ok": True}


# ----------------------------------------------------------------- rate limit


def test_requests_beyond_the_rate_get_429_with_retry_after(tmp_path: Path) -> None:
    with serving(
        f"sqlite:///{tmp_path}/store.db", "--rate-limit", "2", "--rate-burst", "5"
    ) as server:
        token = _token(server, "flooder")  # the admin's own bucket: 1 request so far
        headers = {"Authorization": f"Bearer {token}"}

        async def flood() -> list[httpx.Response]:
            async with httpx.AsyncClient(headers=headers, timeout=HANG) as client:
                url = server.url + "/v1/namespaces/default/entries/x"
                return await asyncio.gather(*(client.get(url) for _ in range(40)))

        answers = asyncio.run(flood())
        limited = [a for a in answers if a.status_code == 429]
        assert len(limited) >= 20, [a.status_code for a in answers]
        first = limited[0]
        assert first.json()["error"]["code"] == "rate_limited"
        assert int(first.headers["Retry-After"]) >= 1
        # Another token has its own bucket; requests without a token count per address.
        admin = {"Authorization": f"Bearer {server.admin_token}"}
        assert httpx.get(server.url + "/v1/whoami", headers=admin).status_code == 200
        assert _metrics(server)["hivemem_rate_limited_requests_total"] >= 5
        # The remote client waits as told and gets through.
        with hivemem.connect(server.url, token=token) as mem:
            for i in range(4):
                mem.write("default", f"k{i}", i)
            assert mem.read("default", "k3") == 3


# ----------------------------------------------------------------- request ids


def test_request_ids_are_echoed_or_made(tmp_path: Path) -> None:
    with serving(f"sqlite:///{tmp_path}/store.db") as server:
        given = httpx.get(server.url + "/healthz", headers={"X-Request-Id": "trace-42.a:b"})
        assert given.headers["X-Request-Id"] == "trace-42.a:b"
        made = httpx.get(server.url + "/healthz").headers["X-Request-Id"]
        other = httpx.get(server.url + "/healthz").headers["X-Request-Id"]
        assert made and other and made != other
        for bad in ("x" * 129, "a b", "<script>"):
            echoed = httpx.get(server.url + "/v1/whoami", headers={"X-Request-Id": bad})
            assert echoed.status_code == 401
            assert echoed.headers["X-Request-Id"] != bad
            assert re.fullmatch(r"[A-Za-z0-9._:/+=@-]{1,128}", echoed.headers["X-Request-Id"])


def test_an_unexpected_exception_answers_500_with_the_request_id(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from starlette.testclient import TestClient

    from hivemem._connect import _open
    from hivemem.server.app import ServerConfig
    from hivemem.server.asgi import create_app

    core = _open("memory://", None, None, {"cleanup_interval": 0, "embedder": "none"})
    try:
        app = create_app(core, ServerConfig(auth=False))

        async def boom(op: Any) -> Any:
            raise RuntimeError("a bug nobody expected")

        monkeypatch.setattr(core.backend, "aexecute", boom)
        with TestClient(app, base_url="http://127.0.0.1:7700") as client:
            for path in ("/v1/namespaces/n/entries/k", "/v1/namespaces/n/entries"):  # fast, routed
                caplog.clear()
                answer = client.get(path, headers={"X-Request-Id": f"req{len(path)}"})
                assert answer.status_code == 500
                error = answer.json()["error"]
                assert error["code"] == "internal"
                assert error["request_id"] == answer.headers["X-Request-Id"] == f"req{len(path)}"
                logged = [r for r in caplog.records if f"req{len(path)}" in r.getMessage()]
                assert len(logged) == 1 and logged[0].exc_info is not None
                assert "a bug nobody expected" in caplog.text
    finally:
        core.close()


def test_every_door_that_holds_a_response_open_takes_a_stream_slot() -> None:
    from starlette.testclient import TestClient

    from hivemem._connect import _open
    from hivemem.server.app import ServerConfig
    from hivemem.server.asgi import create_app

    core = _open("memory://", None, None, {"cleanup_interval": 0, "embedder": "none"})
    try:
        app = create_app(core, ServerConfig(auth=False, max_streams_per_token=0))
        agent = {"X-Agent-Id": "holder"}
        with TestClient(app, base_url="http://127.0.0.1:7700") as client:
            assert (
                client.put(
                    "/v1/namespaces/n/entries/k", json={"value": 1}, headers=agent
                ).status_code
                == 200
            )
            held = {
                "event stream": client.get(
                    "/v1/namespaces/n/events?since=0",
                    headers={**agent, "Accept": "text/event-stream"},
                ),
                "long poll": client.get(
                    "/v1/namespaces/n/events?since=0&wait=5",
                    headers={**agent, "Accept": "application/json"},
                ),
                "mcp stream": client.get("/mcp", headers={**agent, "Accept": "text/event-stream"}),
            }
            for door, answer in held.items():
                assert answer.status_code == 429, (door, answer.text)
                assert answer.json()["error"]["code"] == "too_many_requests", door
            poll = client.get(
                "/v1/namespaces/n/events?since=0", headers={**agent, "Accept": "application/json"}
            )
            assert poll.status_code == 200  # an immediate answer holds nothing
            assert app.state.hub.streams == {}
    finally:
        core.close()


def test_the_h11_protocol_has_the_body_deadline_too() -> None:
    from hivemem._connect import _open
    from hivemem.server import protocols
    from hivemem.server.app import ServerConfig
    from hivemem.server.asgi import create_app
    from hivemem.testing.server import ServerThread

    core = _open("memory://", None, None, {"cleanup_interval": 0, "embedder": "none"})
    thread = ServerThread(http=protocols.GuardedH11Protocol)
    protocols.configure(thread.server.config, 10.0, 65536, body_timeout=0.5)
    try:
        with thread:
            url = thread.mount(create_app(core, ServerConfig(auth=False)))
            prefix = url.rsplit("/", 1)[1]

            async def half_sent() -> bytes:
                reader, writer = await asyncio.open_connection("127.0.0.1", thread.port)
                writer.write(
                    f"PUT /{prefix}/v1/namespaces/n/entries/k HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode()
                )
                try:
                    return await asyncio.wait_for(_answer(reader), HANG)
                finally:
                    writer.close()

            assert asyncio.run(half_sent()).startswith(b"HTTP/1.1 408")
            assert httpx.get(url + "/v1/namespaces/n/entries/k").status_code == 404
    finally:
        core.close()


def test_serve_documents_and_checks_the_transport_options(tmp_path: Path) -> None:
    from tests.cli.conftest import run_cli

    usage = run_cli("serve", "--help").stdout
    for flag, default in (
        ("--body-timeout", "default 30"),
        ("--max-bodies-in-flight", "default 64 MiB"),
        ("--rate-limit", "default 1000"),
        ("--rate-burst", "default 2000"),
        ("--stream-buffer-bytes", "default 1 MiB"),
        ("--stream-buffer-events", "default 10000"),
        ("--keep-alive", "default 5"),
    ):
        assert flag in usage
        assert default in " ".join(usage.split()), flag
    refused = run_cli(
        "serve", "--store", f"sqlite:///{tmp_path}/s.db", "--max-body", "1000",
        "--max-bodies-in-flight", "999",
    )  # fmt: skip
    assert refused.returncode != 0
    assert "max-bodies-in-flight must be at least max-body" in refused.stderr
