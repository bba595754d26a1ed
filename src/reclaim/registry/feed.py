"""The change feed: positions handed out in commit order, and the clock.

Every transaction that changes hash records calls `publish` as its last
write. It bumps `instance.feed_head` by the number of changed records (a row
lock on PostgreSQL, the write lock on SQLite, held until commit), so feed
positions become visible strictly in order: a reader that has seen position
N has seen everything before N. It also stamps the records with a time that
never goes backwards, so time-based cursors (StopNCII's `startTimestamp`)
are as safe as position cursors.

Record times are whole minutes (`TIME_UNIT`), rounded *up*: a record changed
at 10:37:20 reads 10:38:00. Every platform reads these times, and to the
microsecond they could be joined with a proxy's log to tie a case to the
address that made it; a minute holds every request of that minute. Rounding
up keeps "changed at or after T" true for every change made after T, so no
time-based cursor misses one; the cost is that a time window ending before
the next minute's mark sees a change up to a minute late (NCMEC). The feed's
order is by position, which coarse times do not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

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


#: The precision of every time a platform reads, and of audit times.
TIME_UNIT = timedelta(minutes=1)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floor_time(value: datetime) -> datetime:
    """`value` cut down to a whole `TIME_UNIT` (UTC)."""
    value = as_utc(value)
    return value - (value - _EPOCH) % TIME_UNIT


def ceil_time(value: datetime) -> datetime:
    """`value` rounded up to a whole `TIME_UNIT` (UTC)."""
    floor = floor_time(value)
    return floor if floor == as_utc(value) else floor + TIME_UNIT


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
    # Rounded up, and `feed_time` is always a whole unit (`ncmec.seal` rounds
    # up too), so the stamp is a whole unit no earlier than the change.
    now = ceil_time(utcnow())
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
