"""The operator's dashboard: matches per day, time to decision, the queue's
age, sync lag and spike alerts, as server-drawn charts with their numbers.

Every chart is of UTC days or hours, with zeros where nothing happened.
Time to decision is the median, per day of decision, of found-to-decided for
matches a moderator decided (blocked or not), among those found in the last
`DECISION_LOOKBACK_DAYS`. Sync lag is each source's highest lag per hour
(seconds since its last successful sync, sampled on sync attempts).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy import Engine, case, func, literal_column, select

from reclaim.matcher.buckets import bucket
from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.charts import (
    Chart,
    ChartSpec,
    Series,
    bar_chart,
    format_number,
    line_chart,
)
from reclaim.matcher.desk.sessions import DeskUser
from reclaim.matcher.spikes import Alert, recent
from reclaim.matcher.sync_samples import Sample
from reclaim.matcher.tables import matches
from reclaim.matcher.times import aware

if TYPE_CHECKING:
    from reclaim.matcher.desk.site import Desk

DAYS = 30
LAG_HOURS = 48
DECISION_LOOKBACK_DAYS = 90
#: Pending matches by age: (label, up to this many seconds old).
AGE_BUCKETS = (
    ("under 1 h", 3600.0),
    ("1–6 h", 6 * 3600.0),
    ("6–24 h", 86400.0),
    ("1–3 days", 3 * 86400.0),
    ("over 3 days", float("inf")),
)


@dataclass(frozen=True, slots=True)
class Dashboard:
    """What the dashboard page shows."""

    by_source: Chart
    by_program: Chart
    decision_time: Chart
    queue_age: Chart
    sync_lag: Chart
    oldest_pending_seconds: float | None
    pending: int
    sources: tuple[dict[str, Any], ...]
    alerts: tuple[Alert, ...]


def day_labels(now: datetime, days: int = DAYS) -> list[str]:
    """The last `days` UTC days, oldest first, as chart labels ("10 Jun")."""
    today = now.astimezone(UTC).date()
    return [_day(today - timedelta(days=n)) for n in range(days - 1, -1, -1)]


def build(
    engine: Engine,
    *,
    now: datetime,
    samples: Sequence[Sample],
    sources: Sequence[dict[str, Any]],
) -> Dashboard:
    """The dashboard as of `now`, from the store, the sync samples and the
    service's status of each source."""
    days = day_labels(now)
    start = now - timedelta(days=DAYS)
    per_source: dict[str, dict[str, float]] = defaultdict(dict)
    per_program: dict[str, dict[str, float]] = defaultdict(dict)
    for day, program, source, count in _per_day_counts(engine, now):
        label = _day(day)
        name = source or "unknown"
        per_source[name][label] = per_source[name].get(label, 0) + count
        per_program[program][label] = per_program[program].get(label, 0) + count
    waits: dict[str, list[float]] = defaultdict(list)
    for created, decided in _decisions(engine, now, since=start):
        waits[_day(decided.date())].append((decided - created).total_seconds())
    queue = _queue(engine, now)
    return Dashboard(
        by_source=_per_day(per_source, days, "Matches per day by source", "source"),
        by_program=_per_day(per_program, days, "Matches per day by program", "program"),
        decision_time=line_chart(
            [
                Series(
                    "Median time to decision",
                    tuple(
                        (d, statistics.median(waits[d])) for d in days if waits.get(d)
                    ),
                )
            ],
            spec=ChartSpec(
                title="Median time to decision per day",
                description="Moderators' decisions, from match to decision.",
                unit="seconds",
                x_label="Day of decision (UTC)",
                id="decision-time",
            ),
        ),
        queue_age=bar_chart(
            [Series("Pending matches", queue.ages)],
            spec=ChartSpec(
                title="Pending matches by age",
                description="How long the matches in the queue have waited.",
                x_label="Waiting for",
                id="queue-age",
            ),
        ),
        sync_lag=_sync_lag(samples, now),
        oldest_pending_seconds=queue.oldest,
        pending=queue.size,
        sources=tuple(sources),
        alerts=tuple(recent(engine, limit=20)),
    )


def install(desk: Desk) -> None:
    """`GET /desk/dashboard` (leads and admins)."""
    lead = Depends(desk.needs(Role.LEAD))

    @desk.router.get("/desk/dashboard")
    def dashboard_page(request: Request, user: DeskUser = lead) -> Response:
        service = desk.service
        now = datetime.now(UTC)
        status = service.status()
        sources = [{"name": name, **info} for name, info in status["sources"].items()]
        found = build(
            service.engine,
            now=now,
            samples=service.samples.since(now - timedelta(hours=LAG_HOURS)),
            sources=sources,
        )
        return desk.page(
            request,
            "dashboard.html",
            user=user,
            section="dashboard",
            board=found,
            seconds=duration,
        )


