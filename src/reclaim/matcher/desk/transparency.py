"""The transparency report: requests, matches, removals and time to removal.

Definitions (docs/desk.md repeats them for readers of the CSV):

- The period is [start, end): matches by when they were found (`created_at`),
  removal requests by when they were received (`received_at`). Every count is
  of those, in their state now.
- Requests: `received` counts every request received in the period;
  `waiting` (stored state `received`: complete, not yet judged by a lead),
  `valid`, `invalid`, `removed` and `rejected` count how many of them are now
  in that state, so the five add up to `received`.
- Matches: every match found, and how many are now pending, auto-actioned,
  blocked (a moderator confirmed and removed it), not blocked, or withdrawn.
- Removals: auto-actioned plus blocked matches, and removed requests.
- Time to removal: a blocked match's from found to decided (`decided_at`);
  an auto-actioned match's is 0 s (it was removed as it was matched, and
  counting it shows what the people depicted wait for); a request's from
  received to removed (`closed_at`, else `decided_at`). The median is the
  middle value (the mean of the middle two for an even count); p95 is the
  nearest rank: the ceil(0.95 n)-th smallest value.
- Rows: matches by program (source "*"), by source (program "*"), and all
  matches (both "*"); removal requests (source "notice": requests carry no
  program); and "all" (every removal, matches and requests together).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, func, select

from reclaim.matcher.errors import QueryError
from reclaim.matcher.removals.tables import requests as removal_requests
from reclaim.matcher.tables import matches
from reclaim.matcher.times import aware, iso

#: Everything a group is counted over.
ALL = "*"
#: The source of removal requests in the report (Art. 16 notices in DSA terms).
NOTICE = "notice"
DEFAULT_DAYS = 30
MAX_DAYS = 3660
#: The times a period may reach: far enough from Python's limits (years 1 and
#: 9999) that a default start or an inclusive day never overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
MATCH_STATES = ("pending", "auto_actioned", "blocked", "not_blocked", "withdrawn")
#: Where the requests received stand now, by the report's names: every
#: stored state is one of them, so they add up to the requests received.
REQUEST_STATES = ("waiting", "valid", "invalid", "removed", "rejected")
#: Stored states the report names otherwise: `received` would read as the
#: total, so a request no lead has judged yet is `waiting`.
_REPORTED_AS = {"received": "waiting"}
#: The CSV's columns, in order.
HEADER = (
    "period_start",
    "period_end",
    "kind",
    "program",
    "source",
    "requests_received",
    "requests_waiting",
    "requests_valid",
    "requests_invalid",
    "requests_removed",
    "requests_rejected",
    "matches",
    "matches_pending",
    "matches_auto_actioned",
    "matches_blocked",
    "matches_not_blocked",
    "matches_withdrawn",
    "removals",
    "median_seconds_to_removal",
    "p95_seconds_to_removal",
)


@dataclass(frozen=True, slots=True)
class Period:
    """A stretch of time, [start, end), in UTC."""

    start: datetime
    end: datetime

    @classmethod
    def parse(
        cls, start: str | None, end: str | None, *, now: datetime | None = None
    ) -> Period:
        """From `from`/`to` query values: dates (YYYY-MM-DD, `to` inclusive)
        or ISO 8601 times (UTC when no offset); by default the last 30 days.
        QueryError names a value that is not one."""
        moment = now or datetime.now(UTC).replace(microsecond=0)
        finish = _moment(end, "to", inclusive=True) if end else moment
        begin = (
            _moment(start, "from", inclusive=False)
            if start
            else finish - timedelta(days=DEFAULT_DAYS)
        )
        if begin >= finish:
            raise QueryError(
                f"the period from {begin.isoformat()} to {finish.isoformat()} is "
                "empty: expected 'from' before 'to'; swap or widen them"
            )
        if finish - begin > timedelta(days=MAX_DAYS):
            raise QueryError(
                f"a period of {(finish - begin).days} days is too long: at most "
                f"{MAX_DAYS}; ask for a shorter one"
            )
        return cls(begin, finish)

    @property
    def first_day(self) -> date:
        """The first day in the period (for a date field)."""
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last day in the period (for an inclusive date field)."""
        return (self.end - timedelta(microseconds=1)).date()


