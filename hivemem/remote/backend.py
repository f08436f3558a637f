"""The engine for ``http://`` stores: ops carried to a hivemem server.

:class:`RemoteBackend` is a :class:`~hivemem.backends.base.Backend` like the embedded ones, so
``Memory``/``AsyncMemory`` run unchanged over it. Each op becomes one request
(:mod:`hivemem.remote.wire`) on a pooled connection (httpx; its sync client for ``Memory``,
its asyncio client for ``AsyncMemory``: no thread hop). Every mutation carries an
idempotency key, so a request resent after a lost answer is applied once; requests are
retried on connection errors and 503 with exponential backoff and jitter (a request the
server turned away before doing anything, 429 ``rate_limited`` or 503 ``server_busy``, is
sent again after its ``Retry-After``, at most :data:`MAX_RETRY_AFTER` seconds); a circuit breaker
makes calls fail fast with :class:`~hivemem.errors.CircuitOpen` while the server is down.
Errors come back as the same exception classes. ``watch``/``subscribe`` follow the
server's SSE stream and reconnect by themselves, resuming after the last revision seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from hivemem._validate import RESERVED_AGENTS
from hivemem.backends.base import Backend
from hivemem.engine.client_resolve import (
    aresolve_in_client,
    needs_client_resolution,
    resolve_in_client,
)
from hivemem.engine.ops import Get
from hivemem.engine.txn import Result
from hivemem.errors import (
    BackendUnavailable,
    CircuitOpen,
    HivememError,
    error_from_dict,
)
from hivemem.remote.breaker import CircuitBreaker
from hivemem.remote.cache import MISSING, NearCache
from hivemem.remote.sse import SSEParser
from hivemem.remote.wire import call_for
from hivemem.types import Event
from hivemem.wire.call import Call

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping

    from hivemem.engine.ops import Op
    from hivemem.engine.txn import Settings

__all__ = ["RemoteBackend"]

#: Errors that mean the request never reached the server: always safe to resend.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class RemoteBackend(Backend):
    """Ops over HTTP to a ``hivemem serve``."""

    name = "http"
    shared_between_processes = True
    remote = True
    #: Callable resolvers run in this client (the server keeps their names).
    client_resolvers = True

    def __init__(
        self,
        url: str,
        settings: Settings,
        *,
        token: str | None = None,
        tokens: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.05,
        breaker_threshold: int = 5,
        breaker_reset: float = 5.0,
        heartbeat: float = 5.0,
    ) -> None:
        super().__init__(settings)
        self.url = url.rstrip("/")
        self.token = token
        #: Each agent's own token (``connect(tokens=...)``): its calls authenticate with it.
        self.tokens: dict[str, str] = dict(tokens or {})
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.heartbeat = heartbeat
        self.breaker = CircuitBreaker(breaker_threshold, breaker_reset)
        self._headers = {"User-Agent": "hivemem-client"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            base_url=self.url,
            headers=self._headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self._aclients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._streams: dict[threading.Event, httpx.Response] = {}
        self._lock = threading.Lock()
        self._closed = False
        #: The near-cache (``connect(..., cache=True)``), or ``None``.
        self.cache: NearCache | None = None

    # ------------------------------------------------------------ requests
    def _agent_headers(self, agent: str) -> dict[str, str]:
        """The headers naming ``agent``, with its own token when it has one."""
        own = self.tokens.get(agent)
        if own is None:
            return {"X-Agent-Id": agent}
        return {"X-Agent-Id": agent, "Authorization": f"Bearer {own}"}

    def _send_headers(self, op: Op[Any], call: Call) -> dict[str, str]:
        headers = dict(call.headers)
        if op.agent not in RESERVED_AGENTS:  # (the store's own ops act as the token's agent)
            headers["X-Agent-Id"] = op.agent
            own = self.tokens.get(op.agent)
            if own is not None:
                headers["Authorization"] = f"Bearer {own}"
        if self.settings.listening:
            headers["X-Hivemem-Events"] = "1"
        if op.admin:
            headers["X-Hivemem-Admin"] = "1"
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        return headers

    def _pause(self, attempt: int) -> float:
        return float(self.backoff * (2**attempt) * (0.5 + random.random()))

    def execute(self, op: Op[Any]) -> Result:
        if self._closed:  # (its HTTP clients are closed: failures come back as results)
            return Result(error=BackendUnavailable("the client is closed"))
        cache = self.cache
        if cache is not None and type(op) is Get:
            hit = cache.lookup(op)
            if hit is not MISSING:
                return self._read_event(op, Result(value=hit))
            generation = cache.generation(op)
            result = self._execute(op)
            if result.error is None:
                cache.store(op, generation, result.value)
            return self._read_event(op, result)
        result = self._execute(op)
        resolver = needs_client_resolution(op, result, self.settings)
        if resolver is not None:
            result = resolve_in_client(self._execute, op, resolver, self.settings)  # type: ignore[arg-type]
        if cache is not None and op.mutates:
            cache.after(op, result)
        return self._read_event(op, result)

    async def aexecute(self, op: Op[Any]) -> Result:
        if self._closed:
            return Result(error=BackendUnavailable("the client is closed"))
        cache = self.cache
        if cache is not None and type(op) is Get:
            hit = cache.lookup(op)
            if hit is not MISSING:
                return self._read_event(op, Result(value=hit))
            generation = cache.generation(op)
            result = await self._aexecute(op)
            if result.error is None:
                cache.store(op, generation, result.value)
            return self._read_event(op, result)
        result = await self._aexecute(op)
        resolver = needs_client_resolution(op, result, self.settings)
        if resolver is not None:
            result = await aresolve_in_client(self._aexecute, op, resolver, self.settings)  # type: ignore[arg-type]
        if cache is not None and op.mutates:
            cache.after(op, result)
        return self._read_event(op, result)

    def _read_event(self, op: Op[Any], result: Result) -> Result:
        """Add the local ``memory:read`` event of a read, when someone listens for it."""
        if self.settings.read_events and type(op) is Get and result.error is None:
            entry = result.value
            result.events = [
                *result.events,
                Event(
                    "memory:read",
                    op.ns,
                    0,
                    self.settings.clock(),
                    op.agent,
                    key=op.key,
                    value=entry.value if entry else None,
                    version=entry.version if entry else None,
                ),
            ]
        return result

    def _execute(self, op: Op[Any]) -> Result:
        call = call_for(op)
        headers = self._send_headers(op, call)
        for attempt in range(self.retries + 1):
            try:
                self.breaker.before()
            except CircuitOpen as exc:
                return Result(error=exc)
            try:
                resp = self._client.request(
                    call.method, call.path, params=call.params, content=call.body, headers=headers
                )
            except httpx.TransportError as exc:
                self.breaker.failure()
                if attempt < self.retries and (call.retry_safe or isinstance(exc, _NOT_SENT)):
                    time.sleep(self._pause(attempt))
                    continue
                return Result(error=_unavailable(self.url, exc))
            pause = _turned_away(resp)
            if pause is not None:
                self.breaker.success()  # the server answered: it is up, only busy
                if attempt < self.retries:
                    time.sleep(pause)
                    continue
            elif resp.status_code == 503 and not _capability_missing(resp.content):
                self.breaker.failure()
                if attempt < self.retries and call.retry_safe:
                    time.sleep(self._pause(attempt))
                    continue
            else:
                self.breaker.success()
            return self._finish(op, call, headers, resp.status_code, resp.content)
        raise AssertionError("unreachable")  # pragma: no cover

    def _finish(
        self, op: Op[Any], call: Call, headers: dict[str, str], status: int, content: bytes
    ) -> Result:
        if "X-Hivemem-Events" not in headers:
            return _result(call, status, content)
        try:
            data = orjson.loads(content)
            inner, events = data["result"], data["events"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _result(call, status, content)
        result = _result(call, status, orjson.dumps(inner))
        try:
            result.events = [Event.from_dict(e) for e in events]
        except Exception as exc:  # a malformed answer is this op's error, never a raw one
            return Result(error=HivememError(f"malformed events from the server: {exc!r}"))
        return result

    def _aclient(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            for old in [lp for lp in self._aclients if lp.is_closed()]:
                del self._aclients[old]
            client = httpx.AsyncClient(
                base_url=self.url,
                headers=self._headers,
                timeout=self.timeout,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            )
            self._aclients[loop] = client
        return client

    async def _aexecute(self, op: Op[Any]) -> Result:
        call = call_for(op)
        headers = self._send_headers(op, call)
        client = self._aclient()
        for attempt in range(self.retries + 1):
            try:
                self.breaker.before()
            except CircuitOpen as exc:
                return Result(error=exc)
            try:
                resp = await client.request(
                    call.method, call.path, params=call.params, content=call.body, headers=headers
                )
            except httpx.TransportError as exc:
                self.breaker.failure()
                if attempt < self.retries and (call.retry_safe or isinstance(exc, _NOT_SENT)):
                    await asyncio.sleep(self._pause(attempt))
                    continue
                return Result(error=_unavailable(self.url, exc))
            pause = _turned_away(resp)
            if pause is not None:
                self.breaker.success()  # the server answered: it is up, only busy
                if attempt < self.retries:
                    await asyncio.sleep(pause)
                    continue
            elif resp.status_code == 503 and not _capability_missing(resp.content):
                self.breaker.failure()
                if attempt < self.retries and call.retry_safe:
                    await asyncio.sleep(self._pause(attempt))
                    continue
            else:
                self.breaker.success()
            return self._finish(op, call, headers, resp.status_code, resp.content)
        raise AssertionError("unreachable")  # pragma: no cover

    def whoami(self, agent: str | None) -> dict[str, Any]:
        """The server's view of this client: ``{agent, role, auth, ...}``.

        Raises:
            BackendUnavailable: the server cannot be reached.
            Unauthenticated: the token is missing, unknown or revoked.
        """
        headers = self._agent_headers(agent) if agent else {}
        for attempt in range(self.retries + 1):
            try:
                resp = self._client.get("/v1/whoami", headers=headers)
            except httpx.TransportError as exc:
                raise _unavailable(self.url, exc) from None
            pause = _turned_away(resp)
            if pause is None or attempt == self.retries:
                break
            time.sleep(pause)
        data: dict[str, Any] = _result(
            Call("GET", "/v1/whoami"), resp.status_code, resp.content
        ).unwrap()
        return data

    # ------------------------------------------------------------ event streams
    def _stream_params(self, since: int, timeout: float | None) -> dict[str, Any]:
        beat = self.heartbeat if timeout is None else max(0.05, min(self.heartbeat, timeout / 2))
        return {"since": since, "heartbeat": beat}

    def follow(
        self, agent: str, ns: str, since: int, timeout: float | None, stop: threading.Event
    ) -> Iterator[Event]:
        from hivemem.remote.wire import _ns

        path = f"{_ns(ns)}/events"
        last = since
        idle_since = time.monotonic()
        failures = 0
        while not stop.is_set() and not self._closed:
            params = self._stream_params(last, timeout)
            read_timeout = params["heartbeat"] + self.timeout
            try:
                self.breaker.before()
                with self._client.stream(
                    "GET",
                    path,
                    params=params,
                    headers={**self._agent_headers(agent), "Accept": "text/event-stream"},
                    timeout=httpx.Timeout(self.timeout, read=read_timeout),
                ) as resp:
                    if resp.status_code != 200:
                        if resp.status_code == 503:
                            self.breaker.failure()
                        resp.read()
                        _result(Call("GET", path), resp.status_code, resp.content).unwrap()
                    self.breaker.success()
                    failures = 0
                    with self._lock:
                        self._streams[stop] = resp
                    try:
                        parser = SSEParser()
                        for line in resp.iter_lines():
                            if stop.is_set():
                                return
                            frame = parser.feed(line)
                            if frame is None:
                                continue
                            if frame.comment:
                                if (
                                    frame.data == "ping"
                                    and timeout is not None
                                    and time.monotonic() - idle_since >= timeout
                                ):
                                    return
                                continue
                            if frame.event == "error":
                                raise error_from_dict(orjson.loads(frame.data))
                            event = Event.from_dict(orjson.loads(frame.data))
                            last = event.revision
                            idle_since = time.monotonic()
                            yield event
                    finally:
                        with self._lock:
                            self._streams.pop(stop, None)
            except (
                httpx.TransportError,
                httpx.StreamError,
                CircuitOpen,
                BackendUnavailable,
            ) as exc:
                if stop.is_set() or self._closed:
                    return
                # The breaker's own refusal is no new failure: counting it would keep the
                # circuit open forever and the watcher would never resume.
                if isinstance(exc, httpx.TransportError | BackendUnavailable) and not isinstance(
                    exc, CircuitOpen
                ):
                    self.breaker.failure()
                failures += 1
            if timeout is not None and time.monotonic() - idle_since >= timeout:
                return
            stop.wait(min(2.0, self.backoff * 2 ** min(failures, 6)))

    async def afollow(
        self, agent: str, ns: str, since: int, timeout: float | None, stop: threading.Event
    ) -> AsyncIterator[Event]:
        from hivemem.remote.wire import _ns

        path = f"{_ns(ns)}/events"
        last = since
        idle_since = time.monotonic()
        failures = 0
        client = self._aclient()
        while not stop.is_set() and not self._closed:
            params = self._stream_params(last, timeout)
            read_timeout = params["heartbeat"] + self.timeout
            try:
                self.breaker.before()
                async with client.stream(
                    "GET",
                    path,
                    params=params,
                    headers={**self._agent_headers(agent), "Accept": "text/event-stream"},
                    timeout=httpx.Timeout(self.timeout, read=read_timeout),
                ) as resp:
                    if resp.status_code != 200:
                        await resp.aread()
                        _result(Call("GET", path), resp.status_code, resp.content).unwrap()
                    self.breaker.success()
                    failures = 0
                    parser = SSEParser()
                    async for line in resp.aiter_lines():
                        if stop.is_set():
                            return
                        frame = parser.feed(line)
                        if frame is None:
                            continue
                        if frame.comment:
                            if (
                                frame.data == "ping"
                                and timeout is not None
                                and time.monotonic() - idle_since >= timeout
                            ):
                                return
                            continue
                        if frame.event == "error":
                            raise error_from_dict(orjson.loads(frame.data))
                        event = Event.from_dict(orjson.loads(frame.data))
                        last = event.revision
                        idle_since = time.monotonic()
                        yield event
            except (
                httpx.TransportError,
                httpx.StreamError,
                CircuitOpen,
                BackendUnavailable,
            ) as exc:
                if stop.is_set() or self._closed:
                    return
                # The breaker's own refusal is no new failure: counting it would keep the
                # circuit open forever and the watcher would never resume.
                if isinstance(exc, httpx.TransportError | BackendUnavailable) and not isinstance(
                    exc, CircuitOpen
                ):
                    self.breaker.failure()
                failures += 1
            if timeout is not None and time.monotonic() - idle_since >= timeout:
                return
            await asyncio.sleep(min(2.0, self.backoff * 2 ** min(failures, 6)))

    def wake(self, stop: threading.Event) -> None:
        with self._lock:
            resp = self._streams.pop(stop, None)
        if resp is not None:
            _interrupt(resp)

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.cache is not None:
            self.cache.close()
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
        for resp in streams:
            _interrupt(resp)
        self._client.close()
        for loop, client in list(self._aclients.items()):
            if not loop.is_closed():
                try:
                    if loop.is_running():
                        loop.create_task(client.aclose())
                    else:
                        loop.run_until_complete(client.aclose())
                except RuntimeError:
                    pass
        self._aclients.clear()

    def breaker_status(self) -> dict[str, Any]:
        return self.breaker.status()

    def reset_breaker(self) -> None:
        self.breaker.reset()

    def cache_stats(self) -> dict[str, Any] | None:
        return self.cache.stats() if self.cache is not None else None

    def clear_cache(self) -> None:
        if self.cache is not None:
            self.cache.clear()

    async def aclose(self) -> None:
        """Close the asyncio client of the running loop, then everything else."""
        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        self.close()


def _interrupt(resp: httpx.Response) -> None:
    """End a stream another thread is reading: shut its socket down.

    Closing the response alone does not wake a read blocked in another thread.
    """
    stream = resp.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _unavailable(url: str, exc: Exception) -> BackendUnavailable:
    return BackendUnavailable(f"cannot reach the hivemem server at {url}: {exc!r}")


#: Longest wait honoured from a server's ``Retry-After`` before a retry.
MAX_RETRY_AFTER = 5.0


def _turned_away(resp: httpx.Response) -> float | None:
    """Seconds to wait before sending again a request the server refused unprocessed.

    429 ``rate_limited`` and 503 ``server_busy`` are answered before the request does
    anything, so even a mutation is safe to resend. ``None`` for any other answer.
    """
    status = resp.status_code
    if status not in (429, 503):
        return None
    head = resp.content[:200]
    if b'"rate_limited"' not in head and b'"server_busy"' not in head:
        return None
    try:
        wait = float(resp.headers.get("retry-after", "1"))
    except ValueError:
        wait = 1.0
    return min(max(wait, 0.0), MAX_RETRY_AFTER) * (1.0 + random.random() / 10)


def _capability_missing(content: bytes) -> bool:
    """A 503 that says the server lacks an embedder: not an outage (no retry, no breaker)."""
    return b'"embedder_unavailable"' in content[:200]


def _result(call: Call, status: int, content: bytes) -> Result:
    try:
        data = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        data = None
    if 200 <= status < 300:
        try:
            return Result(value=call.decode(data))
        except Exception as exc:  # any malformed answer is this op's error, never a raw one
            return Result(error=HivememError(f"malformed answer from the server: {exc!r}"))
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        error = error_from_dict(data)
        if status == 404 and call.missing_ok and error.code == "not_found":
            return Result(value=None)
        return Result(error=error)
    if status == 503:
        return Result(error=BackendUnavailable(f"the server answered 503: {content[:200]!r}"))
    return Result(error=HivememError(f"the server answered {status}: {content[:200]!r}"))
