"""The review queue: every match, its state, and decisions by moderators.

Recording matches, and deciding one, write the queue row and the outgoing
messages it causes (feedback to the source, a webhook to the platform) in one
transaction, so an answered match request or decision is never lost. Each
entry remembers which source listed each hash it matched (its *listings*),
so feedback goes to every source that listed a matched hash, and only there.

Every decision, and every undo, writes an audit event (`desk.audit`) in the
same transaction. A decision made on the desk is *held* for `[desk]
undo_seconds`: its feedback and webhook wait in the outbox, marked with the
match's id, until the window (plus a small guard) has passed, and `undo`
deletes them and puts the match back in the queue. The decision's audit
event counts the messages it held, and an undo that cannot withdraw every
one of them (delivery got there first) is refused and changes nothing. API
and command-line decisions are not held: they leave at once and cannot be
undone.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from reclaim.index.matching import Match
from reclaim.matcher.config import PolicyConfig
from reclaim.matcher.desk import audit
from reclaim.matcher.desk.tables import audit as audit_table
from reclaim.matcher.errors import (
    AlreadyDecidedError,
    DecisionError,
    ReviewError,
    UndoError,
    UnknownMatchError,
)
from reclaim.matcher.outbox import FEEDBACK, WEBHOOK, enqueue, withdraw_held
from reclaim.matcher.tables import matches
from reclaim.matcher.times import aware, iso


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

#: Seconds a held decision's messages wait beyond its undo window, so an undo
#: accepted at the window's last moment still finds them unsent.
HOLD_GUARD_SECONDS = 2.0


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
    #: The lead listing's source ("" in entries made before the desk).
    source: str = ""
    #: Which view of the upload matched ("rotate90", "inner", ...), if known.
    variant: str | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        """The names of the sources that listed a matched hash."""
        return tuple(sorted({source for source, _, _ in self.listings}))

    def summary(self) -> dict[str, Any]:
        """The JSON form for the API, CLI and webhooks (no hash value)."""
        return {
            "id": self.id,
            "created_at": iso(self.created_at),
            "type": self.kind,
            "program": self.program,
            "distance": self.distance,
            "matched_hashes": 1 + len(self.related),
            "sources": list(self.sources),
            "reference": self.reference,
            "state": self.state.value,
            "decided_at": iso(self.decided_at),
            "reviewer": self.reviewer,
            "origin": self.origin.value,
        }


class ReviewQueue:
    """Matches recorded with the policy's verdict, and reviewers' decisions."""

    def __init__(
        self,
        engine: Engine,
        policy: PolicyConfig,
        *,
        webhooks: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.webhooks = webhooks
        #: The time that decisions' undo windows are reckoned by (tests move it).
        self.clock: Callable[[], datetime] = clock or _utcnow

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
                    source=match.source,
                    variant=match.variant,
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
                match.source,
                match.variant,
            )
            feedback = "blocked" if auto else "pending_review"
            self._announce(connection, item, feedback)
            queued.append(item)
        return queued

    def decide(
        self,
        match_id: int,
        decision: str,
        *,
        reviewer: str | None = None,
        actor: str = "system",
    ) -> QueuedMatch:
        """A decision on a pending match (blocked or not_blocked), sent at once.

        `actor` is who the audit trail names ("api", "system" or an account);
        UnknownMatchError or AlreadyDecidedError if it cannot be decided.
        """
        decided = self.decide_many([match_id], decision, reviewer=reviewer, actor=actor)
        if decided.skipped:
            raise decided.skipped[0][1]
        return decided.done[0]

    def decide_many(
        self,
        match_ids: Sequence[int],
        decision: str,
        *,
        reviewer: str | None,
        actor: str,
        hold_seconds: float = 0.0,
    ) -> Decided:
        """Decide several pending matches in one transaction, each with its
        audit event; those already decided (or unknown) are skipped, with why.

        `hold_seconds` > 0 holds the decisions' messages that long (plus a
        guard) so they can be undone; 0 sends them at once.
        """
        if decision not in {d.value for d in DECISIONS}:
            raise DecisionError(
                f"{decision[:30]!r} is not a decision: expected 'blocked' (confirmed "
                "and removed) or 'not_blocked' (not a match)"
            )
        now = self.clock()
        held = hold_seconds > 0
        undo_until = now + timedelta(seconds=hold_seconds)
        not_before = undo_until.timestamp() + HOLD_GUARD_SECONDS if held else 0.0
        done: list[QueuedMatch] = []
        skipped: list[tuple[int, ReviewError]] = []
        with self.engine.begin() as connection:
            for match_id in dict.fromkeys(match_ids):
                try:
                    current = self._get(connection, match_id)
                except UnknownMatchError as error:
                    skipped.append((match_id, error))
                    continue
                changed = connection.execute(
                    update(matches)
                    .where(
                        matches.c.id == match_id,
                        matches.c.state == State.PENDING.value,
                    )
                    .values(state=decision, decided_at=now, reviewer=reviewer)
                )
                if changed.rowcount != 1:
                    skipped.append(
                        (
                            match_id,
                            AlreadyDecidedError(
                                f"match {match_id} is already "
                                f"{current.state.value}: only pending matches "
                                "can be decided"
                            ),
                        )
                    )
                    continue
                item = self._get(connection, match_id)
                sent = self._announce(
                    connection,
                    item,
                    decision,
                    match_id=match_id if held else None,
                    not_before=not_before,
                )
                detail: dict[str, Any] = {"decision": decision}
                if reviewer is not None:
                    detail["reviewer"] = reviewer
                if held:
                    detail["undo_until"] = iso(undo_until)
                    # What an undo must withdraw, all of it, to take this back.
                    detail["messages"] = sent
                audit.record(
                    connection,
                    actor=actor,
                    action="match.decide",
                    subject=f"match:{match_id}",
                    detail=detail,
                )
                done.append(item)
        return Decided(tuple(done), tuple(skipped))

    def undo(self, match_id: int, *, actor: str, anyones: bool = False) -> QueuedMatch:
        """Take back a held decision within its window: its unsent messages
        are deleted and the match is pending again (audited "match.undo").

        Only whoever decided may undo it, unless `anyones` (a lead). UndoError
        when it was not held, its window has passed, it is not theirs, or any
        of its messages has left (or is leaving): then nothing is changed.
        """
        with self.engine.begin() as connection:
            current = self._get(connection, match_id)
            if current.state not in DECISIONS:
                raise UndoError(
                    f"match {match_id} is {current.state.value}: only a decision "
                    "(blocked or not a match) can be undone"
                )
            last = _last_decision(connection, match_id)
            until = _held_until(last)
            if last is None or until is None:
                raise UndoError(
                    f"the decision on match {match_id} was sent at once (made "
                    "through the API or the command line): it cannot be undone; "
                    "tell the source and the platform yourself"
                )
            if last.actor != actor and not anyones:
                raise UndoError(
                    f"match {match_id} was decided by {last.actor}: only they, "
                    "or a lead, can undo it"
                )
            # The clock is read inside the transaction (after any wait for
            # the lock), and again after the delete: a raise rolls it back.
            self._still_open(match_id, until)
            withdrawn = withdraw_held(connection, match_id)
            expected = _held_messages(last)
            if expected is None:  # decided before the count was kept
                expected = len(self._messages(current, current.state.value))
            if withdrawn < expected:
                raise UndoError(
                    f"match {match_id}'s feedback or webhook has already left "
                    f"({withdrawn} of {expected} messages could be held back): "
                    "it cannot be undone; decide again by hand if it was wrong"
                )
            self._still_open(match_id, until)
            changed = connection.execute(
                update(matches)
                .where(matches.c.id == match_id, matches.c.state == current.state)
                .values(state=State.PENDING.value, decided_at=None, reviewer=None)
            )
            if changed.rowcount != 1:
                raise UndoError(f"match {match_id} changed just now: show it again")
            audit.record(
                connection,
                actor=actor,
                action="match.undo",
                subject=f"match:{match_id}",
                detail={"undid": current.state.value, "messages": withdrawn},
            )
            return self._get(connection, match_id)

    def _still_open(self, match_id: int, until: datetime) -> None:
        """UndoError unless the undo window closing at `until` is open now."""
        if self.clock() >= until:
            raise UndoError(
                f"the undo window of match {match_id} closed at "
                f"{iso(until)}: its feedback and webhook are being sent; "
                "decide again by hand if it was wrong"
            )

    def undo_until(self, match_id: int) -> datetime | None:
        """When the match's held decision can no longer be undone (None: it
        is not decided, was not held, or its window has passed)."""
        with self.engine.connect() as connection:
            if self._get(connection, match_id).state not in DECISIONS:
                return None
            until = _held_until(_last_decision(connection, match_id))
        return until if until is not None and until > self.clock() else None

    def undoable(self, actor: str, *, limit: int = 10) -> list[UndoableDecision]:
        """`actor`'s decisions that can still be undone, newest first."""
        now = self.clock()
        found: list[UndoableDecision] = []
        seen: set[str] = set()
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(audit_table)
                .where(
                    audit_table.c.actor == actor,
                    audit_table.c.action.in_(("match.decide", "match.undo")),
                    audit_table.c.at >= now - timedelta(days=1),
                )
                .order_by(audit_table.c.id.desc())
                .limit(200)
            ).all()
            for row in rows:
                if row.subject in seen:
                    continue
                seen.add(row.subject)
                until = _held_until(row)
                if row.action != "match.decide" or until is None or until <= now:
                    continue
                match_id = int(row.subject.split(":", 1)[1])
                item = self._get(connection, match_id)
                if item.state in DECISIONS:
                    found.append(UndoableDecision(item, until))
                if len(found) >= limit:
                    break
        return found

    def _announce(
        self,
        connection: Connection,
        item: QueuedMatch,
        feedback: str,
        *,
        match_id: int | None = None,
        not_before: float = 0.0,
    ) -> int:
        """Enqueue what `item` tells its sources and the platform; returns
        how many messages that was."""
        messages = self._messages(item, feedback)
        for channel, payload in messages:
            enqueue(
                connection,
                channel,
                payload,
                match_id=match_id,
                not_before=not_before,
            )
        return len(messages)

    def _messages(
        self, item: QueuedMatch, feedback: str
    ) -> list[tuple[str, dict[str, Any]]]:
        """The (channel, payload) messages a match in its state causes."""
        messages: list[tuple[str, dict[str, Any]]] = []
        if item.listings:
            for source, kind, value in item.listings:
                messages.append(
                    (
                        FEEDBACK,
                        {
                            "type": kind,
                            "value": value,
                            "feedback": feedback,
                            "source": source,
                        },
                    )
                )
        else:
            # An entry from before several sources: the first source's.
            for kind, value in ((item.kind, item.value), *item.related):
                messages.append(
                    (FEEDBACK, {"type": kind, "value": value, "feedback": feedback})
                )
        if self.webhooks:
            event = "match.review" if item.state is State.PENDING else "match.action"
            if item.state is State.NOT_BLOCKED:
                event = "match.cleared"
            if item.state is State.WITHDRAWN:
                event = "match.withdrawn"
            messages.append((WEBHOOK, {"event": event, "match": item.summary()}))
        return messages

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
        return from_row(row)

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
            return [from_row(row) for row in connection.execute(query)]

    def counts(self) -> dict[str, int]:
        """Matches per state."""
        result = {s.value: 0 for s in State}
        query = select(matches.c.state, func.count()).group_by(matches.c.state)
        with self.engine.connect() as connection:
            for state, count in connection.execute(query):
                result[state] = int(count)
        return result


