"""What every HTTP request passes before the app: the transport's per-request limits.

:class:`Guard` wraps the whole app (the entry fast path included), so each decision below is
made once, for every door (REST routes, event streams, ``/mcp``):

1. **Request id.** ``X-Request-Id`` is taken when it is a short token (at most 128 of
   ``A-Z a-z 0-9 . _ : / + = @ -``), else one is made; every answer echoes it, and a 500's
   body and log line name it.
2. **Without auth** (``--no-auth``, loopback only), a web page the developer visits must not
   reach the server: a ``Host`` that is not a loopback name (DNS rebinding), or an ``Origin``
   other than the server's own (``http://`` + that ``Host``), gets 403 ``origin_refused``; a
   body that is not ``application/json`` gets 415 ``unsupported_media_type``.
3. **Authentication first.** A request that presents a token is authenticated before a byte
   of its body is read; the caller is left in the scope for the route (no second lookup). A
   request with a body and a bad token gets 401 at once; without a body the route decides
   (public routes such as ``/healthz`` answer whatever the credentials).
4. **Rate limit** (:mod:`hivemem.server.ratelimit`): per token, or per client address without
   one; beyond it, 429 ``rate_limited`` with ``Retry-After``.
5. **Bodies.** A declared ``Content-Length`` over the body limit gets 413 before reading; the
   bytes of the bodies being received are bounded server-wide (``max_bodies_in_flight``) and
   per caller (a quarter of that): beyond, 503 ``server_busy`` with ``Retry-After`` at once.
   A body without a length (chunked) is counted as it arrives, under the same bounds.
6. **Unexpected exceptions** escaping the app answer 500 ``internal`` with the request id (if
   nothing was sent yet) and are logged with their traceback and the request id.

Early refusals of a request with a body close the connection after answering, so an unread
body cannot hold it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import math
import os
import re
from typing import TYPE_CHECKING

from starlette.requests import Request

from hivemem.errors import (
    HivememError,
    OriginRefused,
    RateLimited,
    ServerBusy,
    TooLarge,
    UnsupportedMediaType,
)
from hivemem.server import logs
from hivemem.server._http import REQUEST_ID_KEY, error_body, internal_body
from hivemem.server.app import CALLER_KEY, Hub, rate_key
from hivemem.server.ratelimit import RateLimiter

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


__all__ = ["Guard", "is_loopback_authority"]

log = logging.getLogger("hivemem.server")

#: Longest (seconds) a request over the rate limit is held before its 429 is answered.
RATE_LIMIT_HOLD = 1.0
#: Set in the scope once an unexpected exception was logged (by the app's own handler).
LOGGED_KEY = "hivemem.logged"

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")
_JSON_TYPE = b"application/json"
_CLOSE = (b"connection", b"close")


def is_loopback_authority(authority: str, port: int | None) -> bool:
    """Whether ``host[:port]`` names this machine at ``port`` (``None``: any port).

    This machine: ``localhost``, ``127.x.y.z`` or ``[::1]``.
    """
    given: str | None
    if authority.startswith("["):
        name, _, rest = authority.partition("]")
        name, given = name + "]", rest[1:] if rest.startswith(":") else None
        if rest and given is None:
            return False
    elif authority.count(":") == 1:
        name, _, given = authority.partition(":")
    else:
        name, given = authority, None
    if port is not None:
        if given is None:
            if port != 80:
                return False
        elif not given.isdigit() or int(given) != port:
            return False
    name = name.lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


class Guard:
    """The per-request limits in front of one app (see the module's docstring)."""

    def __init__(self, hub: Hub) -> None:
        config = hub.config
        self.hub = hub
        self.auth = config.auth
        self.limiter = RateLimiter(config.rate_limit, config.rate_burst)
        hub.charge = self.limiter.charge
        self.max_body = config.max_body_bytes
        self.max_in_flight = config.max_bodies_in_flight
        #: One caller may hold at most this share of the bodies in flight.
        self.max_in_flight_per_key = max(config.max_body_bytes, config.max_bodies_in_flight // 4)
        #: Bytes of request bodies being received, in all and per caller.
        self.in_flight = 0
        self._in_flight_by_key: dict[str, int] = {}
        self._prefix = os.urandom(4).hex() + "-"
        self._ids = itertools.count(1)
        metrics = hub.metrics
        for counter in ("rate_limited_requests", "request_bodies_refused"):
            metrics.counters[counter] += 0  # listed at 0 from the start
        metrics.add_gauge("request_bodies_in_flight_bytes", lambda: self.in_flight)
        metrics.add_gauge("rate_limit_buckets", lambda: len(self.limiter))

    def _request_id(self, given: bytes | None) -> str:
        if given is not None and _REQUEST_ID.fullmatch(given):
            return given.decode("ascii")
        return f"{self._prefix}{next(self._ids):x}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        """Serve one HTTP request through ``app``, within the limits."""
        given = authorization = length = host = origin = content_type = named = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"x-agent-id":
                named = value
            elif name == b"content-length":
                length = value
            elif name == b"x-request-id":
                given = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"host":
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"content-type":
                content_type = value
        request_id = scope[REQUEST_ID_KEY] = self._request_id(given)
        logs.REQUEST_ID.set(request_id)  # this request's task: its log lines name it
        id_header = (b"x-request-id", request_id.encode("ascii"))
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [*message.get("headers", ()), id_header]
                if message["status"] == 401:
                    headers.append(_challenge(authorization))
                message = {**message, "headers": headers}
            await send(message)

        has_body = chunked or (length is not None and length.strip(b"0") != b"")
        key = ""
        body: _Body | None = None
        try:
            if not self.auth:
                self._check_local(scope, host, origin, content_type, has_body)
            key = await self._identify(scope, authorization, named, has_body)
            wait = self.limiter.take(key)
            if wait:
                self.hub.metrics.counters["rate_limited_requests"] += 1
                # No sooner than it could have retried (at most RATE_LIMIT_HOLD): a caller
                # looping on its 429s makes one attempt a second per connection, not thousands.
                held = min(wait, RATE_LIMIT_HOLD)
                await asyncio.sleep(held)
                # Retry-After counts from the answer: the hold is not waited twice.
                left = max(wait - held, 0.001)
                raise RateLimited(
                    f"too many requests: the limit is {self.limiter.rate:g} per second "
                    f"(bursts of {self.limiter.burst}); retry in {left:.3f} s",
                    retry_after=round(left, 3),
                )
            if has_body:
                declared = int(length) if length is not None and length.isdigit() else 0
                if declared > self.max_body:
                    raise TooLarge(
                        f"request body is {declared} bytes; the limit is {self.max_body}"
                    )
                body = _Body(key, self._reserve(key, declared))
        except HivememError as exc:
            await _refuse(send_with_id, exc, close=has_body)
            return
        if body is not None:
            receive = self._counting(body, receive)
        try:
            await app(scope, receive, send_with_id)
        except HivememError as exc:
            if not started:
                await _refuse(send_with_id, exc, close=False)
        except Exception:
            if not scope.get(LOGGED_KEY):
                log.exception(
                    "hivemem: unexpected error on %s %s (request %s)",
                    scope.get("method"),
                    scope.get("path"),
                    request_id,
                )
            if not started:
                await _answer(send_with_id, 500, internal_body(request_id), [])
        finally:
            if body is not None:
                self._release(body.key, body.reserved)

    def _check_local(
        self,
        scope: Scope,
        host: bytes | None,
        origin: bytes | None,
        content_type: bytes | None,
        has_body: bool,
    ) -> None:
        """The checks of a server without auth: same machine, same origin, JSON bodies."""
        authority = (host or b"").decode("latin-1")
        # The name decides (a rebinding page's Host is its own name); the port may differ
        # from the bound one behind a local proxy or port forward.
        if not is_loopback_authority(authority, None):
            raise OriginRefused(
                f"Host {authority!r} is refused: a server without auth answers only requests "
                "addressed to localhost, 127.0.0.1 or [::1]"
            )
        if origin is not None:
            text = origin.decode("latin-1")
            scheme, sep, rest = text.partition("://")
            if not sep or scheme not in ("http", "https") or rest.lower() != authority.lower():
                raise OriginRefused(
                    f"Origin {text!r} is refused: a server without auth answers only pages "
                    f"it served itself (origin http://{authority})"
                )
        if has_body:
            media = (content_type or b"").split(b";", 1)[0].strip().lower()
            if media != _JSON_TYPE:
                raise UnsupportedMediaType(
                    "request bodies must be sent as 'Content-Type: application/json' "
                    f"(got {(content_type or b'none').decode('latin-1')!r})"
                )

    async def _identify(
        self, scope: Scope, authorization: bytes | None, named: bytes | None, has_body: bool
    ) -> str:
        """The rate-limit key: the token's id once authenticated, else the client address.

        Bad credentials are refused here only for a request with a body (nothing of it is
        read); without one the route decides (public routes answer anyway). Either way
        they count against the client's address, so guessing tokens is rate limited.
        """
        client = scope.get("client")
        address = f"ip:{client[0]}" if client else "ip:-"
        if authorization is None or not self.auth:
            return address
        asked = None
        if b"agent=" in scope.get("query_string", b""):
            asked = Request(scope).query_params.get("agent")
        try:
            caller = await self.hub.authenticate(
                authorization.decode("latin-1"),
                None if named is None else named.decode("latin-1"),
                asked,
                audit=has_body,  # without a body the route decides, and audits
            )
        except HivememError:
            if has_body:
                wait = self.limiter.take(address)
                if wait:
                    self.hub.metrics.counters["rate_limited_requests"] += 1
                    raise RateLimited(
                        "too many requests with bad credentials", retry_after=wait
                    ) from None
                raise
            return address
        scope[CALLER_KEY] = caller
        return rate_key(caller)

    def _reserve(self, key: str, size: int) -> int:
        """Count ``size`` more bytes of body in flight for ``key``; refuse beyond the bounds."""
        held = self._in_flight_by_key.get(key, 0)
        if self.in_flight + size > self.max_in_flight or held + size > self.max_in_flight_per_key:
            self.hub.metrics.counters["request_bodies_refused"] += 1
            raise ServerBusy(
                "too many request bodies in flight on this server "
                f"(at most {self.max_in_flight} bytes, {self.max_in_flight_per_key} per caller); "
                "retry shortly",
                retry_after=1.0,
            )
        self.in_flight += size
        self._in_flight_by_key[key] = held + size
        return size

    def _release(self, key: str, size: int) -> None:
        self.in_flight -= size
        held = self._in_flight_by_key.get(key, 0) - size
        if held > 0:
            self._in_flight_by_key[key] = held
        else:
            self._in_flight_by_key.pop(key, None)

    def _counting(self, body: _Body, receive: Receive) -> Receive:
        """``receive``, counting the body's bytes.

        Beyond the body limit the body is refused; what exceeds the reservation (a chunked
        body) is reserved as it comes.
        """

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.received += len(message.get("body", b""))
                if body.received > self.max_body:
                    raise TooLarge(f"request body exceeds the limit of {self.max_body} bytes")
                if body.received > body.reserved:
                    body.reserved += self._reserve(body.key, body.received - body.reserved)
            return message

        return counted


class _Body:
    """The bytes of one request body: who sends it, reserved so far, received so far."""

    __slots__ = ("key", "received", "reserved")

    def __init__(self, key: str, reserved: int) -> None:
        self.key = key
        self.reserved = reserved
        self.received = 0


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", _JSON_TYPE),
                (b"content-length", b"%d" % len(body)),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _challenge(authorization: bytes | None) -> tuple[bytes, bytes]:
    """The ``WWW-Authenticate`` header of a 401 (RFC 6750): a token was missing or invalid."""
    if authorization is None or not authorization.strip():
        return b"www-authenticate", b'Bearer realm="hivemem"'
    return b"www-authenticate", b'Bearer realm="hivemem", error="invalid_token"'


async def _refuse(send: Send, exc: HivememError, *, close: bool) -> None:
    """Answer an error before the app ran (closing the connection if a body is unread)."""
    status, body = error_body(exc)
    headers = [_CLOSE] if close else []
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers.append((b"retry-after", b"%d" % max(1, math.ceil(retry_after))))
    await _answer(send, status, body, headers)
