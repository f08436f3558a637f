"""Request counters and latency histogram, exposed at ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BUCKETS", "Metrics", "MetricsMiddleware"]

#: Upper bounds (seconds) of the latency histogram's buckets.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """Counts requests by method and status, and their latency.

    Other parts of the server add named counters (:attr:`counters`, rendered as
    ``hivemem_<name>_total``) and gauges read when ``/metrics`` is asked
    (:meth:`add_gauge`): the transport's limits report there what they hold and refuse.
    """

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.count = 0
        #: Named event counters (e.g. ``rate_limited_requests``).
        self.counters: Counter[str] = Counter()
        self._gauges: dict[str, Callable[[], float]] = {}
        self._counter_reads: dict[str, Callable[[], float]] = {}

    def add_gauge(self, name: str, read: Callable[[], float]) -> None:
        """Report ``read()`` as the gauge ``hivemem_<name>`` on every render."""
        self._gauges[name] = read

    def add_counter(self, name: str, read: Callable[[], float]) -> None:
        """Report ``read()`` (a count kept elsewhere) as the counter ``hivemem_<name>_total``."""
        self._counter_reads[name] = read

    def totals(self) -> dict[str, float]:
        """Every counter by name (without ``_total``)."""
        values = {name: float(read()) for name, read in self._counter_reads.items()}
        values.update((name, float(n)) for name, n in self.counters.items())
        return values

    def snapshot(self) -> dict[str, float]:
        """The registered gauges and the counters (``<name>_total``), for tests and tools."""
        values = {name: float(read()) for name, read in self._gauges.items()}
        values.update((f"{name}_total", n) for name, n in self.totals().items())
        return values

    def observe(self, method: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        self.requests[method, status] += 1
        self.count += 1
        self.latency_sum += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1
                return
        self.buckets[-1] += 1

    def render(self, gauges: dict[str, float]) -> str:
        """The Prometheus text exposition of the counters and the given gauges."""
        lines = [
            "# HELP hivemem_http_requests_total HTTP requests by method and status.",
            "# TYPE hivemem_http_requests_total counter",
        ]
        for (method, status), n in sorted(self.requests.items()):
            lines.append(f'hivemem_http_requests_total{{method="{method}",status="{status}"}} {n}')
        lines += [
            "# HELP hivemem_http_request_seconds Request latency.",
            "# TYPE hivemem_http_request_seconds histogram",
        ]
        total = 0
        for bound, n in zip((*BUCKETS, float("inf")), self.buckets, strict=True):
            total += n
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'hivemem_http_request_seconds_bucket{{le="{le}"}} {total}')
        lines.append(f"hivemem_http_request_seconds_sum {self.latency_sum:.6f}")
        lines.append(f"hivemem_http_request_seconds_count {self.count}")
        for name, count in sorted(self.totals().items()):
            lines.append(f"# TYPE hivemem_{name}_total counter")
            lines.append(f"hivemem_{name}_total {count:g}")
        own = {name: float(read()) for name, read in self._gauges.items()}
        for name, value in sorted({**own, **gauges}.items()):
            lines.append(f"# TYPE hivemem_{name} gauge")
            lines.append(f"hivemem_{name} {value:g}")
        return "\n".join(lines) + "\n"


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
