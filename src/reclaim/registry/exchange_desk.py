"""The exchange desk: the StopNCII-compatible API and NCMEC's hash sharing."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from reclaim.hashing.errors import InvalidHashError
from reclaim.registry import (
    audit,
    exchange,
    feedback,
    ncmec,
    platforms,
)
from reclaim.registry.core import MAX_PAGE
from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.feed import publish, utcnow
from reclaim.registry.platform_desk import PlatformDesk
from reclaim.registry.platforms import PlatformIdentity, PlatformInfo

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
        self, platform: PlatformIdentity, entries: Sequence[Mapping[str, object]]
    ) -> tuple[int, list[int]]:
        """StopNCII SubmitFeedback: returns (applied, indexes of unknown hashes)."""
        items, problems = [], []
        for index, entry in enumerate(entries):
            try:
                items.append(
                    exchange.feedback_item(
                        entry.get("hashValue"),
                        entry.get("feedbackValue"),
                        entry.get("tags"),
                    )
                )
            except InvalidHashError as error:
                problems.append(f"hashFeedbacks[{index}]: {error}")
        if problems:
            raise InvalidRequestError(
                f"{len(problems)} feedback entries were refused; none was stored",
                problems,
            )
        return self._store_feedback(platform, items, api="stopncii")

    def exchange_submit(
        self, platform: PlatformIdentity, records: Sequence[Mapping[str, object]]
    ) -> int:
        """StopNCII SubmitHashes: a platform adds hashes it found itself."""
        exchange.check_request_size(len(records), limit=self._per_request_limit())
        hashes, notes, problems = [], [], []
        for index, record in enumerate(records):
            try:
                kind = exchange.signal_type_of(record.get("signalType"))
                one = exchange.submitted(kind, record.get("hashValue"))
                hashes.append(one)
                opinions = record.get("CSPFeedbacks") or []
                if not isinstance(opinions, list):
                    raise InvalidHashError("'CSPFeedbacks' must be a list of objects")
                for opinion in opinions:
                    if isinstance(opinion, Mapping):
                        notes.append(
                            exchange.feedback_item(
                                one.value,
                                opinion.get("feedbackValue"),
                                opinion.get("tags"),
                            )
                        )
            except InvalidHashError as error:
                problems.append(f"hashRecords[{index}]: {error}")
        if problems or not hashes:
            raise InvalidRequestError(
                f"{len(problems)} of {len(records)} records were refused; "
                "none was stored",
                problems or ["hashRecords: expected at least one record"],
            )

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
