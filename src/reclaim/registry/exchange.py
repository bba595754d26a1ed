"""The StopNCII hash-exchange model on top of the registry.

StopNCII serves aggregate hash records by modification time: a client asks
for records modified at or after `startTimestamp`, pages with an opaque
`nextPageToken`, and stores `nextSetTimestamp` as its checkpoint. Here a
page token is a feed position, and record times never decrease along the
feed (`feed.publish`), so restarting from any page's `nextSetTimestamp`
re-delivers at most that second's records and never skips one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Connection, cast, extract, func, select
from sqlalchemy.orm import Session

from reclaim.hashing.errors import InvalidHashError
from reclaim.hashing.types import Md5Hash, PdqHash, SignalType
from reclaim.registry.cases import CaseStatus
from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.feed import utcnow
from reclaim.registry.feedback import FeedbackItem, FeedbackValue
from reclaim.registry.hashlist import HashStatus, attach
from reclaim.registry.identifiers import new_case_number
from reclaim.registry.models import Case, Feedback, HashRecord, Platform
from reclaim.registry.platforms import PlatformIdentity
from reclaim.registry.submissions import SubmittedHash

#: Our hash types and StopNCII's names for them. vPDQ has no StopNCII type.
SIGNAL_NAMES = {SignalType.PDQ.value: "ImagePDQ", SignalType.MD5.value: "VideoMD5"}
SIGNAL_TYPES = {name: kind for kind, name in SIGNAL_NAMES.items()}

STATUS_NAMES = {"active": "Active", "withdrawn": "Withdrawn", "removed": "Deleted"}

FEEDBACK_NAMES = {
    FeedbackValue.MATCH_FOUND.value: "PendingReview",
    FeedbackValue.PENDING_REVIEW.value: "PendingReview",
    FeedbackValue.BLOCKED.value: "Blocked",
    FeedbackValue.NOT_BLOCKED.value: "NotBlocked",
}
#: StopNCII feedback values that carry an outcome; the rest only tag a hash.
FEEDBACK_VALUES = {
    "PendingReview": FeedbackValue.PENDING_REVIEW,
    "Blocked": FeedbackValue.BLOCKED,
    "NotBlocked": FeedbackValue.NOT_BLOCKED,
}
TAG_ONLY = {"None", "Unknown", "QualityUnknown", "Withdrawn", "Deleted"}


class ExchangeRecord(NamedTuple):
    """One record in StopNCII's shape (a named tuple: pages hold 10,000)."""

    last_modified: int
    signal_name: str
    value: str
    status_name: str
    feedbacks: tuple[tuple[str, tuple[str, ...], str], ...]  # (value, tags, source)


@dataclass(frozen=True, slots=True)
class ExchangePage:
    """One FetchHashes answer."""

    records: list[ExchangeRecord]
    next_token: str | None
    next_set_timestamp: int
    has_more: bool


def parse_token(token: str | None) -> int:
    """A page token back to a feed position (0 for none)."""
    if not token:
        return 0
    if (
        not (token.isascii() and token.isdigit())
        or len(token) > 19
        or int(token) > 2**63 - 1
    ):
        raise InvalidRequestError(
            f"{token[:30]!r} is not a page token from this server: pass the "
            "nextPageToken you were given, or none to start"
        )
    return int(token)


