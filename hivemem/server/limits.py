"""The server's default limits, importable without the ``server`` extra.

The CLI shows them in ``hivemem serve --help``, which must work on a base install (it says
which extra to install instead of crashing on a missing import).
"""

from __future__ import annotations

__all__ = ["DEFAULT_HEADER_TIMEOUT", "DEFAULT_MAX_HEADER_BYTES"]

#: Seconds a client has to send a request's headers.
DEFAULT_HEADER_TIMEOUT = 10.0
#: Largest request line plus headers accepted, in bytes.
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
