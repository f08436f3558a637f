"""Oversized and malformed input (T12): each gets a 4xx with a stable error code, and the
store is unchanged (stats, namespaces and entries compared before and after)."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING

import httpx
import pytest
from _api_site import Api, mount, seed

if TYPE_CHECKING:
    from collections.abc import Iterator

    from hivemem.testing.server import ServerThread

PUT = "/v1/namespaces/default/entries/k"
BATCH = "/v1/namespaces/default/batch"
CREATE = "/v1/namespaces"
REGISTRY = "/shared-memory"

DEEP = b"[" * 65 + b"]" * 65
DEEPEST = b"[" * 10_000 + b"]" * 10_000

CASES = [
    # (id, path, method, body, status, code)
    ("not-json", PUT, "PUT", b"{not json", 422, "invalid_argument"),
    ("truncated", PUT, "PUT", b'{"value": [1, 2', 422, "invalid_argument"),
    ("nan", PUT, "PUT", b'{"value": NaN}', 422, "invalid_argument"),
    ("infinity", PUT, "PUT", b'{"value": Infinity}', 422, "invalid_argument"),
    ("minus-infinity", PUT, "PUT", b'{"value": -Infinity}', 422, "invalid_argument"),
    ("float-overflow", PUT, "PUT", b'{"value": 1e999}', 422, "invalid_argument"),
    ("int-65-bits", PUT, "PUT", b'{"value": 18446744073709551616}', 422, "invalid_argument"),
    ("int-5000-digits", PUT, "PUT", b'{"value": ' + b"9" * 5000 + b"}", 422, "invalid_argument"),
    (
        "version-64-bits",
        PUT,
        "PUT",
        b'{"value": 1, "expected_version": 9223372036854775808}',
        422,
        "invalid_argument",
    ),
    ("depth-65", PUT, "PUT", b'{"value": ' + DEEP + b"}", 422, "invalid_argument"),
    ("depth-10000", PUT, "PUT", b'{"value": ' + DEEPEST + b"}", 422, "invalid_argument"),
    ("depth-10000-body", PUT, "PUT", DEEPEST, 422, "invalid_argument"),
    ("invalid-utf8", PUT, "PUT", b'{"value": "\xff\xfe"}', 422, "invalid_argument"),
    ("invalid-utf8-field", PUT, "PUT", b'{"\xc3": 1}', 422, "invalid_argument"),
    ("lone-surrogate-value", PUT, "PUT", b'{"value": "\\ud800"}', 422, "invalid_argument"),
    (
        "lone-surrogate-key",
        REGISTRY,
        "POST",
        b'{"key": "a\\udc00", "value": 1}',
        422,
        "invalid_argument",
    ),
    (
        "lone-surrogate-batch-key",
        BATCH,
        "POST",
        b'{"ops": [{"op": "put", "key": "\\ud800", "value": 1}], "atomic": true}',
        422,
        "invalid_argument",
    ),
    ("nul-in-key", REGISTRY, "POST", b'{"key": "a\\u0000b", "value": 1}', 422, "invalid_argument"),
    ("empty", PUT, "PUT", b"", 422, "invalid_argument"),
    ("blank", PUT, "PUT", b"  \n ", 422, "invalid_argument"),
    ("array-body", PUT, "PUT", b"[1]", 422, "invalid_argument"),
    ("string-body", PUT, "PUT", b'"value"', 422, "invalid_argument"),
    ("missing-value", PUT, "PUT", b"{}", 422, "invalid_argument"),
    ("unknown-field", PUT, "PUT", b'{"value": 1, "owner": "mallory"}', 422, "invalid_argument"),
    ("ttl-string", PUT, "PUT", b'{"value": 1, "ttl": "10"}', 422, "invalid_argument"),
    ("ttl-zero", PUT, "PUT", b'{"value": 1, "ttl": 0}', 422, "invalid_argument"),
    ("ttl-negative", PUT, "PUT", b'{"value": 1, "ttl": -5}', 422, "invalid_argument"),
    (
        "version-string",
        PUT,
        "PUT",
        b'{"value": 1, "expected_version": "1"}',
        422,
        "invalid_argument",
    ),
    (
        "version-negative",
        PUT,
        "PUT",
        b'{"value": 1, "expected_version": -1}',
        422,
        "invalid_argument",
    ),
    (
        "version-bool",
        PUT,
        "PUT",
        b'{"value": 1, "expected_version": true}',
        422,
        "invalid_argument",
    ),
    ("resolved-string", PUT, "PUT", b'{"value": 1, "resolved": "yes"}', 422, "invalid_argument"),
    ("ns-name-type", CREATE, "POST", b'{"name": 5}', 422, "invalid_argument"),
    ("ns-name-reserved", CREATE, "POST", b'{"name": "_hivemem.x"}', 422, "invalid_argument"),
    ("ns-name-pattern", CREATE, "POST", b'{"name": "a b"}', 422, "invalid_argument"),
    (
        "ns-max-entries-64-bits",
        CREATE,
        "POST",
        b'{"name": "n", "max_entries": 9223372036854775808}',
        422,
        "invalid_argument",
    ),
    (
        "ns-max-entries-float",
        CREATE,
        "POST",
        b'{"name": "n", "max_entries": 1.5}',
        422,
        "invalid_argument",
    ),
    ("batch-ops-string", BATCH, "POST", b'{"ops": "x"}', 422, "invalid_argument"),
    (
        "batch-op-unknown",
        BATCH,
        "POST",
        b'{"ops": [{"op": "drop", "key": "k"}]}',
        422,
        "invalid_argument",
    ),
    (
        "batch-too-many",
        BATCH,
        "POST",
        b'{"ops": [' + b",".join([b'{"op":"get","key":"k"}'] * 1001) + b"]}",
        422,
        "invalid_argument",
    ),
    (
        "key-1025-bytes",
        REGISTRY,
        "POST",
        b'{"key": "' + b"k" * 1025 + b'", "value": 1}',
        413,
        "too_large",
    ),
    (
        "key-multibyte",
        REGISTRY,
        "POST",
        b'{"key": "' + "é".encode() * 513 + b'", "value": 1}',
        413,
        "too_large",
    ),
]


@pytest.fixture(scope="module")
def small(api_server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A server whose body limit is 1 KiB."""
    mounted = mount(api_server, tmp_path_factory.mktemp("small"), max_body_bytes=1024)
    seed(mounted)
    yield mounted
    api_server.unmount(mounted.url)
    mounted.core.close()


