"""Aggregate counts for the operator's metrics: totals only, nothing named.

No case number, hash, platform or time leaves here: counts by status and the
feed's position, read in one snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reclaim.registry.hashlist import feed_head
from reclaim.registry.models import Case, HashRecord


@dataclass(frozen=True, slots=True)
class Counts:
    """The registry's totals at one moment."""

    #: Cases by status (`active`, `withdrawn`) and by who opened them
    #: (`person`, or `platform` for StopNCII SubmitHashes).
    cases: dict[tuple[str, str], int]
    #: Hash records by status (`active` records are the list).
    records: dict[str, int]
    #: Records held back for the operator's review.
    quarantined: int
    #: The newest change's feed position.
    feed_position: int


def read(session: Session) -> Counts:
    """Count cases and records by status (one scan each, grouped)."""
    opener = Case.platform_id.is_(None)
    cases: dict[tuple[str, str], int] = {}
    for status, by_person, count in session.execute(
        select(Case.status, opener, func.count()).group_by(Case.status, opener)
    ):
        who = "person" if by_person else "platform"
        cases[str(status), who] = cases.get((str(status), who), 0) + int(count)
    records: dict[str, int] = {}
    quarantined = 0
    for status, held, count in session.execute(
        select(HashRecord.status, HashRecord.quarantined, func.count()).group_by(
            HashRecord.status, HashRecord.quarantined
        )
    ):
        records[str(status)] = records.get(str(status), 0) + int(count)
        quarantined += int(count) if held else 0
    return Counts(cases, records, quarantined, feed_head(session))
