"""Prometheus metrics of one matcher service (its own registry, no globals)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    """The counters, gauges and histograms `/metrics` exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.queries = Counter(
            "reclaim_matcher_queries",
            "Hashes queried, by type.",
            ["type"],
            registry=self.registry,
        )
        self.matches = Counter(
            "reclaim_matcher_matches",
            "Matches found and queued, by type and verdict.",
            ["type", "state"],
            registry=self.registry,
        )
        self.uploads = Counter(
            "reclaim_matcher_uploads",
            "Media uploads matched, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.syncs = Counter(
            "reclaim_matcher_syncs",
            "Sync attempts, by result.",
            ["result"],
            registry=self.registry,
        )
        self.list_size = Gauge(
            "reclaim_matcher_list_size",
            "Records in the in-memory list, by type.",
            ["type"],
            registry=self.registry,
        )
        self.last_sync = Gauge(
            "reclaim_matcher_last_successful_sync_timestamp_seconds",
            "When the list was last synced successfully (Unix time).",
            registry=self.registry,
        )
        self.outbox = Gauge(
            "reclaim_matcher_outbox_pending",
            "Messages waiting to be delivered, by channel.",
            ["channel"],
            registry=self.registry,
        )
        # Per source (by the config's source name; the totals above stay).
        self.source_syncs = Counter(
            "reclaim_matcher_source_syncs",
            "Sync attempts, by source and result.",
            ["source", "result"],
            registry=self.registry,
        )
        self.source_list_size = Gauge(
            "reclaim_matcher_source_list_size",
            "Records in the in-memory list, by source and type.",
            ["source", "type"],
            registry=self.registry,
        )
        self.source_last_sync = Gauge(
            "reclaim_matcher_source_last_successful_sync_timestamp_seconds",
            "When each source was last synced successfully (Unix time).",
            ["source"],
            registry=self.registry,
        )
        self.source_matches = Counter(
            "reclaim_matcher_source_matches",
            "Matched hashes, by the source that listed them and type.",
            ["source", "type"],
            registry=self.registry,
        )
        # The content catalog (only moves with [catalog] enabled).
        self.rescans = Counter(
            "reclaim_matcher_catalog_rescans",
            "Rescans of the content catalog, by result (ok, failed).",
            ["result"],
            registry=self.registry,
        )
        self.rescan_seconds = Gauge(
            "reclaim_matcher_catalog_last_rescan_seconds",
            "How long the last finished rescan took.",
            registry=self.registry,
        )
        self.catalog_queued = Counter(
            "reclaim_matcher_catalog_queued",
            "Review entries queued by rescans (found in the catalog).",
            registry=self.registry,
        )
        self.latency = Histogram(
            "reclaim_matcher_match_seconds",
            "Time to answer a match request, by endpoint.",
            ["endpoint"],
            registry=self.registry,
            buckets=(
                0.001,
                0.0025,
                0.005,
                0.01,
                0.025,
                0.05,
                0.1,
                0.25,
                0.5,
                1,
                2.5,
                10,
            ),
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
