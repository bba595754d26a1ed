"""NCMEC's hash-sharing model on the registry: windows, pages, seals, feedback.

NCMEC's Hash Sharing API v2 serves *entries* updated in a time window
`[from, to]` (whole seconds), paged by a `next` link. Here an entry is one
hash record: its id is the record id, PDQ records are images and MD5 records
videos (vPDQ has no NCMEC fingerprint and is not served), and a record that
is no longer active is a deleted entry (a tombstone with the same id). Every
entry's member is the registry itself (`REGISTRY_MEMBER`).

Windows are answered once and for all. Record times never decrease along the
feed (`feed.publish`), but a writer may hold a time it has not committed yet.
Before a window that reaches past the committed `instance.feed_time` is read,
`seal` moves `feed_time` to the window's end in a short write of its own: it
takes the lock every publisher takes, so each earlier publisher has committed
and each later one stamps at or after the end. A record can then only leave
an answered window (by changing again, into a later one), never join it.
Record times are whole minutes rounded up (`feed.TIME_UNIT`), so `seal`
rounds the window's end up too; a change shows in the first window reaching
its minute's mark, up to a minute after it was made.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reclaim.hashing.types import SignalType
from reclaim.registry.errors import InvalidRequestError, NotFoundError
from reclaim.registry.feed import as_utc, ceil_time, floor_time
from reclaim.registry.feedback import FeedbackItem, FeedbackValue
from reclaim.registry.hashlist import HashStatus
from reclaim.registry.models import Feedback, HashRecord, Instance, Platform
from reclaim.registry.platforms import PlatformIdentity

#: A window may end at most this far past the server's clock: sealing moves
#: the feed's clock to the window's end, so it must not run far ahead.
MAX_CLOCK_SKEW = timedelta(minutes=2)

#: Platforms are members `PLATFORM_MEMBER_BASE + platform id`, so no platform
#: shares the registry's member id.
PLATFORM_MEMBER_BASE = 1000

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Member:
    """An NCMEC member (ESP): the registry, or a platform."""

    id: int
    name: str


#: The member every entry comes from.
REGISTRY_MEMBER = Member(1, "reclaim registry")


def platform_member(platform_id: int, name: str) -> Member:
    """A platform as an NCMEC member."""
    return Member(PLATFORM_MEMBER_BASE + platform_id, name)


class EntryKind(enum.StrEnum):
    """What an entry describes. Names are NCMEC's wire keys."""

    IMAGE = "image"
    VIDEO = "video"


#: Our served hash types and the entries they make; the fingerprint's NCMEC
#: name is our type name (`pdq`, `md5`).
ENTRY_KINDS = {
    SignalType.PDQ.value: EntryKind.IMAGE,
    SignalType.MD5.value: EntryKind.VIDEO,
}


class Reason(NamedTuple):
    """A reason for negative feedback; the GUIDs are fixed wire values."""

    guid: str
    name: str


REASONS = (
    Reason("6a1d3c4e-8f0b-4d2a-9c57-1e2f3a4b5c01", "Not the reported content"),
    Reason("6a1d3c4e-8f0b-4d2a-9c57-1e2f3a4b5c02", "Not intimate imagery"),
    Reason("6a1d3c4e-8f0b-4d2a-9c57-1e2f3a4b5c03", "Reviewed and not removed"),
)
#: Shown for `not_blocked` feedback that names none of the reasons (it came
#: through another API).
UNSPECIFIED_REASON = REASONS[-1]


@dataclass(frozen=True, slots=True)
class Window:
    """The whole seconds `start` to `end`, both included."""

    start: datetime
    end: datetime

    @property
    def until(self) -> datetime:
        """The first instant after the window."""
        return self.end + _SECOND


def window(start: datetime, end: datetime, *, now: datetime) -> Window:
    """A validated window (times are UTC, cut to whole seconds)."""
    start, end = start.replace(microsecond=0), end.replace(microsecond=0)
    if start > end:
        raise InvalidRequestError(
            f"the window from {start:%Y-%m-%dT%H:%M:%SZ} to {end:%Y-%m-%dT%H:%M:%SZ} "
            "ends before it starts: pass from <= to"
        )
    if end > now + MAX_CLOCK_SKEW:
        raise InvalidRequestError(
            f"'to' {end:%Y-%m-%dT%H:%M:%SZ} is more than "
            f"{int(MAX_CLOCK_SKEW.total_seconds())} seconds past the registry's "
            f"clock ({now:%Y-%m-%dT%H:%M:%SZ}): windows in the future cannot be "
            "answered for good; check your clock, or ask up to now"
        )
    return Window(start, end)