def from_row(row: Any) -> QueuedMatch:
    """A queue entry from its `matches` row."""
    return QueuedMatch(
        row.id,
        aware(row.created_at),
        row.kind,
        row.program,
        row.value,
        row.distance,
        row.reference,
        State(row.state),
        aware(row.decided_at) if row.decided_at else None,
        row.reviewer,
        tuple(tuple(pair) for pair in json.loads(row.related)) if row.related else (),
        tuple(tuple(item) for item in json.loads(row.listings)) if row.listings else (),
        Origin(row.origin),
        row.source or "",
        row.variant,
    )


@dataclass(frozen=True, slots=True)
class Decided:
    """What `decide_many` did: the matches decided, and those skipped with why."""

    done: tuple[QueuedMatch, ...]
    skipped: tuple[tuple[int, ReviewError], ...]


@dataclass(frozen=True, slots=True)
class UndoableDecision:
    """A held decision that its reviewer can still undo, until `until`."""

    match: QueuedMatch
    until: datetime


def _last_decision(connection: Connection, match_id: int) -> Any:
    """The match's latest "match.decide" audit row (None if there is none)."""
    return connection.execute(
        select(audit_table)
        .where(
            audit_table.c.subject == f"match:{match_id}",
            audit_table.c.action == "match.decide",
        )
        .order_by(audit_table.c.id.desc())
        .limit(1)
    ).first()


def _held_messages(row: Any) -> int | None:
    """How many messages a held decision enqueued (None: not recorded)."""
    value = json.loads(row.detail or "{}").get("messages")
    return value if isinstance(value, int) else None


def _held_until(row: Any) -> datetime | None:
    """When a held decision's undo window closes (None: it was not held)."""
    if row is None:
        return None
    value = json.loads(row.detail or "{}").get("undo_until")
    if not isinstance(value, str):
        return None
    return aware(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _utcnow() -> datetime:
    return datetime.now(UTC)
