"""Lists of removal requests, a page at a time, and the desk's counts.

Open requests (received, valid) come first, by deadline (overdue first);
closed ones (invalid, removed, rejected) after them, newest first. Pages
are taken in the database (`limit`, `offset`), and the counts the desk's
banner shows are COUNT queries, so neither is cut short by a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select

from reclaim.matcher.removals import tables
from reclaim.matcher.removals.ledger import StoreBase, load
from reclaim.matcher.removals.model import CLOSED, OPEN, RemovalRequest, State

#: Which requests a list shows: open ones, closed ones, or every one.
VIEWS = ("open", "closed", "all")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its requests, how many there are in all, and
    the offset of the next page (None: this is the last)."""

    requests: list[RemovalRequest]
    total: int
    offset: int
    next_offset: int | None


@dataclass(frozen=True, slots=True)
class Counts:
    """What the desk's banner says: requests overdue, due within the
    reminder hours, and complete ones waiting for a lead to check."""

    overdue: int
    due_soon: int
    waiting: int


class Listing(StoreBase):
    """Reading requests a page at a time."""

    def listed(
        self,
        *,
        view: str = "all",
        state: str | None = None,
        due_within_hours: float | None = None,
        now: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page:
        """A page of requests: open ones first by deadline (overdue first),
        then the closed, newest first."""
        column = tables.requests.c
        opened = column.state.in_([s.value for s in OPEN])
        where: list[ColumnElement[bool]] = []
        if view == "open":
            where.append(opened)
        elif view == "closed":
            where.append(column.state.in_([s.value for s in CLOSED]))
        if state:
            where.append(column.state == State(state).value)
        if due_within_hours is not None:
            moment = (now or datetime.now(UTC)) + timedelta(hours=due_within_hours)
            where.extend([opened, column.deadline <= moment])
        query = (
            select(tables.requests)
            .where(*where)
            .order_by(
                case((opened, 0), else_=1),
                case((opened, column.deadline), else_=None),
                column.received_at.desc(),
                column.id.desc(),
            )
        )
        with self.engine.connect() as connection:
            total = connection.execute(
                select(func.count()).select_from(tables.requests).where(*where)
            ).scalar_one()
            rows = connection.execute(query.limit(limit).offset(offset)).all()
            found = [load(connection, row, personal=False) for row in rows]
        after = offset + len(found)
        return Page(found, int(total), offset, after if after < total else None)

    def counts(self, *, now: datetime | None = None) -> Counts:
        """The banner's numbers, over every open request."""
        moment = now or datetime.now(UTC)
        soon = moment + timedelta(hours=self.config.remind_hours)
        column = tables.requests.c
        opened = column.state.in_([s.value for s in OPEN])
        with self.engine.connect() as connection:
            overdue, due, waiting = connection.execute(
                select(
                    func.count().filter(opened, column.deadline <= moment),
                    func.count().filter(
                        opened, column.deadline > moment, column.deadline <= soon
                    ),
                    func.count().filter(column.state == State.RECEIVED.value),
                ).select_from(tables.requests)
            ).one()
        return Counts(int(overdue), int(due), int(waiting))
