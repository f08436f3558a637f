"""The server's Prometheus metrics, rendered at ``/metrics`` (text exposition format 0.0.4).

Recording is a few dict and list updates in the request's own path, on the event loop (no
lock: one thread updates them); everything is turned into text only when ``/metrics`` is
scraped. Labels only ever take values from fixed sets (HTTP methods and statuses, the route
table's operation names, the error codes of :mod:`hivemem.errors`, event types): never a
key, a namespace or an agent, so the number of series is bounded whatever the traffic.

Families (``hivemem_`` prefix):

- ``http_requests_total{method,status}``, ``http_request_seconds`` (histogram): every
  HTTP request, routed or not.
- ``ops_total{op,code}`` and ``op_seconds{op}`` (histogram): each operation of the route
  table (``op`` is its ``operationId``, e.g. ``get_entry``) by outcome: ``code`` is ``ok``
  or the error's stable code (``not_found``, ``conflict``, ``unauthenticated``...).
- ``events_published_total{type}``: events produced by the ops this server ran.
- ``token_cache_lookups_total{result}``: bearer-token lookups answered from the
  process's cache (``hit``) or the store (``miss``).
- ``group_commit_ops`` (histogram, SQLite): ops committed per transaction by the writer.
- gauges (``event_streams``, ``watchers``, ``embedder_queue_calls``, ...) and plain
  counters added by other parts of the server (:meth:`Metrics.add_gauge`,
  :attr:`Metrics.counters`).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from hivemem._histogram import Histogram

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BUCKETS", "OK", "Metrics", "MetricsMiddleware", "histogram_lines"]

#: Upper bounds (seconds) of the latency histograms' buckets.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
#: The ``code`` label of an operation that succeeded.
OK = "ok"

#: A family: its name (without ``hivemem_``), type, help, and its sample lines.
Family = tuple[str, str, str, list[str]]


class Metrics:
    """Counts requests, operations and their latency; renders every family on demand.

    Other parts of the server add named counters (:attr:`counters`, rendered as
    ``hivemem_<name>_total``), counters and gauges read when ``/metrics`` is asked
    (:meth:`add_counter`, :meth:`add_gauge`) and whole labelled families
    (:meth:`add_family`): the transport's limits report there what they hold and refuse.
    """

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.latency = Histogram(BUCKETS)
        #: Finished operations by ``(op, code)``.
        self.ops: dict[tuple[str, str], int] = {}
        #: Latency of each operation (successes and failures alike).
        self.op_latency: dict[str, Histogram] = {}
        #: Named event counters (e.g. ``rate_limited_requests``).
        self.counters: Counter[str] = Counter()
        self._gauges: dict[str, Callable[[], float]] = {}
        self._counter_reads: dict[str, Callable[[], float]] = {}
        self._families: list[Callable[[], Family | None]] = []

    @property
    def count(self) -> int:
        """HTTP requests finished so far."""
        return self.latency.count

    def add_gauge(self, name: str, read: Callable[[], float]) -> None:
        """Report ``read()`` as the gauge ``hivemem_<name>`` on every render."""
        self._gauges[name] = read

    def add_counter(self, name: str, read: Callable[[], float]) -> None:
        """Report ``read()`` (a count kept elsewhere) as the counter ``hivemem_<name>_total``."""
        self._counter_reads[name] = read

    def add_family(self, render: Callable[[], Family | None]) -> None:
        """Render ``render()``'s family on every scrape (``None``: none this time)."""
        self._families.append(render)

    def totals(self) -> dict[str, float]:
        """Every unlabelled counter by name (without ``_total``)."""
        values = {name: float(read()) for name, read in self._counter_reads.items()}
        values.update((name, float(n)) for name, n in self.counters.items())
        return values

    def snapshot(self) -> dict[str, float]:
        """The registered gauges and the counters (``<name>_total``), for tests and tools."""
        values = {name: float(read()) for name, read in self._gauges.items()}
        values.update((f"{name}_total", n) for name, n in self.totals().items())
        return values

    def observe(self, method: str, status: int, seconds: float) -> None:
        """Record one finished HTTP request."""
        self.requests[method, status] += 1
        self.latency.observe(seconds)

    def op(self, name: str, code: str, seconds: float) -> None:
        """Record one finished operation of the route table: its name, outcome and latency.

        ``name`` must be a route table name and ``code`` :data:`OK` or an error code: the
        label values stay a fixed set.
        """
        key = (name, code)
        ops = self.ops
        ops[key] = ops.get(key, 0) + 1
        hist = self.op_latency.get(name)
        if hist is None:
            hist = self.op_latency[name] = Histogram(BUCKETS)
        hist.observe(seconds)

    def render(self, gauges: dict[str, float]) -> str:
        """The Prometheus text exposition of every family and the given gauges."""
        lines: list[str] = []
        _family(
            lines,
            "http_requests_total",
            "counter",
            "HTTP requests by method and status.",
            [
                f'hivemem_http_requests_total{{method="{m}",status="{s}"}} {n}'
                for (m, s), n in sorted(self.requests.items())
            ],
        )
        _family(
            lines,
            "http_request_seconds",
            "histogram",
            "HTTP request latency (event streams: until their first byte).",
            histogram_lines("hivemem_http_request_seconds", "", self.latency),
        )
        _family(
            lines,
            "ops_total",
            "counter",
            "Operations of the HTTP API by operationId and outcome (ok or the error code).",
            [
                f'hivemem_ops_total{{op="{op}",code="{code}"}} {n}'
                for (op, code), n in sorted(self.ops.items())
            ],
        )
        op_lines: list[str] = []
        for op, hist in sorted(self.op_latency.items()):
            op_lines += histogram_lines("hivemem_op_seconds", f'op="{op}"', hist)
        _family(lines, "op_seconds", "histogram", "Operation latency by operationId.", op_lines)
        for render in self._families:
            family = render()
            if family is not None:
                _family(lines, *family)
        for name, count in sorted(self.totals().items()):
            _family(
                lines,
                f"{name}_total",
                "counter",
                name.replace("_", " ") + ".",
                [f"hivemem_{name}_total {count:g}"],
            )
        own = {name: float(read()) for name, read in self._gauges.items()}
        for name, value in sorted({**own, **gauges}.items()):
            kind = "counter" if name.endswith("_total") else "gauge"  # a count read elsewhere
            _family(lines, name, kind, name.replace("_", " ") + ".", [f"hivemem_{name} {value:g}"])
        return "\n".join(lines) + "\n"