def fetch(
    session: Session,
    platform: PlatformIdentity,
    *,
    start_timestamp: int,
    token: str | None,
    page_size: int,
) -> ExchangePage:
    """Records modified at or after `start_timestamp`, after the page token."""
    after = parse_token(token)
    since = datetime.fromtimestamp(max(start_timestamp, 0), UTC)
    # Record times never decrease along the feed (feed.publish), so "modified
    # at or after `since`" is "at or after the first such feed position":
    # one index probe, then a range scan in feed order.
    first = after + 1
    if not token:
        # Only the first page looks the time up; later pages continue after
        # their token, which already lies past `since`.
        stamp = session.scalar(
            select(HashRecord.updated_at)
            .where(HashRecord.updated_at >= since)
            .order_by(HashRecord.updated_at)
            .limit(1)
        )
        if stamp is None:
            return ExchangePage([], None, max(start_timestamp, 0), False)
        first = int(
            session.scalar(
                select(func.min(HashRecord.change)).where(
                    HashRecord.updated_at == stamp
                )
            )
            or 0
        )
    connection = session.connection()
    dialect = connection.dialect.name
    programs = tuple(platform.programs)
    rows = connection.execute(
        select(
            HashRecord.id,
            HashRecord.signal_type,
            HashRecord.value,
            HashRecord.status,
            HashRecord.change,
            _epoch_seconds(HashRecord.updated_at, dialect),
            HashRecord.digest,
        )
        .where(
            HashRecord.change >= first,
            HashRecord.program.in_(programs),
            HashRecord.signal_type.in_(tuple(SIGNAL_NAMES)),
        )
        .order_by(HashRecord.change)
        .limit(page_size + 1)
    ).all()
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if not rows:
        return ExchangePage([], None, max(start_timestamp, 0), False)
    low, high = rows[0][4], rows[-1][4]
    if len(programs) == 1:
        # One program: every record is its hash's only one; statuses as stored.
        statuses = {(kind, digest): status for _, kind, _, status, _, _, digest in rows}
        latest = {(kind, digest): change for _, kind, _, _, change, _, digest in rows}
    else:
        statuses, latest = _across_programs(connection, programs, low, high)
    opinions = _opinions(connection, programs, low, high)
    signal_names = SIGNAL_NAMES
    records = [
        ExchangeRecord(
            int(seconds),
            signal_names[kind],
            value,
            STATUS_NAMES.get(statuses[kind, digest], "Unknown"),
            tuple(opinions.get((kind, digest), ())),
        )
        for _, kind, value, _, change, seconds, digest in rows
        # A hash listed in several readable programs is served once, at its
        # newest record: that is where any change to its merged state lands.
        if latest[kind, digest] == change
    ]
    next_set = records[-1].last_modified if records else int(rows[-1][5])
    return ExchangePage(records, str(high) if has_more else None, next_set, has_more)


def merged_status(statuses: Iterable[str]) -> str:
    """One status for a hash over the programs a key reads.

    Active while any of them lists it; withdrawn only when none does and a
    case withdrew it; removed when the operator removed it everywhere.
    """
    seen = set(statuses)
    for status in (HashStatus.ACTIVE, HashStatus.WITHDRAWN, HashStatus.REMOVED):
        if status.value in seen:
            return status.value
    return HashStatus.REMOVED.value


def _across_programs(
    connection: Connection, programs: tuple[str, ...], low: int, high: int
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], int]]:
    """Merged status and newest feed position of each hash on a feed range.

    Every record, in every program the key reads, of each hash that has a
    record at positions `low`..`high`.
    """
    page = HashRecord.__table__.alias("page")
    rows = connection.execute(
        select(
            HashRecord.signal_type,
            HashRecord.digest,
            HashRecord.status,
            HashRecord.change,
        )
        .join(
            page,
            (page.c.signal_type == HashRecord.signal_type)
            & (page.c.digest == HashRecord.digest),
        )
        .where(
            page.c.change.between(low, high),
            page.c.program.in_(programs),
            page.c.signal_type.in_(tuple(SIGNAL_NAMES)),
            HashRecord.program.in_(programs),
        )
    )
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    latest: dict[tuple[str, str], int] = {}
    for kind, digest, status, change in rows:
        key = (kind, digest)
        found[key].append(status)
        latest[key] = max(change, latest.get(key, change))
    return {key: merged_status(s) for key, s in found.items()}, latest


