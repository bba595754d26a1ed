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

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from reclaim.registry.models import HashRecord, Instance


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Attach UTC to naive datetimes read back from SQLite."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def publish(session: Session, records: Sequence[HashRecord | int]) -> int:
    """Give changed records (objects or ids) the next feed positions.

    Returns the new head. Positions go to the records in id order; ORM
    objects passed in see their new values.
    """
    objects = {r.id: r for r in records if isinstance(r, HashRecord)}
    session.flush()
    ids = sorted({r if isinstance(r, int) else r.id for r in records})
    if not ids:
        head: int = session.scalars(select(Instance.feed_head)).one()
        return head
    now = utcnow()
    connection = session.connection()
    # One statement takes the lock, moves the head, and keeps time monotonic.
    new_head, stamp = connection.execute(
        _ADVANCE, {"count": len(ids), "now": now}
    ).one()
    stamp = as_utc(stamp)
    first = new_head - len(ids) + 1
    position = {rid: first + n for n, rid in enumerate(ids)}
    connection.execute(
        _STAMP,
        [{"rid": rid, "position": at, "stamp": stamp} for rid, at in position.items()],
    )
    for rid, record in objects.items():
        set_committed_value(record, "change", position[rid])
        set_committed_value(record, "updated_at", stamp)
    return int(new_head)


_ADVANCE = (
    update(Instance)
    .where(Instance.id == 1)
    .values(
        feed_head=Instance.feed_head + bindparam("count"),
        feed_time=case(
            (Instance.feed_time > bindparam("now"), Instance.feed_time),
            else_=bindparam("now"),
        ),
    )
    .returning(Instance.feed_head, Instance.feed_time)
)
_STAMP = (
    update(HashRecord)
    .where(HashRecord.id == bindparam("rid"))
    .values(change=bindparam("position"), updated_at=bindparam("stamp"))
)


def instance_secret(session: Session) -> str:
    """This registry's random secret (keys rate-limit buckets)."""
    secret: str = session.scalars(select(Instance.secret)).one()
    return secret
