"""``hivemem serve``: argument parsing (the runner is :mod:`hivemem.server.serve`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from hivemem.cli._common import EXIT_EPILOG, command, store_url
from hivemem.cli._config import mark_settings

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["register"]

_DESCRIPTION = """\
Serve a store over HTTP (JSON API under /v1, event streams, /healthz, /metrics).

On the first start of a store (no token in it yet) an admin token is created and
printed once on stdout with the URL; later starts print the URL only. Create more
tokens with 'hivemem token create AGENT --url STORE_OR_SERVER'.
Stops gracefully on SIGTERM or Ctrl-C."""


def _number(kind: Callable[[str], float], minimum: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` command."""
    from hivemem.server.limits import (
        DEFAULT_BODY_TIMEOUT,
        DEFAULT_BURST,
        DEFAULT_HEADER_TIMEOUT,
        DEFAULT_MAX_BODIES_IN_FLIGHT,
        DEFAULT_MAX_HEADER_BYTES,
        DEFAULT_RATE,
        DEFAULT_STREAM_BUFFER_BYTES,
        DEFAULT_STREAM_BUFFER_EVENTS,
    )

    p = sub.add_parser(
        "serve",
        help="run the hivemem server",
        description=_DESCRIPTION,
        epilog=EXIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="store to serve: memory://, sqlite:///file.db or a file path "
        "(default: sqlite:///hivemem.db; $HIVEMEM_URL is the store of clients, not this)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7700, help="TCP port (default 7700)")
    p.add_argument(
        "--workers",
        type=_number(int, 1),
        default=1,
        help="worker processes over the same store (default 1; SQLite is multi-process safe, "
        "memory:// is not shared between workers)",
    )
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="no tokens: the agent comes from the X-Agent-Id header "
        "(local development; refused unless --host is a loopback address)",
    )
    p.add_argument(
        "--heartbeat",
        type=_number(float, 0.1),
        default=15.0,
        metavar="S",
        help="seconds between heartbeats on idle event streams (default 15)",
    )
    p.add_argument(
        "--max-body",
        type=_number(int, 1),
        default=2 << 20,
        metavar="BYTES",
        help="largest request body (default 2 MiB = 2097152)",
    )
    p.add_argument(
        "--max-streams",
        type=_number(int, 1),
        default=64,
        metavar="N",
        help="concurrent event streams per token (default 64)",
    )
    p.add_argument(
        "--header-timeout",
        type=_number(float, 0),
        default=DEFAULT_HEADER_TIMEOUT,
        metavar="S",
        help="seconds a client has to send a request's headers before the connection "
        "is closed with 408 (slow clients; default 10; 0 = no limit)",
    )
    p.add_argument(
        "--body-timeout",
        type=_number(float, 0),
        default=DEFAULT_BODY_TIMEOUT,
        metavar="S",
        help="seconds a client has to send a request's whole body once its headers are in; "
        "then 408 and the connection is closed (default 30; 0 = no limit)",
    )
    p.add_argument(
        "--max-bodies-in-flight",
        type=_number(int, 1),
        default=DEFAULT_MAX_BODIES_IN_FLIGHT,
        metavar="BYTES",
        help="bytes of request bodies the server receives at once (one token: a quarter); "
        "more get 503 server_busy with Retry-After (default 64 MiB = 67108864)",
    )
    p.add_argument(
        "--rate-limit",
        type=_number(float, 0),
        default=DEFAULT_RATE,
        metavar="N",
        help="requests per second per token (per client address without a token), per "
        "worker; more get 429 rate_limited with Retry-After (default 1000; 0 = no limit)",
    )
    p.add_argument(
        "--rate-burst",
        type=_number(int, 1),
        default=DEFAULT_BURST,
        metavar="N",
        help="requests a token may send at once above the rate (default 2000)",
    )
    p.add_argument(
        "--stream-buffer-bytes",
        type=_number(int, 1),
        default=DEFAULT_STREAM_BUFFER_BYTES,
        metavar="BYTES",
        help="bytes an event stream holds for a client that stopped reading (besides its "
        "socket buffers); beyond, the client is dropped (default 1 MiB = 1048576)",
    )
    p.add_argument(
        "--stream-buffer-events",
        type=_number(int, 1),
        default=DEFAULT_STREAM_BUFFER_EVENTS,
        metavar="N",
        help="events (and heartbeats) an event stream holds for a client that stopped "
        "reading; beyond, the client is dropped (default 10000)",
    )
    p.add_argument(
        "--max-header-bytes",
        type=_number(int, 1024),
        default=DEFAULT_MAX_HEADER_BYTES,
        metavar="BYTES",
        help="largest request line plus headers; more gets 431 (default 65536)",
    )
    p.add_argument(
        "--keep-alive",
        type=_number(float, 1),
        default=5.0,
        metavar="S",
        help="seconds an idle keep-alive connection stays open before the server closes it "
        "(default 5)",
    )
    p.add_argument(
        "--graceful-timeout",
        type=_number(float, 0),
        default=5.0,
        metavar="S",
        help="on SIGTERM/SIGINT, seconds open requests and event streams get to finish (default 5)",
    )
    p.add_argument(
        "--cleanup-interval",
        type=_number(float, 0),
        default=60.0,
        metavar="S",
        help="seconds between TTL sweeps that delete expired entries and announce them "
        "(default 60; 0 = no sweeper); replicas over one Redis sweep one at a time",
    )
    p.add_argument(
        "--embedder",
        default=None,
        metavar="SPEC",
        help="embedder of long-term memories: minilm (the bundled all-MiniLM-L6-v2, the "
        "default when the 'semantic' extra is installed; loaded at start, /readyz answers 503 "
        "until then), "
        "openai:<base_url>?model=<name> (an OpenAI-compatible endpoint), or none "
        "(default: minilm when installed)",
    )
    p.add_argument(
        "--decay-interval",
        type=_number(float, 0),
        default=3600.0,
        metavar="S",
        help="seconds between decay passes over long-term memories (default 3600; 0 = none); "
        "replicas over one Redis take turns",
    )
    p.add_argument(
        "--index-dir",
        default=None,
        metavar="DIR",
        help="where long-term memories' vector indexes are saved at shutdown so a restart "
        "loads them instead of rebuilding (default: <file>.index beside a SQLite store, "
        "none over Redis; 'none' = never)",
    )
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level on stderr (default warning)",
    )
    p.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="text, or json: one JSON object per line with its request's X-Request-Id "
        "(default text)",
    )
    p.add_argument("--access-log", action="store_true", help="log every request on stderr")
    p.add_argument(
        "--metrics",
        default=None,
        choices=["open", "auth", "off"],
        help="who may read /metrics (Prometheus): open (no token), auth (an admin token) or "
        "off (404) (default: open when --host is a loopback address, else auth)",
    )
    # -- quotas (issue 15); 0 turns one off
    p.add_argument(
        "--max-namespaces-per-agent",
        type=_number(int, 0),
        default=10_000,
        metavar="N",
        help="namespaces one agent may create, auto-created ones included; admin tokens are "
        "exempt (default 10000; 0 = no quota)",
    )
    p.add_argument(
        "--max-entries-per-namespace",
        type=_number(int, 0),
        default=1_000_000,
        metavar="N",
        help="entries a namespace without its own max_entries may hold "
        "(default 1000000; 0 = no quota)",
    )
    p.add_argument(
        "--max-store-bytes",
        type=_number(int, 0),
        default=0,
        metavar="BYTES",
        help="size the store may reach (SQLite file + WAL, Redis used_memory) before writes "
        "that add data are refused; deletes still run (default 0 = no quota)",
    )
    # -- webhooks (SPEC §19)
    p.add_argument(
        "--allow-webhook-host",
        default="",
        metavar="HOSTS",
        help="comma-separated webhook targets allowed although they resolve to a loopback, "
        "private, link-local or multicast address: host names, addresses, networks "
        "(10.0.0.0/8), or * for any (default: none)",
    )
    p.add_argument(
        "--webhook-max-failures",
        type=_number(int, 0),
        default=20,
        metavar="N",
        help="failed deliveries in a row that disable a webhook (default 20; 0 = never)",
    )
    p.add_argument(
        "--webhook-claim-ttl",
        type=_number(float, 0.1),
        default=30.0,
        metavar="S",
        help="seconds a server's claim on a webhook lasts; a killed server's webhooks are "
        "resumed by another replica (or its restart) after it (default 30)",
    )
    mark_settings(p)
    p.set_defaults(func=_main)