def duration(seconds: float) -> str:
    """A duration as the charts write it: 45 s, 3.5 min, 3.4 h, 2.5 d."""
    return format_number(seconds, unit="seconds")


def _per_day(
    counts: dict[str, dict[str, float]], days: list[str], title: str, what: str
) -> Chart:
    series = [
        Series(name, tuple((d, counts[name].get(d, 0.0)) for d in days))
        for name in sorted(counts)
    ]
    return bar_chart(
        series,
        spec=ChartSpec(
            title=title,
            description=f"Matches found in the last {DAYS} days, stacked by {what}.",
            x_label="Day (UTC)",
            id=f"per-day-{what}",
        ),
        stacked=True,
    )


def _sync_lag(samples: Sequence[Sample], now: datetime) -> Chart:
    first = (now - timedelta(hours=LAG_HOURS - 1)).replace(
        minute=0, second=0, microsecond=0
    )
    hours = [_hour(first + timedelta(hours=n)) for n in range(LAG_HOURS)]
    worst: dict[str, dict[str, float]] = defaultdict(dict)
    for sample in samples:
        if sample.lag_seconds is None:
            continue
        label = _hour(sample.at)
        known = worst[sample.source].get(label)
        if known is None or sample.lag_seconds > known:
            worst[sample.source][label] = sample.lag_seconds
    series = [
        Series(name, tuple((h, worst[name][h]) for h in hours if h in worst[name]))
        for name in sorted(worst)
    ]
    return line_chart(
        series,
        spec=ChartSpec(
            title=f"Sync lag per source, last {LAG_HOURS} hours",
            description=(
                "The highest time since each source's last successful sync, per hour."
            ),
            unit="seconds",
            x_label="Hour (UTC)",
            id="sync-lag",
        ),
    )


def _per_day_counts(
    engine: Engine, now: datetime
) -> Iterable[tuple[date, str, str, int]]:
    """(UTC day, program, source, matches) of the chart's days, counted by
    the database (GROUP BY day: buckets.py) on created_at's index."""
    first = datetime.combine(
        now.astimezone(UTC).date() - timedelta(days=DAYS - 1), time(), UTC
    )
    day = bucket(
        matches.c.created_at,
        dialect=engine.dialect.name,
        origin=first,
        seconds=86400,
    ).label("day_index")
    query = (
        select(day, matches.c.program, matches.c.source, func.count())
        .where(matches.c.created_at >= first, matches.c.created_at <= now)
        .group_by(literal_column("day_index"), matches.c.program, matches.c.source)
    )
    with engine.connect() as connection:
        for index, program, source, count in connection.execute(query):
            yield (first + timedelta(days=int(index))).date(), program, source, count


def _decisions(
    engine: Engine, now: datetime, *, since: datetime
) -> Iterable[tuple[datetime, datetime]]:
    """(found, decided) of moderators' decisions since `since` on matches
    found in the look-back: as many as people decide, so read one by one
    (a median is not an aggregate both SQLite and PostgreSQL have)."""
    query = select(matches.c.created_at, matches.c.decided_at).where(
        matches.c.state.in_(("blocked", "not_blocked")),
        matches.c.decided_at >= since,
        matches.c.created_at >= now - timedelta(days=DECISION_LOOKBACK_DAYS),
    )
    with engine.connect() as connection:
        for row in connection.execute(query):
            yield aware(row.created_at), aware(row.decided_at)


@dataclass(frozen=True, slots=True)
class _Queue:
    size: int
    oldest: float | None
    ages: tuple[tuple[str, float], ...]


def _queue(engine: Engine, now: datetime) -> _Queue:
    """The pending matches: how many, the oldest's age, and how many in each
    of AGE_BUCKETS, in one aggregate query (ix_matches_state)."""
    younger = [
        func.coalesce(func.sum(case((matches.c.created_at > now - limit, 1))), 0)
        for limit in (timedelta(seconds=limit) for _, limit in AGE_BUCKETS[:-1])
    ]
    query = select(func.count(), func.min(matches.c.created_at), *younger).where(
        matches.c.state == "pending"
    )
    with engine.connect() as connection:
        size, first, *within = connection.execute(query).one()
    cumulative = [int(n) for n in within] + [int(size)]
    counts = [
        n - before for before, n in zip([0, *cumulative[:-1]], cumulative, strict=True)
    ]
    return _Queue(
        int(size),
        None if first is None else max(0.0, (now - aware(first)).total_seconds()),
        tuple(
            (label, float(n)) for (label, _), n in zip(AGE_BUCKETS, counts, strict=True)
        ),
    )


def _day(value: Any) -> str:
    return f"{value.day} {value:%b}"


def _hour(value: datetime) -> str:
    return f"{value.astimezone(UTC):%d %b %H}h"
