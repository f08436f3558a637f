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
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from hivemem._connect import DEFAULT_URL, _open
from hivemem.errors import InvalidArgument
from hivemem.server import limits, logs, protocols
from hivemem.server.app import ServerConfig, metrics_access
from hivemem.server.asgi import create_app
from hivemem.server.auth import TokenStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import uvicorn
    from starlette.applications import Starlette

    from hivemem._core import Core

log = logging.getLogger("hivemem")

__all__ = [
    "ENV_OPTIONS",
    "EXIT_CANNOT_LISTEN",
    "ServeOptions",
    "app_from_env",
    "bootstrap",
    "build_app",
    "check_options",
    "freeze_startup_objects",
    "is_loopback",
    "listen",
    "open_store",
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
        allow_webhook_host: Comma-separated webhook targets allowed despite a loopback,
            private or otherwise non-public address (names, addresses, networks; ``*``).
        webhook_max_failures: Failed deliveries in a row that disable a webhook (0: never).
        webhook_claim_ttl: Seconds a server's claim on a webhook lasts; a killed server's
            webhooks are resumed by another after it.
        log_level: The server's log level (hivemem's and uvicorn's lines).
        log_format: ``text`` or ``json`` (one object per line; see :mod:`hivemem.server.logs`).
        access_log: Log every request.
        cleanup_interval: Seconds between TTL sweeps (0: no sweeper). Replicas over one
            Redis take turns through a lease, so each expiry is announced once.
        embedder: The long-term memories' embedder (``minilm``, ``openai:<url>?model=<m>``,
            ``none``); ``None``: ``$HIVEMEM_EMBEDDER``, else MiniLM when installed. The
            model loads at start, in the background (logged); ``/readyz`` answers 503
            until it is loaded.
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
        metrics: Who may read ``/metrics``: ``open``, ``auth`` (an admin token) or
            ``off``; ``None``: ``open`` when ``host`` is a loopback address, else ``auth``.
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
    log_format: str = "text"
    access_log: bool = False
    cleanup_interval: float = 60.0
    embedder: str | None = None
    decay_interval: float = 3600.0
    index_dir: str | None = None
    # -- quotas (issue 15): refused with 409 quota_exceeded; 0 turns one off
    max_namespaces_per_agent: int = 10_000
    max_entries_per_namespace: int = 1_000_000
    max_store_bytes: int = 0
    metrics: str | None = None

    # -- webhooks (SPEC §19)
    allow_webhook_host: str = ""
    webhook_max_failures: int = 20
    webhook_claim_ttl: float = 30.0

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
            metrics=metrics_access(self.metrics, is_loopback(self.host)),
            allow_webhook_hosts=self.allow_webhook_host,
            webhook_max_failures=self.webhook_max_failures,
            webhook_claim_ttl=self.webhook_claim_ttl,
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
    if options.log_format not in logs.FORMATS:
        raise InvalidArgument(f"log_format must be one of {', '.join(logs.FORMATS)}")
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
    if options.webhook_max_failures < 0 or options.webhook_claim_ttl <= 0:
        raise InvalidArgument("webhook-max-failures must be 0 or more, webhook-claim-ttl > 0")
    for name in ("max_namespaces_per_agent", "max_entries_per_namespace", "max_store_bytes"):
        if getattr(options, name) < 0:
            raise InvalidArgument(f"{name.replace('_', '-')} must be 0 (no quota) or more")


def bootstrap(options: ServeOptions, core: Core | None = None) -> str | None:
    """Prepare the store; return a new admin token if auth is on and none exists yet.

    Tokens live in the store, so the token is created (and returned) only once per store.
    ``core``: the server's own open store (a ``memory://`` store exists only in it);
    without one the store is opened for this and closed.
    """
    own = core is None
    if core is None:
        core = _open(options.store, None, None, {"cleanup_interval": 0, "embedder": "none"})
    try:
        tokens = TokenStore(core.backend)
        tokens.ensure()
        if not options.auth or tokens.count():
            return None
        token, _ = tokens.create("admin", "admin", "created on first start", first=True)
        return token
    finally:
        if own:
            core.close()


