"""``hivemem serve``: run the server on uvicorn (SPEC §12).

:func:`serve` opens the store once to prepare it (the token namespace; on first start with
auth on and no token yet, an admin token it prints once), prints the URL, then runs uvicorn:
httptools and uvloop when installed (the ``server`` extra), the header and body deadlines and
the header size cap of :mod:`hivemem.server.protocols`, a keep-alive timeout, graceful
shutdown on SIGTERM and SIGINT (uvicorn's handlers; open event streams get
``graceful_timeout`` seconds). Per-request limits (rate, bodies in flight, ``--no-auth``
origin checks) are the app's :mod:`hivemem.server.guard`.

With ``workers > 1`` uvicorn spawns worker processes sharing one listening socket; each
builds its app with :func:`app_from_env` from the options the parent put in
``$HIVEMEM_SERVE_OPTIONS``. They share the store: a SQLite file is safe across processes, and
tokens live in the store, so every worker accepts the same ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib
import ipaddress
import json
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from hivemem._connect import DEFAULT_URL, _open
from hivemem.errors import InvalidArgument
from hivemem.server import limits, protocols
from hivemem.server.app import ServerConfig, create_app
from hivemem.server.auth import TokenStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import uvicorn
    from starlette.applications import Starlette

__all__ = [
    "ENV_OPTIONS",
    "ServeOptions",
    "app_from_env",
    "bootstrap",
    "build_app",
    "check_options",
    "freeze_startup_objects",
    "is_loopback",
    "preload_modules",
    "serve",
    "share_the_gil_finely",
    "uvicorn_config",
]

#: The environment variable carrying :class:`ServeOptions` to worker processes.
ENV_OPTIONS = "HIVEMEM_SERVE_OPTIONS"


@dataclass(slots=True)
class ServeOptions:
    """Everything ``hivemem serve`` takes.

    Attributes:
        store: The store URL the server serves (``sqlite:///hivemem.db`` by default).
        host: The address to bind.
        port: The TCP port.
        workers: uvicorn worker processes over the same store.
        auth: Require bearer tokens (``False`` only on a loopback host).
        heartbeat: Seconds between heartbeats on idle event streams.
        max_body: Largest request body, in bytes.
        max_streams: Concurrent event streams per token.
        header_timeout: Seconds a client has to send a request's headers (0: no limit).
        body_timeout: Seconds a client has to send a request's whole body once its headers
            are in (0: no limit); beyond, 408 and the connection is closed.
        max_header_bytes: Largest request line plus headers, in bytes.
        keep_alive: Seconds an idle keep-alive connection stays open.
        rate_limit: Requests per second per token (per client address without a token);
            beyond, 429 ``rate_limited`` with ``Retry-After`` (0: no limit). Per process.
        rate_burst: Requests a token may send at once.
        max_bodies_in_flight: Bytes of request bodies being received at once (one caller:
            a quarter of it); beyond, 503 ``server_busy``.
        stream_buffer_bytes: Bytes an event stream holds for a client that stopped reading
            before dropping it.
        stream_buffer_events: Events an event stream holds for such a client before
            dropping it.
        graceful_timeout: Seconds open requests (event streams) get on shutdown.
        log_level: uvicorn's log level.
        access_log: Log every request.
        cleanup_interval: Seconds between TTL sweeps (0: no sweeper). Replicas over one
            Redis take turns through a lease, so each expiry is announced once.
        embedder: The long-term memories' embedder (``minilm``, ``openai:<url>?model=<m>``,
            ``none``); ``None``: ``$HIVEMEM_EMBEDDER``, else MiniLM when installed. The
            model loads on the first embedding, never at start.
        decay_interval: Seconds between decay passes over the memories (0: none); replicas
            take turns through a lease.
        index_dir: Where the memories' vector indexes are snapshotted at shutdown, so a
            restart loads them instead of rebuilding (``None``: ``<file>.index`` beside a
            SQLite store, none for Redis; ``""``: never). Each replica may keep its own.
        max_namespaces_per_agent: Namespaces one agent may create (auto-created included;
            admin tokens exempt); 0: no quota.
        max_entries_per_namespace: Entries a namespace without ``max_entries`` may hold;
            0: no quota.
        max_store_bytes: Store size (SQLite file and WAL, Redis ``used_memory``) beyond
            which writes that add data are refused; 0: no quota.
    """

    store: str = DEFAULT_URL
    host: str = "127.0.0.1"
    port: int = 7700
    workers: int = 1
    auth: bool = True
    heartbeat: float = 15.0
    max_body: int = 2 << 20
    max_streams: int = 64
    header_timeout: float = limits.DEFAULT_HEADER_TIMEOUT
    body_timeout: float = limits.DEFAULT_BODY_TIMEOUT
    max_header_bytes: int = limits.DEFAULT_MAX_HEADER_BYTES
    keep_alive: float = 5.0
    rate_limit: float = limits.DEFAULT_RATE
    rate_burst: int = limits.DEFAULT_BURST
    max_bodies_in_flight: int = limits.DEFAULT_MAX_BODIES_IN_FLIGHT
    stream_buffer_bytes: int = limits.DEFAULT_STREAM_BUFFER_BYTES
    stream_buffer_events: int = limits.DEFAULT_STREAM_BUFFER_EVENTS
    graceful_timeout: float = 5.0
    log_level: str = "warning"
    access_log: bool = False
    cleanup_interval: float = 60.0
    embedder: str | None = None
    decay_interval: float = 3600.0
    index_dir: str | None = None
    # -- quotas (issue 15): refused with 409 quota_exceeded; 0 turns one off
    max_namespaces_per_agent: int = 10_000
    max_entries_per_namespace: int = 1_000_000
    max_store_bytes: int = 0

    def quota_settings(self) -> dict[str, int | None]:
        """The quotas as ``connect()`` options (``None``: no quota)."""
        return {
            "max_namespaces_per_agent": self.max_namespaces_per_agent or None,
            "default_max_entries": self.max_entries_per_namespace or None,
            "max_store_bytes": self.max_store_bytes or None,
        }

    @property
    def url(self) -> str:
        """The URL clients connect to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def server_config(self) -> ServerConfig:
        """The app's options."""
        return ServerConfig(
            auth=self.auth,
            max_body_bytes=self.max_body,
            heartbeat=self.heartbeat,
            max_streams_per_token=self.max_streams,
            decay_interval=self.decay_interval,
            rate_limit=self.rate_limit,
            rate_burst=self.rate_burst,
            max_bodies_in_flight=self.max_bodies_in_flight,
            stream_buffer_bytes=self.stream_buffer_bytes,
            stream_buffer_events=self.stream_buffer_events,
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_options(options: ServeOptions) -> None:
    """Refuse unsafe or impossible options.

    Raises:
        InvalidArgument: ``--no-auth`` on a non-loopback host, or a bad number.
    """
    if not options.auth and not is_loopback(options.host):
        raise InvalidArgument(
            f"--no-auth is refused on {options.host}: without tokens anyone who reaches the "
            "port acts as any agent. Bind to 127.0.0.1 (or ::1), or drop --no-auth"
        )
    if not 0 <= options.port <= 65535:
        raise InvalidArgument(f"invalid port {options.port}")
    for name in (
        "workers",
        "max_body",
        "max_streams",
        "max_header_bytes",
        "rate_burst",
        "stream_buffer_bytes",
        "stream_buffer_events",
    ):
        if getattr(options, name) < 1:
            raise InvalidArgument(f"{name.replace('_', '-')} must be at least 1")
    for name in ("heartbeat", "keep_alive"):
        if getattr(options, name) <= 0:
            raise InvalidArgument(f"{name.replace('_', '-')} must be more than 0 seconds")
    if options.max_bodies_in_flight < options.max_body:
        raise InvalidArgument("max-bodies-in-flight must be at least max-body")
    if options.rate_limit < 0:
        raise InvalidArgument("rate-limit must be 0 (no limit) or more requests per second")
    if (
        min(
            options.header_timeout,
            options.body_timeout,
            options.graceful_timeout,
            options.cleanup_interval,
            options.decay_interval,
        )
        < 0
    ):
        raise InvalidArgument("timeouts must be 0 or more seconds")
    for name in ("max_namespaces_per_agent", "max_entries_per_namespace", "max_store_bytes"):
        if getattr(options, name) < 0:
            raise InvalidArgument(f"{name.replace('_', '-')} must be 0 (no quota) or more")


def bootstrap(options: ServeOptions) -> str | None:
    """Prepare the store; return a new admin token if auth is on and none exists yet.

    Tokens live in the store, so the token is created (and returned) only once per store.
    """
    core = _open(options.store, None, None, {"cleanup_interval": 0, "embedder": "none"})
    try:
        tokens = TokenStore(core.backend)
        tokens.ensure()
        if not options.auth or tokens.count():
            return None
        token, _ = tokens.create("admin", "admin", "created on first start", first=True)
        return token
    finally:
        core.close()


def build_app(options: ServeOptions) -> Starlette:
    """Open the store and build the app; the store closes when the app shuts down."""
    core = _open(
        options.store,
        None,
        None,
        {
            "cleanup_interval": options.cleanup_interval,
            "embedder": options.embedder,
            "index_dir": options.index_dir,
            **options.quota_settings(),
        },
    )
    try:
        app = create_app(core, options.server_config())
    except BaseException:
        core.close()
        raise
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        try:
            async with inner(app):
                yield
        finally:
            core.close()

    app.router.lifespan_context = lifespan
    return app


def app_from_env() -> Starlette:
    """The app of a worker process, from the options in ``$HIVEMEM_SERVE_OPTIONS``."""
    raw = os.environ.get(ENV_OPTIONS)
    if not raw:
        raise RuntimeError(f"{ENV_OPTIONS} is not set: start workers with 'hivemem serve'")
    app = build_app(ServeOptions(**json.loads(raw)))
    preload_modules()
    freeze_startup_objects()
    share_the_gil_finely()
    return app


#: Modules a server imports on first use, imported before it serves: an import on the event
#: loop stalls every request meanwhile (anyio's asyncio backend, on the first event stream:
#: ~50 ms). numpy is for memories' ranking.
PRELOAD = ("anyio._backends._asyncio", "anyio.streams.memory", "encodings.idna", "numpy")


def preload_modules() -> None:
    """Import :data:`PRELOAD` (those installed) before serving."""
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def freeze_startup_objects() -> None:
    """Keep what a server process holds from its start out of the garbage collector's walks.

    Modules, the app, the store and the engine's tables live as long as the process; after
    :func:`gc.freeze` a full collection walks only what requests create since. A full
    collection of the whole heap paused the event loop for 15-20 ms a few times a minute,
    which was most of the p99 of writes at 64 clients (19.4 -> 11.7 ms, same harness).
    """
    gc.collect()
    gc.freeze()


#: Seconds a thread holding the GIL runs before a waiting one gets it (CPython's default is
#: 5 ms). The event loop gives the GIL up at every system call and SQLite read; while a
#: heavy-read thread runs Python, each of those cost the loop up to one interval.
SWITCH_INTERVAL = 0.0005


def share_the_gil_finely() -> None:
    """Make the event loop wait less for the GIL behind heavy-read threads (see above)."""
    sys.setswitchinterval(SWITCH_INTERVAL)


def uvicorn_config(options: ServeOptions, app: Any) -> uvicorn.Config:
    """The uvicorn config for ``app`` (an ASGI app, or an import string of a factory)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=options.host.strip("[]"),
        port=options.port,
        workers=options.workers,
        factory=isinstance(app, str),
        http=protocols.protocol_class(),
        loop="auto",
        lifespan="on",
        log_level=options.log_level,
        access_log=options.access_log,
        timeout_keep_alive=max(1, round(options.keep_alive)),
        timeout_graceful_shutdown=max(1, round(options.graceful_timeout)),
        server_header=False,
    )
    protocols.configure(
        config, options.header_timeout, options.max_header_bytes, options.body_timeout
    )
    return config


def _mask(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def serve(options: ServeOptions, out: TextIO | None = None) -> int:
    """Run the server until SIGTERM or SIGINT; return the exit status.

    Prints the URL (and, on the first start of a store, its admin token) on ``out``.

    Raises:
        InvalidArgument: bad options (see :func:`check_options`).
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    out = out or sys.stdout
    check_options(options)
    token = bootstrap(options)
    print(f"hivemem serving {options.url} (store {_mask(options.store)})", file=out)
    if token is not None:
        print(f"admin token (shown once, keep it): {token}", file=out)
    elif not options.auth:
        print("auth is off: the agent comes from the X-Agent-Id header", file=out)
    out.flush()
    if options.workers > 1:
        os.environ[ENV_OPTIONS] = json.dumps(dataclasses.asdict(options))
        config = uvicorn_config(options, f"{__name__}:app_from_env")
        sock = config.bind_socket()
        Multiprocess(config, sockets=[sock]).run()
        return 0
    config = uvicorn_config(options, build_app(options))
    preload_modules()
    freeze_startup_objects()
    share_the_gil_finely()
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1
