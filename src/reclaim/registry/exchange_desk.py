"""The exchange desk: the StopNCII-compatible API and NCMEC's hash sharing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from reclaim.registry import (
    audit,
    exchange,
    feedback,
    ncmec,
    platforms,
)
from reclaim.registry.core import MAX_PAGE
from reclaim.registry.feed import publish, utcnow
from reclaim.registry.platform_desk import PlatformDesk
from reclaim.registry.platforms import PlatformIdentity, PlatformInfo
from reclaim.registry.submissions import SubmittedHash

logger = logging.getLogger(__name__)


class ExchangeDesk(PlatformDesk):
    """What platforms on other tools read and report (StopNCII, NCMEC)."""

    def exchange_fetch(
        self,
        platform: PlatformIdentity,
        *,
        start_timestamp: int,
        token: str | None,
        page_size: int,
    ) -> exchange.ExchangePage:
        """One StopNCII FetchHashes page."""
        page_size = max(1, min(page_size, MAX_PAGE))
        with self.db.read() as session:
            page = exchange.fetch(
                session,
                platform,
                start_timestamp=start_timestamp,
                token=token,
                page_size=page_size,
            )
        self.note_fetch(platform, kind="stopncii", records=len(page.records))
        return page

    def exchange_feedback(
        self, platform: PlatformIdentity, items: Sequence[feedback.FeedbackItem]
    ) -> tuple[int, list[int]]:
        """StopNCII SubmitFeedback (parsed by the API): returns (applied,
        indexes of unknown hashes)."""
        return self._store_feedback(platform, items, api="stopncii")

    def exchange_submit(
        self,
        platform: PlatformIdentity,
        hashes: Sequence[SubmittedHash],
        notes: Sequence[feedback.FeedbackItem] = (),
    ) -> int:
        """StopNCII SubmitHashes: a platform adds hashes it found itself, with
        its own opinions on them (`notes`)."""
        exchange.check_request_size(len(hashes), limit=self.request_limit())

        def work(session: Session) -> int:
            changed = exchange.submit(
                session,
                platform,
                hashes,
                max_per_case=self.settings.max_hashes_per_case,
            )
            _, _, disputed = feedback.give(
                session,
                platform,
                notes,
                quarantine_after=self.settings.quarantine_after,
            )
            audit.record(
                session,
                audit.Action.PLATFORM_SUBMITTED,
                audit.Actor.PLATFORM,
                platform_id=platform.id,
                hashes=len(hashes),
            )
            publish(session, [*changed, *disputed])
            return len(hashes)

        return self._write(work)

    def ncmec_members(self) -> list[ncmec.Member]:
        """The registry and every unrevoked platform, as NCMEC members."""
        return [ncmec.REGISTRY_MEMBER] + [
            ncmec.platform_member(p.id, p.name)
            for p in self._platforms()
            if not p.revoked
        ]

    def ncmec_entries(
        self,
        platform: PlatformIdentity,
        *,
        start: datetime,
        end: datetime,
        page: ncmec.PageRef | None,
        size: int,
    ) -> ncmec.EntriesPage:
        """A page of the entries updated from `start` to `end` (whole seconds).

        A window reaching past the committed feed time is sealed first, in a
        write of its own, so no record can join it after it is answered.
        """
        span = ncmec.window(start, end, now=utcnow())
        size = max(1, min(size, MAX_PAGE))
        with self.db.read() as session:
            sealed = ncmec.is_sealed(session, span)
            if sealed:  # the common case for old windows: one read, no write
                found = ncmec.page(session, platform, span, page, size=size)
        if not sealed:
            self._write(lambda session: ncmec.seal(session, span))
            with self.db.read() as session:
                found = ncmec.page(session, platform, span, page, size=size)
        if found.entries:  # empty windows are probes: not worth an audit write
            self.note_fetch(platform, kind="ncmec", records=len(found.entries))
        return found

    def ncmec_feedback(
        self,
        platform: PlatformIdentity,
        *,
        member_id: int,
        entry_id: str,
        signal_type: str,
        vote: ncmec.Vote,
        reason_guids: Sequence[str] = (),
    ) -> None:
        """A platform's vote on an entry, stored like all feedback (audited,
        counted towards quarantine)."""
        with self.db.read() as session:
            item = ncmec.feedback_item(
                session,
                platform,
                member_id=member_id,
                entry_id=entry_id,
                signal_type=signal_type,
                vote=vote,
                reason_guids=reason_guids,
            )
        self._store_feedback(platform, [item], api="ncmec")

    def _platforms(self) -> list[PlatformInfo]:
        with self.db.read() as session:
            return platforms.listing(session)