@dataclass(frozen=True, slots=True)
class PageRef:
    """Where a window's next page starts (`start`) and where the window's
    entries end (`last`, NCMEC's `max`: fixed when its first page is read)."""

    start: int
    last: int


class Opinion(NamedTuple):
    """A platform's current `blocked` or `not_blocked` feedback on an entry."""

    member: Member
    positive: bool
    reasons: tuple[Reason, ...]  # for not_blocked: at least one
    at: datetime


class Entry(NamedTuple):
    """One entry: a live hash, or a tombstone (`deleted`, no value shown)."""

    id: int
    kind: EntryKind
    fingerprint: str
    value: str
    deleted: bool
    at: datetime
    opinions: tuple[Opinion, ...]


@dataclass(frozen=True, slots=True)
class EntriesPage:
    """One page of a window's entries, in feed order, and the next page."""

    span: Window
    entries: list[Entry]
    next: PageRef | None


def is_sealed(session: Session, span: Window) -> bool:
    """Whether every record stamped inside the window has committed."""
    feed_time = session.scalar(select(Instance.feed_time).where(Instance.id == 1))
    return feed_time is not None and as_utc(feed_time) >= span.until


def seal(session: Session, span: Window) -> None:
    """Close the window to writers (run alone in a write transaction).

    The update takes the feed's lock, waiting for a publisher holding it; a
    publisher after it stamps at or after `feed_time`, i.e. past the window.
    Rounded up to a whole unit, as every record time is.
    """
    session.execute(
        update(Instance)
        .where(Instance.id == 1, Instance.feed_time < span.until)
        .values(feed_time=ceil_time(span.until))
    )


def locate(session: Session, span: Window) -> PageRef | None:
    """The window's first and last feed positions; None when it is empty.

    Times never decrease along the feed, so the window is one range of
    positions: index probes find its first and last times, then the first
    and last positions stamped with them, however long the list. An empty
    window costs the two time probes only.
    """
    inside = (HashRecord.updated_at >= span.start, HashRecord.updated_at < span.until)
    first_stamp = (
        select(func.min(HashRecord.updated_at)).where(*inside).scalar_subquery()
    )
    last_stamp = (
        select(func.max(HashRecord.updated_at)).where(*inside).scalar_subquery()
    )
    first, last = session.execute(
        select(
            select(func.min(HashRecord.change))
            .where(HashRecord.updated_at == first_stamp)
            .scalar_subquery(),
            select(func.max(HashRecord.change))
            .where(HashRecord.updated_at == last_stamp)
            .scalar_subquery(),
        )
    ).one()
    if first is None or last is None or first > last:
        return None
    return PageRef(int(first), int(last))


def page(
    session: Session,
    platform: PlatformIdentity,
    span: Window,
    ref: PageRef | None,
    *,
    size: int,
) -> EntriesPage:
    """A window's first page (`ref` None) or a later one, from a sealed window.

    A later page's positions are kept inside the window's, so a hand-made
    `start` and `max` cannot turn a page into a scan of the whole feed.
    """
    bounds = locate(session, span)
    if bounds is None:
        return EntriesPage(span, [], None)
    if ref is not None:
        bounds = PageRef(max(ref.start, bounds.start), min(ref.last, bounds.last))
    return read(session, platform, span, bounds, size=size)


def read(
    session: Session,
    platform: PlatformIdentity,
    span: Window,
    ref: PageRef,
    *,
    size: int,
) -> EntriesPage:
    """Up to `size` entries at positions `ref.start`..`ref.last` in the window.

    A record that changed since the first page has moved past `ref.last`
    (and past the window): it is served by a later window instead.
    """
    rows = session.execute(
        select(
            HashRecord.id,
            HashRecord.signal_type,
            HashRecord.value,
            HashRecord.status,
            HashRecord.change,
            HashRecord.updated_at,
        )
        .where(
            HashRecord.change.between(ref.start, ref.last),
            HashRecord.updated_at >= span.start,
            HashRecord.updated_at < span.until,
            HashRecord.program.in_(platform.programs),
            HashRecord.signal_type.in_(tuple(ENTRY_KINDS)),
        )
        .order_by(HashRecord.change)
        .limit(size + 1)
    ).all()
    following = None
    if len(rows) > size:
        rows = rows[:size]
        following = PageRef(rows[-1].change + 1, ref.last)
    opinions = _opinions(session, rows[0].change, rows[-1].change) if rows else {}
    entries = [
        Entry(
            rid,
            ENTRY_KINDS[kind],
            kind,
            value,
            status != HashStatus.ACTIVE.value,
            as_utc(at),
            opinions.get(rid, ()),
        )
        for rid, kind, value, status, _, at in rows
    ]
    return EntriesPage(span, entries, following)


