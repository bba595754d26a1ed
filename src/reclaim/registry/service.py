"""`Registry`: the narrow interface the API and CLI use. It owns transactions.

Every write is one transaction: the change, its feed positions and its audit
events commit together or not at all, so an answered request is durable and
a crash mid-request leaves nothing half done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from reclaim.config import Settings
from reclaim.hashing.errors import InvalidHashError
from reclaim.registry import (
    audit,
    cases,
    creation,
    exchange,
    feedback,
    hashlist,
    ncmec,
    platforms,
    quarantine,
    schema,
    stats,
)
from reclaim.registry.creation import NewCase
from reclaim.registry.db import Database, make_engine
from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.feed import instance_secret, publish, utcnow
from reclaim.registry.hashlist import ListEntry
from reclaim.registry.idempotency import IdempotencyKey
from reclaim.registry.models import Platform
from reclaim.registry.platforms import PlatformIdentity, PlatformInfo
from reclaim.registry.submissions import (
    Program,
    parse_hashes,
    parse_program,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Feed pages are at most this long.
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class ChangePage:
    """A page of the change feed."""

    entries: list[ListEntry]
    cursor: int
    has_more: bool


class Registry:
    """The registry's operations, each in its own transaction."""

    def __init__(self, settings: Settings, database: Database | None = None) -> None:
        self.settings = settings
        self.db = database or Database(make_engine(settings.database_url))
        self._creator = creation.CaseCreator(
            self.db,
            keep=timedelta(hours=settings.idempotency_hours),
            write=self._write,
        )

    # ---- lifecycle --------------------------------------------------------

    def check_schema(self) -> None:
        """Raise SchemaError unless the database is fully migrated."""
        schema.check(self.db.engine)

    def secret(self) -> str:
        """This registry's random secret."""
        with self.db.read() as session:
            return instance_secret(session)

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()

    def _write(self, work: Callable[[Session], T], *, attempts: int = 5) -> T:
        """Run `work` in a write transaction, retrying races on unique keys."""
        for attempt in range(attempts):
            try:
                with self.db.write() as session:
                    return work(session)
            except (IntegrityError, OperationalError) as error:
                if attempt == attempts - 1 or not _retryable(error):
                    raise
                logger.info(
                    "retrying a write after a conflict (attempt %d)", attempt + 1
                )
        raise AssertionError("unreachable")

    # ---- the person's side -----------------------------------------------

    def create_case(
        self,
        program: str,
        items: Sequence[object],
        *,
        idempotency_key: IdempotencyKey | None = None,
    ) -> NewCase:
        """Open a case holding `items`; returns its number and PIN.

        With `idempotency_key`, a retry of the same request gets the first
        answer again (`creation.py`), and the same key with another request
        is refused.
        """
        chosen = parse_program(program)
        hashes = parse_hashes(items, limit=self._per_request_limit())
        new = self._creator.create(chosen, hashes, idempotency_key)
        if not new.replayed:
            logger.info("case %s created with %d hashes", new.number, len(hashes))
        return new

    def case_status(self, number: str, pin: str) -> cases.CaseView:
        """The owner's view of a case."""
        with self.db.read() as session:
            return cases.view(session, cases.open_case(session, number, pin))

    def add_hashes(
        self, number: str, pin: str, items: Sequence[object]
    ) -> cases.CaseView:
        """Add hashes to an active case."""
        hashes = parse_hashes(items, limit=self._per_request_limit())

        def work(session: Session) -> cases.CaseView:
            case = cases.open_case(session, number, pin, lock=True)
            changed = cases.add(
                session, case, hashes, max_per_case=self.settings.max_hashes_per_case
            )
            audit.record(
                session,
                audit.Action.HASHES_ADDED,
                audit.Actor.PERSON,
                case_number=case.number,
                hashes=len(hashes),
            )
            publish(session, [record.id for record in changed])
            return cases.view(session, case)

        return self._write(work)

    def withdraw_case(self, number: str, pin: str) -> cases.CaseView:
        """Withdraw a case: its hashes leave the list unless another case holds them."""

        def work(session: Session) -> cases.CaseView:
            case = cases.open_case(session, number, pin, lock=True)
            changed = cases.withdraw(session, case)
            audit.record(
                session,
                audit.Action.CASE_WITHDRAWN,
                audit.Actor.PERSON,
                case_number=case.number,
                hashes=len(changed),
            )
            publish(session, changed)
            return cases.view(session, case)

        view = self._write(work)
        logger.info("case %s withdrawn", view.number)
        return view

    def _per_request_limit(self) -> int:
        return min(
            self.settings.max_hashes_per_request, self.settings.max_hashes_per_case
        )

    # ---- platforms (operator) ----------------------------------------------

    def add_platform(
        self, name: str, programs: Sequence[str], *, public_name: str | None = None
    ) -> tuple[PlatformInfo, str]:
        """Register a platform; returns it and its first API key (shown once).

        `public_name`: shown on the person's page, only if the platform agreed.
        """

        def work(session: Session) -> str:
            platform, key = platforms.add(
                session, name, programs, public_name=public_name
            )
            audit.record(
                session,
                audit.Action.PLATFORM_ADDED,
                audit.Actor.OPERATOR,
                platform_id=platform.id,
                programs=platform.programs,
            )
            _operator_did(session, platform.id, audit.Action.KEY_ISSUED)
            if platform.public_name is not None:
                _named(session, platform)
            return key

        key = self._write(work)
        return self._info(name), key

    def rotate_key(self, name: str) -> tuple[PlatformInfo, str]:
        """Revoke a platform's keys and issue a new one (shown once)."""

        def work(session: Session) -> str:
            platform, key = platforms.rotate(session, name)
            _operator_did(
                session, platform.id, audit.Action.KEY_REVOKED, audit.Action.KEY_ISSUED
            )
            return key

        key = self._write(work)
        return self._info(name), key

    def revoke_platform(self, name: str) -> PlatformInfo:
        """Revoke a platform and every key it has."""

        def work(session: Session) -> None:
            platform = platforms.revoke(session, name)
            _operator_did(session, platform.id, audit.Action.PLATFORM_REVOKED)

        self._write(work)
        return self._info(name)

    def name_platform(self, name: str, public_name: str | None) -> PlatformInfo:
        """Show the platform on the person's page under `public_name` (it
        agreed to be named), or stop showing it (None)."""

        def work(session: Session) -> None:
            _named(session, platforms.set_public_name(session, name, public_name))

        self._write(work)
        return self._info(name)

    def named_platforms(self) -> list[platforms.NamedPlatform]:
        """Unrevoked platforms that agreed to be named on the person's page."""
        with self.db.read() as session:
            return platforms.named(session)

    def list_platforms(self) -> list[PlatformInfo]:
        """Every platform (never with key secrets)."""
        with self.db.read() as session:
            return platforms.listing(session)

    def _info(self, name: str) -> PlatformInfo:
        return next(p for p in self.list_platforms() if p.name == name)

    def authenticate(self, key: str | None) -> PlatformIdentity:
        """The platform owning an unrevoked API key."""
        with self.db.read() as session:
            return platforms.authenticate(session, key)

    # ---- the platform side -------------------------------------------------

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

    # ---- the StopNCII-compatible exchange --------------------------------

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

    # ---- the operator's review ---------------------------------------------

    def quarantined(self, *, limit: int = 100) -> list[quarantine.Disputed]:
        """Hashes awaiting the operator's review."""
        with self.db.read() as session:
            return quarantine.listing(session, limit=limit)

    def resolve_quarantine(self, record_id: int, decision: str) -> None:
        """Keep a quarantined hash in the list, or remove it for good."""
        chosen = quarantine.Decision(decision)

        def work(session: Session) -> None:
            record = quarantine.resolve(session, record_id, chosen)
            audit.record(
                session,
                audit.Action.QUARANTINE_RESOLVED,
                audit.Actor.OPERATOR,
                hash_id=record.id,
                decision=chosen.value,
            )
            publish(session, [record])

        self._write(work)

    # ---- the operator's reading -------------------------------------------

    def audit_log(
        self, *, limit: int = 100, action: str | None = None
    ) -> Sequence[audit.AuditEntry]:
        """The newest audit events first."""
        with self.db.read() as session:
            return audit.read(session, limit=limit, action=action)

    def counts(self) -> stats.Counts:
        """Totals for the operator's metrics (nothing named), one snapshot."""
        with self.db.read(snapshot=True) as session:
            return stats.read(session)

    # ---- the NCMEC hash-sharing API ----------------------------------------

    def ncmec_members(self) -> list[ncmec.Member]:
        """The registry and every unrevoked platform, as NCMEC members."""
        return [ncmec.REGISTRY_MEMBER] + [
            ncmec.platform_member(p.id, p.name)
            for p in self.list_platforms()
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


def _operator_did(session: Session, platform_id: int, *actions: audit.Action) -> None:
    """Audit operator actions on one platform, in order."""
    for action in actions:
        audit.record(session, action, audit.Actor.OPERATOR, platform_id=platform_id)


def _named(session: Session, platform: Platform) -> None:
    audit.record(
        session,
        audit.Action.PLATFORM_NAMED,
        audit.Actor.OPERATOR,
        platform_id=platform.id,
        public_name=platform.public_name,
    )


def _retryable(error: Exception) -> bool:
    text = str(getattr(error, "orig", error)).lower()
    return any(
        marker in text
        for marker in (
            "unique",
            "duplicate key",
            "deadlock",
            "database is locked",
            "could not serialize",
        )
    )


__all__ = ["ChangePage", "NewCase", "Program", "Registry"]
