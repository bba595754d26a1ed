"""The removal store on SQLite and PostgreSQL: copies and once-only notices
written by two processes at once, the most severe notice only after a
stopped clock, paging past the first page, references never cut short, and one form's
token sent from many threads at once filed once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from reclaim.matcher.config import RemovalsConfig
from reclaim.matcher.errors import RemovalError
from reclaim.matcher.outbox import WEBHOOK
from reclaim.matcher.removals import clock, tables
from reclaim.matcher.removals.copy_log import insert_copies
from reclaim.matcher.removals.model import Filed, Intake, State
from reclaim.matcher.removals.schemas import RemovalRequestIn
from reclaim.matcher.removals.store import Found, RemovalStore, record
from reclaim.matcher.store import open_engine, prepare
from reclaim.matcher.tables import outbox
from tests.conftest import postgres_database
from tests.matcher.removals.conftest import PATTERN, body

CONFIG = RemovalsConfig(reference_patterns=(PATTERN,), max_per_hour=1000)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A prepared matcher store on each database."""
    if request.param == "sqlite":
        made = open_engine(f"sqlite:///{tmp_path}/matcher.db")
        prepare(made)
        yield made
        made.dispose()
        return
    with postgres_database() as url:
        made = open_engine(url)
        prepare(made)
        yield made
        made.dispose()


def filed(store: RemovalStore, **changes: object) -> str:
    view, _ = store.file(Intake.of(RemovalRequestIn.model_validate(body(**changes))))
    return view.public_id


def held_open(engine: Engine, write: object, hold: float = 0.5) -> threading.Thread:
    """Another process's transaction: it writes, waits, then commits."""
    ready = threading.Event()

    def run() -> None:
        with engine.begin() as connection:
            write(connection)  # type: ignore[operator]
            ready.set()
            time.sleep(hold)

    thread = threading.Thread(target=run)
    thread.start()
    assert ready.wait(10)
    return thread


def test_a_copy_found_by_two_processes_at_once_is_recorded_once(
    engine: Engine,
) -> None:
    store = RemovalStore(engine, CONFIG, webhooks=True)
    number = filed(store)
    request = store.get(number)
    other = held_open(
        engine,
        lambda c: insert_copies(
            c,
            request.id,
            [Found("post-5", "forward", 3)],
            "system",
            request.received_at,
            webhooks=True,
        ),
    )
    try:
        # Read before the other commits, written after: no IntegrityError.
        assert store.add_copies(number, [Found("post-5", "catalog", 4)]) == []
    finally:
        other.join()
    copies = store.get(number).copies
    assert [(c.reference, c.found_by) for c in copies] == [
        ("post-1", "reported"),
        ("post-5", "forward"),
    ]


def test_a_notice_is_sent_once_though_two_processes_send_it(engine: Engine) -> None:
    store = RemovalStore(engine, CONFIG, webhooks=True)
    number = filed(store)
    request = store.get(number)
    late = request.deadline + timedelta(minutes=1)
    other = held_open(
        engine,
        lambda c: record(
            c, request.id, number, "system", "overdue", {}, at=late, once="overdue"
        ),
    )
    try:
        ticked = clock.check(store, now=late)
    finally:
        other.join()
    assert ticked.overdue == 0  # the other process sent it
    steps = [e.action for e in store.get(number).events]
    assert steps.count("overdue") == 1


def test_after_a_stopped_clock_only_the_most_severe_notice_goes(
    engine: Engine,
) -> None:
    store = RemovalStore(engine, CONFIG, webhooks=True)
    number = filed(store)
    deadline = store.get(number).deadline
    ticked = clock.check(store, now=deadline + timedelta(hours=1))
    assert (ticked.reminders, ticked.escalations, ticked.overdue) == (0, 0, 1)
    again = clock.check(store, now=deadline + timedelta(hours=2))
    assert (again.reminders, again.escalations, again.overdue) == (0, 0, 0)
    events = store.get(number).events
    skipped = [e.detail["notice"] for e in events if e.action == "skipped"]
    assert skipped == ["reminder", "escalated"]
    with engine.connect() as connection:
        sent = connection.scalars(
            select(outbox.c.payload).where(outbox.c.channel == WEBHOOK)
        ).all()
    notices = [p for p in sent if '"removal.' in p and "removal.copies" not in p]
    assert len(notices) == 1 and "removal.overdue" in notices[0]


def test_requests_past_the_first_page_are_listed_and_counted(engine: Engine) -> None:
    store = RemovalStore(engine, CONFIG, webhooks=False)
    numbers = [filed(store) for _ in range(205)]
    closed = filed(store, contact=None)  # invalid: closed at once
    first = store.listed(view="open", limit=200)
    assert first.total == 205 and len(first.requests) == 200
    assert first.next_offset == 200
    rest = store.listed(view="open", limit=200, offset=200)
    assert [r.public_id for r in rest.requests] == numbers[200:]
    assert rest.next_offset is None
    assert [r.public_id for r in store.listed(view="closed").requests] == [closed]
    every = store.listed(limit=1000)
    assert [r.public_id for r in every.requests][-1] == closed  # closed last
    counts = store.counts(now=store.get(numbers[0]).deadline + timedelta(seconds=1))
    assert counts.waiting == 205 and counts.overdue >= 1


def test_a_reference_longer_than_the_api_takes_is_refused_never_cut(
    engine: Engine,
) -> None:
    store = RemovalStore(engine, CONFIG, webhooks=False)
    number = filed(store)
    long = "r" * 201
    for _ in range(2):  # the second time too: refused, not a crash
        with pytest.raises(RemovalError, match="201 characters: expected at most 200"):
            store.mark_removed(number, [long], actor="rae")
    assert [c.reference for c in store.get(number).copies] == ["post-1"]
    with engine.connect() as connection:
        kept = connection.scalar(select(func.count()).select_from(tables.copies))
    assert kept == 1
    assert store.get(number).state is State.RECEIVED


def test_one_token_sent_at_once_from_many_threads_files_one_request(
    engine: Engine,
) -> None:
    senders = 6
    store = RemovalStore(engine, CONFIG, webhooks=False)
    intake = Intake.of(RemovalRequestIn.model_validate(body()), via="form")
    start = threading.Barrier(senders)
    answers: list[Filed] = []
    failures: list[BaseException] = []

    def send() -> None:
        start.wait()
        try:
            answers.append(store.file(intake, submission="t" * 32))
        except BaseException as error:  # reported below, not lost in a thread
            failures.append(error)

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert len(answers) == senders
    assert sum(1 for a in answers if not a.repeat) == 1
    assert len({a.view.public_id for a in answers}) == 1
    with engine.connect() as connection:
        stored = connection.scalar(select(func.count()).select_from(tables.requests))
    assert stored == 1
