"""``hivemem serve``: first-start admin token, loopback-only --no-auth, slow headers, workers."""

from __future__ import annotations

import socket
import time

import httpx

import hivemem
from tests.cli.conftest import DEADLINE, Server, run_cli, serving


def assert_graceful(server: Server) -> None:
    """SIGTERM ended it cleanly, with exit status 0 (uvicorn re-raises the signal it handled)."""
    assert server.proc.returncode == 0
    assert server.stderr_text is not None and "Traceback" not in server.stderr_text


def _whoami(url: str, token: str) -> httpx.Response:
    return httpx.get(url + "/v1/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_first_start_prints_an_admin_token_once(sqlite_url: str) -> None:
    with serving(sqlite_url) as server:
        token = server.admin_token
        assert token is not None and token.startswith("hm_")
        assert server.url in server.banner[0]
        me = _whoami(server.url, token).json()
        assert me["role"] == "admin"
        assert httpx.get(server.url + "/v1/whoami", timeout=10).status_code == 401
    assert_graceful(server)
    with serving(sqlite_url) as again:
        assert again.admin_token is None
        assert not any("token" in line for line in again.banner)
        assert _whoami(again.url, token).status_code == 200  # the first token still works


def test_the_admin_token_of_a_memory_store_works() -> None:
    """A memory:// store exists only in the server process: the token is made there."""
    with serving("memory://") as server:
        token = server.admin_token
        assert token is not None
        assert _whoami(server.url, token).json()["role"] == "admin"
    assert_graceful(server)


def test_a_busy_port_is_one_clear_error_before_anything_is_printed(sqlite_url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = run_cli("serve", "--store", sqlite_url, "--port", str(port))
    assert result.returncode == 13
    assert result.stdout == ""  # no "hivemem serving ..." banner, no admin token
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_stops_several_workers_with_status_0(sqlite_url: str) -> None:
    with serving(sqlite_url, "--workers", "2") as server:
        assert server.admin_token is not None
    assert_graceful(server)


def test_no_auth_is_refused_off_loopback(sqlite_url: str) -> None:
    result = run_cli("serve", "--store", sqlite_url, "--no-auth", "--host", "0.0.0.0")
    assert result.returncode == 7
    assert result.stderr.startswith("error: invalid_argument: --no-auth is refused on 0.0.0.0")
    assert result.stdout == ""


def test_no_auth_on_loopback_takes_the_agent_from_the_header(sqlite_url: str) -> None:
    with serving(sqlite_url, "--no-auth") as server:
        assert server.admin_token is None
        with hivemem.connect(server.url, agent="alice") as mem:
            assert mem.write("team", "k", 1).owner == "alice"


def test_slow_request_headers_are_cut_off(sqlite_url: str) -> None:
    with serving(sqlite_url, "--header-timeout", "1") as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes
            started = time.monotonic()
            answer = slow.recv(1000)
            assert answer.startswith(b"HTTP/1.1 408")
            assert slow.recv(1000) == b""  # closed
            assert time.monotonic() - started < DEADLINE
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as idle:
            assert idle.recv(1000).startswith(b"HTTP/1.1 408")  # sent nothing at all
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200


def test_oversized_request_headers_get_431(sqlite_url: str) -> None:
    with serving(sqlite_url, "--max-header-bytes", "4096") as server:
        big = {"X-Padding": "a" * 8000}
        response = httpx.get(server.url + "/healthz", headers=big, timeout=10)
        assert response.status_code == 431
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200


def test_several_workers_share_one_store(sqlite_url: str) -> None:
    with serving(sqlite_url, "--workers", "2") as server:
        token = server.admin_token
        assert token is not None
        with hivemem.connect(server.url, token=token) as mem:
            for i in range(20):  # new connections land on either worker
                mem.write("team", f"k{i}", i)
        with hivemem.connect(sqlite_url) as local:
            assert local.get_all("team") == {f"k{i}": i for i in range(20)}
    assert_graceful(server)


def test_a_server_process_freezes_what_it_holds_from_its_start() -> None:
    """After the store and app are built, a full GC walks only what requests create."""
    import gc

    from hivemem.server.serve import freeze_startup_objects

    held = [{"startup": i} for i in range(1000)]
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() >= len(held)
        assert not any(gc.is_tracked(x) and x in gc.get_objects(generation=2) for x in held[:3])
    finally:
        gc.unfreeze()
