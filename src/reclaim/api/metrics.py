"""The operator's `GET /metrics` (Prometheus): requests, latency, totals.

Nothing personal: requests are counted by *route family* (the path's first
segment, never the path, which can hold a case number), status code and
latency; cases, records and the feed position are totals read from the
database. No case number, hash, platform name, key or address appears.

The endpoint is served only when `RECLAIM_METRICS_TOKEN` is set, and answers
only `Authorization: Bearer <token>` (compared in constant time): the
registry faces the public, and even totals over time say when cases are made.
Request counters are per process (each uvicorn worker counts its own); the
database totals are the registry's, read at most every `TOTALS_SECONDS`.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reclaim.api.schemas import error_responses
from reclaim.registry.errors import AuthenticationError
from reclaim.registry.service import Registry
from reclaim.registry.stats import Counts

#: Database totals are read again at most this often (a count of every
#: record costs a scan; Prometheus scrapes every 15 to 60 seconds).
TOTALS_SECONDS = 30.0

#: Path prefixes and their families; anything else is `other`.
FAMILIES = (
    ("/api/v1/cases", "cases"),
    ("/api/v1/platform", "platform"),
    ("/stopncii/", "stopncii"),
    ("/ncmec/", "ncmec"),
    ("/static/", "static"),
    ("/healthz", "health"),
    ("/metrics", "metrics"),
    ("/docs", "docs"),
    ("/openapi.json", "docs"),
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def family(path: str) -> str:
    """A request's route family: a fixed name, never a part of the path."""
    for prefix, name in FAMILIES:
        if path.startswith(prefix):
            return name
    return "other"


class _Totals(Collector):
    """Database totals, read on scrape and kept `TOTALS_SECONDS`."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._counts: Counts | None = None
        self._read_at = 0.0

    def _current(self) -> Counts:
        with self._lock:
            now = time.monotonic()
            if self._counts is None or now - self._read_at >= TOTALS_SECONDS:
                self._counts = self._registry.counts()
                self._read_at = now
            return self._counts

    def collect(self) -> Iterator[Metric]:
        counts = self._current()
        created = CounterMetricFamily(
            "reclaim_registry_cases_created",
            "Cases ever opened, by who opened them (person, or platform).",
            labels=["opener"],
        )
        withdrawn = CounterMetricFamily(
            "reclaim_registry_cases_withdrawn",
            "Cases withdrawn, by who opened them.",
            labels=["opener"],
        )
        for opener in ("person", "platform"):
            total = sum(n for (_, who), n in counts.cases.items() if who == opener)
            created.add_metric([opener], total)
            withdrawn.add_metric([opener], counts.cases.get(("withdrawn", opener), 0))
        records = GaugeMetricFamily(
            "reclaim_registry_hash_records",
            "Hash records by status (active records are the list).",
            labels=["status"],
        )
        for status in ("active", "withdrawn", "removed"):
            records.add_metric([status], counts.records.get(status, 0))
        yield created
        yield withdrawn
        yield records
        yield GaugeMetricFamily(
            "reclaim_registry_hash_records_quarantined",
            "Hash records held back for the operator's review.",
            value=counts.quarantined,
        )
        yield GaugeMetricFamily(
            "reclaim_registry_feed_position",
            "The change feed's newest position.",
            value=counts.feed_position,
        )


class RegistryMetrics:
    """The counters `/metrics` exposes, in a registry of their own."""

    def __init__(self, registry: Registry) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "reclaim_registry_requests",
            "HTTP requests answered, by route family and status code.",
            ["family", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "reclaim_registry_request_seconds",
            "Time to answer a request (to the body's end), by route family.",
            ["family"],
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.registry.register(_Totals(registry))

    def render(self) -> bytes:
        """The text exposition format (reads the database: not on the loop)."""
        return generate_latest(self.registry)


class RequestMetrics:
    """ASGI middleware: count and time every HTTP request by family."""

    def __init__(self, app: ASGIApp, *, metrics: RegistryMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before any answer

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            name = family(scope.get("path", ""))
            self.metrics.requests.labels(name, str(status)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - started)


router = APIRouter(tags=["service"])


@router.get(
    "/metrics",
    summary="Prometheus metrics for the operator (no personal data)",
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **error_responses(401, 500),
    },
)
async def metrics(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Response:
    token: str = request.app.state.settings.metrics_token
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise AuthenticationError(
            "/metrics is for the operator: send Authorization: Bearer "
            "<RECLAIM_METRICS_TOKEN>"
        )
    exposition: RegistryMetrics = request.app.state.metrics
    body = await run_in_threadpool(exposition.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