def _opinions(
    connection: Connection, programs: tuple[str, ...], low: int, high: int
) -> dict[tuple[str, str], list[tuple[str, tuple[str, ...], str]]]:
    """Feedback on each hash with a record at positions `low`..`high`.

    By feed range, not by a 10,000-item IN list; feedback on a hash's records
    in other readable programs counts too, once per platform and value.
    """
    page = HashRecord.__table__.alias("page")
    same_hash = (
        page.c.id == HashRecord.id  # one program: each hash has one record
        if len(programs) == 1
        else (page.c.signal_type == HashRecord.signal_type)
        & (page.c.digest == HashRecord.digest)
    )
    query = (
        select(
            HashRecord.signal_type,
            HashRecord.digest,
            Feedback.value,
            Feedback.tags,
            Platform.name,
        )
        .join(Feedback, Feedback.hash_id == HashRecord.id)
        .join(Platform, Platform.id == Feedback.platform_id)
        .join(page, same_hash)
        .where(
            page.c.change.between(low, high),
            page.c.program.in_(programs),
            HashRecord.program.in_(programs),
        )
        .order_by(Platform.name, Feedback.hash_id)
    )
    opinions: dict[tuple[str, str], list[tuple[str, tuple[str, ...], str]]] = (
        defaultdict(list)
    )
    for kind, digest, value, tag_text, source in connection.execute(query):
        tags = tuple(t for t in tag_text.split(",") if t)
        opinion = (FEEDBACK_NAMES[value], tags, source)
        if opinion not in opinions[kind, digest]:
            opinions[kind, digest].append(opinion)
    return opinions


def _epoch_seconds(column: Any, dialect: str) -> Any:
    """Whole Unix seconds of a timestamp column, computed by the database."""
    if dialect == "sqlite":  # stored as naive UTC text; strftime('%s') truncates
        return cast(func.strftime("%s", column), BigInteger)
    return cast(func.floor(extract("epoch", column)), BigInteger)


def signal_type_of(name: object) -> str:
    """Our type for a StopNCII signal name; the pytx client's `str(enum)` too."""
    text = str(name)
    text = text.rsplit(".", 1)[-1]  # "StopNCIISignalType.ImagePDQ" -> "ImagePDQ"
    if text not in SIGNAL_TYPES:
        raise InvalidHashError(
            f"{str(name)[:40]!r} is not a supported signalType: expected ImagePDQ "
            "or VideoMD5"
        )
    return SIGNAL_TYPES[text]


def submitted(signal_type: str, value: object) -> SubmittedHash:
    """A platform-submitted hash (no quality is sent), validated."""
    if signal_type == SignalType.PDQ:
        parsed = PdqHash.parse(value)  # type: ignore[arg-type]
        if not 96 <= parsed.value.bit_count() <= 128:
            raise InvalidHashError("a degenerate PDQ hash (flat image) is refused")
        return SubmittedHash(SignalType.PDQ, parsed.hex, None)
    return SubmittedHash(SignalType.MD5, Md5Hash.parse(value).hex, None)  # type: ignore[arg-type]


def guess_type(value: object) -> str:
    """StopNCII feedback names a hash by value only: PDQ is 64 hex, MD5 32."""
    text = str(value).strip()
    return SignalType.PDQ.value if len(text) == 64 else SignalType.MD5.value


def feedback_item(value: object, feedback: object, tags: object) -> FeedbackItem:
    """One StopNCII feedback entry as ours."""
    kind = guess_type(value)
    digest = submitted(kind, value).digest
    name = str(feedback)
    if name not in FEEDBACK_VALUES and name not in TAG_ONLY:
        raise InvalidHashError(
            f"{name[:30]!r} is not a feedbackValue: expected Blocked, NotBlocked, "
            "PendingReview, None, QualityUnknown"
        )
    clean_tags = tuple(str(t)[:100] for t in tags) if isinstance(tags, list) else ()
    return FeedbackItem(kind, digest, FEEDBACK_VALUES.get(name), tags=clean_tags)


def platform_case(session: Session, platform: PlatformIdentity) -> Case:
    """The open case that holds hashes this platform submitted itself."""
    program = "adult" if "adult" in platform.programs else platform.programs[0]
    case = session.scalars(
        select(Case).where(
            Case.platform_id == platform.id,
            Case.program == program,
            Case.status == CaseStatus.ACTIVE.value,
        )
    ).first()
    if case is None:
        case = Case(
            number=new_case_number(),
            pin_hash=None,
            program=program,
            status=CaseStatus.ACTIVE.value,
            platform_id=platform.id,
            created_at=utcnow(),
        )
        session.add(case)
        session.flush()
    return case


def submit(
    session: Session, platform: PlatformIdentity, hashes: Sequence[SubmittedHash]
) -> list[int]:
    """Add a platform's own hashes to its case; returns changed record ids."""
    return [a.id for a in attach(session, platform_case(session, platform), hashes)]
