"""uvicorn HTTP protocols with deadlines on request headers and bodies, and a header size cap.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but has no timeout for a
client that opens a connection and sends its request headers slowly, or never (slowloris):
each such connection would hold a socket and memory forever. These subclasses of uvicorn's
httptools and h11 protocols arm a timer when a connection is made and when the first bytes
of a new request arrive on a kept-alive connection, and cancel it once the request's headers
are complete; on expiry they answer ``408`` and close the connection.

Request headers are also capped in size: httptools has no limit of its own, so the httptools
protocol counts the request line and header bytes and answers ``431`` beyond the cap; h11
enforces the same cap through uvicorn's ``h11_max_incomplete_event_size``.

A request's body has its own deadline (``body_timeout``), armed once its headers are in
while body bytes are still due and cancelled when the body is complete: a client that sends
headers and part of a body, then nothing, gets ``408`` and its connection closed (the app,
waiting for the body, sees a disconnect). Idle kept-alive connections are closed by
uvicorn's own ``timeout_keep_alive``.

Every connection is counted (:func:`open_connections`, a gauge of ``/metrics``), and the
ASGI scope of each request carries the connection's ``abort`` under :data:`ABORT_KEY`, so an
event stream whose client stopped reading can be dropped at once (a plain close would wait
for the client to read what is buffered, which it never does).

The limits are read from attributes set on uvicorn's ``Config`` by :func:`configure`
(``Config`` is pickled to worker processes, so module-level classes reading it work with
``--workers``).
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from hivemem.server.coalesce import CoalescingTransport
from hivemem.server.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_HEADER_BYTES,
)

if TYPE_CHECKING:
    import asyncio

    import uvicorn

__all__ = [
    "ABORT_KEY",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_HEADER_BYTES",
    "GuardedH11Protocol",
    "configure",
    "counters",
    "open_connections",
    "protocol_class",
]

#: Where a request's ASGI scope carries its connection's ``abort()``.
ABORT_KEY = "hivemem.abort"

_TIMEOUT_ATTR = "hivemem_header_timeout"
_BODY_TIMEOUT_ATTR = "hivemem_body_timeout"
_SIZE_ATTR = "hivemem_max_header_bytes"

#: Connections open in this process, and refusals by cause (this process, every server).
_open_connections = 0
_counters = {"header_timeouts": 0, "body_timeouts": 0, "headers_too_large": 0}


def open_connections() -> int:
    """HTTP connections open in this process."""
    return _open_connections


def counters() -> dict[str, int]:
    """Connections closed by a limit so far in this process, by cause."""
    return dict(_counters)


def configure(
    config: uvicorn.Config,
    header_timeout: float,
    max_header_bytes: int,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> None:
    """Set the header and body limits on a uvicorn config (before it is loaded or pickled)."""
    setattr(config, _TIMEOUT_ATTR, header_timeout)
    setattr(config, _BODY_TIMEOUT_ATTR, body_timeout)
    setattr(config, _SIZE_ATTR, max_header_bytes)
    config.h11_max_incomplete_event_size = max_header_bytes


def _response(status: int, reason: str) -> bytes:
    body = reason.encode("ascii")
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode("ascii") + body


_TIMED_OUT = _response(408, "Request Timeout")
_TOO_BIG = _response(431, "Request Header Fields Too Large")


class _HeaderDeadline:
    """The timers and counts shared by both protocols (a mixin over a uvicorn protocol)."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    config: uvicorn.Config
    cycle: Any
    _header_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    _counted = False

    def _opened(self) -> None:
        global _open_connections
        self._counted = True
        _open_connections += 1

    def _closed(self) -> None:
        global _open_connections
        if self._counted:
            self._counted = False
            _open_connections -= 1
        self._disarm_header_timer()
        self._disarm_body_timer()

    def _track_body(self) -> None:
        """After parsing: run the body deadline while the current request's body is due."""
        cycle = self.cycle
        if cycle is not None:
            cycle.scope.setdefault(ABORT_KEY, self.transport.abort)
        if cycle is not None and cycle.more_body:
            if self._body_timer is None:
                timeout: float = getattr(self.config, _BODY_TIMEOUT_ATTR, DEFAULT_BODY_TIMEOUT)
                if timeout > 0:
                    self._body_timer = self.loop.call_later(timeout, self._body_timer_expired)
        else:
            self._disarm_body_timer()

    def _disarm_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timer_expired(self) -> None:
        self._body_timer = None
        _counters["body_timeouts"] += 1
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            self._refuse(_TIMED_OUT)
        elif not self.transport.is_closing():
            self.transport.close()
        if cycle is not None:  # the app waiting for the body sees a disconnect now
            cycle.disconnected = True
            cycle.message_event.set()

    def _header_timeout(self) -> float:
        value: float = getattr(self.config, _TIMEOUT_ATTR, DEFAULT_HEADER_TIMEOUT)
        return value

    def _arm_header_timer(self) -> None:
        if self._header_timer is None and self._header_timeout() > 0:
            self._header_timer = self.loop.call_later(
                self._header_timeout(), self._header_timer_expired
            )

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timer_expired(self) -> None:
        self._header_timer = None
        _counters["header_timeouts"] += 1
        self._refuse(_TIMED_OUT)

    def _refuse(self, response: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()


def _httptools_base() -> type[Any] | None:
    if importlib.util.find_spec("httptools") is None:  # pragma: no cover - standard extra
        return None
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    return HttpToolsProtocol


class GuardedH11Protocol(_HeaderDeadline, H11Protocol):
    """uvicorn's h11 protocol with a header deadline (the size cap is h11's own)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header deadline of the first request."""
        super().connection_made(transport)
        self._opened()
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        """Feed uvicorn; arm the deadline while waiting for headers, disarm once they are in."""
        import h11

        waiting = self.conn.their_state is h11.IDLE
        if waiting:
            self._arm_header_timer()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()
        self._track_body()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the timers with the connection."""
        self._closed()
        super().connection_lost(exc)


_HttpTools = _httptools_base()

if _HttpTools is not None:

    class GuardedHttpToolsProtocol(_HeaderDeadline, _HttpTools):  # type: ignore[misc,valid-type]
        """uvicorn's httptools protocol with a header deadline and a header size cap."""

        _open_requests = 0
        _header_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:
            """Start the header deadline of the first request (writes are coalesced)."""
            super().connection_made(CoalescingTransport(transport, self.loop))
            self._opened()
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            """Arm the deadline when a new request starts arriving, then parse."""
            if self._open_requests == 0:
                self._arm_header_timer()
            super().data_received(data)
            self._track_body()

        def on_message_begin(self) -> None:
            """A new request: count its header bytes from zero."""
            self._header_bytes = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            """Count the request target against the header cap."""
            self._count_header_bytes(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            """Count each header against the header cap."""
            self._count_header_bytes(len(name) + len(value) + 4)
            super().on_header(name, value)

        def _count_header_bytes(self, size: int) -> None:
            self._header_bytes += size
            limit: int = getattr(self.config, _SIZE_ATTR, DEFAULT_MAX_HEADER_BYTES)
            if self._header_bytes > limit:
                _counters["headers_too_large"] += 1
                self._disarm_header_timer()
                self._refuse(_TOO_BIG)
                # Stop the parser: uvicorn answers nothing more on this connection.
                import httptools

                raise httptools.HttpParserCallbackError("request headers too large")

        def send_400_response(self, msg: str) -> None:
            """Answer 400, unless the connection was already refused (431/408)."""
            if not self.transport.is_closing():
                super().send_400_response(msg)

        def on_headers_complete(self) -> None:
            """The request's headers are in: stop the deadline."""
            self._open_requests += 1
            self._disarm_header_timer()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            """A response went out: the next request gets a fresh deadline."""
            self._open_requests = max(0, self._open_requests - 1)
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            """Drop the timers with the connection."""
            self._closed()
            super().connection_lost(exc)


def protocol_class(http: str = "auto") -> type[asyncio.Protocol]:
    """The guarded protocol class: httptools when installed (``auto``), else h11.

    Args:
        http: ``auto``, ``httptools`` or ``h11``.
    """
    if http in ("auto", "httptools") and _HttpTools is not None:
        return GuardedHttpToolsProtocol
    return GuardedH11Protocol
