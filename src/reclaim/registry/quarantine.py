"""The operator's review of quarantined hashes: keep them, or remove them.

A hash is quarantined when several platforms reviewed matches and did not
block them (`feedback.py`): perhaps someone hashed legitimate content. It
stays in the list, flagged, until the operator decides. Removing it takes it
out of every platform's list for good: later cases holding the same hash do
not bring it back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reclaim.registry.errors import InvalidRequestError, NotFoundError
from reclaim.registry.models import Feedback, HashRecord


class Decision(enum.StrEnum):
    """What the operator decided."""

    KEEP = "keep"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class Disputed:
    """A quarantined hash and how platforms judged it."""

    id: int
    signal_type: str
    value: str
    program: str
    case_count: int
    blocked: int
    not_blocked: int


def listing(session: Session, *, limit: int = 100) -> list[Disputed]:
    """Quarantined hashes awaiting a decision, oldest change first."""
    records = session.scalars(
        select(HashRecord)
        .where(HashRecord.quarantined.is_(True), HashRecord.status != "removed")
        .order_by(HashRecord.change)
        .limit(limit)
    ).all()
    counts: dict[tuple[int, str], int] = {}
    if records:
        for hash_id, value, count in session.execute(
            select(Feedback.hash_id, Feedback.value, func.count())
            .where(Feedback.hash_id.in_([r.id for r in records]))
            .group_by(Feedback.hash_id, Feedback.value)
        ):
            counts[(hash_id, value)] = count
    return [
        Disputed(
            r.id,
            r.signal_type,
            r.value,
            r.program,
            r.case_count,
            counts.get((r.id, "blocked"), 0),
            counts.get((r.id, "not_blocked"), 0),
        )
        for r in records
    ]


def resolve(session: Session, record_id: int, decision: Decision) -> HashRecord:
    """Apply the operator's decision; returns the changed record."""
    record = session.get(HashRecord, record_id, with_for_update=True)
    if record is None:
        raise NotFoundError(
            f"no hash record {record_id}: see `reclaim quarantine list`"
        )
    if not record.quarantined or record.status == "removed":
        raise InvalidRequestError(f"hash record {record_id} is not awaiting review")
    if decision is Decision.KEEP:
        record.quarantined = False
    else:
        record.status = "removed"
    return record
