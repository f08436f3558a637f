"""The server's default limits, importable without the ``server`` extra.

The CLI shows them in ``hivemem serve --help``, which must work on a base install (it says
which extra to install instead of crashing on a missing import).
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_BURST",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_BODIES_IN_FLIGHT",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_RATE",
    "DEFAULT_STREAM_BUFFER_BYTES",
    "DEFAULT_STREAM_BUFFER_EVENTS",
]

#: Seconds a client has to send a request's headers.
DEFAULT_HEADER_TIMEOUT = 10.0
#: Largest request line plus headers accepted, in bytes.
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
#: Seconds a client has to send a request's whole body once its headers are in.
DEFAULT_BODY_TIMEOUT = 30.0
#: Requests per second per token by default: far above what an agent does.
DEFAULT_RATE = 1000.0
#: Requests a token may send at once after being idle.
DEFAULT_BURST = 2000
#: Bytes of request bodies being received at once, over all requests.
DEFAULT_MAX_BODIES_IN_FLIGHT = 64 << 20
#: Bytes an event stream holds for a client that stopped reading (x 64 streams a token: the
#: most one token's stalled streams hold, see docs/security.md).
DEFAULT_STREAM_BUFFER_BYTES = 1 << 20
#: Events an event stream holds for such a client (a namespace's default event retention).
DEFAULT_STREAM_BUFFER_EVENTS = 10_000
