"""The hash list: aggregate records, attaching cases to them, and the feed reads.

A record is one hash (type + value) in one program. `case_count` counts the
active cases holding it; it is `active` while that is above zero.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from reclaim.registry.feed import as_utc, utcnow
from reclaim.registry.models import Case, CaseHash, HashRecord, Instance
from reclaim.registry.submissions import SubmittedHash


class HashStatus(enum.StrEnum):
    """Whether platforms should match a hash. Names are wire keys."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    REMOVED = "removed"  # by the operator after review; never reactivated


@dataclass(frozen=True, slots=True)
class ListEntry:
    """A hash record as platforms receive it."""

    signal_type: str
    value: str
    quality: int | None
    program: str
    status: str
    case_count: int
    quarantined: bool
    change: int
    updated_at: datetime

    @classmethod
    def of(cls, record: HashRecord) -> ListEntry:
        return cls(
            record.signal_type,
            record.value,
            record.quality,
            record.program,
            record.status,
            record.case_count,
            record.quarantined,
            record.change,
            as_utc(record.updated_at),
        )


def lock_records(
    session: Session, program: str, hashes: Sequence[SubmittedHash]
) -> dict[tuple[str, str], HashRecord]:
    """Existing records for these hashes, row-locked (in a fixed order)."""
    keys = sorted({(h.signal_type.value, h.digest) for h in hashes})
    if not keys:
        return {}
    query = (
        select(HashRecord)
        .where(HashRecord.program == program)
        .where(tuple_(HashRecord.signal_type, HashRecord.digest).in_(keys))
        .order_by(HashRecord.signal_type, HashRecord.digest)
        .with_for_update()
    )
    return {(r.signal_type, r.digest): r for r in session.scalars(query)}


def attach(
    session: Session,
    case: Case,
    hashes: Sequence[SubmittedHash],
    *,
    new_case: bool = False,
) -> list[HashRecord]:
    """Link hashes to an active case; returns the records that changed."""
    existing = lock_records(session, case.program, hashes)
    linked: set[int] = set()
    if not new_case:
        linked = set(
            session.scalars(
                select(CaseHash.hash_id).where(CaseHash.case_id == case.id)
            ).all()
        )
    now = utcnow()
    changed: list[HashRecord] = []
    for submitted in hashes:
        record = existing.get((submitted.signal_type.value, submitted.digest))
        if record is None:
            record = HashRecord(
                signal_type=submitted.signal_type.value,
                digest=submitted.digest,
                value=submitted.value,
                quality=submitted.quality,
                program=case.program,
                status=HashStatus.ACTIVE.value,
                case_count=0,
                quarantined=False,
                change=0,
                updated_at=now,
            )
            session.add(record)
            session.flush()
            existing[(record.signal_type, record.digest)] = record
        elif record.id in linked:
            continue
        record.case_count += 1
        if record.status != HashStatus.REMOVED.value:
            record.status = HashStatus.ACTIVE.value
        if submitted.quality is not None:
            record.quality = max(record.quality or 0, submitted.quality)
        session.add(CaseHash(case_id=case.id, hash_id=record.id, added_at=now))
        linked.add(record.id)
        changed.append(record)
    return changed


def detach_all(session: Session, case: Case) -> list[HashRecord]:
    """Release every hash of a case being withdrawn; returns changed records."""
    query = (
        select(HashRecord)
        .join(CaseHash, CaseHash.hash_id == HashRecord.id)
        .where(CaseHash.case_id == case.id)
        .order_by(HashRecord.signal_type, HashRecord.digest)
        .with_for_update()
    )
    records = list(session.scalars(query))
    for record in records:
        record.case_count = max(record.case_count - 1, 0)
        if record.case_count == 0 and record.status == HashStatus.ACTIVE.value:
            record.status = HashStatus.WITHDRAWN.value
    return records


def case_hash_count(session: Session, case: Case) -> int:
    """How many hashes a case holds."""
    query = select(func.count()).where(CaseHash.case_id == case.id)
    return int(session.scalar(query) or 0)


def changes_since(
    session: Session, *, programs: Sequence[str], cursor: int, limit: int
) -> list[ListEntry]:
    """Records whose latest change is after `cursor`, oldest change first."""
    # Plain column rows, not ORM objects: a 10,000-record page is read
    # several times faster this way.
    query = (
        select(*ENTRY_COLUMNS)
        .where(HashRecord.change > cursor, HashRecord.program.in_(programs))
        .order_by(HashRecord.change)
        .limit(limit)
    )
    return [ListEntry(*row[:-1], as_utc(row[-1])) for row in session.execute(query)]


ENTRY_COLUMNS = (
    HashRecord.signal_type,
    HashRecord.value,
    HashRecord.quality,
    HashRecord.program,
    HashRecord.status,
    HashRecord.case_count,
    HashRecord.quarantined,
    HashRecord.change,
    HashRecord.updated_at,
)


def feed_head(session: Session) -> int:
    """The newest feed position (as seen by this transaction)."""
    head: int = session.scalars(select(Instance.feed_head)).one()
    return head


SNAPSHOT_COLUMNS = (
    HashRecord.signal_type,
    HashRecord.value,
    HashRecord.quality,
    HashRecord.program,
    HashRecord.case_count,
    HashRecord.quarantined,
    HashRecord.change,
    HashRecord.updated_at,
)


def snapshot_rows(
    session: Session, *, programs: Sequence[str], batch: int = 5000
) -> Iterator[tuple[object, ...]]:
    """Every active record, as raw column tuples, streamed in batches."""
    query = (
        select(*SNAPSHOT_COLUMNS)
        .where(
            HashRecord.status == HashStatus.ACTIVE.value,
            HashRecord.program.in_(programs),
        )
        .order_by(HashRecord.change)
        .execution_options(yield_per=batch)
    )
    for row in session.execute(query):
        yield tuple(row)
