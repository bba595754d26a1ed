"""A person's case: create it, look it up with its PIN, add hashes, withdraw.

The person is never identified: a case is a random number, a PIN hash, a
program and its hashes. Unknown numbers and wrong PINs take the same time and
raise the same CaseAccessError.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.registry.errors import (
    CaseAccessError,
    CaseClosedError,
    InvalidRequestError,
)
from reclaim.registry.feed import as_utc, utcnow
from reclaim.registry.hashlist import attach, case_hash_count, detach_all
from reclaim.registry.identifiers import (
    new_case_number,
    new_pin,
    normalise_pin,
    parse_case_number,
)
from reclaim.registry.models import Case, CaseHash, Feedback, HashRecord, Platform
from reclaim.registry.secrets import check_pin, hash_pin
from reclaim.registry.submissions import Program, SubmittedHash


class CaseStatus(enum.StrEnum):
    """A case's state. Names are storage and wire keys."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


#: Feedback values that mean a platform reviewed the match.
REVIEWED = frozenset({"blocked", "not_blocked"})


@dataclass(frozen=True, slots=True)
class SharedOutcome:
    """What one platform chose to let the person see."""

    platform: str
    outcome: str
    copies: int | None


@dataclass(frozen=True, slots=True)
class ItemStatus:
    """One hash of a case, as its owner sees it."""

    signal_type: str
    value: str
    status: str
    platforms_matched: int = 0
    platforms_reviewed: int = 0
    platforms_removed: int = 0
    shared: tuple[SharedOutcome, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as its owner sees it."""

    number: str
    program: str
    status: str
    created_at: datetime
    withdrawn_at: datetime | None
    items: tuple[ItemStatus, ...] = field(default_factory=tuple)


def create(
    session: Session, program: Program, hashes: Sequence[SubmittedHash]
) -> tuple[Case, str, list[HashRecord]]:
    """A new case holding `hashes`: (case, PIN to show once, changed records)."""
    pin = new_pin()
    case = Case(
        number=new_case_number(),
        pin_hash=hash_pin(normalise_pin(pin)),
        program=program.value,
        status=CaseStatus.ACTIVE.value,
        created_at=utcnow(),
    )
    session.add(case)
    session.flush()
    return case, pin, attach(session, case, hashes, new_case=True)


def open_case(session: Session, number: str, pin: str, *, lock: bool = False) -> Case:
    """The case with this number and PIN, else CaseAccessError (same cost)."""
    canonical = parse_case_number(number)
    case = None
    if canonical is not None:
        query = select(Case).where(Case.number == canonical, Case.pin_hash.is_not(None))
        case = session.scalars(query.with_for_update() if lock else query).first()
    if not check_pin(normalise_pin(pin), case.pin_hash if case else None) or not case:
        raise CaseAccessError(
            "no case matches this case number and PIN: check both and try again"
        )
    return case


def add(
    session: Session, case: Case, hashes: Sequence[SubmittedHash], *, max_per_case: int
) -> list[HashRecord]:
    """Add hashes to an active case; returns the changed records."""
    if case.status != CaseStatus.ACTIVE.value:
        raise CaseClosedError("this case was withdrawn: start a new case instead")
    if case_hash_count(session, case) + len(hashes) > max_per_case:
        raise InvalidRequestError(
            f"a case holds at most {max_per_case} hashes: start another case "
            "for the rest"
        )
    return attach(session, case, hashes)


def withdraw(session: Session, case: Case) -> list[HashRecord]:
    """Close a case and release its hashes; returns the changed records."""
    if case.status != CaseStatus.ACTIVE.value:
        raise CaseClosedError("this case was already withdrawn")
    case.status = CaseStatus.WITHDRAWN.value
    case.withdrawn_at = utcnow()
    return detach_all(session, case)


def view(session: Session, case: Case) -> CaseView:
    """The owner's view: each hash's status and platform outcomes."""
    records = session.scalars(
        select(HashRecord)
        .join(CaseHash, CaseHash.hash_id == HashRecord.id)
        .where(CaseHash.case_id == case.id)
        .order_by(CaseHash.added_at, HashRecord.id)
    ).all()
    outcomes: dict[int, list[tuple[Feedback, str]]] = defaultdict(list)
    if records:
        rows = session.execute(
            select(Feedback, Platform.name)
            .join(Platform, Platform.id == Feedback.platform_id)
            .where(Feedback.hash_id.in_([r.id for r in records]))
        ).all()
        for feedback, name in rows:
            outcomes[feedback.hash_id].append((feedback, name))
    withdrawn = case.status == CaseStatus.WITHDRAWN.value
    items = []
    for record in records:
        given = outcomes[record.id]
        items.append(
            ItemStatus(
                signal_type=record.signal_type,
                value=record.value,
                status="withdrawn" if withdrawn else record.status,
                platforms_matched=len(given),
                platforms_reviewed=sum(f.value in REVIEWED for f, _ in given),
                platforms_removed=sum(f.value == "blocked" for f, _ in given),
                shared=tuple(
                    SharedOutcome(name, f.value, f.copies)
                    for f, name in sorted(given, key=lambda g: g[1])
                    if f.shareable
                ),
            )
        )
    return CaseView(
        number=case.number,
        program=case.program,
        status=case.status,
        created_at=as_utc(case.created_at),
        withdrawn_at=as_utc(case.withdrawn_at) if case.withdrawn_at else None,
        items=tuple(items),
    )