@dataclass(slots=True)
class Row:
    """One line of the report (see the module docstring for each count)."""

    kind: str
    program: str = ALL
    source: str = ALL
    requests: dict[str, int] = field(default_factory=dict)
    matches: dict[str, int] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    #: Removals that took 0 s (auto-actioned matches): counted, not listed.
    instant: int = 0

    @property
    def received(self) -> int:
        """Requests received (all states)."""
        return sum(self.requests.values())

    @property
    def found(self) -> int:
        """Matches found (all states)."""
        return sum(self.matches.values())

    @property
    def removals(self) -> int:
        """Removals: one per time to removal."""
        return self.instant + len(self.times)

    @property
    def median(self) -> float | None:
        """Median seconds to removal (None: no removals)."""
        count = self.removals
        if not count:
            return None
        ordered = sorted(self.times)
        return (
            self._nth(ordered, (count - 1) // 2) + self._nth(ordered, count // 2)
        ) / 2

    @property
    def p95(self) -> float | None:
        """95th percentile seconds to removal, nearest rank (None: none)."""
        count = self.removals
        if not count:
            return None
        return self._nth(sorted(self.times), max(1, math.ceil(0.95 * count)) - 1)

    def _nth(self, ordered: Sequence[float], index: int) -> float:
        """The index-th smallest time, the `instant` zeros first."""
        return 0.0 if index < self.instant else ordered[index - self.instant]


@dataclass(frozen=True, slots=True)
class Report:
    """The report of one period: its rows in a fixed order."""

    period: Period
    rows: tuple[Row, ...]

    def only(self, kind: str, *, program: str = ALL, source: str = ALL) -> Row:
        """The row of one group; KeyError if the report has none."""
        for row in self.rows:
            if (row.kind, row.program, row.source) == (kind, program, source):
                return row
        raise KeyError((kind, program, source))

    def by_program(self) -> list[Row]:
        """The match rows of each program."""
        return [
            r
            for r in self.rows
            if r.kind == "matches" and r.program != ALL and r.source == ALL
        ]

    def by_source(self) -> list[Row]:
        """The match rows of each source."""
        return [
            r
            for r in self.rows
            if r.kind == "matches" and r.source != ALL and r.program == ALL
        ]

    def csv(self) -> str:
        """The report as CSV: `HEADER`, then a line per row."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        start, end = iso(self.period.start), iso(self.period.end)
        for row in self.rows:
            writer.writerow(
                [
                    start,
                    end,
                    row.kind,
                    row.program,
                    row.source,
                    row.received,
                    *(row.requests.get(s, 0) for s in REQUEST_STATES),
                    row.found,
                    *(row.matches.get(s, 0) for s in MATCH_STATES),
                    row.removals,
                    _seconds(row.median),
                    _seconds(row.p95),
                ]
            )
        return out.getvalue()


def percentile(values: Sequence[float], rank: float) -> float | None:
    """The nearest-rank percentile: the ceil(rank/100 · n)-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(rank / 100 * len(ordered))) - 1]


