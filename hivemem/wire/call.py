"""One HTTP request of the remote client, as the route table describes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Call"]


@dataclass(slots=True)
class Call:
    """One HTTP request an op becomes.

    Attributes:
        method: HTTP method.
        path: Path below the server's base URL.
        params: Query arguments.
        body: The JSON body (already encoded), or ``None``.
        retry_safe: Whether resending after a lost answer cannot apply the op twice (reads,
            and mutations carrying an idempotency key).
        decode: Turns the JSON answer into the op's value.
        not_found: The value to return for a plain 404 ``not_found`` (missing key).
        headers: Extra headers (``Idempotency-Key``).
    """

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    body: bytes | None = None
    retry_safe: bool = True
    decode: Callable[[Any], Any] = lambda data: data
    not_found: Any = None
    missing_ok: bool = False
    headers: dict[str, str] = field(default_factory=dict)
