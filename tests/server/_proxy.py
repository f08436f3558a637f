"""A userspace TCP proxy between a client and the server, which a test can cut.

The kernel here has no ``netem`` (RELIABILITY.md §2), so faults between client and server
are made in userspace: :class:`Proxy` listens on a free loopback port and relays each
accepted connection to the server's port (looked up again for every connection, so a
restarted server on the same port is found). A test can

- :meth:`Proxy.cut` every open connection (the client sees its connection drop);
- :meth:`Proxy.stall` every open connection: it stays open but the server's bytes are thrown
  away (a silent, half-open connection: only a read timeout notices it);
- :meth:`Proxy.block` new connections (accepted, then closed at once) until :meth:`Proxy.unblock`;
- :meth:`Proxy.drop_response` of the next request whose bytes contain a marker: the request
  reaches the server, the server's answer is read and thrown away, and the client's
  connection is closed: the write was applied but its acknowledgement was lost.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Proxy"]


class _Pair:
    """One relayed connection: the client's socket and the server's."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.doomed = False
        self.stalled = False
        self.closed = False
        self.lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class Proxy:
    """Relays 127.0.0.1:``port`` to 127.0.0.1:``upstream_port``, in daemon threads."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._blocked = False
        self._marker: bytes | None = None
        self._dropped: threading.Event | None = None
        self._closed = False
        self.cuts = 0
        #: Called (in the relaying thread) after an answer was swallowed, before the client's
        #: connection is closed: e.g. to crash the server at that moment.
        self.on_drop: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ faults
    def cut(self) -> int:
        """Close every open connection now; return how many were cut."""
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
        for pair in pairs:
            pair.close()
        self.cuts += len(pairs)
        return len(pairs)

    def stall(self) -> int:
        """Silence every open connection (kept open, answers discarded); return how many."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            pair.stalled = True
        return len(pairs)

    def block(self) -> None:
        """Cut every connection and refuse new ones (closed right after accept)."""
        self._blocked = True
        self.cut()

    def unblock(self) -> None:
        """Relay new connections again."""
        self._blocked = False

    def drop_response(self, marker: bytes) -> threading.Event:
        """Arm: the next request containing ``marker`` is forwarded, its answer swallowed.

        Returns an event set once an answer was actually thrown away.
        """
        dropped = threading.Event()
        with self._lock:
            self._marker = marker
            self._dropped = dropped
        return dropped

    # ------------------------------------------------------------ relaying
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._blocked:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the server is down: the client sees its connection drop
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = _Pair(client, upstream)
            with self._lock:
                self._pairs.add(pair)
            threading.Thread(target=self._up, args=(pair,), daemon=True).start()
            threading.Thread(target=self._down, args=(pair,), daemon=True).start()

    def _forget(self, pair: _Pair) -> None:
        with self._lock:
            self._pairs.discard(pair)
        pair.close()

    def _up(self, pair: _Pair) -> None:
        """Client to server; marks the pair whose request carries the armed marker."""
        try:
            while True:
                data = pair.client.recv(65536)
                if not data:
                    break
                with self._lock:
                    if self._marker is not None and self._marker in data:
                        pair.doomed = True
                        self._marker = None
                pair.upstream.sendall(data)
        except OSError:
            pass
        self._forget(pair)

    def _down(self, pair: _Pair) -> None:
        """Server to client; swallows the answer of a doomed pair and closes it."""
        try:
            while True:
                data = pair.upstream.recv(65536)
                if not data:
                    break
                if pair.doomed:
                    with self._lock:
                        dropped, self._dropped = self._dropped, None
                    if dropped is not None:
                        dropped.set()
                        hook, self.on_drop = self.on_drop, None
                        if hook is not None:
                            hook()
                    break
                if not pair.stalled:
                    pair.client.sendall(data)
        except OSError:
            pass
        self._forget(pair)

    def close(self) -> None:
        """Stop accepting and cut every connection."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.cut()
        self._thread.join(timeout=5)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
