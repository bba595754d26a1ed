"""`RemovalRequests`: what the service offers of removal requests, wired.

It joins the store (filing, reading, changing), the copy searches, the
watch on uploads and the clock. Personal data stays in the store's one
column (see `store`); nothing here logs it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from reclaim.index import MatchRule
from reclaim.matcher.config import RemovalsConfig
from reclaim.matcher.removals import clock
from reclaim.matcher.removals.copies import CopyFinder, Watch, hashes_of_media
from reclaim.matcher.removals.model import Intake, RemovalRequest
from reclaim.matcher.removals.store import Found, RemovalStore

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
    ) -> None:
        self.config = config
        self.store = RemovalStore(engine, config, webhooks=webhooks)
        self.watch = Watch(self.store, rule)
        self.finder = CopyFinder(self.store, engine=engine, rule=rule, catalog=catalog)

    def file(self, intake: Intake) -> tuple[RemovalRequest, str]:
        """Record a request and look for copies; returns it and its receipt."""
        request, receipt = self.store.file(intake)
        logger.info(
            "removal request %s received (%s)", request.public_id, request.state
        )
        self.finder.search(request.public_id)
        return self.store.get(request.public_id), receipt

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
        self.finder.search(public_id)
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
