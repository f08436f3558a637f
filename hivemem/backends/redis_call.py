"""Script calls for the hot paths: ``EVALSHA`` packed here, on a connection per thread.

redis-py's generic command path (pool checkout and release, argument encoding with type
checks, observability hooks, event dispatch) cost more than the write script itself here:
about 130 us for an ``EVALSHA`` of the write script against about 60 us packed by hand and
sent on a connection the thread keeps. The connection comes from the client's pool
settings (address, TLS, credentials, database, RESP version, timeouts), so it behaves as
the client's own would.

Failures: a kept socket that is readable before a call was closed by Redis (a restart):
it is replaced first. A send that raises left the command incomplete, and Redis never
runs a partial command, so the call is sent once more on a fresh socket. A failure while
reading the reply of a script that writes is raised as is: the script may or may not have
run, and the caller reports the store as unavailable rather than guessing (a read-only
script is asked once more). ``NOSCRIPT`` (Redis lost its script cache) loads the script
and retries.
"""

from __future__ import annotations

import os
import select
import threading
import weakref
from typing import Any

__all__ = ["ThreadConnections", "pack"]


def pack(*parts: str | bytes | int) -> bytes:
    """A command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        out += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(out)


class ThreadConnections:
    """One connection per thread, from ``client``'s pool settings, for script calls."""

    def __init__(self, client: Any, exceptions: Any) -> None:
        self._client = client
        self._errors = exceptions
        self._local = threading.local()
        self._all: weakref.WeakSet[Any] = weakref.WeakSet()

    def _connection(self) -> Any:
        kept = getattr(self._local, "kept", None)
        if kept is None or kept[0] != os.getpid():  # a forked child never shares a socket
            kept = self._local.kept = (os.getpid(), self._client.connection_pool.make_connection())
            self._all.add(kept[1])
        return kept[1]

    def evalsha(
        self, script: Any, keys: list[str], args: list[str | bytes], *, reads_only: bool = False
    ) -> Any:
        """``script(keys=keys, args=args)``, as redis-py's ``Script`` would answer it.

        ``reads_only``: the script changes nothing, so a reply lost with its connection
        is asked for again once.
        """
        packed = pack(b"EVALSHA", script.sha, len(keys), *keys, *args)
        conn = self._connection()
        try:
            return self._call(conn, packed, reads_only)
        except self._errors.NoScriptError:
            self._client.script_load(script.script)
            return self._call(conn, packed, reads_only)

    def _call(self, conn: Any, packed: bytes, reads_only: bool) -> Any:
        sock = conn._sock
        if sock is not None and select.select([sock], [], [], 0)[0]:
            conn.disconnect()  # readable while idle: closed by Redis (a restart, a timeout)
        try:
            conn.send_packed_command([packed], check_health=False)
        except self._errors.ConnectionError:
            conn.disconnect()  # nothing ran: Redis drops an incomplete command
            conn.send_packed_command([packed], check_health=False)
        try:
            return conn.read_response()
        except self._errors.ConnectionError:
            if not reads_only:
                raise
        conn.send_packed_command([packed], check_health=False)
        return conn.read_response()

    def close(self) -> None:
        """Close every thread's connection."""
        for conn in list(self._all):
            conn.disconnect()