def build(engine: Engine, period: Period) -> Report:
    """The report of `period`, read from the store."""
    by_program: dict[str, Row] = {}
    by_source: dict[str, Row] = {}
    found = Row("matches")
    requests = Row("requests", source=NOTICE)
    for state, program, source, count in _match_counts(engine, period):
        source = source or "unknown"  # rows from before the desk
        for row in (
            found,
            by_program.setdefault(program, Row("matches", program=program)),
            by_source.setdefault(source, Row("matches", source=source)),
        ):
            row.matches[state] = row.matches.get(state, 0) + count
            if state == "auto_actioned":
                row.instant += count  # removed as matched: 0 s each
    for created, decided, program, source in _blocked(engine, period):
        seconds = max(0.0, (decided - created).total_seconds())
        by_program[program].times.append(seconds)
        by_source[source or "unknown"].times.append(seconds)
        found.times.append(seconds)
    for stored, received, removed in _requests(engine, period):
        state = _REPORTED_AS.get(stored, stored)
        requests.requests[state] = requests.requests.get(state, 0) + 1
        if state == "removed":
            requests.times.append(max(0.0, (removed - received).total_seconds()))
    everything = Row("all", times=found.times + requests.times, instant=found.instant)
    everything.requests = dict(requests.requests)
    everything.matches = dict(found.matches)
    rows = [
        *(by_program[name] for name in sorted(by_program)),
        *(by_source[name] for name in sorted(by_source)),
        found,
        requests,
        everything,
    ]
    return Report(period, tuple(rows))


def _match_counts(
    engine: Engine, period: Period
) -> Iterable[tuple[str, str, str, int]]:
    """(state, program, source, matches) found in the period, counted by the
    database on created_at's index."""
    query = (
        select(matches.c.state, matches.c.program, matches.c.source, func.count())
        .where(matches.c.created_at >= period.start, matches.c.created_at < period.end)
        .group_by(matches.c.state, matches.c.program, matches.c.source)
    )
    with engine.connect() as connection:
        for state, program, source, count in connection.execute(query):
            yield state, program, source, int(count)


def _blocked(
    engine: Engine, period: Period
) -> Iterable[tuple[datetime, datetime, str, str]]:
    """(found, decided, program, source) of blocked matches found in the
    period: as many as moderators decide, read for their median and p95."""
    query = select(
        matches.c.created_at,
        matches.c.decided_at,
        matches.c.program,
        matches.c.source,
    ).where(
        matches.c.created_at >= period.start,
        matches.c.created_at < period.end,
        matches.c.state == "blocked",
        matches.c.decided_at.is_not(None),
    )
    with engine.connect() as connection:
        for row in connection.execute(query):
            yield (
                aware(row.created_at),
                aware(row.decided_at),
                row.program,
                row.source,
            )


def _requests(
    engine: Engine, period: Period
) -> Iterable[tuple[str, datetime, datetime]]:
    """(state, received, when it was removed: closed, else decided, else
    received) of each request received in the period."""
    table = removal_requests
    query = select(
        table.c.state, table.c.received_at, table.c.decided_at, table.c.closed_at
    ).where(table.c.received_at >= period.start, table.c.received_at < period.end)
    with engine.connect() as connection:
        for row in connection.execute(query):
            received = aware(row.received_at)
            done = row.closed_at or row.decided_at
            yield row.state, received, aware(done) if done else received


def _moment(text: str, name: str, *, inclusive: bool) -> datetime:
    """A query value as a UTC time: a date's start (or the next day's, for an
    inclusive end), or an ISO 8601 time."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if inclusive:
                day += timedelta(days=1)
            moment = datetime.combine(day, time(), UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo:
                moment = moment.astimezone(UTC)
            else:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise QueryError(
            f"{name} = {value[:40]!r} is not a date: expected YYYY-MM-DD or an "
            "ISO 8601 time such as 2026-06-01T00:00:00Z"
        ) from None
    except OverflowError:  # past 9999-12-31 or before 0001-01-01, in UTC
        raise _out_of_range(name, value) from None
    if not EARLIEST <= moment <= LATEST:
        raise _out_of_range(name, value)
    return moment


def _out_of_range(name: str, value: str) -> QueryError:
    return QueryError(
        f"{name} = {value[:40]!r} is out of range: expected a time from "
        f"{EARLIEST.date()} to {LATEST.date()}; ask for a period within them"
    )


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"
