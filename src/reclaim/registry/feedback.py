"""Platform feedback on hashes, and quarantine of disputed hashes.

Values: `match_found`, `pending_review`, `blocked` (confirmed and removed),
`not_blocked` (reviewed, not removed). Each platform has one current value
per hash. A hash that `quarantine_after` platforms mark `not_blocked` is
quarantined: it stays in the list, flagged, until the operator resolves it.
That defends against people submitting hashes of legitimate content.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reclaim.hashing.errors import InvalidHashError
from reclaim.hashing.types import Md5Hash, PdqHash, SignalType
from reclaim.hashing.vpdq_format import VpdqHash
from reclaim.registry import audit
from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.feed import utcnow
from reclaim.registry.hashlist import HashStatus
from reclaim.registry.models import Feedback, HashRecord
from reclaim.registry.platforms import PlatformIdentity
from reclaim.registry.submissions import SubmittedHash


class FeedbackValue(enum.StrEnum):
    """A platform's outcome for a hash. Names are wire and storage keys."""

    MATCH_FOUND = "match_found"
    PENDING_REVIEW = "pending_review"
    BLOCKED = "blocked"
    NOT_BLOCKED = "not_blocked"


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    """One validated piece of feedback."""

    signal_type: str
    digest: str
    value: FeedbackValue | None  # None: keep the current value, update tags only
    copies: int | None = None
    shareable: bool = False
    tags: tuple[str, ...] = ()


def canonical_value(signal_type: str, value: object) -> str:
    """The stored form of a hash value, for looking it up."""
    if signal_type == SignalType.PDQ:
        return PdqHash.parse(value).hex  # type: ignore[arg-type]
    if signal_type == SignalType.MD5:
        return Md5Hash.parse(value).hex  # type: ignore[arg-type]
    if signal_type == SignalType.VPDQ:
        return VpdqHash.parse(value).to_text()  # type: ignore[arg-type]
    raise InvalidHashError(
        f"{signal_type[:20]!r} is not a hash type: expected pdq, md5 or vpdq"
    )


def parse_items(items: Sequence[object], *, limit: int) -> list[FeedbackItem]:
    """Validate feedback items; refuse all if any is malformed."""
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise InvalidRequestError("'items' must be a non-empty list of feedback")
    if len(items) > limit:
        raise InvalidRequestError(f"{len(items)} items is too many: at most {limit}")
    parsed, problems = [], []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, Mapping):
                raise ValueError("expected an object")
            kind = str(item.get("type", ""))
            value = canonical_value(kind, item.get("value"))
            outcome = FeedbackValue(str(item.get("feedback")))
            copies = item.get("copies")
            if copies is not None and (
                not isinstance(copies, int) or isinstance(copies, bool) or copies < 0
            ):
                raise ValueError("'copies' must be a whole number, 0 or more")
            shareable = item.get("shareable", False)
            if not isinstance(shareable, bool):
                raise ValueError("'shareable' must be true or false")
            digest = SubmittedHash(SignalType(kind), value, None).digest
            parsed.append(FeedbackItem(kind, digest, outcome, copies, shareable))
        except (InvalidHashError, ValueError) as error:
            problems.append(f"items[{index}]: {error}")
    if problems:
        raise InvalidRequestError(
            f"{len(problems)} of {len(items)} feedback items were refused; none "
            "was stored. feedback must be match_found, pending_review, blocked "
            "or not_blocked",
            problems,
        )
    return parsed


def give(
    session: Session,
    platform: PlatformIdentity,
    items: Sequence[FeedbackItem],
    *,
    quarantine_after: int,
) -> tuple[int, list[int], list[HashRecord]]:
    """Store feedback: (items applied, indexes of unknown hashes, changed records).

    A record changes when its feedback or quarantine does; feedback that
    repeats what is stored changes nothing, so resending it costs no feed churn.
    """
    applied, unknown, changed = 0, [], []
    now = utcnow()
    for index, item in enumerate(items):
        records = session.scalars(
            select(HashRecord).where(
                HashRecord.signal_type == item.signal_type,
                HashRecord.digest == item.digest,
                HashRecord.program.in_(platform.programs),
            )
        ).all()
        if not records:
            unknown.append(index)
            continue
        for record in records:
            if _store(session, platform, record, item, now):
                # New feedback moves its record forward in the feed, so every
                # platform's next incremental fetch carries it.
                changed.append(record)
            if item.value is FeedbackValue.NOT_BLOCKED and not record.quarantined:
                if _not_blocked_count(session, record) >= quarantine_after:
                    record.quarantined = True
                    if record not in changed:
                        changed.append(record)
                    audit.record(
                        session,
                        audit.Action.HASH_QUARANTINED,
                        audit.Actor.PLATFORM,
                        platform_id=platform.id,
                        hash_id=record.id,
                    )
        applied += 1
    return applied, unknown, changed


