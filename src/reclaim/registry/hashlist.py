"""The hash list: aggregate records, attaching cases to them, and the feed reads.

A record is one hash (type + value) in one program. `case_count` counts the
active cases holding it; it is `active` while that is above zero.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table, func, insert, select
from sqlalchemy import case as sql_case
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from reclaim.registry.feed import as_utc, utcnow
from reclaim.registry.models import Case, CaseHash, HashRecord, Instance
from reclaim.registry.submissions import SubmittedHash, item_numbers


class HashStatus(enum.StrEnum):
    """Whether platforms should match a hash. Names are wire keys."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    REMOVED = "removed"  # by the operator after review; never reactivated


class ListEntry(NamedTuple):
    """A hash record as platforms receive it.

    A named tuple, not a dataclass: feed pages hold 10,000 of them, and a
    frozen dataclass costs several times more to build.
    """

    signal_type: str
    value: str
    quality: int | None
    program: str
    status: str
    case_count: int
    quarantined: bool
    change: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Attached:
    """A record a case now holds, as the upsert left it."""

    id: int
    signal_type: str
    value: str
    status: str
    fresh: bool  # created by this request: no platform has seen it yet
    item: int  # the picture or video it belongs to, within its case


def attach(
    session: Session,
    case: Case,
    hashes: Sequence[SubmittedHash],
    *,
    new_case: bool = False,
) -> list[Attached]:
    """Link hashes to an active case; returns the records that changed.

    One `INSERT ... ON CONFLICT DO UPDATE` creates missing records and counts
    the case on existing ones (never reviving a removed one). Rows are locked
    in (type, digest) order, so concurrent cases sharing hashes queue rather
    than deadlock.
    """
    connection = session.connection()
    first_item = 0
    if not new_case:
        held = {
            (signal_type, digest)
            for signal_type, digest in connection.execute(
                select(HashRecord.signal_type, HashRecord.digest)
                .join(CaseHash, CaseHash.hash_id == HashRecord.id)
                .where(CaseHash.case_id == case.id)
            )
        }
        hashes = [h for h in hashes if (h.signal_type.value, h.digest) not in held]
        last = connection.execute(
            select(func.max(CaseHash.item)).where(CaseHash.case_id == case.id)
        ).scalar()
        first_item = 0 if last is None else last + 1
    items = item_numbers(hashes, first=first_item)
    ordered = sorted(
        {(h.signal_type.value, h.digest): h for h in hashes}.items(),
        key=lambda item: item[0],
    )
    if not ordered:
        return []
    now = utcnow()
    rows = connection.execute(
        _UPSERTS[connection.dialect.name],
        [
            {
                "signal_type": kind,
                "digest": digest,
                "value": h.value,
                "quality": h.quality,
                "program": case.program,
                "status": HashStatus.ACTIVE.value,
                "case_count": 1,
                "quarantined": False,
                "change": 0,
                "updated_at": now,
            }
            for (kind, digest), h in ordered
        ],
    ).all()
    # Rows come back in the order of the parameters (sort_by_parameter_order).
    attached = [
        Attached(
            row.id, row.signal_type, row.value, row.status, row.change == 0, items[key]
        )
        for row, (key, _) in zip(rows, ordered, strict=True)
    ]
    connection.execute(
        _LINK,
        [
            {
                "case_id": case.id,
                "hash_id": a.id,
                "added_at": now,
                "item": a.item,
            }
            for a in attached
        ],
    )
    return attached


def _upsert_statement(
    make: Callable[[Table], PostgresInsert | SqliteInsert],
) -> ReturningInsert[Any]:
    """The record upsert for one dialect, built once so its SQL is cached."""
    table = HashRecord.__table__
    assert isinstance(table, Table)
    statement = make(table)
    column, new = table.c, statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[column.signal_type, column.digest, column.program],
        set_={
            "case_count": column.case_count + 1,
            "status": sql_case(
                (column.status == HashStatus.REMOVED.value, column.status),
                else_=HashStatus.ACTIVE.value,
            ),
            "quality": sql_case(
                (new.quality.is_(None), column.quality),
                (column.quality.is_(None), new.quality),
                (new.quality > column.quality, new.quality),
                else_=column.quality,
            ),
        },
    ).returning(
        column.id,
        column.signal_type,
        column.value,
        column.status,
        column.change,
        sort_by_parameter_order=True,
    )


_UPSERTS = {
    "postgresql": _upsert_statement(postgresql_insert),
    "sqlite": _upsert_statement(sqlite_insert),
}
_LINK = insert(CaseHash)


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
    rows = session.connection().execute(query).all()
    if rows and rows[0][-1].tzinfo is None:  # SQLite gives naive UTC times
        return [ListEntry(*row[:-1], as_utc(row[-1])) for row in rows]
    return [ListEntry._make(row) for row in rows]


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
