"""Changes of a request after filing: decisions, hashes, steps and searches owed.

Only a person makes a request `valid` (a lead on the desk, or the platform
through its API): the intake's check says whether it is complete, never
that it is valid. Marking it valid asks the takedown system to remove the
copies found so far. New hashes make a search for copies owed
(`searched_at` back to NULL); the removals loop does owed searches
(`owed`, then `searched` when one succeeded, or `search_failed`: tried
again later, behind the others).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from reclaim.matcher.errors import RemovalError, RemovalStateError
from reclaim.matcher.removals import tables
from reclaim.matcher.removals.copy_log import CopyLog, ask_takedown, set_state
from reclaim.matcher.removals.ledger import Head, mark_changed, record
from reclaim.matcher.removals.model import OPEN, RemovalRequest, State, degenerate
from reclaim.matcher.times import aware

#: What a person may decide, and the reason it needs.
DECISIONS = ("valid", "invalid", "rejected")
#: The wait before an owed search that failed is tried again: the first,
#: doubled after each further failure, up to the last.
RETRY_FIRST = timedelta(minutes=1)
RETRY_LAST = timedelta(hours=1)
#: Why hashes were skipped (the `hashes_skipped` step's words).
SKIPPED = "they would match nearly anything"


class Changes(CopyLog):
    """Decisions, hashes, steps of the search, and searches owed."""

    def decide(
        self,
        public_id: str,
        action: str,
        *,
        reason: str | None,
        actor: str,
        now: datetime | None = None,
    ) -> RemovalRequest:
        """A lead's (or the platform's) decision: valid, invalid or rejected,
        with a reason. A request made valid sends its copies for removal."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        if action not in DECISIONS:
            raise RemovalError(
                f"{action[:20]!r} is not a decision: expected valid, invalid or "
                "rejected"
            )
        target = State(action)
        reason = (reason or "").strip()
        if not reason:
            raise RemovalError(
                f"a request is made {action} only with a reason: say why (no "
                "personal data)"
            )
        with self.engine.begin() as connection:
            # Read in the transaction; set_state changes only the state read.
            request = self.read(connection, public_id)
            if request.state in (State.REMOVED, State.REJECTED) or (
                request.state is target
            ):
                raise RemovalStateError(
                    f"request {public_id} is {request.state.value}: it cannot be "
                    f"made {action}"
                )
            detail: dict[str, Any] = {"reason": reason}
            if target is not State.REJECTED:
                detail["valid"] = target is State.VALID
                detail["problems"] = [] if target is State.VALID else [reason]
            set_state(connection, request, target, reason, actor, moment, detail)
            if target is State.VALID:
                # Read inside the transaction: copies found up to now.
                ask_takedown(connection, request, None, actor, webhooks=self.webhooks)
        self.version += 1
        return self.get(public_id)

    def add_hashes(
        self,
        public_id: str,
        found: Sequence[tuple[str, str]],
        *,
        origin: str,
        actor: str,
    ) -> int:
        """Keep hashes of the reported item (type, value); returns how many
        were new. Recorded as a `hashed` step; new ones owe a search. A hash
        that would match nearly anything (`degenerate`: a blank picture's
        PDQ, an empty file's MD5) is skipped, with a `hashes_skipped` step."""
        request = self.get(public_id)
        usable = [pair for pair in found if degenerate(*pair) is None]
        with self.engine.begin() as connection:
            held = {
                (r.kind, r.value)
                for r in connection.execute(
                    select(tables.hashes).where(
                        tables.hashes.c.request_id == request.id
                    )
                )
            }
            fresh = [pair for pair in dict.fromkeys(usable) if pair not in held]
            for kind, value in fresh:
                connection.execute(
                    insert(tables.hashes).values(
                        request_id=request.id, kind=kind, value=value, origin=origin
                    )
                )
            if fresh:
                connection.execute(
                    update(tables.requests)
                    .where(tables.requests.c.id == request.id)
                    .values(searched_at=None, search_after=None)  # due now
                )
                mark_changed(connection)
            record(
                connection,
                request.id,
                public_id,
                actor,
                "hashed",
                {"hashes": len(fresh), "from": origin},
            )
            skipped = len(set(found) - set(usable))
            if skipped:
                record(
                    connection,
                    request.id,
                    public_id,
                    actor,
                    "hashes_skipped",
                    {"hashes": skipped, "from": origin, "why": SKIPPED},
                )
        if fresh:
            self.version += 1
        return len(fresh)

    def note(
        self,
        public_id: str,
        action: str,
        detail: Mapping[str, Any],
        *,
        actor: str = "system",
    ) -> None:
        """Record a step of the search (`searched_catalog`, `watching_uploads`)."""
        request = self.get(public_id)
        with self.engine.begin() as connection:
            record(connection, request.id, public_id, actor, action, detail)

    def owed(self, *, limit: int = 20, now: datetime | None = None) -> list[str]:
        """Open requests owed a search for copies and due one now: those that
        failed fewest times first (so failing ones never hold up the
        others), then the oldest."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        table = tables.requests
        with self.engine.connect() as connection:
            return list(
                connection.scalars(
                    select(table.c.public_id)
                    .where(
                        table.c.searched_at.is_(None),
                        table.c.state.in_([s.value for s in OPEN]),
                        or_(
                            table.c.search_after.is_(None),
                            table.c.search_after <= moment,
                        ),
                    )
                    .order_by(table.c.search_failures, table.c.received_at, table.c.id)
                    .limit(limit)
                )
            )

    def search_failed(
        self, public_id: str, *, now: datetime | None = None
    ) -> tuple[int, datetime]:
        """Count a failed search of a request's copies and put its next try
        off (`retry_delay`); returns the failures in a row and when it is due."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        table = tables.requests
        with self.engine.begin() as connection:
            failures = 1 + int(
                connection.scalar(
                    select(table.c.search_failures).where(
                        table.c.public_id == public_id
                    )
                )
                or 0
            )
            due = moment + retry_delay(failures)
            connection.execute(
                update(table)
                .where(table.c.public_id == public_id)
                .values(search_failures=failures, search_after=due)
            )
        return failures, due

    def searched(
        self, public_id: str, *, hashes: int, now: datetime | None = None
    ) -> bool:
        """Record a search done with `hashes` hashes; not done (False) when
        more arrived meanwhile, so the next wake searches again."""
        request = self.get(public_id)
        counted = (
            select(func.count())
            .select_from(tables.hashes)
            .where(tables.hashes.c.request_id == request.id)
            .scalar_subquery()
        )
        with self.engine.begin() as connection:
            return bool(
                connection.execute(
                    update(tables.requests)
                    .where(tables.requests.c.id == request.id, counted == hashes)
                    .values(
                        searched_at=(now or datetime.now(UTC)),
                        search_failures=0,
                        search_after=None,
                    )
                ).rowcount
            )

    def takedowns_owed(self) -> int:
        """Ask for any valid request's copies not asked for yet (a copy a
        concurrent search recorded while the request was being made valid);
        returns how many were asked for."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    tables.requests.c.id,
                    tables.requests.c.public_id,
                    tables.requests.c.deadline,
                )
                .where(
                    tables.requests.c.state == State.VALID.value,
                    tables.copies.c.asked_at.is_(None),
                    tables.copies.c.removed_at.is_(None),
                    tables.copies.c.found_by != "platform",
                )
                .join(tables.copies, tables.copies.c.request_id == tables.requests.c.id)
                .distinct()
            ).all()
        asked = 0
        for row in rows:
            with self.engine.begin() as connection:
                state = connection.scalar(
                    select(tables.requests.c.state).where(
                        tables.requests.c.id == row.id
                    )
                )
                if state != State.VALID.value:
                    continue  # decided otherwise meanwhile
                head = Head(int(row.id), row.public_id, aware(row.deadline))
                done = ask_takedown(
                    connection, head, None, "system", webhooks=self.webhooks
                )
                asked += len(done)
        return asked


def retry_delay(failures: int) -> timedelta:
    """How long after its `failures`-th failure in a row a search is tried
    again: 1 minute, doubling, at most an hour."""
    doublings = min(max(failures - 1, 0), 12)
    return min(RETRY_LAST, RETRY_FIRST * (1 << doublings))
