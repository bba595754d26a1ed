"""The platform's desk: its key, the list (snapshot and change feed), feedback."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.orm import Session

from reclaim.registry import (
    audit,
    feedback,
    hashlist,
    platforms,
)
from reclaim.registry.core import MAX_PAGE, ChangePage, RegistryCore
from reclaim.registry.feed import publish
from reclaim.registry.platforms import PlatformIdentity
from reclaim.registry.submissions import (
    Program,
    parse_program,
)

logger = logging.getLogger(__name__)


class PlatformDesk(RegistryCore):
    """What a platform reads and reports through our own API."""

    def authenticate(self, key: str | None) -> PlatformIdentity:
        """The platform owning an unrevoked API key."""
        with self.db.read() as session:
            return platforms.authenticate(session, key)

    def changes(
        self,
        platform: PlatformIdentity,
        *,
        cursor: int,
        limit: int,
        programs: Sequence[str] | None = None,
    ) -> ChangePage:
        """Records changed after `cursor`, in feed order, for allowed programs."""
        chosen = self._readable(platform, programs)
        page = self._page(chosen, cursor=cursor, limit=limit)
        self.note_fetch(platform, kind="changes", records=len(page.entries))
        return page

    def feed_page(self, *, cursor: int, limit: int = MAX_PAGE) -> ChangePage:
        """The registry's own read of its feed, every program, not audited.

        For the registry's match index; platforms read through `changes`.
        """
        return self._page([p.value for p in Program], cursor=cursor, limit=limit)

    def _page(self, programs: Sequence[str], *, cursor: int, limit: int) -> ChangePage:
        limit = max(1, min(limit, MAX_PAGE))
        with self.db.read() as session:
            entries = hashlist.changes_since(
                session, programs=programs, cursor=cursor, limit=limit + 1
            )
        has_more = len(entries) > limit
        entries = entries[:limit]
        return ChangePage(entries, entries[-1].change if entries else cursor, has_more)

    def snapshot(
        self, platform: PlatformIdentity, programs: Sequence[str] | None = None
    ) -> tuple[int, Iterator[tuple[object, ...]]]:
        """(cursor, rows) of every active record, seen at one point in time.

        The rows must be consumed promptly: they hold a read transaction.
        """
        chosen = self._readable(platform, programs)
        context = self.db.read(snapshot=True)
        session = context.__enter__()
        try:
            cursor = hashlist.feed_head(session)
        except BaseException:
            context.__exit__(None, None, None)
            raise

        def rows() -> Iterator[tuple[object, ...]]:
            try:
                yield from hashlist.snapshot_rows(session, programs=chosen)
            finally:
                context.__exit__(None, None, None)

        self.note_fetch(platform, kind="snapshot", cursor=cursor)
        return cursor, rows()

    def give_feedback(
        self, platform: PlatformIdentity, items: Sequence[object]
    ) -> tuple[int, list[int]]:
        """Store feedback; returns (items applied, indexes of unknown hashes)."""
        parsed = feedback.parse_items(items, limit=MAX_PAGE)
        return self._store_feedback(platform, parsed, api="reclaim")

    def feedback_summary(
        self, platform: PlatformIdentity, hashes: Sequence[tuple[str, object]]
    ) -> list[feedback.HashReports]:
        """What other platforms reported about listed hashes, as counts.

        The platform's own feedback never counts, and no platform is named.
        Audited as a read of the list (`kind=feedback_summary`).
        """
        parsed = feedback.parse_hashes(hashes, limit=feedback.MAX_SUMMARY)
        with self.db.read() as session:
            found = feedback.summarize(session, platform, parsed)
        self.note_fetch(
            platform,
            kind="feedback_summary",
            queries=len(found),
            listed=sum(r.listed for r in found),
        )
        return found

    def _store_feedback(
        self,
        platform: PlatformIdentity,
        items: Sequence[feedback.FeedbackItem],
        *,
        api: str,
    ) -> tuple[int, list[int]]:
        """Store validated feedback, audit it and publish any quarantine."""

        def work(session: Session) -> tuple[int, list[int]]:
            applied, unknown, changed = feedback.give(
                session,
                platform,
                items,
                quarantine_after=self.settings.quarantine_after,
            )
            audit.record(
                session,
                audit.Action.FEEDBACK_GIVEN,
                audit.Actor.PLATFORM,
                platform_id=platform.id,
                items=applied,
                api=api,
            )
            publish(session, changed)
            return applied, unknown

        return self._write(work)

    def note_fetch(self, platform: PlatformIdentity, **detail: Any) -> None:
        """Audit a platform's read of the list (its own short write)."""
        with self.db.write() as session:
            audit.record(
                session,
                audit.Action.PLATFORM_FETCHED,
                audit.Actor.PLATFORM,
                platform_id=platform.id,
                **detail,
            )

    def _readable(
        self, platform: PlatformIdentity, programs: Sequence[str] | None
    ) -> tuple[str, ...]:
        from reclaim.registry.errors import PermissionDeniedError

        if not programs:
            return platform.programs
        chosen = tuple(sorted({parse_program(p).value for p in programs}))
        denied = [p for p in chosen if p not in platform.programs]
        if denied:
            raise PermissionDeniedError(
                f"platform {platform.name!r} may not read program {denied[0]!r}: "
                f"it may read {', '.join(platform.programs)}"
            )
        return chosen
