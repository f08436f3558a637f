"""The hivemem exception tree.

Every error carries a stable machine-readable ``code`` and the HTTP ``status`` the server
answers with. One table (:data:`ERRORS_BY_CODE`) feeds the server's error JSON and lets the
remote client raise the same classes, so embedded and remote callers catch the same things::

    HivememError
    ├── PermissionDenied        403 permission_denied
    │   └── OriginRefused       403 origin_refused    (--no-auth: foreign Origin or Host)
    ├── Unauthenticated         401 unauthenticated
    ├── NotFound                404 not_found
    │   ├── NamespaceNotFound   404 namespace_not_found
    │   ├── ItemNotFound        404 item_not_found    (also a ValueError: list.remove)
    │   └── LeaseExpired        404 lease_expired     (expired, revoked or unknown lease)
    ├── AlreadyExists           409 already_exists
    ├── ConflictError           409 conflict          (reason, current_version)
    │   └── LockTimeout         409 lock_timeout      (lock(wait=) ran out)
    ├── NamespaceFull           409 namespace_full
    ├── QuotaExceeded           409 quota_exceeded    (quota, limit: an operator's quota)
    ├── IndexOutOfRange         409 index_out_of_range (also an IndexError: list.pop)
    ├── WrongType               409 wrong_type        (a list op on a key that is no list)
    ├── InvalidArgument         422 invalid_argument  (also a ValueError)
    │   ├── TooLarge            413 too_large
    │   └── UnsupportedMediaType 415 unsupported_media_type
    ├── RevisionCompacted       410 revision_compacted (oldest_available)
    ├── TooManyRequests         429 too_many_requests
    │   └── RateLimited         429 rate_limited      (retry_after)
    ├── EmbedderUnavailable     503 embedder_unavailable (no embedder, or it failed)
    ├── InternalError           500 internal          (a bug: logged with its traceback)
    └── BackendUnavailable      503 backend_unavailable
        ├── ServerBusy          503 server_busy       (retry_after)
        └── CircuitOpen         503 circuit_open
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

__all__ = [
    "ERRORS_BY_CODE",
    "AlreadyExists",
    "BackendUnavailable",
    "CircuitOpen",
    "ConflictError",
    "EmbedderUnavailable",
    "HivememError",
    "IndexOutOfRange",
    "InternalError",
    "InvalidArgument",
    "ItemNotFound",
    "LeaseExpired",
    "LockTimeout",
    "NamespaceFull",
    "NamespaceNotFound",
    "NotFound",
    "OriginRefused",
    "PermissionDenied",
    "QuotaExceeded",
    "RateLimited",
    "RevisionCompacted",
    "ServerBusy",
    "TooLarge",
    "TooManyRequests",
    "Unauthenticated",
    "UnsupportedMediaType",
    "WrongType",
    "error_from_dict",
]


class HivememError(Exception):
    """Base of every hivemem error.

    Attributes:
        code: Stable machine-readable code, e.g. ``"permission_denied"``.
        status: The HTTP status the server answers with.
        message: Human-readable text that says how to fix the problem.
        details: Extra fields carried in the error JSON.
    """

    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500

    def __init__(self, message: str = "", **details: Any) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """Return the error JSON body: ``{"error": {"code", "message", ...details}}``."""
        return {"error": {"code": self.code, "message": self.message, **self.details}}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.details))


def _rebuild(cls: type[HivememError], message: str, details: dict[str, Any]) -> HivememError:
    return cls(message, **details)


class PermissionDenied(HivememError):
    """The agent lacks the permission level the operation needs."""

    code = "permission_denied"
    status = 403


class OriginRefused(PermissionDenied):
    """A server without auth refused a request another site could have sent.

    An ``Origin`` that is not the server's own, or a ``Host`` that is not a loopback name
    with the server's port (DNS rebinding).
    """

    code = "origin_refused"
    status = 403


class Unauthenticated(HivememError):
    """No valid credential was presented."""

    code = "unauthenticated"
    status = 401


class NotFound(HivememError):
    """The addressed object does not exist."""

    code = "not_found"
    status = 404


class NamespaceNotFound(NotFound):
    """The namespace does not exist."""

    code = "namespace_not_found"
    status = 404


class ItemNotFound(NotFound, ValueError):
    """No list item equals the one to remove (like ``list.remove``'s ValueError)."""

    code = "item_not_found"
    status = 404


class IndexOutOfRange(HivememError, IndexError):
    """Pop from an empty list, or an index outside the list (like ``list.pop``)."""

    code = "index_out_of_range"
    status = 409


class WrongType(HivememError, TypeError):
    """A list operation on a key whose value is not a list (like Redis's WRONGTYPE)."""

    code = "wrong_type"
    status = 409


class AlreadyExists(HivememError):
    """The object to create exists already."""

    code = "already_exists"
    status = 409


class ConflictError(HivememError):
    """A write lost against the namespace's conflict strategy or a version condition.

    Attributes:
        reason: ``first_wins``, ``version_required``, ``version_mismatch`` or
            ``rejected_by_resolver``.
        current_version: The key's version when the write was refused (0 if absent).
    """

    code = "conflict"
    status = 409

    def __init__(
        self,
        message: str = "",
        *,
        reason: str = "conflict",
        current_version: int | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, reason=reason, current_version=current_version, **details)
        self.reason = reason
        self.current_version = current_version


class LeaseExpired(NotFound):
    """The lease is gone: it expired, was revoked, or never existed.

    404: after a sweep, an expired lease and an unknown one cannot be told apart.
    """

    code = "lease_expired"
    status = 404


class LockTimeout(ConflictError):
    """``lock(..., wait=)`` did not get the lock in time (nothing held, nothing changed)."""

    code = "lock_timeout"
    status = 409

    def __init__(self, message: str = "", **details: Any) -> None:
        details.setdefault("reason", "lock_timeout")
        super().__init__(message, **details)


class NamespaceFull(HivememError):
    """The write would create an entry beyond the namespace's ``max_entries``."""

    code = "namespace_full"
    status = 409


class QuotaExceeded(HivememError):
    """The write would go beyond a quota the operator set (nothing was written).

    409 as :class:`NamespaceFull`: the request is valid, the store's state refuses it, and
    retrying the same request cannot help until entries or namespaces are removed or the
    operator raises the quota (a 5xx such as 507 would invite clients to retry).

    Attributes:
        quota: Which quota: ``namespaces_per_agent``, ``entries_per_namespace`` or
            ``store_bytes``.
        limit: The quota's value.
    """

    code = "quota_exceeded"
    status = 409

    def __init__(
        self,
        message: str = "",
        *,
        quota: str | None = None,
        limit: int | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, quota=quota, limit=limit, **details)
        self.quota = quota
        self.limit = limit


class InvalidArgument(HivememError, ValueError):
    """The input is malformed: bad name, non-JSON value, negative TTL, unknown option..."""

    code = "invalid_argument"
    status = 422


class TooLarge(InvalidArgument):
    """A key, value or request exceeds its configured size limit."""

    code = "too_large"
    status = 413


class UnsupportedMediaType(InvalidArgument):
    """A request body that is not ``application/json``.

    Refused by a server without auth, where a web page could otherwise post a plain-text form.
    """

    code = "unsupported_media_type"
    status = 415


class RevisionCompacted(HivememError):
    """A watch asked to resume from a revision older than the retained events.

    Attributes:
        oldest_available: The oldest revision still retained; resync and watch from there.
    """

    code = "revision_compacted"
    status = 410

    def __init__(self, message: str = "", *, oldest_available: int = 0, **details: Any) -> None:
        super().__init__(message, oldest_available=oldest_available, **details)
        self.oldest_available = oldest_available


class TooManyRequests(HivememError):
    """A per-token limit is reached (e.g. concurrent event streams); retry later."""

    code = "too_many_requests"
    status = 429


class RateLimited(TooManyRequests):
    """The caller sent more requests per second than the server allows; retry later.

    Attributes:
        retry_after: Seconds until the server takes the caller's next request (the
            ``Retry-After`` header carries it rounded up).
    """

    code = "rate_limited"
    status = 429

    def __init__(self, message: str = "", *, retry_after: float = 1.0, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class EmbedderUnavailable(HivememError):
    """Semantic search or embedding needs an embedder, and none is configured or it failed.

    Configure one with ``connect(..., embedder="minilm")`` (the ``semantic`` extra), an
    OpenAI-compatible endpoint (``embedder="openai:https://host/v1?model=NAME"``), or
    ``$HIVEMEM_EMBEDDER``.
    """

    code = "embedder_unavailable"
    status = 503


class InternalError(HivememError):
    """An unexpected exception (a bug) while running one op; only that op failed.

    The store logs it once with its traceback (logger ``hivemem``); the op's writes are
    undone and the other ops of the same commit are unaffected.
    """

    code = "internal"
    status = 500

    @classmethod
    def of(cls, exc: BaseException, where: str) -> InternalError:
        """Log ``exc`` with its traceback (logger ``hivemem``) and return the error to answer.

        Args:
            exc: The unexpected exception.
            where: What was running, e.g. ``"op put on namespace 'a'"``.
        """
        logging.getLogger("hivemem").error("unexpected error in %s", where, exc_info=exc)
        text = str(exc)
        if len(text) > 200:
            text = text[:200] + "..."
        return cls(f"internal error in {where}: {type(exc).__name__}: {text}")


class BackendUnavailable(HivememError):
    """The storage backend (or the server) cannot be reached right now."""

    code = "backend_unavailable"
    status = 503


class ServerBusy(BackendUnavailable):
    """The server refused the request before doing anything; send it again later.

    E.g. too many request bodies in flight. Nothing was done, so it is safe to send again
    after ``retry_after`` seconds.
    """

    code = "server_busy"
    status = 503

    def __init__(self, message: str = "", *, retry_after: float = 1.0, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class CircuitOpen(BackendUnavailable):
    """The client's circuit breaker is open: calls fail fast until the server recovers."""

    code = "circuit_open"
    status = 503


ERRORS_BY_CODE: dict[str, type[HivememError]] = {
    cls.code: cls
    for cls in (
        PermissionDenied,
        OriginRefused,
        Unauthenticated,
        NotFound,
        NamespaceNotFound,
        ItemNotFound,
        LeaseExpired,
        IndexOutOfRange,
        WrongType,
        AlreadyExists,
        ConflictError,
        LockTimeout,
        NamespaceFull,
        QuotaExceeded,
        InvalidArgument,
        TooLarge,
        UnsupportedMediaType,
        RevisionCompacted,
        TooManyRequests,
        RateLimited,
        EmbedderUnavailable,
        InternalError,
        BackendUnavailable,
        ServerBusy,
        CircuitOpen,
    )
}


def error_from_dict(body: dict[str, Any]) -> HivememError:
    """Rebuild the exception a server sent as ``{"error": {"code", "message", ...}}``."""
    err = dict(body.get("error", body))
    code = str(err.pop("code", "internal"))
    message = str(err.pop("message", code))
    cls = ERRORS_BY_CODE.get(code, HivememError)
    return cls(message, **err)
