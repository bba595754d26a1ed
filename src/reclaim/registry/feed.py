"""The change feed: positions handed out in commit order, and the clock.

Every transaction that changes hash records calls `publish` as its last
write. It bumps `instance.feed_head` by the number of changed records (a row
lock on PostgreSQL, the write lock on SQLite, held until commit), so feed
positions become visible strictly in order: a reader that has seen position
N has seen everything before N. It also stamps the records with a time that
never goes backwards, so time-based cursors (StopNCII's `startTimestamp`)
are as safe as position cursors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from reclaim.registry.models import HashRecord, Instance


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Attach UTC to naive datetimes read back from SQLite."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def publish(session: Session, records: Sequence[HashRecord]) -> int:
    """Give changed records the next feed positions; returns the new head."""
    unique = sorted({id(r): r for r in records}.values(), key=lambda r: r.id)
    if not unique:
        head: int = session.scalars(select(Instance.feed_head)).one()
        return head
    session.flush()
    now = utcnow()
    # One statement takes the lock, moves the head, and keeps time monotonic.
    new_head, stamp = session.execute(
        update(Instance)
        .where(Instance.id == 1)
        .values(
            feed_head=Instance.feed_head + len(unique),
            feed_time=case((Instance.feed_time > now, Instance.feed_time), else_=now),
        )
        .returning(Instance.feed_head, Instance.feed_time)
    ).one()
    stamp = as_utc(stamp)
    first = new_head - len(unique) + 1
    for offset, record in enumerate(unique):
        record.change = first + offset
        record.updated_at = stamp
    session.flush()
    return int(new_head)


def instance_secret(session: Session) -> str:
    """This registry's random secret (keys rate-limit buckets)."""
    secret: str = session.scalars(select(Instance.secret)).one()
    return secret
