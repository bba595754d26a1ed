"""The operator's dashboard over HTTP, sync lag samples, and store metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, insert, select

from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.dashboard import AGE_BUCKETS, build, day_labels
from reclaim.matcher.desk.tables import alerts, sync_samples
from reclaim.matcher.sync_samples import SyncSamples
from reclaim.matcher.tables import matches
from tests.matcher.desk.conftest import Desk
from tests.matcher.desk.seeding import DAY, add_match, add_request, seed_report

HOUR = timedelta(hours=1)


def test_the_dashboard_shows_matches_decisions_queue_sync_and_alerts(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk()
    service = desk.service
    now = seed_report(service.engine)
    add_match(service.engine, created=now - 2 * HOUR)  # pending, 1–6 h
    service.sync_once()  # the registry is live: one ok sample per source
    fired_at = now.replace(microsecond=0)
    with service.engine.begin() as connection:  # as a firing rule writes it
        connection.execute(
            alerts.insert().values(
                rule="adult-spike",
                window_start=fired_at,
                fired_at=fired_at,
                count=57,
                baseline=6.0,
                message="matches in program adult jumped to 57 in 60 min",
            )
        )
    lead = desk.sign_in("lea", Role.LEAD)
    page = lead.get("/desk/dashboard")
    assert page.status_code == 200, page.text
    text = page.text
    assert text.count('role="img"') == 5
    for title in (
        "Matches per day by source",
        "Matches per day by program",
        "Median time to decision per day",
        "Pending matches by age",
        "Sync lag per source, last 48 hours",
    ):
        assert title in text, title
    assert "<strong>2</strong> matches waiting for review" in text
    assert "<strong>2 d</strong> oldest waiting" in text  # 2 days
    assert "jumped to 57 in 60 min" in text and "adult-spike" in text
    assert '<th scope="row">default</th>' in text  # the source's current lag
    assert "/desk/static/dashboard.css" in text
    assert "post-secret-ref" not in text and "e" * 64 not in text
    with service.engine.connect() as connection:
        samples = connection.execute(select(sync_samples)).all()
    assert [(s.source, s.result) for s in samples] == [("default", "ok")]
    assert samples[0].lag_seconds is not None and samples[0].lag_seconds < 60


def test_dashboard_numbers(serve_desk: Callable[..., Desk]) -> None:
    desk = serve_desk()
    engine = desk.service.engine
    now = datetime(2026, 6, 30, 12, tzinfo=UTC)
    add_match(engine, created=now - 3 * HOUR, state="blocked", decided_after=600)
    add_match(engine, created=now - 2 * HOUR, state="blocked", decided_after=1800)
    add_match(engine, created=now - 1 * HOUR, state="not_blocked", decided_after=60)
    add_match(engine, created=now - DAY, program="minor", source="ncmec")
    add_match(engine, created=now - 4 * DAY)  # pending, over 3 days
    add_match(engine, created=now - 31 * DAY)  # before the 30 days: pending
    add_request(engine, "RR-XXXXXXXXXX", received=now)  # not a match
    board = build(engine, now=now, samples=[], sources=[])
    days = day_labels(now)
    assert days[-1] == "30 Jun" and days[0] == "1 Jun" and len(days) == 30
    by_source = {row[0]: row[1:] for row in board.by_source.table.rows}
    assert by_source["30 Jun"] == ("3", "0", "3")  # default, ncmec, total
    assert by_source["29 Jun"] == ("0", "1", "1")
    assert by_source["26 Jun"] == ("1", "0", "1")
    decision = dict(board.decision_time.table.rows)
    assert decision == {"30 Jun": "10 min"}  # the median of 600, 1800, 60 s
    ages = dict(board.queue_age.table.rows)
    assert list(ages) == [label for label, _ in AGE_BUCKETS]
    assert ages["1–3 days"] == "1" and ages["6–24 h"] == "0"
    assert ages["over 3 days"] == "2" and ages["1–6 h"] == "0"
    assert board.pending == 3
    assert board.oldest_pending_seconds == 31 * 86400
    assert board.sync_lag.empty


def test_sync_samples_are_throttled_and_pruned(serve_desk: Callable[..., Desk]) -> None:
    desk = serve_desk()
    samples = SyncSamples(desk.service.engine)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    last = start.timestamp()
    assert samples.record("a", result="ok", last_success=last, now=start)
    # Within the minute: skipped, unless the result changed.
    assert not samples.record(
        "a", result="ok", last_success=last, now=start + timedelta(seconds=5)
    )
    assert samples.record(
        "a", result="error", last_success=last, now=start + timedelta(seconds=10)
    )
    assert samples.record("b", result="ok", last_success=None, now=start)
    found = samples.since(start - DAY)
    assert [(s.source, s.result, s.lag_seconds) for s in found] == [
        ("a", "ok", 0.0),
        ("b", "ok", None),
        ("a", "error", 10.0),
    ]
    later = start + timedelta(days=36)
    assert samples.record("a", result="ok", last_success=None, now=later)
    assert [(s.source, s.at) for s in samples.since(start - DAY)] == [("a", later)]
    # The chart reads the highest lag per hour.
    board = build(
        desk.service.engine,
        now=start + HOUR,
        samples=[*found],
        sources=[],
    )
    assert dict(board.sync_lag.table.rows)["01 Jun 00h"] == "10 s"


def test_an_empty_store_draws_an_empty_dashboard(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk()
    board = build(desk.service.engine, now=datetime.now(UTC), samples=[], sources=[])
    assert board.pending == 0 and board.oldest_pending_seconds is None
    assert board.decision_time.empty and board.sync_lag.empty
    assert board.by_source.empty  # no series: nothing to draw
    page = desk.sign_in("lea", Role.LEAD).get("/desk/dashboard")
    assert page.status_code == 200 and "No spike alerts yet." in page.text


def rows_read(engine: Engine, work: Callable[[], object]) -> int:
    """How many rows `work`'s queries on the matches table return (each
    statement run again afterwards, so the work itself reads them untouched)."""
    seen: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any
    ) -> None:
        if "FROM matches" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "after_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(engine, "after_cursor_execute", record)
    assert seen
    with engine.connect() as connection:
        return sum(len(connection.exec_driver_sql(s, p).all()) for s, p in seen)


def test_the_dashboard_counts_in_the_database(
    serve_desk: Callable[..., Desk],
) -> None:
    """Matches per day and the queue's ages are counted by the database: a
    busy month of matches is not read row by row."""
    desk = serve_desk()
    engine = desk.service.engine
    now = datetime(2026, 6, 30, 12, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(matches),
            [
                {
                    "created_at": now - timedelta(minutes=7 * n),
                    "kind": "pdq",
                    "program": "adult",
                    "value": "e" * 64,
                    "distance": 3,
                    "reference": "ref",
                    "state": ("auto_actioned", "pending")[n % 2],
                    "source": "default",
                }
                for n in range(600)  # about 3 days
            ],
        )
    add_match(engine, created=now - DAY, state="blocked", decided_after=600)
    boards: list[Any] = []
    read = rows_read(
        engine,
        lambda: boards.append(build(engine, now=now, samples=[], sources=[])),
    )
    assert read <= 10, read  # 3–4 days of one program and source; one decision
    board = boards[0]
    assert board.pending == 300
    by_program = {row[0]: row[-1] for row in board.by_program.table.rows}
    assert int(by_program["30 Jun"]) + int(by_program["29 Jun"]) > 200
    assert sum(int(n) for n in dict(board.queue_age.table.rows).values()) == 300
    assert dict(board.decision_time.table.rows) == {"29 Jun": "10 min"}
