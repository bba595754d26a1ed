"""Sync lag over time: a sample per source and sync attempt, for the dashboard.

A source polled every few seconds would write a row each time; samples are
kept at most one a minute per source (`every`), except that a change of
result (ok to error and back) is always written, so no outage is missed.
Samples older than `keep_days` are deleted (at most once an hour).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select

from reclaim.matcher.desk.tables import sync_samples
from reclaim.matcher.times import aware

KEEP_DAYS = 35


@dataclass(frozen=True, slots=True)
class Sample:
    """One sync attempt of one source: its result, and the lag after it."""

    at: datetime
    source: str
    result: str
    lag_seconds: float | None


class SyncSamples:
    """Writes and reads `desk_sync_samples`."""

    def __init__(
        self, engine: Engine, *, every: float = 60.0, keep_days: int = KEEP_DAYS
    ) -> None:
        self.engine = engine
        self.every = every
        self.keep = timedelta(days=keep_days)
        self._last: dict[str, tuple[float, str]] = {}
        self._pruned = 0.0
        self._lock = threading.Lock()

    def record(
        self,
        source: str,
        *,
        result: str,
        last_success: float | None,
        now: datetime | None = None,
    ) -> bool:
        """Note one attempt (`last_success`: Unix time of the source's last
        good sync, None if never); False when throttled."""
        moment = now or datetime.now(UTC)
        stamp = moment.timestamp()
        with self._lock:
            last = self._last.get(source)
            if last is not None and last[1] == result and stamp - last[0] < self.every:
                return False
            self._last[source] = (stamp, result)
            prune = stamp - self._pruned >= 3600
            if prune:
                self._pruned = stamp
        lag = None if not last_success else max(0.0, stamp - last_success)
        with self.engine.begin() as connection:
            connection.execute(
                insert(sync_samples).values(
                    at=moment, source=source, result=result[:16], lag_seconds=lag
                )
            )
            if prune:
                connection.execute(
                    delete(sync_samples).where(sync_samples.c.at < moment - self.keep)
                )
        return True

    def since(self, start: datetime) -> list[Sample]:
        """Every sample from `start` on, oldest first."""
        query = (
            select(sync_samples)
            .where(sync_samples.c.at >= start)
            .order_by(sync_samples.c.at, sync_samples.c.id)
        )
        with self.engine.connect() as connection:
            return [
                Sample(aware(row.at), row.source, row.result, row.lag_seconds)
                for row in connection.execute(query)
            ]
