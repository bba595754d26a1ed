"""The 48-hour clock: reminders, escalation, overdue notices and the purge.

`check(now)` runs periodically (the service's removals loop; tests call it
with a chosen `now`). For each request still open (received or valid) it
sends, once each, `removal.reminder` at `[removals] remind_hours` before
the deadline, `removal.escalated` at `escalate_hours` before, and
`removal.overdue` once it has passed. Each is a webhook (no personal data)
and a step of the record; the step is what makes it "once": it is written
with its name in `removal_events.once`, whose unique index refuses a second
(from another process too), and the webhook goes only with the step that
was written. When the clock did not run for a while and several notices are
due at once, only the most severe is sent; the others are recorded as
`skipped` (and never sent later).

`purge(now)` blanks the personal data of requests closed more than
`retention_days` ago (`redacted_at` set). Items, hashes, copies and the
record of efforts stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select, update

from reclaim.matcher.outbox import WEBHOOK, enqueue
from reclaim.matcher.removals import tables
from reclaim.matcher.removals.model import OPEN
from reclaim.matcher.removals.store import RemovalStore, record
from reclaim.matcher.times import aware, iso


@dataclass(frozen=True, slots=True)
class Ticked:
    """What one run of the clock did."""

    reminders: int = 0
    escalations: int = 0
    overdue: int = 0
    redacted: int = 0


def check(store: RemovalStore, *, now: datetime | None = None) -> Ticked:
    """Send the reminders, escalations and overdue notices now due."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    config = store.config
    steps = (
        ("reminder", timedelta(hours=config.remind_hours)),
        ("escalated", timedelta(hours=config.escalate_hours)),
        ("overdue", timedelta(0)),
    )
    sent = {"reminder": 0, "escalated": 0, "overdue": 0}
    with store.engine.connect() as connection:
        due = connection.execute(
            select(tables.requests.c.id).where(
                tables.requests.c.state.in_([s.value for s in OPEN]),
                tables.requests.c.deadline
                <= moment + timedelta(hours=max(config.remind_hours, 0.0)),
            )
        ).all()
    for (number,) in due:
        with store.engine.begin() as connection:
            row = connection.execute(
                select(tables.requests).where(tables.requests.c.id == number)
            ).one()
            if row.state not in {s.value for s in OPEN}:
                continue
            deadline = aware(row.deadline)
            owed = [a for a, before in steps if moment >= deadline - before]
            if not owed:
                continue
            hours = round((deadline - moment).total_seconds() / 3600, 2)
            left = _pending(connection, number)
            *earlier, action = owed  # the most severe due is the last
            for skipped in earlier:
                record(
                    connection,
                    number,
                    row.public_id,
                    "system",
                    "skipped",
                    {"notice": skipped, "instead": action, "hours_left": hours},
                    at=moment,
                    once=skipped,
                )
            if not record(
                connection,
                number,
                row.public_id,
                "system",
                action,
                {"hours_left": hours, "copies_left": len(left)},
                at=moment,
                once=action,
            ):
                continue  # sent before (by this process or another)
            if store.webhooks:
                enqueue(
                    connection,
                    WEBHOOK,
                    {
                        "event": f"removal.{action}",
                        "request": row.public_id,
                        "state": row.state,
                        "deadline": iso(deadline),
                        "references": left,
                    },
                )
            sent[action] += 1
    return Ticked(sent["reminder"], sent["escalated"], sent["overdue"])


def purge(store: RemovalStore, *, now: datetime | None = None) -> int:
    """Blank the personal data of requests closed `retention_days` ago;
    returns how many were blanked."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    cutoff = moment - timedelta(days=store.config.retention_days)
    with store.engine.begin() as connection:
        rows = connection.execute(
            select(tables.requests.c.id, tables.requests.c.public_id).where(
                tables.requests.c.closed_at.is_not(None),
                tables.requests.c.closed_at <= cutoff,
                tables.requests.c.redacted_at.is_(None),
            )
        ).all()
        for row in rows:
            connection.execute(
                update(tables.requests)
                .where(tables.requests.c.id == row.id)
                .values(personal=None, redacted_at=moment)
            )
            record(
                connection,
                row.id,
                row.public_id,
                "system",
                "redacted",
                {"retention_days": store.config.retention_days},
                at=moment,
            )
    return len(rows)


def tick(store: RemovalStore, *, now: datetime | None = None) -> Ticked:
    """One run of the clock: notices due, then the purge."""
    sent = check(store, now=now)
    redacted = purge(store, now=now)
    return Ticked(sent.reminders, sent.escalations, sent.overdue, redacted)


def _pending(connection: Connection, number: int) -> list[str]:
    """The references of a request's copies not removed yet."""
    return list(
        connection.scalars(
            select(tables.copies.c.reference)
            .where(
                tables.copies.c.request_id == number,
                tables.copies.c.removed_at.is_(None),
            )
            .order_by(tables.copies.c.id)
        )
    )