def open_store(options: ServeOptions) -> Core:
    """Open the store a server serves."""
    return _open(
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


def build_app(options: ServeOptions, core: Core | None = None) -> Starlette:
    """Build the app over ``core`` (default: the store opened now); it closes at shutdown."""
    core = open_store(options) if core is None else core
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
#: loop stalls every request meanwhile (anyio's asyncio backend, on the first event stream;
#: docs/design.md, "Measured choices"). numpy is for memories' ranking.
PRELOAD = ("anyio._backends._asyncio", "anyio.streams.memory", "encodings.idna", "numpy")


def preload_modules() -> None:
    """Import :data:`PRELOAD` (those installed) before serving."""
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def freeze_startup_objects() -> None:
    """Keep what a server process holds from its start out of the garbage collector's walks.

    Modules, the app, the store and the engine's tables live as long as the process; after
    :func:`gc.freeze` a full collection walks only what requests create since: a full
    collection of the whole heap paused the event loop for most of the p99 of writes
    (docs/design.md, "Measured choices").
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
        log_config=logs.log_config(options.log_level, options.log_format),
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
    out = out or sys.stdout
    check_options(options)
    try:
        sock = listen(options.host, options.port)
    except OSError as exc:
        print(
            f"error: cannot listen on {options.host}:{options.port}: {exc.strerror or exc} "
            "(is another server there? choose another --port)",
            file=sys.stderr,
        )
        return EXIT_CANNOT_LISTEN
    stop = _StopOnTerm()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with sock:
            return _run(options, sock, out, stop)
    finally:
        signal.signal(signal.SIGTERM, previous)


class _StopOnTerm:
    """SIGTERM outside uvicorn's own handling: before it runs, stop it from starting.

    uvicorn handles SIGTERM while it serves, then re-raises it once shut down; with Python's
    default handler that killed the process (exit 143) after a clean stop.
    """

    def __init__(self) -> None:
        self.requested = False
        self.server: Any = None

    def __call__(self, signum: int, frame: object) -> None:
        self.requested = True
        if self.server is not None:
            self.server.should_exit = True


def _run(options: ServeOptions, sock: socket.socket, out: TextIO, stop: _StopOnTerm) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    core = None if options.workers > 1 else open_store(options)
    try:
        token = bootstrap(options, core)
        app = None if core is None else build_app(options, core)
    except BaseException:
        if core is not None:
            core.close()
        raise
    print(f"hivemem serving {options.url} (store {_mask(options.store)})", file=out)
    if token is not None:
        print(f"admin token (shown once, keep it): {token}", file=out)
    elif not options.auth:
        print("auth is off: the agent comes from the X-Agent-Id header", file=out)
    out.flush()
    if app is None:
        os.environ[ENV_OPTIONS] = json.dumps(dataclasses.asdict(options))
        config = uvicorn_config(options, f"{__name__}:app_from_env")
        _log_start(options)
        if not stop.requested:
            Multiprocess(config, sockets=[sock]).run()
        log.info("hivemem: stopped")
        return 0
    config = uvicorn_config(options, app)
    _log_start(options)
    preload_modules()
    freeze_startup_objects()
    share_the_gil_finely()
    server = stop.server = uvicorn.Server(config)
    if stop.requested:  # the store closes with the app's lifespan, which never ran
        assert core is not None
        core.close()
        return 0
    server.run(sockets=[sock])
    log.info("hivemem: stopped")
    return 0 if server.started else 1


def _log_start(options: ServeOptions) -> None:
    log.info(
        "hivemem: serving %s (store %s, %d worker%s, auth %s)",
        options.url,
        _mask(options.store),
        options.workers,
        "" if options.workers == 1 else "s",
        "on" if options.auth else "off",
    )


#: Exit status of ``hivemem serve`` when its address cannot be bound (port in use, ...).
EXIT_CANNOT_LISTEN = 13


def listen(host: str, port: int) -> socket.socket:
    """Bind the server's listening socket (before anything is printed or opened).

    Raises:
        OSError: the address is in use, not local, or needs privileges.
    """
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
