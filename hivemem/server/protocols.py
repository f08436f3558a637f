"""uvicorn HTTP protocols with a deadline and a size cap on request headers.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but has no timeout for a
client that opens a connection and sends its request headers slowly, or never (slowloris):
each such connection would hold a socket and memory forever. These subclasses of uvicorn's
httptools and h11 protocols arm a timer when a connection is made and when the first bytes
of a new request arrive on a kept-alive connection, and cancel it once the request's headers
are complete; on expiry they answer ``408`` and close the connection.

Request headers are also capped in size: httptools has no limit of its own, so the httptools
protocol counts the request line and header bytes and answers ``431`` beyond the cap; h11
enforces the same cap through uvicorn's ``h11_max_incomplete_event_size``.

The limits are read from two attributes set on uvicorn's ``Config`` by :func:`configure`
(``Config`` is pickled to worker processes, so module-level classes reading it work with
``--workers``).
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from hivemem.server.coalesce import CoalescingTransport
from hivemem.server.limits import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_HEADER_BYTES

if TYPE_CHECKING:
    import asyncio

    import uvicorn

__all__ = [
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_HEADER_BYTES",
    "GuardedH11Protocol",
    "configure",
    "protocol_class",
]

_TIMEOUT_ATTR = "hivemem_header_timeout"
_SIZE_ATTR = "hivemem_max_header_bytes"


def configure(config: uvicorn.Config, header_timeout: float, max_header_bytes: int) -> None:
    """Set the header limits on a uvicorn config (before it is loaded or pickled)."""
    setattr(config, _TIMEOUT_ATTR, header_timeout)
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
    """The timer shared by both protocols (a mixin over a uvicorn protocol)."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    config: uvicorn.Config
    _header_timer: asyncio.TimerHandle | None = None

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

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the timer with the connection."""
        self._disarm_header_timer()
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
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            """Arm the deadline when a new request starts arriving, then parse."""
            if self._open_requests == 0:
                self._arm_header_timer()
            super().data_received(data)

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
            """Drop the timer with the connection."""
            self._disarm_header_timer()
            super().connection_lost(exc)


def protocol_class(http: str = "auto") -> type[asyncio.Protocol]:
    """The guarded protocol class: httptools when installed (``auto``), else h11.

    Args:
        http: ``auto``, ``httptools`` or ``h11``.
    """
    if http in ("auto", "httptools") and _HttpTools is not None:
        return GuardedHttpToolsProtocol
    return GuardedH11Protocol
