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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, cast, extract, func, select
from sqlalchemy.orm import Session

from reclaim.hashing.errors import InvalidHashError
from reclaim.hashing.types import Md5Hash, PdqHash, SignalType
from reclaim.registry.cases import CaseStatus
from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.feed import utcnow
from reclaim.registry.feedback import FeedbackItem, FeedbackValue
from reclaim.registry.hashlist import attach
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
    rows = connection.execute(
        select(
            HashRecord.id,
            HashRecord.signal_type,
            HashRecord.value,
            HashRecord.status,
            HashRecord.change,
            _epoch_seconds(HashRecord.updated_at, connection.dialect.name),
        )
        .where(
            HashRecord.change >= first,
            HashRecord.program.in_(platform.programs),
            HashRecord.signal_type.in_(tuple(SIGNAL_NAMES)),
        )
        .order_by(HashRecord.change)
        .limit(page_size + 1)
    ).all()
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    opinions: dict[int, list[tuple[str, tuple[str, ...], str]]] = defaultdict(list)
    if rows:
        # By feed range, not by a 10,000-item IN list.
        for hash_id, value, tag_text, source in connection.execute(
            select(Feedback.hash_id, Feedback.value, Feedback.tags, Platform.name)
            .join(Platform, Platform.id == Feedback.platform_id)
            .join(HashRecord, HashRecord.id == Feedback.hash_id)
            .where(HashRecord.change.between(rows[0][4], rows[-1][4]))
        ):
            tags = tuple(t for t in tag_text.split(",") if t)
            opinions[hash_id].append((FEEDBACK_NAMES[value], tags, source))
    signal_names, status_names = SIGNAL_NAMES, STATUS_NAMES
    records = [
        ExchangeRecord(
            int(seconds),
            signal_names[kind],
            value,
            status_names.get(status, "Unknown"),
            tuple(opinions[rid]) if rid in opinions else (),
        )
        for rid, kind, value, status, _, seconds in rows
    ]
    next_set = records[-1].last_modified if records else max(start_timestamp, 0)
    return ExchangePage(
        records, str(rows[-1][4]) if has_more else None, next_set, has_more
    )


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