def histogram_lines(name: str, labels: str, hist: Histogram) -> list[str]:
    """The sample lines of one histogram series (``labels``: ``a="b"`` or empty)."""
    sep = "," if labels else ""
    lines = [f'{name}_bucket{{{labels}{sep}le="{le}"}} {n}' for le, n in hist.cumulative()]
    braces = f"{{{labels}}}" if labels else ""
    lines.append(f"{name}_sum{braces} {hist.sum:.6f}")
    lines.append(f"{name}_count{braces} {hist.count}")
    return lines


def _family(lines: list[str], name: str, kind: str, help_: str, samples: list[str]) -> None:
    lines.append(f"# HELP hivemem_{name} {help_}")
    lines.append(f"# TYPE hivemem_{name} {kind}")
    lines.extend(samples)


class MetricsMiddleware:
    """ASGI middleware feeding :class:`Metrics` (event streams count when they start)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, timing it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        observed = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, observed
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            done = not message.get("more_body", False) or (status == 200 and _is_stream(scope))
            if message["type"] == "http.response.body" and not observed and done:
                observed = True
                self.metrics.observe(scope["method"], status, time.perf_counter() - start)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if not observed:
                self.metrics.observe(scope["method"], status, time.perf_counter() - start)


def _is_stream(scope: dict[str, Any] | Any) -> bool:
    return str(scope.get("path", "")).endswith("/events")
