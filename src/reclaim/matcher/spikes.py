"""Spike alerts on the store: count each rule's matches, fire once per window.

Windows are aligned to the clock (a 60-minute window runs from one full hour
to the next, counted from the Unix epoch), so one rule fires at most once per
window however often it is checked. The current window counts the matches
found since it began (so a spike fires as soon as it crosses the rule, not
when the window ends); its baseline is the `rule.baseline_windows` whole
windows before it. Each rule's windows are counted by the database (one
indexed range on created_at, GROUP BY window: see buckets.py), never row by
row in Python. `alerts.evaluate` decides; a rule that fires gets one row
in `desk_alerts` (unique per rule and window) and, with webhooks on, one
`alert.spike` webhook in the same transaction. Neither holds a hash value or
a content reference: only the rule, the counts and a message.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, func, insert, literal_column, select
from sqlalchemy.exc import IntegrityError

from reclaim.matcher.alerts import Spike, SpikeRule, evaluate
from reclaim.matcher.buckets import bucket
from reclaim.matcher.desk.tables import alerts as alerts_table
from reclaim.matcher.outbox import WEBHOOK, enqueue
from reclaim.matcher.tables import matches
from reclaim.matcher.times import aware, iso

logger = logging.getLogger(__name__)

EVENT = "alert.spike"


@dataclass(frozen=True, slots=True)
class Fired:
    """A rule that fired for a window (and was recorded, once)."""

    rule: SpikeRule
    window_start: datetime
    spike: Spike


@dataclass(frozen=True, slots=True)
class Alert:
    """One recorded alert, as the dashboard lists it."""

    id: int
    rule: str
    window_start: datetime
    fired_at: datetime
    count: int
    baseline: float
    message: str


def window_start(now: datetime, minutes: int) -> datetime:
    """The start of the clock-aligned window of `minutes` that holds `now`."""
    size = minutes * 60
    return datetime.fromtimestamp(math.floor(now.timestamp() / size) * size, UTC)


class SpikeWatch:
    """The configured rules, checked against the matches in the store."""

    def __init__(
        self, engine: Engine, rules: Sequence[SpikeRule], *, webhooks: bool
    ) -> None:
        self.engine = engine
        self.rules = tuple(rules)
        self.webhooks = webhooks

    def check(self, now: datetime | None = None) -> list[Fired]:
        """Evaluate every rule at `now` (default: the current time); record and
        announce each spike not already recorded for its window."""
        if not self.rules:
            return []
        moment = now or datetime.now(UTC)
        starts = {
            rule.name: window_start(moment, rule.window_minutes) for rule in self.rules
        }
        fired: list[Fired] = []
        for rule in self.rules:
            start = starts[rule.name]
            current, baseline = self._counts(rule, start, moment)
            spike = evaluate(rule, window_count=current, baseline_counts=baseline)
            if spike is not None and self._record(rule, start, spike, moment):
                fired.append(Fired(rule, start, spike))
        return fired

    def _counts(
        self, rule: SpikeRule, start: datetime, now: datetime
    ) -> tuple[int, list[int]]:
        """The rule's count in the window from `start` to `now`, and in each
        baseline window (0: the one just before), counted in SQL."""
        query = counts_query(rule, start, now, dialect=self.engine.dialect.name)
        with self.engine.connect() as connection:
            counts = {int(b): int(n) for b, n in connection.execute(query)}
        windows = rule.baseline_windows
        current = sum(n for b, n in counts.items() if b >= windows)
        return current, [counts.get(windows - 1 - back, 0) for back in range(windows)]

    def _record(
        self, rule: SpikeRule, start: datetime, spike: Spike, now: datetime
    ) -> bool:
        """Insert the alert and its webhook; False when this window's is in."""
        try:
            with self.engine.begin() as connection:
                seen = connection.execute(
                    select(alerts_table.c.id).where(
                        alerts_table.c.rule == rule.name,
                        alerts_table.c.window_start == start,
                    )
                ).first()
                if seen is not None:
                    return False
                alert_id = connection.execute(
                    insert(alerts_table)
                    .values(
                        rule=rule.name,
                        window_start=start,
                        fired_at=now,
                        count=spike.window_count,
                        baseline=spike.baseline,
                        message=spike.message,
                    )
                    .returning(alerts_table.c.id)
                ).scalar_one()
                if self.webhooks:
                    enqueue(connection, WEBHOOK, payload(alert_id, rule, start, spike))
        except IntegrityError:  # another process recorded it first
            return False
        logger.warning("spike alert %s: %s", rule.name, spike.message)
        return True


def payload(
    alert_id: int, rule: SpikeRule, start: datetime, spike: Spike
) -> dict[str, Any]:
    """The `alert.spike` webhook's body: the rule, the counts and the message."""
    return {
        "event": EVENT,
        "alert": {
            "id": alert_id,
            "rule": rule.name,
            "program": rule.program,
            "source": rule.source,
            "window_start": iso(start),
            "window_minutes": rule.window_minutes,
            "baseline_days": rule.baseline_days,
            "count": spike.window_count,
            "baseline": spike.baseline,
            "factor": round(spike.factor, 2),
            "rule_factor": rule.factor,
            "min_matches": rule.min_matches,
            "message": spike.message,
        },
    }


def recent(engine: Engine, *, limit: int = 20) -> list[Alert]:
    """The latest recorded alerts, newest first."""
    query = select(alerts_table).order_by(alerts_table.c.id.desc()).limit(limit)
    with engine.connect() as connection:
        return [
            Alert(
                row["id"],
                row["rule"],
                aware(row["window_start"]),
                aware(row["fired_at"]),
                row["count"],  # not row.count: that is the tuple's method
                row["baseline"],
                row["message"],
            )
            for row in connection.execute(query).mappings()
        ]


def counts_query(
    rule: SpikeRule, start: datetime, now: datetime, *, dialect: str
) -> Select[tuple[Any, int]]:
    """(window, matches) of the rule's matches in [first baseline window, now]:
    window 0 is the oldest baseline window, `rule.baseline_windows` the
    current one. A range on created_at (its index), grouped in the database."""
    size = rule.window_minutes * 60
    earliest = start - timedelta(seconds=size * rule.baseline_windows)
    window = bucket(
        matches.c.created_at, dialect=dialect, origin=earliest, seconds=size
    ).label("slot")
    query = select(window, func.count()).where(
        matches.c.created_at >= earliest, matches.c.created_at <= now
    )
    if rule.program is not None:
        query = query.where(matches.c.program == rule.program)
    if rule.source is not None:
        query = query.where(matches.c.source == rule.source)
    return query.group_by(literal_column("slot"))
