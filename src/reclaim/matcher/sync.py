"""Following the list: snapshot first, then the change feed, checkpointed.

`Syncer.run_once` brings one source's part of the local store up to date
with that source and tells the caller what changed after each committed page,
so the in-memory matchable follows page by page. Failures never touch the store
beyond the last committed page; `SyncStatus` records them and the backoff to
use. A matcher with several sources has one `Syncer` each: each keeps its
own cursor, status and backoff, so one failing source stops no other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from reclaim.index import ListRecord
from reclaim.matcher.errors import SourceRejected, SourceUnavailable
from reclaim.matcher.source import Source
from reclaim.matcher.store import Applied, ListStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """The outcome of the latest sync attempts, for /status and metrics."""

    result: str = "never"  # never, ok, unavailable, rejected, error
    message: str | None = None
    last_attempt: float | None = None
    last_success: float | None = None
    failures: int = 0
    backoff_seconds: float = 0.0
    applied: int = 0  # records applied by the latest attempt
    listed: int = 0  # hashes the latest successful attempt listed
    gone: int = 0  # hashes it took off the list

    @property
    def healthy(self) -> bool:
        """Whether the latest attempt succeeded."""
        return self.result == "ok"


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one `run_once` did."""

    snapshot: bool
    pages: int
    listed: int
    gone: int


class Syncer:
    """Applies the source's pages to the store, then to the matchable."""

    def __init__(
        self,
        store: ListStore,
        source: Source,
        *,
        on_applied: Callable[[Applied], None],
        on_snapshot: Callable[[Sequence[ListRecord]], None],
        poll_seconds: float = 5.0,
        max_backoff: float = 300.0,
    ) -> None:
        self.store = store
        self.source = source
        self.on_applied = on_applied
        self.on_snapshot = on_snapshot
        self.poll_seconds = poll_seconds
        self.max_backoff = max_backoff
        self.status = SyncStatus()

    @property
    def name(self) -> str:
        """The source's name from the config (a label for logs and status)."""
        return self.store.name

    def run_once(self) -> SyncReport:
        """Sync until the source has nothing newer; raises SourceError on failure."""
        state = self.store.state()
        cursor = state.cursor
        if state.source is not None and state.source != self.source.name:
            logger.warning(
                "source %s changed kind or address: starting again from nothing",
                self.name,
            )
            self.store.reset()
            cursor = None
        snapshot = cursor is None
        pages = listed = gone = 0
        generation: int | None = None
        snapshot_records: list[ListRecord] = []
        name = self.name
        for page in self.source.pages(cursor):
            pages += 1
            if page.snapshot:
                if generation is None:
                    generation = self.store.begin_snapshot()
                self.store.stage(page.records, generation=generation)
                # Kept to build the new matchable list without reading them back.
                snapshot_records.extend(
                    r if r.source == name else replace(r, source=name)
                    for r in page.records
                    if r.active
                )
                listed += len(page.records)
                if page.final and page.cursor is not None:
                    self.store.finish_snapshot(
                        generation=generation,
                        cursor=page.cursor,
                        source=self.source.name,
                    )
                    self.on_snapshot(snapshot_records)
                continue
            if page.cursor is None:
                continue
            if page.entries:
                applied = self.store.apply(
                    page.records,
                    cursor=page.cursor,
                    source=self.source.name,
                    entries=page.entries,
                )
            else:
                applied = self.store.apply(
                    page.records, cursor=page.cursor, source=self.source.name
                )
            listed += len(applied.listed)
            gone += len(applied.gone)
            if applied.listed or applied.gone:
                self.on_applied(applied)
        return SyncReport(snapshot, pages, listed, gone)

    def attempt(self) -> float:
        """One sync with its outcome recorded; returns the seconds to wait."""
        started = time.time()
        status = self.status
        try:
            report = self.run_once()
        except SourceUnavailable as error:
            return self._failed("unavailable", str(error), started)
        except SourceRejected as error:
            return self._failed("rejected", str(error), started)
        except Exception as error:  # noqa: BLE001 - the loop must outlive any bug
            logger.exception("sync of source %s failed unexpectedly", self.name)
            return self._failed(
                "error", f"internal error: {type(error).__name__}", started
            )
        if status.failures:
            logger.warning(
                "sync of source %s recovered after %d failed attempts",
                self.name,
                status.failures,
            )
        if report.snapshot:
            logger.info(
                "snapshot of source %s applied: %d records", self.name, report.listed
            )
        self.status = SyncStatus(
            "ok",
            None,
            started,
            time.time(),
            0,
            0.0,
            report.listed + report.gone,
            report.listed,
            report.gone,
        )
        return self.poll_seconds

    def _failed(self, result: str, message: str, started: float) -> float:
        failures = self.status.failures + 1
        backoff = min(self.poll_seconds * 2.0 ** min(failures, 20), self.max_backoff)
        logger.warning(
            "sync of source %s failed (%s, attempt %d), serving the last good "
            "list; next try in %.0f s: %s",
            self.name,
            result,
            failures,
            backoff,
            message,
        )
        self.status = replace(
            self.status,
            result=result,
            message=message,
            last_attempt=started,
            failures=failures,
            backoff_seconds=backoff,
            applied=0,
        )
        return backoff
