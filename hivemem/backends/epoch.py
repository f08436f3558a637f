"""A counter every process opening the same store file sees, read without a system call.

A server caches what it looked up in its store (who a token belongs to) and must drop the
cache the moment any process changes it (a revocation through another worker, or through
``hivemem token revoke --store``). Asking the store on every request costs a read
transaction; this counter costs a memory load: it lives in a small file mapped into every
process (``MAP_SHARED``, so a write is visible to every mapping at once), and the process
that changes the cached data bumps it after its commit.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import struct
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["SharedCounter"]

_U64 = struct.Struct("<Q")


class SharedCounter:
    """An unsigned 64-bit counter in the file ``path`` (created on first use with ``mode``).

    :meth:`value` is a load from shared memory; :meth:`bump` takes the file's lock, so
    concurrent bumps from several processes never lose one.
    """

    def __init__(self, path: str, mode: int = 0o600) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
        try:
            with _flocked(self._fd):
                if os.fstat(self._fd).st_size < _U64.size:
                    os.ftruncate(self._fd, _U64.size)
            self._map: mmap.mmap | None = mmap.mmap(self._fd, _U64.size)
        except BaseException:
            os.close(self._fd)
            raise

    def value(self) -> int | None:
        """The current count (``None`` once closed)."""
        mapped = self._map
        if mapped is None:
            return None
        try:
            return int(_U64.unpack_from(mapped)[0])
        except ValueError:  # closed by another thread meanwhile
            return None

    def bump(self) -> None:
        """Add one, atomically across processes."""
        with self._lock:
            if self._map is None:
                return
            with _flocked(self._fd):
                _U64.pack_into(self._map, 0, (_U64.unpack_from(self._map)[0] + 1) % 2**64)

    def close(self) -> None:
        """Unmap the file (idempotent)."""
        with self._lock:
            mapped, self._map = self._map, None
            if mapped is None:
                return
            with contextlib.suppress(BufferError, ValueError):
                mapped.close()
            os.close(self._fd)


@contextlib.contextmanager
def _flocked(fd: int) -> Iterator[None]:
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield None
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
