"""The StopNCII hash-exchange model on top of the registry.

StopNCII serves aggregate hash records by modification time: a client asks
for records modified at or after `startTimestamp`, pages with an opaque
`nextPageToken`, and stores `nextSetTimestamp` as its checkpoint. Here a
page token is a feed position, and record times never decrease along the
feed (`feed.publish`), so restarting from any page's `nextSetTimestamp`
re-delivers at most that minute's records and never skips one. Record times
are whole minutes rounded up (`feed.TIME_UNIT`), so `startTimestamp` cannot
probe a record's time any finer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Connection,
    cast,
    extract,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from reclaim.hashing.errors import InvalidHashError
from reclaim.hashing.types import Md5Hash, PdqHash, SignalType
from reclaim.registry.cases import CaseStatus
from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.feed import utcnow
from reclaim.registry.hashlist import HashStatus, attach, case_hash_count
from reclaim.registry.identifiers import new_case_number
from reclaim.registry.models import Case, CaseHash, Feedback, HashRecord, Platform
from reclaim.registry.platforms import PlatformIdentity
from reclaim.registry.submissions import SubmittedHash

#: The hash types the exchange carries (StopNCII has no vPDQ).
EXCHANGE_TYPES = (SignalType.PDQ.value, SignalType.MD5.value)


class ExchangeRecord(NamedTuple):
    """One record of a StopNCII page, in the registry's terms (the API names
    them StopNCII's way; a named tuple: pages hold 10,000)."""

    last_modified: int
    signal_type: str
    value: str
    status: str
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
            _record_count(programs),
        )
        .where(
            HashRecord.change >= first,
            HashRecord.program.in_(programs),
            HashRecord.signal_type.in_(EXCHANGE_TYPES),
        )
        .order_by(HashRecord.change)
        .limit(page_size + 1)
    ).all()
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if not rows:
        return ExchangePage([], None, max(start_timestamp, 0), False)
    low, high = rows[0][4], rows[-1][4]
    # Most hashes have one record among the key's programs: its status as
    # stored. The few listed in several are merged from all their records.
    statuses = {(r[1], r[6]): r[3] for r in rows}
    latest = {(r[1], r[6]): r[4] for r in rows}
    opinions = _opinions_on_range(connection, programs, low, high)
    shared = [(r[1], r[6]) for r in rows if r[7] > 1]
    if shared:
        owners = _records_of(connection, programs, shared)
        for key, got in owners.items():
            statuses[key] = merged_status(status for _, status, _ in got)
            latest[key] = max(change for _, _, change in got)
        opinions.update(_opinions_on_records(connection, owners))
    records = [
        ExchangeRecord(
            int(seconds),
            kind,
            value,
            statuses[kind, digest],
            tuple(opinions.get((kind, digest), ())),
        )
        for _, kind, value, _, change, seconds, digest, _ in rows
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


#: Values per IN list: index lookups in chunks, within every database's limits.
CHUNK = 500

Opinion = tuple[str, tuple[str, ...], str]  # (feedbackValue, tags, source)


def _record_count(programs: tuple[str, ...]) -> Any:
    """How many records a hash has in `programs`: 1 without asking when only one.

    A correlated subquery, so each page row is one index probe on
    (signal_type, digest, program), never a join over the whole list.
    """
    if len(programs) == 1:
        return literal(1)
    other = HashRecord.__table__.alias("other")
    return (
        select(func.count())
        .where(
            other.c.signal_type == HashRecord.signal_type,
            other.c.digest == HashRecord.digest,
            other.c.program.in_(programs),
        )
        .scalar_subquery()
    )


def _records_of(
    connection: Connection,
    programs: tuple[str, ...],
    hashes: Sequence[tuple[str, str]],
) -> dict[tuple[str, str], list[tuple[int, str, int]]]:
    """Every record, in the given programs, of each (type, digest): (id, status,
    change). Index lookups by digest, so a page costs its own size, not the list's.
    """
    found: dict[tuple[str, str], list[tuple[int, str, int]]] = defaultdict(list)
    digests = sorted({digest for _, digest in hashes})
    for start in range(0, len(digests), CHUNK):
        query = select(
            HashRecord.id,
            HashRecord.signal_type,
            HashRecord.digest,
            HashRecord.status,
            HashRecord.change,
        ).where(
            HashRecord.signal_type.in_(EXCHANGE_TYPES),
            HashRecord.digest.in_(digests[start : start + CHUNK]),
            HashRecord.program.in_(programs),
        )
        for rid, kind, digest, status, change in connection.execute(query):
            found[kind, digest].append((rid, status, change))
    return found


def _opinions_on_range(
    connection: Connection, programs: tuple[str, ...], low: int, high: int
) -> dict[tuple[str, str], list[Opinion]]:
    """Feedback on the records in `programs` at feed positions `low`..`high`.

    By feed range, not by a 10,000-item IN list. Feedback on a record in a
    program the key may not read never shows, not even beside the same hash
    in one it may.
    """
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
        .where(HashRecord.change.between(low, high), HashRecord.program.in_(programs))
        .order_by(Platform.name, Feedback.hash_id)
    )
    return _collect(connection.execute(query))