def _store(
    session: Session,
    platform: PlatformIdentity,
    record: HashRecord,
    item: FeedbackItem,
    now: object,
) -> bool:
    """Store one platform's feedback on a record; True if anything changed."""
    row = session.get(Feedback, (platform.id, record.id))
    before = None
    if row is not None:
        before = (row.value, row.copies, row.shareable, row.tags)
    else:
        row = Feedback(
            platform_id=platform.id,
            hash_id=record.id,
            value=(item.value or FeedbackValue.MATCH_FOUND).value,
            shareable=False,
            tags="",
        )
        session.add(row)
    if item.value is not None:
        row.value = item.value.value
    row.copies = item.copies if item.copies is not None else row.copies
    row.shareable = item.shareable
    if item.tags:
        row.tags = ",".join(sorted(set(item.tags)))[:1000]
    if before == (row.value, row.copies, row.shareable, row.tags):
        return False
    row.updated_at = now  # type: ignore[assignment]
    session.flush()
    return True


def _not_blocked_count(session: Session, record: HashRecord) -> int:
    query = select(func.count()).where(
        Feedback.hash_id == record.id, Feedback.value == FeedbackValue.NOT_BLOCKED.value
    )
    return int(session.scalar(query) or 0)


#: The most hashes one summary of feedback may ask about.
MAX_SUMMARY = 100


@dataclass(frozen=True, slots=True)
class HashReports:
    """What other platforms reported about one hash: counts, never names.

    `listed` is whether the hash is active in a program the asking platform
    reads; when it is not, the counts are zero and `quarantined` false, so an
    answer says nothing about hashes the platform cannot see.
    """

    signal_type: str
    value: str
    listed: bool
    quarantined: bool
    counts: Mapping[FeedbackValue, int]


def parse_hashes(
    items: Sequence[tuple[str, object]], *, limit: int
) -> list[tuple[str, str]]:
    """(type, canonical value) of each hash; refuse all if any is malformed."""
    if not items:
        raise InvalidRequestError("'hashes' must be a non-empty list of hashes")
    if len(items) > limit:
        raise InvalidRequestError(
            f"{len(items)} hashes is too many: at most {limit}; send them in "
            "several requests"
        )
    parsed, problems = [], []
    for index, (kind, value) in enumerate(items):
        try:
            parsed.append((kind, canonical_value(kind, value)))
        except InvalidHashError as error:
            problems.append(f"hashes[{index}]: {error}")
    if problems:
        raise InvalidRequestError(
            f"{len(problems)} of {len(items)} hashes were refused; nothing was "
            "looked up",
            problems,
        )
    return parsed


def summarize(
    session: Session, platform: PlatformIdentity, hashes: Sequence[tuple[str, str]]
) -> list[HashReports]:
    """Each hash's current feedback from every platform but `platform`, counted.

    `hashes` are canonical (`parse_hashes`). Only active records in the
    programs the platform reads count. A platform counts once per hash: where
    it gave different values on the hash's records in two programs, its
    newest value counts.
    """
    keys = [(kind, _digest(kind, value)) for kind, value in hashes]
    rows = session.execute(
        select(
            HashRecord.id,
            HashRecord.signal_type,
            HashRecord.digest,
            HashRecord.quarantined,
        ).where(
            HashRecord.signal_type.in_({kind for kind, _ in keys}),
            HashRecord.digest.in_({digest for _, digest in keys}),
            HashRecord.program.in_(platform.programs),
            HashRecord.status == HashStatus.ACTIVE.value,
        )
    ).all()
    wanted = set(keys)
    owner: dict[int, tuple[str, str]] = {}
    quarantined: set[tuple[str, str]] = set()
    for record_id, kind, digest, flagged in rows:
        if (kind, digest) in wanted:
            owner[record_id] = (kind, digest)
            if flagged:
                quarantined.add((kind, digest))
    newest: dict[tuple[tuple[str, str], int], tuple[datetime, str]] = {}
    if owner:
        opinions = session.execute(
            select(
                Feedback.hash_id,
                Feedback.platform_id,
                Feedback.updated_at,
                Feedback.value,
            ).where(
                Feedback.hash_id.in_(sorted(owner)),
                Feedback.platform_id != platform.id,
            )
        ).all()
        for record_id, platform_id, updated, value in opinions:
            slot = (owner[record_id], platform_id)
            if slot not in newest or (updated, value) > newest[slot]:
                newest[slot] = (updated, value)
    counts: dict[tuple[str, str], dict[FeedbackValue, int]] = {}
    for (key, _), (_, value) in newest.items():
        tally = counts.setdefault(key, dict.fromkeys(FeedbackValue, 0))
        tally[FeedbackValue(value)] += 1
    listed = set(owner.values())
    return [
        HashReports(
            signal_type=kind,
            value=value,
            listed=key in listed,
            quarantined=key in quarantined,
            counts=counts.get(key) or dict.fromkeys(FeedbackValue, 0),
        )
        for (kind, value), key in zip(hashes, keys, strict=True)
    ]


def _digest(kind: str, value: str) -> str:
    """The storage key of a canonical hash value."""
    return SubmittedHash(SignalType(kind), value, None).digest