def _opinions(
    session: Session, first: int, last: int
) -> dict[int, tuple[Opinion, ...]]:
    """Blocked and not-blocked feedback on the records at positions first..last."""
    found: dict[int, list[Opinion]] = defaultdict(list)
    for hash_id, platform_id, name, value, tags, at in session.execute(
        select(
            Feedback.hash_id,
            Platform.id,
            Platform.name,
            Feedback.value,
            Feedback.tags,
            Feedback.updated_at,
        )
        .join(Platform, Platform.id == Feedback.platform_id)
        .join(HashRecord, HashRecord.id == Feedback.hash_id)
        .where(
            HashRecord.change.between(first, last),
            Feedback.value.in_(
                (FeedbackValue.BLOCKED.value, FeedbackValue.NOT_BLOCKED.value)
            ),
        )
        .order_by(Feedback.hash_id, Platform.id)
    ):
        positive = value == FeedbackValue.BLOCKED.value
        reasons = () if positive else _reasons_in(tags)
        member = platform_member(platform_id, name)
        # Whole units, as record times: every platform reads them.
        found[hash_id].append(Opinion(member, positive, reasons, floor_time(at)))
    return {rid: tuple(items) for rid, items in found.items()}


def _reasons_in(tags: str) -> tuple[Reason, ...]:
    named = set(tags.split(","))
    return tuple(r for r in REASONS if r.name in named) or (UNSPECIFIED_REASON,)


class Vote(enum.StrEnum):
    """NCMEC's feedback: the fingerprint is right, or it is not."""

    AFFIRMATIVE = "affirmative"
    NEGATIVE = "negative"


def feedback_item(
    session: Session,
    platform: PlatformIdentity,
    *,
    member_id: int,
    entry_id: str,
    signal_type: str,
    vote: Vote,
    reason_guids: Sequence[str] = (),
) -> FeedbackItem:
    """A platform's vote on one entry's fingerprint, as registry feedback.

    Affirmative is `blocked`; negative is `not_blocked`, tagged with the
    reasons' names. Feedback is on the hash, so it applies to that hash in
    every program the platform reads, as through the other APIs.
    """
    if member_id != REGISTRY_MEMBER.id:
        raise NotFoundError(
            f"member {member_id} has no entries here: every entry is member "
            f"{REGISTRY_MEMBER.id}'s ({REGISTRY_MEMBER.name}); send feedback to "
            f"/v2/entries/{REGISTRY_MEMBER.id}/<entry id>/<type>/feedback"
        )
    record = None
    if entry_id.isascii() and entry_id.isdigit() and len(entry_id) <= 18:
        record = session.scalars(
            select(HashRecord).where(
                HashRecord.id == int(entry_id),
                HashRecord.program.in_(platform.programs),
                HashRecord.signal_type.in_(tuple(ENTRY_KINDS)),
            )
        ).first()
    if record is None:
        raise NotFoundError(
            f"no entry {entry_id[:30]!r}: use an entry id from /v2/entries"
        )
    if record.signal_type != signal_type:
        kind = ENTRY_KINDS[record.signal_type]
        raise InvalidRequestError(
            f"entry {record.id} is {'an' if kind is EntryKind.IMAGE else 'a'} "
            f"{kind.value} with a {record.signal_type.upper()} fingerprint, not "
            f"{signal_type.upper()}: send its feedback to "
            f"/v2/entries/{member_id}/{record.id}/{record.signal_type.upper()}/feedback"
        )
    if vote is Vote.AFFIRMATIVE:
        return FeedbackItem(record.signal_type, record.digest, FeedbackValue.BLOCKED)
    known = {r.guid: r for r in REASONS}
    unknown = [g for g in reason_guids if g not in known]
    if not reason_guids or unknown:
        raise InvalidRequestError(
            (
                f"{unknown[0][:40]!r} is not a feedback reason"
                if unknown
                else "negative feedback needs a reason"
            )
            + ": send reasonIds/guid from /v2/feedback/"
            f"{signal_type.upper()}/reasons",
            [f"{r.guid}: {r.name}" for r in REASONS],
        )
    names = tuple(sorted({known[g].name for g in reason_guids}))
    return FeedbackItem(
        record.signal_type, record.digest, FeedbackValue.NOT_BLOCKED, tags=names
    )
