"""HTTP plumbing shared by the routes: JSON responses, bounded body reading, query arguments."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

import orjson
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from hivemem.errors import HivememError, InvalidArgument, TooLarge

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from starlette.requests import Request

__all__ = [
    "JSON",
    "REQUEST_ID_KEY",
    "error_body",
    "error_response",
    "internal_body",
    "json_response",
    "query_bool",
    "query_float",
    "query_int",
    "query_str",
    "raw_json",
    "read_json",
    "undecodable",
]

#: Content type of every JSON answer.
JSON = "application/json"
#: Where a request's ASGI scope carries its request id (``X-Request-Id``).
REQUEST_ID_KEY = "hivemem.request_id"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Answer ``data`` as JSON (orjson: fast, and it refuses what is not JSON)."""
    return Response(orjson.dumps(data), status, headers=headers, media_type=JSON)


def raw_json(status: int, body: bytes) -> Response:
    """Answer JSON that is already encoded."""
    return Response(body, status, media_type=JSON)


def error_body(exc: HivememError) -> tuple[int, bytes]:
    """An error's HTTP status and ``{"error": {"code", "message", ...}}`` body."""
    try:
        return exc.status, orjson.dumps(exc.to_dict())
    except TypeError:  # details that are not JSON: keep code and message
        return exc.status, orjson.dumps({"error": {"code": exc.code, "message": exc.message}})


def internal_body(request_id: str | None) -> bytes:
    """The body of a 500: the ``internal`` code and the request id the server log names."""
    error = {"code": "internal", "message": "internal server error; see the server log"}
    if request_id is not None:
        error["request_id"] = request_id
    return orjson.dumps({"error": error})


def error_response(exc: HivememError) -> Response:
    """Answer an error as ``{"error": {"code", "message", ...}}`` with its HTTP status."""
    return raw_json(*error_body(exc))


def undecodable(scope: MutableMapping[str, Any]) -> InvalidArgument | None:
    """The error to answer if the path or query string is not UTF-8 once percent-decoded.

    The server decodes them leniently (U+FFFD for each bad byte), which would map different
    invalid keys to one key: such a request is refused instead.
    """
    for raw in (scope.get("raw_path") or b"", scope.get("query_string") or b""):
        if b"%" in raw or not raw.isascii():
            try:
                unquote_to_bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                return InvalidArgument(
                    "the request path or query string is not valid UTF-8 once percent-decoded "
                    "(keys, prefixes and names are UTF-8 text)"
                )
    return None


async def read_json(request: Request, limit: int) -> Any:
    """Read the request body (at most ``limit`` bytes) and parse it as strict JSON.

    Raises:
        TooLarge: the body exceeds ``limit``.
        InvalidArgument: the body is empty or not JSON.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidArgument("malformed Content-Length header")
        if int(declared) > limit:
            raise TooLarge(f"request body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"request body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # the answer reaches no one, but it is no server error
        raise InvalidArgument("the client left before sending the whole body") from None
    body = b"".join(chunks)
    if not body.strip():
        raise InvalidArgument("request body is empty: send a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(
            f"request body is not valid JSON ({exc.msg}; NaN, infinities and integers "
            "beyond 64 bits are refused)"
        ) from None
    if _LONG_DIGITS.search(body):
        _check_integers(body)
    return data


#: A run of digits long enough to be an integer orjson turns into a float (beyond 64 bits).
_LONG_DIGITS = re.compile(rb"\d{19}")
_INTEGERS = range(-(1 << 63), 1 << 64)


def _check_integers(body: bytes) -> None:
    """Refuse integer literals beyond 64 bits, which orjson would silently read as floats."""

    def integer(text: str) -> int:
        value = int(text)
        if value not in _INTEGERS:
            raise ValueError(text)
        return value

    try:
        json.loads(body, parse_int=integer)
    except (ValueError, RecursionError):
        raise InvalidArgument(
            "request body holds an integer beyond 64 bits: send it as a string"
        ) from None


def _arg(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return None if value is None or value == "" else value


def _typed(request: Request, name: str) -> str | None:
    """A query argument that must have a value when present (``limit=`` is refused)."""
    value = request.query_params.get(name)
    if value == "":
        raise InvalidArgument(f"query argument {name} is empty: give a value or leave it out")
    return value


def query_int(request: Request, name: str, default: int | None = None) -> int | None:
    """An integer query argument, or ``default`` when absent."""
    raw = _typed(request, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(f"query argument {name}={raw!r} is not an integer") from None
    if abs(value) >= 1 << 63:
        raise InvalidArgument(f"query argument {name} is out of range")
    return value


def query_float(request: Request, name: str) -> float | None:
    """A number query argument, or ``None`` when absent."""
    raw = _typed(request, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidArgument(f"query argument {name}={raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidArgument(f"query argument {name} must be a finite number")
    return value


def query_bool(request: Request, name: str) -> bool | None:
    """A boolean query argument (``true``/``false``/``1``/``0``), or ``None`` when absent."""
    raw = _typed(request, name)
    if raw is None:
        return None
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise InvalidArgument(f"query argument {name}={raw!r} is not a boolean (true or false)")


def query_str(request: Request, name: str) -> str | None:
    """A string query argument, or ``None`` when absent or empty."""
    return _arg(request, name)
