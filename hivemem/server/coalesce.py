"""One socket send per response instead of two.

uvicorn writes a response's status line and headers when the app sends
``http.response.start`` and its body when the app sends ``http.response.body``: two
``send`` system calls (and two TCP segments) for every small JSON answer, and on this kind
of machine a system call costs as much as a good part of the request's Python work.
:class:`CoalescingTransport` sits between uvicorn's protocol and the real transport: writes
made during one turn of the event loop are joined and sent together when the loop gets to
the callback the first of them scheduled. Event-stream frames and ``100 Continue`` still
go out promptly: as soon as the writing task yields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

__all__ = ["CoalescingTransport"]


class CoalescingTransport:
    """A transport proxy that sends the writes of one loop turn as one write."""

    __slots__ = ("_loop", "_pending", "_scheduled", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data``; it goes out with the other writes of this loop turn."""
        if not data:
            return
        self._pending.append(bytes(data))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def writelines(self, lines: Any) -> None:
        """Queue several chunks."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Send what is queued now (dropped if the connection is closing)."""
        self._scheduled = False
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        """Send what is queued, then close (as a transport's close flushes its buffer)."""
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        """Drop what is queued and close at once."""
        self._pending.clear()
        self._transport.abort()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """Hand the connection over (a protocol upgrade) after sending what is queued."""
        self.flush()
        self._transport.set_protocol(protocol)

    def can_write_eof(self) -> bool:
        """Whether the real transport can half-close."""
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        """Send what is queued, then half-close."""
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
