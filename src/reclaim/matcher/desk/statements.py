"""Statements of reasons for the EU Transparency Database, one per removal.

Which decisions become statements, and how (docs/desk.md repeats it):

- a match a moderator blocked: puid `match-<id>`, source voluntary (the
  platform's own hash matching), automated detection Yes, automated decision
  PARTIALLY (the match proposed it, a person confirmed it), decided when the
  moderator decided; decisions still inside the desk's undo window, or
  within `SETTLE_SECONDS` past it, wait (see `Statements`);
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

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from reclaim.matcher import dsa
from reclaim.matcher.errors import QueryError
from reclaim.matcher.removals.tables import requests as removal_requests
from reclaim.matcher.tables import matches
from reclaim.matcher.times import aware

PAGE = dsa.MAX_BATCH
#: How long after the undo window an export waits before a decision counts:
#: a row's time is set before its transaction commits (a 500-match bulk
#: decision, a busy database), so without it a late commit could be timed
#: before an export's end yet be seen only after it, and the next export,
#: which starts at that end, would skip it.
SETTLE_SECONDS = 60.0
_CONTENT: dict[str, dsa.ContentType] = {"pdq": "image", "vpdq": "video"}
#: Statements come matches first ("m"), then removal requests ("r"), each by id.
MATCH, REQUEST = "m", "r"
_TOKEN = re.compile(r"([mr])([0-9]{1,18})")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the kind of its last statement and that row's id.
    Its token (`m123`, `r45`) is opaque to clients: they pass it back."""

    kind: str
    id: int

    @classmethod
    def parse(cls, token: str) -> Cursor:
        """From an `after` token; QueryError names one that is not."""
        found = _TOKEN.fullmatch(token)
        if found is None:
            raise QueryError(
                f"after = {token[:40]!r} is not a page token: pass back the "
                "`after` of the previous reply's Link header unchanged"
            )
        return cls(found[1], int(found[2]))

    def token(self) -> str:
        """The `after` value of the next page."""
        return f"{self.kind}{self.id}"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of statements (at most `PAGE`), how many the export has, and
    the cursor of the next page (None: this is the last)."""

    statements: tuple[dict[str, Any], ...]
    total: int
    next: Cursor | None

    def body(self) -> dict[str, Any]:
        """The body for the API's multiple endpoint: {"statements": [...]}."""
        if not self.statements:
            return {"statements": []}
        return dsa.batch(self.statements)


class Statements:
    """The statements of removals decided in [since, until), until no later
    than `settled`: `hold_seconds` (the undo window) and `SETTLE_SECONDS`
    before now, when decisions can no longer be undone and every transaction
    that timed a decision before it has committed."""

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
        # A desk decision can be undone for hold_seconds: not final before;
        # and it may commit a while after its time: wait SETTLE_SECONDS more.
        wait = max(hold_seconds, 0.0) + SETTLE_SECONDS
        self.settled = moment - timedelta(seconds=wait)

    def bound(self, until: datetime) -> datetime:
        """The end of an export asked to end at `until`: no later than what has
        settled. Every page of the export must use it, so that decisions that
        settle while it is paged through wait for the next export (which
        starts here) instead of shifting its pages."""
        return min(until, self.settled)

    def page(
        self, since: datetime, until: datetime, *, after: Cursor | None = None
    ) -> Page:
        """The page after `after` (None: the first) of [since, bound(until)):
        matches by id, then removal requests by id."""
        until = self.bound(until)
        chosen: list[tuple[Cursor, dict[str, Any]]] = []
        if after is None or after.kind == MATCH:
            start = after.id if after else 0
            chosen += self._matches(since, until, after=start, limit=PAGE + 1)
        if len(chosen) <= PAGE:
            start = after.id if after and after.kind == REQUEST else 0
            chosen += self._removed(
                since, until, after=start, limit=PAGE + 1 - len(chosen)
            )
        more = len(chosen) > PAGE
        chosen = chosen[:PAGE]
        with self.engine.connect() as connection:
            total = (
                connection.execute(
                    select(func.count()).where(self._match_filter(since, until))
                ).scalar_one()
                + connection.execute(
                    select(func.count()).where(self._request_filter(since, until))
                ).scalar_one()
            )
        return Page(
            tuple(statement for _, statement in chosen),
            int(total),
            chosen[-1][0] if more else None,
        )

    # ---- matches -----------------------------------------------------------

    def _match_filter(self, since: datetime, until: datetime) -> Any:
        return or_(
            and_(
                matches.c.state == "auto_actioned",
                matches.c.created_at >= since,
                matches.c.created_at < until,
            ),
            and_(
                matches.c.state == "blocked",
                matches.c.decided_at >= since,
                matches.c.decided_at < until,
            ),
        )

    def _matches(
        self, since: datetime, until: datetime, *, after: int, limit: int
    ) -> Iterator[tuple[Cursor, dict[str, Any]]]:
        query = (
            select(
                matches.c.id,
                matches.c.state,
                matches.c.kind,
                matches.c.created_at,
                matches.c.decided_at,
                matches.c.origin,
            )
            .where(self._match_filter(since, until), matches.c.id > after)
            .order_by(matches.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        for row in rows:
            created = aware(row.created_at)
            auto = row.state == "auto_actioned"
            decided = created if auto else aware(row.decided_at)
            yield (
                Cursor(MATCH, row.id),
                dsa.statement(
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
                ),
            )

    # ---- removal requests --------------------------------------------------

    def _request_filter(self, since: datetime, until: datetime) -> Any:
        table = removal_requests
        # When it was removed: closed, else decided, else received.
        removed = func.coalesce(
            table.c.closed_at, table.c.decided_at, table.c.received_at
        )
        return and_(table.c.state == "removed", removed >= since, removed < until)

    def _removed(
        self, since: datetime, until: datetime, *, after: int, limit: int
    ) -> Iterator[tuple[Cursor, dict[str, Any]]]:
        """Statements of requests removed in the period, by id."""
        table = removal_requests
        query = (
            select(
                table.c.id,
                table.c.public_id,
                table.c.received_at,
                table.c.decided_at,
                table.c.closed_at,
            )
            .where(self._request_filter(since, until), table.c.id > after)
            .order_by(table.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        for row in rows:
            at = aware(row.closed_at or row.decided_at or row.received_at)
            yield Cursor(REQUEST, row.id), self._request((row.public_id, at))

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
