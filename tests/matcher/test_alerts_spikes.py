"""Spike alerts end to end: matches in the store, the rule, desk_alerts and a
real webhook receiver (the issue's "a simulated spike raises its alert")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.desk.tables import alerts as alerts_table
from reclaim.matcher.errors import ConfigError
from reclaim.matcher.service import MatcherService
from reclaim.matcher.spikes import counts_query, recent, window_start
from reclaim.matcher.tables import matches
from tests.conftest import postgres_database
from tests.matcher.receiver import Receiver, webhook_receiver

SECRET = "spike-secret-0123456789"
NOW = datetime(2026, 6, 10, 12, 30, tzinfo=UTC)
RULE = {
    "name": "adult-spike",
    "program": "adult",
    "window_minutes": 60,
    "baseline_days": 2,
    "factor": 3,
    "min_matches": 5,
}


def add_matches(
    service: MatcherService, times: list[datetime], *, program: str = "adult"
) -> None:
    """Matches found at these times (rows as the review queue writes them)."""
    with service.engine.begin() as connection:
        for at in times:
            connection.execute(
                insert(matches).values(
                    created_at=at,
                    kind="pdq",
                    program=program,
                    value="f" * 64,
                    distance=4,
                    reference="post-1",
                    state="pending",
                    source="default",
                )
            )


def steady(hours: int, per_hour: int) -> list[datetime]:
    """`per_hour` matches in each of the `hours` whole hours before NOW's."""
    start = window_start(NOW, 60)
    return [
        start - timedelta(hours=h) + timedelta(minutes=5 + 10 * n)
        for h in range(1, hours + 1)
        for n in range(per_hour)
    ]


def with_alerts(
    base: MatcherConfig, alerts: Any, **sections: dict[str, Any]
) -> MatcherConfig:
    """`base`'s source and store with these `[[alerts]]` and sections."""
    return MatcherConfig.from_mapping(
        {
            "source": {"url": base.source.url, "api_key": base.source.api_key},
            "store": {"url": base.store_url},
            "alerts": alerts,
            **sections,
        }
    )


@pytest.fixture
def spiky(
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
) -> Iterator[Callable[..., tuple[MatcherService, Receiver]]]:
    """A matcher with one spike rule (RULE, overridden) and a webhook receiver."""
    receivers: list[Any] = []

    def make(**rule: Any) -> tuple[MatcherService, Receiver]:
        receiver = webhook_receiver(SECRET)
        seen = receiver.__enter__()
        receivers.append(receiver)
        config = with_alerts(
            make_config(),
            [{**RULE, **rule}],
            webhook={"url": seen.url, "secret": SECRET},
        )
        return make_service(config), seen

    yield make
    for receiver in receivers:
        receiver.__exit__(None, None, None)


def test_a_simulated_spike_raises_its_alert_once(
    spiky: Callable[..., tuple[MatcherService, Receiver]],
) -> None:
    service, receiver = spiky()
    add_matches(service, steady(48, 2))  # two an hour for two days
    add_matches(service, steady(48, 1), program="minor")  # another program
    # The burst: 12 matches in the current hour, 6× the baseline of 2.
    add_matches(service, [NOW - timedelta(minutes=n) for n in range(12)])
    fired = service.check_alerts(NOW)
    assert [f.rule.name for f in fired] == ["adult-spike"]
    assert fired[0].spike.window_count == 12 and fired[0].spike.baseline == 2.0
    # Checked again in the same window (more matches or not): no second alert.
    add_matches(service, [NOW + timedelta(minutes=1)])
    assert service.check_alerts(NOW + timedelta(minutes=2)) == []
    service.deliver()
    events = [d for d in receiver.deliveries if d["event"] == "alert.spike"]
    assert len(events) == 1
    alert = events[0]["alert"]
    assert alert["rule"] == "adult-spike" and alert["count"] == 12
    assert alert["baseline"] == 2.0 and alert["factor"] == 6.0
    assert alert["window_start"] == "2026-06-10T12:00:00Z"
    assert alert["message"] == (
        "matches in program adult jumped to 12 in 60 min, 6.0× the 2-day "
        "baseline of 2.0"
    )
    # No hash value and no content reference leave with it.
    assert "f" * 64 not in str(events[0]) and "post-1" not in str(events[0])
    listed = recent(service.engine)
    assert [(a.rule, a.count) for a in listed] == [("adult-spike", 12)]
    scraped = service.metrics.render().decode()
    assert 'reclaim_matcher_spike_alerts_total{rule="adult-spike"} 1.0' in scraped


def test_a_steady_rate_raises_none(
    spiky: Callable[..., tuple[MatcherService, Receiver]],
) -> None:
    service, receiver = spiky()
    add_matches(service, steady(48, 6))
    add_matches(service, [NOW - timedelta(minutes=n) for n in range(6)])
    # Another program's burst is not this rule's.
    add_matches(
        service, [NOW - timedelta(minutes=n) for n in range(40)], program="minor"
    )
    assert service.check_alerts(NOW) == []
    service.deliver()
    assert receiver.deliveries == []
    with service.engine.connect() as connection:
        assert connection.execute(select(alerts_table)).all() == []


