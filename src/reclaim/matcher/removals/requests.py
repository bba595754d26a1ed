"""`RemovalRequests`: what the service offers of removal requests, wired.

It joins the store (filing, reading, changing), the copy searches, the
watch on uploads and the clock. Filing only commits and answers: the search
for copies is owed and done by the service's removals loop, woken by
`wake` right after a request arrives (`search_owed`, which tests call too);
a search that fails is done again later, after a wait that grows with each
failure, behind the requests that have not failed. Personal data stays in
the store's one column (see `store`); nothing here logs it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from reclaim.index import MatchRule
from reclaim.matcher.config import RemovalsConfig
from reclaim.matcher.removals import clock
from reclaim.matcher.removals.copies import CopyFinder, Watch, hashes_of_media
from reclaim.matcher.removals.model import Filed, Intake, RemovalRequest
from reclaim.matcher.removals.store import Found, RemovalStore
from reclaim.matcher.times import iso

if TYPE_CHECKING:
    from reclaim.matcher.catalog import MatcherCatalog
    from reclaim.matcher.media import MediaHashes
    from reclaim.matcher.service import Query

logger = logging.getLogger(__name__)


class RemovalRequests:
    """Legal removal requests of one matcher."""

    def __init__(
        self,
        engine: Engine,
        config: RemovalsConfig,
        *,
        rule: MatchRule,
        catalog: MatcherCatalog | None,
        webhooks: bool,
        wake: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.store = RemovalStore(engine, config, webhooks=webhooks)
        self.watch = Watch(self.store, rule)
        self.finder = CopyFinder(self.store, engine=engine, rule=rule, catalog=catalog)
        #: Set when a search is owed: the service's removals loop waits on it.
        self.wake = wake or threading.Event()
        self._searching = threading.Lock()

    def file(self, intake: Intake, *, submission: str | None = None) -> Filed:
        """Record a request (its copies are searched for in the background);
        returns what the requester may see of it and its receipt (None when
        this `submission` token had filed it already). Once the request is
        stored nothing can fail the reply."""
        filed = self.store.file(intake, submission=submission)
        if filed.repeat:
            logger.info(
                "removal request %s sent again: not filed twice", filed.view.public_id
            )
            return filed
        self.wake.set()
        # Logging never raises (a failing handler is reported, not thrown).
        logger.info(
            "removal request %s received (%s)", filed.view.public_id, filed.view.state
        )
        return filed

    def search_owed(self, *, limit: int = 20, now: datetime | None = None) -> int:
        """Search for the copies of requests that are owed a search (new,
        or with new hashes) and due one; returns how many were done. One
        that fails stays owed, tried again later each time (`retry_delay`)
        and behind those that have not failed; its first failure is logged
        with the trace, the next ones in one line."""
        done = 0
        with self._searching:  # one search at a time in this process
            for public_id in self.store.owed(limit=limit, now=now):
                try:
                    hashes = self.finder.search(public_id)
                    self.store.searched(public_id, hashes=hashes, now=now)
                except Exception as error:  # one failure must not stop others
                    failures, due = self.store.search_failed(public_id, now=now)
                    if failures == 1:
                        logger.exception(
                            "searching copies of removal request %s failed; "
                            "tried again at %s",
                            public_id,
                            iso(due),
                        )
                    else:
                        logger.warning(
                            "searching copies of removal request %s failed again "
                            "(%s, %d times in a row); tried again at %s",
                            public_id,
                            type(error).__name__,
                            failures,
                            iso(due),
                        )
                    continue
                done += 1
            self.store.takedowns_owed()
        return done

    def attach(
        self, public_id: str, hashes: MediaHashes, *, reference: str | None
    ) -> RemovalRequest:
        """Keep the hashes of a file the platform attached (the bytes are
        gone already) and search again with them."""
        self.store.get(public_id)  # 404 before anything is written
        if reference:
            self.store.add_copies(
                public_id, [Found(reference, "reported")], actor="api"
            )
        self.store.add_hashes(
            public_id, hashes_of_media(hashes), origin="media", actor="api"
        )
        searched = self.finder.search(public_id)
        self.store.searched(public_id, hashes=searched)
        return self.store.get(public_id)

    def uploaded(self, queries: Sequence[Query]) -> None:
        """Check uploads against the open requests' hashes (forward copies)."""
        try:
            made = self.watch.check(queries)
        except Exception:  # a match must not fail for want of this record
            logger.exception("checking uploads against removal requests failed")
            return
        if made:
            logger.info("%d copies of reported content found among uploads", made)

    def tick(self, *, now: datetime | None = None) -> clock.Ticked:
        """Reminders, escalations and overdue notices due, then the purge."""
        return clock.tick(self.store, now=now)
