"""Storage backends, loaded by URL scheme (so a driver is imported only when used)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from hivemem.errors import InvalidArgument

if TYPE_CHECKING:
    from hivemem.backends.base import Backend
    from hivemem.engine.txn import Settings

__all__ = ["open_backend"]


def open_backend(url: str, settings: Settings, options: dict[str, Any]) -> Backend:
    """Open the backend a URL names: memory://, sqlite:///path, redis://..., postgresql://....

    Raises:
        InvalidArgument: for an unknown scheme or a malformed URL.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        from hivemem.backends.memory import MemoryBackend

        return MemoryBackend(settings)
    if scheme == "sqlite":
        from hivemem.backends.sqlite import SQLiteBackend

        # SQLAlchemy's convention: sqlite:///rel.db is relative, sqlite:////abs.db absolute.
        rest = url.split("://", 1)[1].split("?", 1)[0]
        path = unquote(rest[1:] if rest.startswith("/") else rest)
        if not path or path == ":memory:":
            raise InvalidArgument("sqlite URL needs a file path: sqlite:///hivemem.db")
        for name, value in parse_qsl(parts.query):
            options.setdefault(name, value)
        durability = str(options.pop("durability", "full"))
        return SQLiteBackend(path, settings, durability=durability)
    if scheme in ("redis", "rediss", "redis+cluster"):
        from hivemem.backends.redis import RedisBackend

        prefix = dict(parse_qsl(parts.query)).get("prefix") or str(
            options.pop("prefix", "hivemem:")
        )
        clean = url.split("?", 1)[0] if parts.query else url
        if scheme != "redis+cluster":
            query = [(k, v) for k, v in parse_qsl(parts.query) if k != "prefix"]
            clean = clean + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
        return RedisBackend(clean, settings, prefix=prefix)
    if scheme in ("postgresql", "postgres"):
        return _open_postgres(url, settings, options)
    raise InvalidArgument(
        f"unsupported store URL {url!r}: use memory://, sqlite:///path.db, redis://host:port/db, "
        "rediss://..., redis+cluster://host:port,host:port, postgresql://user@host:port/db "
        "or http(s)://server"
    )


def _open_postgres(url: str, settings: Settings, options: dict[str, Any]) -> Backend:
    """Open ``postgresql://user@host:port/db?schema=name``.

    ``schema`` (default ``hivemem``) and ``durability`` are ours; every other query
    parameter goes to libpq.
    """
    try:
        from hivemem.backends.postgres import PostgresBackend
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("psycopg"):
            raise
        raise InvalidArgument(
            f"postgresql:// stores need the postgres extra ({exc.name} is missing): "
            "pip install 'hivemem[postgres]'"
        ) from None
    parts = urlsplit(url)
    ours = {"schema", "durability"}
    for name, value in parse_qsl(parts.query):
        if name in ours:
            options.setdefault(name, value)
    query = "&".join(f"{k}={v}" for k, v in parse_qsl(parts.query) if k not in ours)
    conninfo = parts._replace(scheme="postgresql", query=query).geturl()
    return PostgresBackend(
        conninfo,
        settings,
        schema=str(options.pop("schema", "hivemem")),
        durability=str(options.pop("durability", "full")),
    )
