"""The feed's clock: record times are whole minutes, never before the change,
and the time cursors platforms hold (StopNCII, NCMEC) still lose nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from reclaim.registry.feed import TIME_UNIT, ceil_time, floor_time, utcnow
from reclaim.registry.models import HashRecord, Instance
from reclaim.registry.platforms import PlatformIdentity
from reclaim.registry.service import Registry
from tests.conftest import random_pdq

RNG = np.random.default_rng(2718)


def whole(at: datetime) -> bool:
    return (at.second, at.microsecond) == (0, 0)


def new_case(registry: Registry, count: int = 2) -> list[str]:
    values = [random_pdq(RNG) for _ in range(count)]
    registry.create_case(
        "adult", [{"type": "pdq", "value": v, "quality": 100} for v in values]
    )
    return values


def platform(registry: Registry) -> PlatformIdentity:
    return registry.authenticate(registry.add_platform("Example Social", ["adult"])[1])


def stamps(registry: Registry) -> list[datetime]:
    with registry.db.read() as session:
        return [
            at if at.tzinfo else at.replace(tzinfo=UTC)
            for at in session.scalars(
                select(HashRecord.updated_at).order_by(HashRecord.change)
            )
        ]


@given(st.datetimes(timezones=st.just(UTC)))
def test_rounding_is_to_whole_units_around_the_time(at: datetime) -> None:
    down, up = floor_time(at), ceil_time(at)
    assert whole(down) and whole(up) and down <= at <= up
    assert up - down in (timedelta(0), TIME_UNIT)
    assert (up == at) == (down == at)


def test_records_are_stamped_with_the_next_whole_minute(registry: Registry) -> None:
    start = utcnow()
    new_case(registry)  # PostgreSQL: one statement (pg_create); SQLite: publish
    case = registry.create_case(
        "adult",
        [{"type": "md5", "value": "cd" * 16}, {"type": "md5", "value": "ef" * 16}],
    )
    registry.withdraw_case(case.number, case.pin)
    end = utcnow()
    times = stamps(registry)
    assert len(times) == 4
    for at in times:
        assert whole(at), at
        # Rounded up: a record never reads earlier than its change.
        assert start <= at <= ceil_time(end)
    assert times == sorted(times)


def test_a_stopncii_cursor_sees_no_finer_than_a_minute_and_skips_nothing(
    registry: Registry,
) -> None:
    reader = platform(registry)
    first = set(new_case(registry, 3))
    page = registry.exchange_fetch(reader, start_timestamp=0, token=None, page_size=10)
    assert {r.value for r in page.records} == first
    assert all(r.last_modified % 60 == 0 for r in page.records)
    checkpoint = page.next_set_timestamp
    assert checkpoint % 60 == 0
    # Any start inside the minute before a record's time finds the same
    # records: the cursor cannot probe a time finer than the minute.
    for start in range(checkpoint - 59, checkpoint + 1, 7):
        again = registry.exchange_fetch(
            reader, start_timestamp=start, token=None, page_size=10
        )
        assert {r.value for r in again.records} == first
    # Made after the checkpoint was handed out: found from the checkpoint.
    later = set(new_case(registry, 2))
    resumed = registry.exchange_fetch(
        reader, start_timestamp=checkpoint, token=None, page_size=10
    )
    assert later <= {r.value for r in resumed.records}
    assert all(r.last_modified >= checkpoint for r in resumed.records)


def test_an_answered_ncmec_window_never_gains_a_record(registry: Registry) -> None:
    reader = platform(registry)
    early = new_case(registry, 2)
    now = utcnow().replace(microsecond=0)
    begin = now - timedelta(hours=1)
    # The records are stamped at the next minute's mark: a window up to now
    # does not hold them yet; one reaching the mark does (then it is sealed).
    assert (
        registry.ncmec_entries(reader, start=begin, end=now, page=None, size=10).entries
        == []
    )
    mark = ceil_time(now + timedelta(seconds=1))
    answered = registry.ncmec_entries(reader, start=begin, end=mark, page=None, size=10)
    assert sorted(e.value for e in answered.entries) == sorted(early)
    assert all(whole(e.at) for e in answered.entries)
    with registry.db.read() as session:
        feed_time = session.scalar(select(Instance.feed_time))
    assert feed_time is not None and whole(feed_time)

    late = new_case(registry, 2)
    stamped = stamps(registry)[2:]
    assert all(at > mark for at in stamped)
    again = registry.ncmec_entries(reader, start=begin, end=mark, page=None, size=10)
    assert [e.id for e in again.entries] == [e.id for e in answered.entries]
    # The seal moved the clock to the next mark (at most two minutes ahead,
    # which a window may reach): the next window finds them.
    following = registry.ncmec_entries(
        reader, start=mark + timedelta(seconds=1), end=max(stamped), page=None, size=10
    )
    assert sorted(e.value for e in following.entries) == sorted(late)
