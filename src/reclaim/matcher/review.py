"""The review queue: every match, its state, and decisions by moderators.

Recording matches, and deciding one, write the queue row and the outgoing
messages it causes (feedback to the source, a webhook to the platform) in one
transaction, so an answered match request or decision is never lost. Each
entry remembers which source listed each hash it matched (its *listings*),
so feedback goes to every source that listed a matched hash, and only there.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from reclaim.index.matching import Match
from reclaim.matcher.config import PolicyConfig
from reclaim.matcher.errors import (
    AlreadyDecidedError,
    DecisionError,
    UnknownMatchError,
)
from reclaim.matcher.outbox import FEEDBACK, WEBHOOK, enqueue
from reclaim.matcher.tables import matches


class State(enum.StrEnum):
    """Where a match stands. Names are storage and wire keys."""

    PENDING = "pending"  # waiting for a person
    AUTO_ACTIONED = "auto_actioned"  # the policy actioned it
    BLOCKED = "blocked"  # a reviewer confirmed it and it was removed
    NOT_BLOCKED = "not_blocked"  # a reviewer found it was not a match
    WITHDRAWN = "withdrawn"  # its listing was withdrawn before review (catalog)


class Origin(enum.StrEnum):
    """How a match was found. Names are storage and wire keys."""

    UPLOAD = "upload"  # as the upload arrived (forward matching)
    CATALOG = "catalog"  # in the content catalog, after the hash was listed


DECISIONS = (State.BLOCKED, State.NOT_BLOCKED)


@dataclass(frozen=True, slots=True)
class QueuedMatch:
    """One match in the review queue."""

    id: int
    created_at: datetime
    kind: str
    program: str
    value: str
    distance: int
    reference: str | None
    state: State
    decided_at: datetime | None
    reviewer: str | None
    #: Other listed (type, value) hashes the same upload matched in this program.
    related: tuple[tuple[str, str], ...] = ()
    #: (source, type, value) of every listing matched; empty in entries made
    #: before several sources (their feedback goes to the first source).
    listings: tuple[tuple[str, str, str], ...] = ()
    origin: Origin = Origin.UPLOAD

    @property
    def sources(self) -> tuple[str, ...]:
        """The names of the sources that listed a matched hash."""
        return tuple(sorted({source for source, _, _ in self.listings}))

    def summary(self) -> dict[str, Any]:
        """The JSON form for the API, CLI and webhooks (no hash value)."""
        return {
            "id": self.id,
            "created_at": _iso(self.created_at),
            "type": self.kind,
            "program": self.program,
            "distance": self.distance,
            "matched_hashes": 1 + len(self.related),
            "sources": list(self.sources),
            "reference": self.reference,
            "state": self.state.value,
            "decided_at": _iso(self.decided_at),
            "reviewer": self.reviewer,
            "origin": self.origin.value,
        }


class ReviewQueue:
    """Matches recorded with the policy's verdict, and reviewers' decisions."""

    def __init__(
        self, engine: Engine, policy: PolicyConfig, *, webhooks: bool = True
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.webhooks = webhooks

    def record(
        self,
        found: Sequence[tuple[Match, Sequence[Match], str | None]],
        *,
        origin: Origin = Origin.UPLOAD,
    ) -> list[QueuedMatch]:
        """Queue matches: each the closest match of one upload in one program,
        the other hashes that upload matched there, and the platform's content
        reference. One upload is one entry for a moderator, however many of a
        picture's listed views it matched."""
        with self.engine.begin() as connection:
            return self.record_in(connection, found, origin=origin)

    def record_in(
        self,
        connection: Connection,
        found: Sequence[tuple[Match, Sequence[Match], str | None]],
        *,
        origin: Origin = Origin.UPLOAD,
    ) -> list[QueuedMatch]:
        """`record` within the caller's transaction (what else it writes
        commits, or not, with the queue entries)."""
        queued: list[QueuedMatch] = []
        now = datetime.now(UTC)
        for match, others, reference in found:
            lead = (match.kind.value, match.value)
            related = tuple(
                pair
                for pair in dict.fromkeys((m.kind.value, m.value) for m in others)
                if pair != lead  # the same hash, listed by another source
            )
            listings = tuple(
                dict.fromkeys(
                    (m.source, m.kind.value, m.value) for m in (match, *others)
                )
            )
            auto = self.policy.auto_action(match.distance)
            state = State.AUTO_ACTIONED if auto else State.PENDING
            row_id = connection.execute(
                insert(matches)
                .values(
                    created_at=now,
                    kind=match.kind.value,
                    program=match.program,
                    value=match.value,
                    distance=match.distance,
                    reference=reference,
                    state=state.value,
                    related=json.dumps(related) if related else "",
                    listings=json.dumps(listings),
                    origin=origin.value,
                )
                .returning(matches.c.id)
            ).scalar_one()
            item = QueuedMatch(
                row_id,
                now,
                match.kind.value,
                match.program,
                match.value,
                match.distance,
                reference,
                state,
                None,
                None,
                related,
                listings,
                origin,
            )
            feedback = "blocked" if auto else "pending_review"
            self._announce(connection, item, feedback)
            queued.append(item)
        return queued

    def decide(
        self, match_id: int, decision: str, *, reviewer: str | None = None
    ) -> QueuedMatch:
        """A moderator's decision on a pending match (blocked or not_blocked)."""
        if decision not in {d.value for d in DECISIONS}:
            raise DecisionError(
                f"{decision[:30]!r} is not a decision: expected 'blocked' (confirmed "
                "and removed) or 'not_blocked' (not a match)"
            )
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            current = self._get(connection, match_id)
            if current.state is not State.PENDING:
                raise AlreadyDecidedError(
                    f"match {match_id} is already {current.state.value}: only "
                    "pending matches can be decided"
                )
            changed = connection.execute(
                update(matches)
                .where(matches.c.id == match_id, matches.c.state == State.PENDING.value)
                .values(state=decision, decided_at=now, reviewer=reviewer)
            )
            if changed.rowcount != 1:
                raise AlreadyDecidedError(
                    f"match {match_id} was decided by someone else just now; "
                    "show it again"
                )
            item = self._get(connection, match_id)
            self._announce(connection, item, decision)
        return item

    def _announce(
        self, connection: Connection, item: QueuedMatch, feedback: str
    ) -> None:
        if item.listings:
            for source, kind, value in item.listings:
                enqueue(
                    connection,
                    FEEDBACK,
                    {
                        "type": kind,
                        "value": value,
                        "feedback": feedback,
                        "source": source,
                    },
                )
        else:
            # An entry from before several sources: the first source's.
            for kind, value in ((item.kind, item.value), *item.related):
                enqueue(
                    connection,
                    FEEDBACK,
                    {"type": kind, "value": value, "feedback": feedback},
                )
        if self.webhooks:
            event = "match.review" if item.state is State.PENDING else "match.action"
            if item.state is State.NOT_BLOCKED:
                event = "match.cleared"
            if item.state is State.WITHDRAWN:
                event = "match.withdrawn"
            enqueue(connection, WEBHOOK, {"event": event, "match": item.summary()})

    def withdraw(self, connection: Connection, match_ids: Sequence[int]) -> int:
        """Mark these pending catalog matches withdrawn (their listings left
        the list before anyone reviewed them); the platform's webhook hears
        of each. Returns how many changed; others are left as they are."""
        changed = 0
        now = datetime.now(UTC)
        for match_id in sorted(set(match_ids)):
            updated = connection.execute(
                update(matches)
                .where(
                    matches.c.id == match_id,
                    matches.c.state == State.PENDING.value,
                    matches.c.origin == Origin.CATALOG.value,
                )
                .values(state=State.WITHDRAWN.value, decided_at=now)
            )
            if updated.rowcount == 1:
                changed += 1
                if self.webhooks:
                    item = self._get(connection, match_id)
                    enqueue(
                        connection,
                        WEBHOOK,
                        {"event": "match.withdrawn", "match": item.summary()},
                    )
        return changed

    def get(self, match_id: int) -> QueuedMatch:
        """One match by id."""
        with self.engine.connect() as connection:
            return self._get(connection, match_id)

    def _get(self, connection: Connection, match_id: int) -> QueuedMatch:
        row = connection.execute(
            select(matches).where(matches.c.id == match_id)
        ).first()
        if row is None:
            raise UnknownMatchError(
                f"there is no match {match_id}: list them with `reclaim matcher "
                "review list`"
            )
        return _queued(row)

    def list(self, *, state: str | None = None, limit: int = 50) -> list[QueuedMatch]:
        """Matches, newest first, optionally only those in one state."""
        query = select(matches).order_by(matches.c.id.desc()).limit(limit)
        if state is not None:
            if state not in {s.value for s in State}:
                raise DecisionError(
                    f"{state[:30]!r} is not a state: expected one of "
                    + ", ".join(s.value for s in State)
                )
            query = query.where(matches.c.state == state)
        with self.engine.connect() as connection:
            return [_queued(row) for row in connection.execute(query)]

    def counts(self) -> dict[str, int]:
        """Matches per state."""
        result = {s.value: 0 for s in State}
        query = select(matches.c.state, func.count()).group_by(matches.c.state)
        with self.engine.connect() as connection:
            for state, count in connection.execute(query):
                result[state] = int(count)
        return result


def _queued(row: Any) -> QueuedMatch:
    return QueuedMatch(
        row.id,
        _aware(row.created_at),
        row.kind,
        row.program,
        row.value,
        row.distance,
        row.reference,
        State(row.state),
        _aware(row.decided_at) if row.decided_at else None,
        row.reviewer,
        tuple(tuple(pair) for pair in json.loads(row.related)) if row.related else (),
        tuple(tuple(item) for item in json.loads(row.listings)) if row.listings else (),
        Origin(row.origin),
    )


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return _aware(value).isoformat().replace("+00:00", "Z")
