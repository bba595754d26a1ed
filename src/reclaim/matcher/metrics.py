"""Prometheus metrics of one matcher service (its own registry, no globals).

Most are counted as things happen. What the store already knows (the review
queue's age and size, open removal requests) is read when Prometheus scrapes
(`StoreCollector`), with a few indexed queries, so it is never stale and no
code path has to remember to update it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from reclaim.matcher.removals.model import OPEN
from reclaim.matcher.removals.tables import requests as removal_requests
from reclaim.matcher.tables import matches
from reclaim.matcher.times import aware

if TYPE_CHECKING:
    from reclaim.matcher.review import QueuedMatch

logger = logging.getLogger(__name__)

#: Seconds from a match to a moderator's decision: a minute to a week.
DECISION_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 172800, 604800)
#: Removal request states still waiting for an outcome.
OPEN_REQUEST_STATES = tuple(sorted(state.value for state in OPEN))


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
        self.program_matches = Counter(
            "reclaim_matcher_program_matches",
            "Matches found and queued, by program and verdict.",
            ["program", "state"],
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

        self.decision_seconds = Histogram(
            "reclaim_matcher_decision_seconds",
            "Time from a match to a moderator's decision, by decision; observed "
            "each time one is made, so a desk decision undone and made again "
            "counts twice.",
            ["decision"],
            registry=self.registry,
            buckets=DECISION_BUCKETS,
        )
        self.spike_alerts = Counter(
            "reclaim_matcher_spike_alerts",
            "Spike alerts fired, by rule (one per rule and window).",
            ["rule"],
            registry=self.registry,
        )
        self._store: StoreCollector | None = None

    def watch(self, engine: Engine) -> None:
        """Expose the store's queue and removal-request gauges at scrape time."""
        if self._store is None:
            self._store = StoreCollector(engine)
            self.registry.register(self._store)

    def decided(self, item: QueuedMatch) -> None:
        """Observe a moderator's decision on a match (its time to decision).

        Observed when made: a histogram cannot take an observation back, and
        waiting out the desk's undo window would need a store of decisions
        to observe later. So a decision undone and made again counts twice
        (the help text and docs/desk.md say so); undos are rare and short."""
        if item.decided_at is None:
            return
        seconds = (item.decided_at - item.created_at).total_seconds()
        self.decision_seconds.labels(item.state.value).observe(max(0.0, seconds))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """Gauges read from the store when scraped: the review queue (oldest
    pending match's age, pending per program) and removal requests (open per
    state, and overdue: open past their deadline)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        try:
            return list(self._families(read=True))
        except Exception:  # a scrape must not fail with the database
            logger.exception("reading the store for /metrics failed")
            return []

    def _families(self, *, read: bool = False) -> Iterator[Metric]:
        oldest = GaugeMetricFamily(
            "reclaim_matcher_review_oldest_pending_age_seconds",
            "Age of the oldest match waiting for review (0: none waiting).",
        )
        pending = GaugeMetricFamily(
            "reclaim_matcher_review_pending",
            "Matches waiting for review, by program.",
            labels=["program"],
        )
        open_ = GaugeMetricFamily(
            "reclaim_matcher_removal_requests_open",
            "Removal requests waiting for an outcome, by state.",
            labels=["state"],
        )
        overdue = GaugeMetricFamily(
            "reclaim_matcher_removal_requests_overdue",
            "Removal requests still open after their 48-hour deadline.",
        )
        if read:
            now = datetime.now(UTC)
            with self.engine.connect() as connection:
                # The pending rows only (ix_matches_state): the queue's size.
                first = connection.execute(
                    select(func.min(matches.c.created_at)).where(
                        matches.c.state == "pending"
                    )
                ).scalar()
                oldest.add_metric(
                    [],
                    0.0
                    if first is None
                    else max(0.0, (now - aware(first)).total_seconds()),
                )
                for program, count in connection.execute(
                    select(matches.c.program, func.count())
                    .where(matches.c.state == "pending")
                    .group_by(matches.c.program)
                ):
                    pending.add_metric([program], count)
                counts = dict.fromkeys(OPEN_REQUEST_STATES, 0)
                late = 0
                for state, deadline in connection.execute(
                    select(removal_requests.c.state, removal_requests.c.deadline).where(
                        removal_requests.c.state.in_(OPEN_REQUEST_STATES)
                    )
                ):
                    counts[state] += 1
                    late += aware(deadline) < now
                for state, count in counts.items():
                    open_.add_metric([state], count)
                overdue.add_metric([], late)
        yield from (oldest, pending, open_, overdue)