def _opinions_on_records(
    connection: Connection, owners: dict[tuple[str, str], list[tuple[int, str, int]]]
) -> dict[tuple[str, str], list[Opinion]]:
    """Feedback on any of each hash's records, once per platform and value."""
    key_of = {rid: key for key, got in owners.items() for rid, _, _ in got}
    ids = sorted(key_of)
    rows: list[tuple[str, str, str, str, str]] = []
    for start in range(0, len(ids), CHUNK):
        query = (
            select(Feedback.hash_id, Feedback.value, Feedback.tags, Platform.name)
            .join(Platform, Platform.id == Feedback.platform_id)
            .where(Feedback.hash_id.in_(ids[start : start + CHUNK]))
        )
        for rid, value, tags, source in connection.execute(query):
            rows.append((*key_of[rid], value, tags, source))
    rows.sort(key=lambda row: row[4])
    return _collect(rows)


def _collect(
    rows: Iterable[Sequence[str]],
) -> dict[tuple[str, str], list[Opinion]]:
    """(type, digest, value, tags, source) rows as each hash's distinct opinions."""
    opinions: dict[tuple[str, str], list[Opinion]] = defaultdict(list)
    for kind, digest, value, tag_text, source in rows:
        tags = tuple(t for t in tag_text.split(",") if t)
        opinion = (value, tags, source)
        if opinion not in opinions[kind, digest]:
            opinions[kind, digest].append(opinion)
    return opinions


def _epoch_seconds(column: Any, dialect: str) -> Any:
    """Whole Unix seconds of a timestamp column, computed by the database."""
    if dialect == "sqlite":  # stored as naive UTC text; strftime('%s') truncates
        return cast(func.strftime("%s", column), BigInteger)
    return cast(func.floor(extract("epoch", column)), BigInteger)


def submitted(signal_type: str, value: object) -> SubmittedHash:
    """A platform-submitted hash (no quality is sent), validated: `signal_type`
    is one of `EXCHANGE_TYPES`."""
    if signal_type == SignalType.PDQ:
        parsed = PdqHash.parse(value)  # type: ignore[arg-type]
        if not 96 <= parsed.value.bit_count() <= 128:
            raise InvalidHashError("a degenerate PDQ hash (flat image) is refused")
        return SubmittedHash(SignalType.PDQ, parsed.hex, None)
    return SubmittedHash(SignalType.MD5, Md5Hash.parse(value).hex, None)  # type: ignore[arg-type]


def platform_case(session: Session, platform: PlatformIdentity) -> Case:
    """The open case that holds hashes this platform submitted itself."""
    program = "adult" if "adult" in platform.programs else platform.programs[0]
    # Locked: two submissions of one platform count its case's size in turn.
    case = session.scalars(
        select(Case)
        .where(
            Case.platform_id == platform.id,
            Case.program == program,
            Case.status == CaseStatus.ACTIVE.value,
        )
        .with_for_update()
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


def check_request_size(count: int, *, limit: int) -> None:
    """Refuse a SubmitHashes request of more than `limit` records (the
    registry's `max_hashes_per_request`, as for a person's request)."""
    if count > limit:
        raise InvalidRequestError(
            f"{count} hashRecords in one request is too many: at most {limit}; "
            "send the rest in another request"
        )


def submit(
    session: Session,
    platform: PlatformIdentity,
    hashes: Sequence[SubmittedHash],
    *,
    max_per_case: int,
) -> list[int]:
    """Add a platform's own hashes to its case; returns changed record ids.

    The case holds at most `max_per_case` hashes, as a person's does; hashes
    it already holds are not counted again (a retried request still fits).
    """
    case = platform_case(session, platform)
    held = case_hash_count(session, case)
    if held + len(hashes) > max_per_case:
        distinct = len({(h.signal_type.value, h.digest) for h in hashes})
        fresh = distinct - _already_held(session, case, hashes)
        if held + fresh > max_per_case:
            raise InvalidRequestError(
                f"this request adds {fresh} hashes to the {held} your platform "
                f"has submitted, and its case holds at most {max_per_case}: send "
                f"at most {max(max_per_case - held, 0)} new hashes, or ask the "
                "registry's operator about the rest"
            )
    return [a.id for a in attach(session, case, hashes)]


def _already_held(session: Session, case: Case, hashes: Sequence[SubmittedHash]) -> int:
    """How many distinct hashes of `hashes` the case holds already."""
    wanted = {(h.signal_type.value, h.digest) for h in hashes}
    digests = sorted({digest for _, digest in wanted})
    found = 0
    for start in range(0, len(digests), CHUNK):
        query = (
            select(HashRecord.signal_type, HashRecord.digest)
            .join(CaseHash, CaseHash.hash_id == HashRecord.id)
            .where(
                CaseHash.case_id == case.id,
                HashRecord.digest.in_(digests[start : start + CHUNK]),
            )
        )
        found += sum(
            1 for kind, digest in session.execute(query) if (kind, digest) in wanted
        )
    return found
