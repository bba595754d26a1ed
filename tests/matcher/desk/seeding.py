"""Rows for the dashboard and transparency tests: matches and removal
requests at chosen times, written as the queue and the removals code write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from reclaim.matcher.removals.tables import requests
from reclaim.matcher.tables import matches

DAY = timedelta(days=1)


def add_match(
    engine: Engine,
    *,
    created: datetime,
    state: str = "pending",
    program: str = "adult",
    source: str = "default",
    decided_after: float | None = None,
    kind: str = "pdq",
    origin: str = "upload",
) -> int:
    """One match; `decided_after` seconds after `created` it was decided."""
    decided = (
        None if decided_after is None else created + timedelta(seconds=decided_after)
    )
    with engine.begin() as connection:
        return int(
            connection.execute(
                insert(matches)
                .values(
                    created_at=created,
                    kind=kind,
                    program=program,
                    value="e" * 64,
                    distance=3,
                    reference="post-secret-ref",
                    state=state,
                    decided_at=decided,
                    reviewer="ana" if decided else None,
                    source=source,
                    origin=origin,
                )
                .returning(matches.c.id)
            ).scalar_one()
        )


def add_request(
    engine: Engine,
    public_id: str,
    *,
    received: datetime,
    state: str = "received",
    closed_after: float | None = None,
) -> None:
    """One removal request; `closed_after` seconds after receipt it closed."""
    closed = (
        None if closed_after is None else received + timedelta(seconds=closed_after)
    )
    with engine.begin() as connection:
        connection.execute(
            insert(requests).values(
                public_id=public_id,
                received_at=received,
                deadline=received + timedelta(hours=48),
                state=state,
                requester_role="depicted_person",
                personal='{"contact": "person@example.org"}',
                decided_at=closed,
                closed_at=closed,
            )
        )


def seed_report(engine: Engine, now: datetime | None = None) -> datetime:
    """The store the report tests compute by hand (see test_transparency)."""
    now = now or datetime.now(UTC)
    add_match(engine, created=now - 10 * DAY, state="blocked", decided_after=600)
    add_match(engine, created=now - 9 * DAY, state="blocked", decided_after=1800)
    add_match(
        engine,
        created=now - 8 * DAY,
        state="blocked",
        source="ncmec",
        decided_after=3600,
    )
    add_match(engine, created=now - 7 * DAY, state="auto_actioned", kind="md5")
    add_match(
        engine,
        created=now - 6 * DAY,
        state="blocked",
        program="minor",
        source="ncmec",
        decided_after=7200,
        kind="vpdq",
    )
    add_match(
        engine,
        created=now - 5 * DAY,
        state="not_blocked",
        program="minor",
        source="ncmec",
        decided_after=100,
    )
    add_match(engine, created=now - 2 * DAY, program="minor")  # pending
    add_match(engine, created=now - 3 * DAY, state="withdrawn", origin="catalog")
    # Outside the default 30 days.
    add_match(engine, created=now - 40 * DAY, state="blocked", decided_after=5)
    add_request(
        engine,
        "RR-AAAAAAAAAA",
        received=now - 5 * DAY,
        state="removed",
        closed_after=10800,
    )
    add_request(
        engine,
        "RR-BBBBBBBBBB",
        received=now - 4 * DAY,
        state="removed",
        closed_after=72000,
    )
    add_request(engine, "RR-CCCCCCCCCC", received=now - 4 * DAY, state="invalid")
    add_request(engine, "RR-DDDDDDDDDD", received=now - 3 * DAY, state="valid")
    add_request(engine, "RR-EEEEEEEEEE", received=now - 1 * DAY)
    add_request(engine, "RR-FFFFFFFFFF", received=now - 2 * DAY, state="rejected")
    add_request(
        engine,
        "RR-GGGGGGGGGG",
        received=now - 40 * DAY,
        state="removed",
        closed_after=60,
    )
    return now