@command
def _main(args: argparse.Namespace) -> int:
    from hivemem._connect import DEFAULT_URL
    from hivemem.server.serve import ServeOptions, serve

    options = ServeOptions(
        store=store_url(args.store) or DEFAULT_URL,
        host=args.host,
        port=args.port,
        workers=int(args.workers),
        auth=not args.no_auth,
        heartbeat=args.heartbeat,
        max_body=int(args.max_body),
        max_streams=int(args.max_streams),
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        max_header_bytes=int(args.max_header_bytes),
        rate_limit=args.rate_limit,
        rate_burst=int(args.rate_burst),
        max_bodies_in_flight=int(args.max_bodies_in_flight),
        stream_buffer_bytes=int(args.stream_buffer_bytes),
        stream_buffer_events=int(args.stream_buffer_events),
        keep_alive=args.keep_alive,
        graceful_timeout=args.graceful_timeout,
        log_level=args.log_level,
        log_format=args.log_format,
        access_log=args.access_log,
        cleanup_interval=args.cleanup_interval,
        embedder=args.embedder,
        decay_interval=args.decay_interval,
        index_dir="" if args.index_dir == "none" else args.index_dir,
        max_namespaces_per_agent=int(args.max_namespaces_per_agent),
        max_entries_per_namespace=int(args.max_entries_per_namespace),
        max_store_bytes=int(args.max_store_bytes),
        metrics=args.metrics,
        allow_webhook_host=args.allow_webhook_host,
        webhook_max_failures=int(args.webhook_max_failures),
        webhook_claim_ttl=args.webhook_claim_ttl,
    )
    return serve(options)
