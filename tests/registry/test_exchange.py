"""The StopNCII view of the list: one record per hash over the key's programs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reclaim.api.stopncii_wire import STATUS_NAMES
from reclaim.registry.exchange import ExchangeRecord, merged_status
from reclaim.registry.platforms import PlatformIdentity
from reclaim.registry.service import Registry
from tests.conftest import random_pdq

RNG = np.random.default_rng(1212)
PROGRAMS = ("adult", "minor")
#: Each hash's state in each program: not listed, listed, or withdrawn.
STATES = ("absent", "active", "withdrawn")
KEYS = [("adult",), ("minor",), ("adult", "minor")]


def fetch_all(
    registry: Registry, platform: PlatformIdentity, *, page_size: int, start: int = 0
) -> list[ExchangeRecord]:
    records, token = [], None
    while True:
        page = registry.exchange_fetch(
            platform, start_timestamp=start, token=token, page_size=page_size
        )
        records.extend(page.records)
        if not page.has_more:
            return records
        token = page.next_token


def expected(states: dict[str, str], programs: tuple[str, ...]) -> str | None:
    seen = [states[p] for p in programs if states[p] != "absent"]
    if not seen:
        return None  # the key reads no program that ever listed it
    return "Active" if "active" in seen else "Withdrawn"


@pytest.mark.parametrize("page_size", [1, 3, 1000])
def test_every_combination_of_key_programs(registry: Registry, page_size: int) -> None:
    layouts = [
        dict(zip(PROGRAMS, combo, strict=True))
        for combo in itertools.product(STATES, repeat=2)
        if combo != ("absent", "absent")
    ]
    values = [random_pdq(RNG) for _ in layouts]
    for value, layout in zip(values, layouts, strict=True):
        for program, state in layout.items():
            if state == "absent":
                continue
            case = registry.create_case(
                program, [{"type": "pdq", "value": value, "quality": 100}]
            )
            if state == "withdrawn":
                registry.withdraw_case(case.number, case.pin)
    for n, programs in enumerate(KEYS):
        platform = registry.authenticate(
            registry.add_platform(f"reader-{page_size}-{n}", programs)[1]
        )
        records = fetch_all(registry, platform, page_size=page_size)
        served = [r.value for r in records]
        assert len(served) == len(set(served)), f"{programs}: a hash served twice"
        by_value = {r.value: STATUS_NAMES[r.status] for r in records}
        for value, layout in zip(values, layouts, strict=True):
            assert by_value.get(value) == expected(layout, programs), (programs, layout)


def test_a_withdrawal_in_one_program_keeps_the_hash_active(registry: Registry) -> None:
    value = random_pdq(RNG)
    item = [{"type": "pdq", "value": value, "quality": 100}]
    adult = registry.create_case("adult", item)
    minor = registry.create_case("minor", item)
    both = registry.authenticate(registry.add_platform("both", PROGRAMS)[1])
    first = fetch_all(registry, both, page_size=10)
    assert [(r.value, STATUS_NAMES[r.status]) for r in first] == [(value, "Active")]
    registry.withdraw_case(minor.number, minor.pin)
    later = fetch_all(registry, both, page_size=10, start=first[-1].last_modified)
    assert [(r.value, STATUS_NAMES[r.status]) for r in later] == [(value, "Active")]
    registry.withdraw_case(adult.number, adult.pin)
    last = fetch_all(registry, both, page_size=10, start=later[-1].last_modified)
    assert [(r.value, STATUS_NAMES[r.status]) for r in last] == [(value, "Withdrawn")]


def test_feedback_on_either_program_is_served_once(registry: Registry) -> None:
    value = random_pdq(RNG)
    item = [{"type": "pdq", "value": value, "quality": 100}]
    registry.create_case("adult", item)
    registry.create_case("minor", item)
    reviewer = registry.authenticate(registry.add_platform("reviewer", PROGRAMS)[1])
    registry.give_feedback(
        reviewer, [{"type": "pdq", "value": value, "feedback": "blocked"}]
    )
    for programs in KEYS:
        reader = registry.authenticate(
            registry.add_platform("-".join(programs), programs)[1]
        )
        (record,) = fetch_all(registry, reader, page_size=10)
        assert record.feedbacks == (("blocked", (), "reviewer"),)


def test_merged_status() -> None:
    assert merged_status(["withdrawn", "active"]) == "active"
    assert merged_status(["removed", "withdrawn"]) == "withdrawn"
    assert merged_status(["removed"]) == "removed"


# Sleeps a second to tell the records' times apart: times to the microsecond
# (at whole minutes, a restart re-delivers the minute: tests/registry/test_feed.py).
@pytest.mark.usefixtures("precise_feed_times")
def test_feedback_moves_its_record_forward_in_both_feeds(registry: Registry) -> None:
    import time

    first, second = random_pdq(RNG), random_pdq(RNG)
    registry.create_case("adult", [{"type": "pdq", "value": first, "quality": 100}])
    time.sleep(1.1)  # the next record gets a later second than the first
    registry.create_case("adult", [{"type": "pdq", "value": second, "quality": 100}])
    reader = registry.authenticate(registry.add_platform("reader", ["adult"])[1])
    reviewer = registry.authenticate(registry.add_platform("reviewer", ["adult"])[1])
    seen = fetch_all(registry, reader, page_size=10)
    checkpoint = seen[-1].last_modified
    cursor = registry.changes(reader, cursor=0, limit=100).cursor
    assert [
        r.value for r in fetch_all(registry, reader, page_size=10, start=checkpoint)
    ] == [second]

    verdict = {"type": "pdq", "value": first, "feedback": "blocked"}
    registry.give_feedback(reviewer, [verdict])
    fresh = fetch_all(registry, reader, page_size=10, start=checkpoint)
    assert [(r.value, r.feedbacks) for r in fresh if r.value == first] == [
        (first, (("blocked", (), "reviewer"),))
    ]
    moved = registry.changes(reader, cursor=cursor, limit=100)
    assert [e.value for e in moved.entries] == [first]

    # The same feedback again changes nothing, so nothing moves.
    registry.give_feedback(reviewer, [verdict])
    assert registry.changes(reader, cursor=moved.cursor, limit=100).entries == []


def test_feedback_in_a_program_the_key_cannot_read_never_shows(
    registry: Registry,
) -> None:
    value = random_pdq(RNG)
    item = [{"type": "pdq", "value": value, "quality": 100}]
    registry.create_case("adult", item)
    registry.create_case("minor", item)
    minor_only = registry.authenticate(registry.add_platform("minorco", ["minor"])[1])
    registry.give_feedback(
        minor_only, [{"type": "pdq", "value": value, "feedback": "blocked"}]
    )
    adult_only = registry.authenticate(registry.add_platform("adultco", ["adult"])[1])
    for page_size in (1, 10):
        (record,) = fetch_all(registry, adult_only, page_size=page_size)
        assert record.feedbacks == ()