def test_a_quiet_history_needs_min_matches(
    spiky: Callable[..., tuple[MatcherService, Receiver]],
) -> None:
    service, receiver = spiky(program=None, min_matches=8)
    add_matches(service, [NOW - timedelta(minutes=n) for n in range(7)])
    assert service.check_alerts(NOW) == []  # 7 < min_matches, baseline 0
    add_matches(service, [NOW])
    (fired,) = service.check_alerts(NOW)
    assert fired.spike.baseline == 0.0 and fired.spike.window_count == 8
    # The next window starts afresh: it can fire again, once.
    later = NOW + timedelta(hours=1)
    add_matches(service, [later - timedelta(minutes=n) for n in range(20)])
    assert len(service.check_alerts(later)) == 1
    assert service.check_alerts(later) == []
    service.deliver()
    assert [d["alert"]["count"] for d in receiver.deliveries] == [8, 20]


def test_alert_rules_in_the_config_are_checked(
    make_config: Callable[..., MatcherConfig],
) -> None:
    base = make_config()
    assert with_alerts(base, [RULE]).alerts[0].program == "adult"
    with pytest.raises(ConfigError, match=r"\[\[alerts\]\] #1 has no name"):
        with_alerts(base, [{"factor": 3}])
    with pytest.raises(ConfigError, match=r"window_minutes = 0 is not valid"):
        with_alerts(base, [{"name": "a", "window_minutes": 0}])
    with pytest.raises(ConfigError, match="expected one or more"):
        with_alerts(base, {"name": "a"})


@pytest.fixture(params=["sqlite", "postgres"])
def store_service(
    request: pytest.FixtureRequest,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
) -> Iterator[MatcherService]:
    """A matcher with RULE on SQLite, then on PostgreSQL (127.0.0.1)."""
    base = make_config()
    if request.param == "sqlite":
        yield make_service(with_alerts(base, [RULE]))
        return
    with postgres_database() as url:
        config = MatcherConfig.from_mapping(
            {
                "source": {"url": base.source.url, "api_key": base.source.api_key},
                "store": {"url": url},
                "alerts": [RULE],
            }
        )
        service = make_service(config)
        yield service
        service.close()  # before the database is dropped


def test_windows_are_counted_in_the_database_to_the_microsecond(
    store_service: MatcherService,
) -> None:
    service = store_service
    rule = service.spikes.rules[0]
    start = window_start(NOW, 60)
    earliest = start - timedelta(hours=rule.baseline_windows)
    tick = timedelta(microseconds=1)
    add_matches(
        service,
        [
            earliest - tick,  # before the oldest baseline window: not counted
            earliest,  # the first moment of window 0
            start - timedelta(hours=1) + tick,  # the window just before
            start - tick,  # its last moment
            start,  # the current window's first
            NOW,  # and now
        ],
    )
    add_matches(service, [start, start + tick], program="minor")  # another rule's
    add_matches(service, [NOW + tick])  # the future of `NOW`
    query = counts_query(rule, start, NOW, dialect=service.engine.dialect.name)
    with service.engine.connect() as connection:
        counts = {int(w): n for w, n in connection.execute(query)}
    assert counts == {0: 1, rule.baseline_windows - 1: 2, rule.baseline_windows: 2}


def test_a_check_reads_counts_per_window_not_every_match(
    spiky: Callable[..., tuple[MatcherService, Receiver]],
) -> None:
    """A busy platform's week of matches stays in the database: each rule's
    check reads one row per window that had any, through created_at's index."""
    service, _ = spiky()
    add_matches(service, steady(48, 6))  # 288 matches
    add_matches(service, [NOW - timedelta(minutes=n) for n in range(30)])
    seen: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any
    ) -> None:
        if "FROM matches" in statement:
            seen.append((statement, parameters))

    event.listen(service.engine, "after_cursor_execute", record)
    try:
        (fired,) = service.check_alerts(NOW)
    finally:
        event.remove(service.engine, "after_cursor_execute", record)
    assert fired.spike.window_count == 30 and fired.spike.baseline == 6.0
    assert len(seen) == 1, seen
    statement, parameters = seen[0]
    assert "GROUP BY" in statement and "count(" in statement
    with service.engine.connect() as connection:
        rows = connection.exec_driver_sql(statement, parameters).all()
    assert len(rows) == 49  # 48 baseline windows and the current one
    rule = service.spikes.rules[0]
    query = counts_query(rule, window_start(NOW, 60), NOW, dialect="sqlite")
    compiled = query.compile(
        dialect=service.engine.dialect, compile_kwargs={"literal_binds": True}
    )
    with service.engine.connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
        )
    assert "ix_matches_created_at" in plan, plan
