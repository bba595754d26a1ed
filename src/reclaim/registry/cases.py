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

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from reclaim.registry.errors import (
    CaseAccessError,
    CaseClosedError,
    InvalidRequestError,
)
from reclaim.registry.feed import as_utc, utcnow
from reclaim.registry.hashlist import Attached, attach, case_hash_count, detach_all
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
class HashView:
    """One hash of a case, as its owner sees it."""

    signal_type: str
    value: str
    status: str
    item: int
    platforms_matched: int = 0
    platforms_reviewed: int = 0
    platforms_removed: int = 0
    shared: tuple[SharedOutcome, ...] = ()


@dataclass(frozen=True, slots=True)
class ItemView:
    """One picture or video of a case: its hashes, each platform counted once.

    A picture is sent as its whole-image hash and a few derived views (crops,
    small turns); a platform that matched any of them matched the picture.
    """

    item: int
    kinds: tuple[str, ...]
    hashes: int
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
    hashes: tuple[HashView, ...] = field(default_factory=tuple)
    items: tuple[ItemView, ...] = field(default_factory=tuple)


def create(
    session: Session, program: Program, hashes: Sequence[SubmittedHash]
) -> tuple[CaseView, str, list[Attached]]:
    """A new case holding `hashes`: (its view, PIN to show once, changed records).

    Plain INSERTs, and a view built from what they returned: this is the
    registry's busiest write.
    """
    pin = new_pin()
    now = utcnow()
    values = {
        "number": new_case_number(),
        "pin_hash": hash_pin(normalise_pin(pin)),
        "program": program.value,
        "status": CaseStatus.ACTIVE.value,
        "created_at": now,
    }
    case_id = session.connection().execute(_INSERT_CASE, values).scalar_one()
    case = Case(id=case_id, **values)  # transient: never added to the session
    attached = attach(session, case, hashes, new_case=True)
    return new_case_view(session, case.number, program, now, attached), pin, attached


def new_case_view(
    session: Session | None,
    number: str,
    program: Program,
    created_at: datetime,
    attached: Sequence[Attached],
) -> CaseView:
    """The view of a case just created, from what its writes returned.

    Only hashes that were already listed can have platform outcomes.
    """
    seen = [a.id for a in attached if not a.fresh]
    outcomes = _outcomes(session, seen) if seen and session is not None else {}
    ordered = sorted(attached, key=lambda a: (a.item, a.id))
    given = [outcomes.get(a.id, []) for a in ordered]
    hashes = tuple(
        _hash_view(a.signal_type, a.value, a.status, a.item, found)
        for a, found in zip(ordered, given, strict=True)
    )
    return CaseView(
        number=number,
        program=program.value,
        status=CaseStatus.ACTIVE.value,
        created_at=created_at,
        withdrawn_at=None,
        hashes=hashes,
        items=_items(hashes, given),
    )


_INSERT_CASE = insert(Case).returning(Case.id)


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
) -> list[Attached]:
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
    """The owner's view: each hash and each item, with platform outcomes."""
    records = session.execute(
        select(
            HashRecord.id,
            HashRecord.signal_type,
            HashRecord.value,
            HashRecord.status,
            CaseHash.item,
        )
        .join(CaseHash, CaseHash.hash_id == HashRecord.id)
        .where(CaseHash.case_id == case.id)
        .order_by(CaseHash.item, CaseHash.added_at, HashRecord.id)
    ).all()
    outcomes = _outcomes(session, [r.id for r in records]) if records else {}
    withdrawn = case.status == CaseStatus.WITHDRAWN.value
    given = [outcomes.get(r.id, []) for r in records]
    hashes = tuple(
        _hash_view(
            r.signal_type,
            r.value,
            "withdrawn" if withdrawn else r.status,
            r.item,
            found,
        )
        for r, found in zip(records, given, strict=True)
    )
    return CaseView(
        number=case.number,
        program=case.program,
        status=case.status,
        created_at=as_utc(case.created_at),
        withdrawn_at=as_utc(case.withdrawn_at) if case.withdrawn_at else None,
        hashes=hashes,
        items=_items(hashes, given),
    )


#: One platform's feedback on a hash: (its name, value, copies, shareable).
Outcome = tuple[str, str, int | None, bool]


def _outcomes(session: Session, hash_ids: Sequence[int]) -> dict[int, list[Outcome]]:
    found: dict[int, list[Outcome]] = defaultdict(list)
    rows = session.execute(
        select(
            Feedback.hash_id,
            Platform.name,
            Feedback.value,
            Feedback.copies,
            Feedback.shareable,
        )
        .join(Platform, Platform.id == Feedback.platform_id)
        .where(Feedback.hash_id.in_(hash_ids))
    )
    for hash_id, name, value, copies, shareable in rows:
        found[hash_id].append((name, value, copies, shareable))
    return found


def _hash_view(
    signal_type: str, value: str, status: str, item: int, given: Sequence[Outcome]
) -> HashView:
    return HashView(
        signal_type=signal_type,
        value=value,
        status=status,
        item=item,
        platforms_matched=len(given),
        platforms_reviewed=sum(g[1] in REVIEWED for g in given),
        platforms_removed=sum(g[1] == "blocked" for g in given),
        shared=_shared(given),
    )


#: The most telling outcome a platform reported wins when it reported several.
_DECISIVENESS = {"match_found": 0, "pending_review": 1, "not_blocked": 2, "blocked": 3}


def _shared(given: Sequence[Outcome]) -> tuple[SharedOutcome, ...]:
    best: dict[str, Outcome] = {}
    for outcome in given:
        name, value, _, shareable = outcome
        if not shareable:
            continue
        held = best.get(name)
        if held is None or _DECISIVENESS.get(value, 0) > _DECISIVENESS.get(held[1], 0):
            best[name] = outcome
    return tuple(
        SharedOutcome(name, value, copies)
        for name, value, copies, _ in sorted(best.values())
    )


def _items(
    hashes: Sequence[HashView], given: Sequence[Sequence[Outcome]]
) -> tuple[ItemView, ...]:
    """Group hashes by item; a platform counts once per item, however many of
    the item's hashes it matched."""
    grouped: dict[int, list[tuple[HashView, Sequence[Outcome]]]] = defaultdict(list)
    for hashed, found in zip(hashes, given, strict=True):
        grouped[hashed.item].append((hashed, found))
    items = []
    for number in sorted(grouped):
        members = grouped[number]
        outcomes = [o for _, found in members for o in found]
        statuses = {h.status for h, _ in members}
        status = (
            "active"
            if "active" in statuses
            else statuses.pop()
            if len(statuses) == 1
            else "withdrawn"
        )
        items.append(
            ItemView(
                item=number,
                kinds=tuple(sorted({h.signal_type for h, _ in members})),
                hashes=len(members),
                status=status,
                platforms_matched=len({o[0] for o in outcomes}),
                platforms_reviewed=len({o[0] for o in outcomes if o[1] in REVIEWED}),
                platforms_removed=len({o[0] for o in outcomes if o[1] == "blocked"}),
                shared=_shared(outcomes),
            )
        )
    return tuple(items)