def _error(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


@pytest.mark.parametrize(
    ("path", "method", "body", "status", "code"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_body_refused(
    api: Api, path: str, method: str, body: bytes, status: int, code: str
) -> None:
    """Malformed JSON, wrong types and out-of-range values get 4xx; nothing changes."""
    before = api.snapshot()
    for token in (api.admin, api.agent):
        with api.client(token) as http:
            response = http.request(
                method, path, content=body, headers={"Content-Type": "application/json"}
            )
        assert (response.status_code, _error(response)) == (status, code), response.text
    assert api.snapshot() == before


def test_oversized_body_with_length_refused(api: Api) -> None:
    """A declared body over the 2 MiB default gets 413 too_large; nothing changes."""
    before = api.snapshot()
    body = b'{"value": "' + b"x" * (2 << 20) + b'"}'
    with api.client() as http:
        response = http.put(PUT, content=body)
    assert (response.status_code, _error(response)) == (413, "too_large")
    assert api.snapshot() == before


def test_oversized_chunked_body_refused(api: Api) -> None:
    """A body without Content-Length is cut off once it passes the limit."""
    before = api.snapshot()

    def chunks() -> Iterator[bytes]:
        yield b'{"value": "'
        for _ in range(40):
            yield b"x" * (64 << 10)
        yield b'"}'

    with api.client() as http:
        response = http.put(PUT, content=chunks())
    assert (response.status_code, _error(response)) == (413, "too_large")
    assert api.snapshot() == before


def test_configured_body_limit(small: Api) -> None:
    """max_body_bytes applies to every body route, declared or chunked; under it, fine."""
    before = small.snapshot()
    big = b'{"value": "' + b"x" * 1100 + b'"}'
    with small.client() as http:
        for path, method in ((PUT, "PUT"), (BATCH, "POST"), (CREATE, "POST"), (REGISTRY, "POST")):
            response = http.request(method, path, content=big)
            assert (response.status_code, _error(response)) == (413, "too_large")
            response = http.request(method, path, content=iter([big[:600], big[600:]]))
            assert (response.status_code, _error(response)) == (413, "too_large")
    assert small.snapshot() == before
    with small.client() as http:
        assert http.put(PUT, json={"value": "x" * 900}).status_code == 200


def _raw(api: Api, head: bytes, body: bytes, *, half_close: bool = False) -> bytes:
    """Send a hand-written request on a raw socket; return what comes back (maybe nothing)."""
    url = httpx.URL(api.url)
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        sock.sendall(head + b"\r\n\r\n" + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and not half_close:
                    break
        except TimeoutError:
            pass
    return b"".join(chunks)


def _head(api: Api, length: bytes) -> bytes:
    url = httpx.URL(api.url)
    return (
        (
            f"PUT {url.path}{PUT} HTTP/1.1\r\nHost: {url.host}\r\n"
            f"Authorization: Bearer {api.admin}\r\nContent-Type: application/json\r\n"
            "Connection: close\r\n"
        ).encode()
        + b"Content-Length: "
        + length
    )


def _status(raw: bytes) -> int | None:
    if not raw.startswith(b"HTTP/1.1 "):
        return None
    return int(raw[9:12])


def test_content_length_shorter_than_body(api: Api) -> None:
    """A Content-Length cutting the JSON short: the server reads that much, which is not JSON."""
    before = api.snapshot()
    raw = _raw(api, _head(api, b"5"), b'{"value": 1}')
    assert _status(raw) == 422
    assert b"invalid_argument" in raw
    assert api.snapshot() == before


def test_content_length_longer_than_body(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """A Content-Length promising more than the client sends, then end of stream: nothing
    is stored and the server sees no error of its own (its answer reaches no one)."""
    before = api.snapshot()
    raw = _raw(api, _head(api, b"100"), b'{"value": 1}', half_close=True)
    status = _status(raw)
    assert status is None or 400 <= status < 500, raw
    assert api.snapshot() == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1, 2"])
def test_content_length_malformed(api: Api, length: bytes) -> None:
    """A Content-Length that is not a number: 4xx (from the HTTP parser or the app)."""
    before = api.snapshot()
    raw = _raw(api, _head(api, length), b'{"value": 1}')
    status = _status(raw)
    assert status is not None and 400 <= status < 500, raw
    assert api.snapshot() == before
