"""Statements of reasons for the EU Transparency Database, one per removal.

Which decisions become statements, and how (docs/desk.md repeats it):

- a match a moderator blocked: puid `match-<id>`, source voluntary (the
  platform's own hash matching), automated detection Yes, automated decision
  PARTIALLY (the match proposed it, a person confirmed it), decided when the
  moderator decided; decisions still inside the desk's undo window wait;
- a match the policy auto-actioned: as above, automated decision FULLY,
  decided when it was matched;
- a removal request closed as removed: puid `request-<public_id>`, source
  Article 16 notice, automated detection No and decision NOT_AUTOMATED (a
  moderator checked the request), decided when it was closed.

The ground is the platform's terms (DECISION_GROUND_INCOMPATIBLE_CONTENT,
texts from `[dsa]`): the content breaks them wherever it is seen, while the
law that makes it illegal differs by Member State. Statements name no person,
file, hash or content reference (`content_id` is optional and left out); a
match's content date is when the upload was matched (a catalog match's is
not known, so the decision date stands in).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from reclaim.matcher import dsa
from reclaim.matcher.removals.tables import requests as removal_requests
from reclaim.matcher.tables import matches

PAGE = dsa.MAX_BATCH
_CONTENT: dict[str, dsa.ContentType] = {"pdq": "image", "vpdq": "video"}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of statements (at most `PAGE`), and how many pages there are."""

    statements: tuple[dict[str, Any], ...]
    number: int
    pages: int
    total: int

    def body(self) -> dict[str, Any]:
        """The body for the API's multiple endpoint: {"statements": [...]}."""
        if not self.statements:
            return {"statements": []}
        return dsa.batch(self.statements)


class Statements:
    """The statements of removals decided in [since, until)."""

    def __init__(
        self,
        engine: Engine,
        config: dsa.DsaConfig,
        *,
        hold_seconds: float = 0.0,
        now: datetime | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        moment = now or datetime.now(UTC)
        # A desk decision can be undone for hold_seconds: not final before.
        self.settled = moment - timedelta(seconds=hold_seconds)

    def page(self, since: datetime, until: datetime, number: int) -> Page:
        """Page `number` (from 1): matches first, then requests, each by id."""
        matched = self._count_matches(since, until)
        removed = self._removed(since, until)
        total = matched + len(removed)
        first = (number - 1) * PAGE
        chosen: list[dict[str, Any]] = []
        if first < matched:
            chosen += self._matches(since, until, offset=first, limit=PAGE)
        skip = max(0, first - matched)
        chosen += map(self._request, removed[skip : skip + PAGE - len(chosen)])
        return Page(tuple(chosen), number, max(1, -(-total // PAGE)), total)

    # ---- matches -----------------------------------------------------------

    def _match_filter(self, since: datetime, until: datetime) -> Any:
        blocked_until = min(until, self.settled)
        return or_(
            and_(
                matches.c.state == "auto_actioned",
                matches.c.created_at >= since,
                matches.c.created_at < until,
            ),
            and_(
                matches.c.state == "blocked",
                matches.c.decided_at >= since,
                matches.c.decided_at < blocked_until,
            ),
        )

    def _count_matches(self, since: datetime, until: datetime) -> int:
        query = select(func.count()).where(self._match_filter(since, until))
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def _matches(
        self, since: datetime, until: datetime, *, offset: int, limit: int
    ) -> Iterator[dict[str, Any]]:
        query = (
            select(
                matches.c.id,
                matches.c.state,
                matches.c.kind,
                matches.c.created_at,
                matches.c.decided_at,
                matches.c.origin,
            )
            .where(self._match_filter(since, until))
            .order_by(matches.c.id)
            .offset(offset)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        for row in rows:
            created = _aware(row.created_at)
            auto = row.state == "auto_actioned"
            decided = created if auto else _aware(row.decided_at)
            yield dsa.statement(
                dsa.StatementInput(
                    puid=f"match-{row.id}",
                    decided_at=decided,
                    content_type=_CONTENT.get(row.kind),
                    automated_detection=True,
                    automated_decision="fully" if auto else "partially",
                    source="voluntary",
                    content_date=created if row.origin == "upload" else None,
                ),
                self.config,
            )

    # ---- removal requests --------------------------------------------------

    def _removed(self, since: datetime, until: datetime) -> list[tuple[str, datetime]]:
        """(public id, when removed) of requests removed in the period, by id."""
        table = removal_requests
        query = (
            select(
                table.c.public_id,
                table.c.received_at,
                table.c.decided_at,
                table.c.closed_at,
            )
            .where(table.c.state == "removed")
            .order_by(table.c.id)
        )
        found: list[tuple[str, datetime]] = []
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                at = _aware(row.closed_at or row.decided_at or row.received_at)
                if since <= at < until:
                    found.append((row.public_id, at))
        return found

    def _request(self, removed: tuple[str, datetime]) -> dict[str, Any]:
        public_id, at = removed
        return dsa.statement(
            dsa.StatementInput(
                puid=f"request-{public_id}",
                decided_at=at,
                content_type=None,
                automated_detection=False,
                automated_decision="not",
                source="notice",
            ),
            self.config,
        )


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
