"""The review queue on the desk: filters, paging, decisions (single and bulk)
and undo.

`GET /desk` lists matches by program, source, origin (forward or catalog),
state, age, and the deadline of an open removal request naming the same
content; `POST /desk/decide` records decisions (bulk ones after a
confirmation, at most `MAX_BULK` at once), held for `[desk] undo_seconds`;
`POST /desk/matches/{id}/undo` takes one back within that window. The match
page itself is `desk.match_page`. Decisions and undos run in the thread pool,
not on the event loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy import Engine, and_, exists, func, select
from starlette.concurrency import run_in_threadpool

from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.sessions import DeskUser
from reclaim.matcher.desk.site import safe_next, whole_number
from reclaim.matcher.errors import DeskError, ReviewError, UnknownMatchError
from reclaim.matcher.removals.model import OPEN
from reclaim.matcher.removals.tables import copies, requests
from reclaim.matcher.review import DECISIONS, Origin, QueuedMatch, State, from_row
from reclaim.matcher.tables import matches
from reclaim.matcher.times import aware

if TYPE_CHECKING:
    from reclaim.matcher.desk.site import Desk

#: Matches on one page of the queue.
PER_PAGE = 50
#: Matches one bulk decision may name, at most (ten pages of the queue).
MAX_BULK = 500
#: Removal requests still running their 48-hour clock.
OPEN_REQUESTS = tuple(sorted(state.value for state in OPEN))
#: What the decision buttons say, by decision.
DECISION_LABELS = {"blocked": "Blocked", "not_blocked": "Not a match"}


@dataclass(frozen=True, slots=True)
class QueueFilters:
    """The queue's filters, from the page's query string ("" means any)."""

    program: str = ""
    source: str = ""
    origin: str = ""
    state: str = State.PENDING.value
    older_than_hours: float | None = None
    deadline_hours: float | None = None
    oldest_first: bool = False
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> QueueFilters:
        """Filters from query parameters; DeskError names a bad one."""
        origin = params.get("origin", "")
        if origin and origin not in {o.value for o in Origin}:
            raise DeskError(
                f"{origin[:20]!r} is not an origin: expected upload (forward "
                "matching) or catalog"
            )
        state = params.get("state", State.PENDING.value)
        if state and state not in {s.value for s in State}:
            raise DeskError(
                f"{state[:20]!r} is not a state: expected one of "
                + ", ".join(s.value for s in State)
            )
        return cls(
            program=params.get("program", "")[:32],
            source=params.get("source", "")[:32],
            origin=origin,
            state=state,
            older_than_hours=_hours(params, "older_than"),
            deadline_hours=_hours(params, "deadline"),
            oldest_first=params.get("order") == "oldest",
            page=max(1, min(whole_number(params.get("page", "1"), "page"), 100_000)),
        )

    def query(self, **changes: Any) -> str:
        """This view's query string, with `changes` (for links and paging)."""
        view = replace(self, **changes)
        pairs = {
            "program": view.program,
            "source": view.source,
            "origin": view.origin,
            "state": view.state,
            "older_than": _text(view.older_than_hours),
            "deadline": _text(view.deadline_hours),
            "order": "oldest" if view.oldest_first else "",
            "page": str(view.page) if view.page > 1 else "",
        }
        return urlencode({k: v for k, v in pairs.items() if v or k == "state"})


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of the filtered queue."""

    items: list[QueuedMatch]
    total: int
    pages: int
    #: The earliest open removal-request deadline naming each reference.
    deadlines: dict[str, datetime]


def search(
    engine: Engine, filters: QueueFilters, *, per_page: int = PER_PAGE
) -> QueuePage:
    """The matches these filters select: one page, and how many there are."""
    now = datetime.now(UTC)
    conditions: list[Any] = []
    if filters.program:
        conditions.append(matches.c.program == filters.program)
    if filters.source:
        conditions.append(matches.c.source == filters.source)
    if filters.origin:
        conditions.append(matches.c.origin == filters.origin)
    if filters.state:
        conditions.append(matches.c.state == filters.state)
    if filters.older_than_hours is not None:
        cutoff = now - timedelta(hours=filters.older_than_hours)
        conditions.append(matches.c.created_at <= cutoff)
    if filters.deadline_hours is not None:
        due = now + timedelta(hours=filters.deadline_hours)
        conditions.append(
            exists(
                select(copies.c.id)
                .join(requests, requests.c.id == copies.c.request_id)
                .where(
                    copies.c.reference == matches.c.reference,
                    requests.c.state.in_(OPEN_REQUESTS),
                    requests.c.closed_at.is_(None),
                    requests.c.deadline <= due,
                )
            )
        )
    where = and_(True, *conditions)
    order = matches.c.id.asc() if filters.oldest_first else matches.c.id.desc()
    with engine.connect() as connection:
        total = int(
            connection.execute(
                select(func.count()).select_from(matches).where(where)
            ).scalar_one()
        )
        rows = connection.execute(
            select(matches)
            .where(where)
            .order_by(order)
            .limit(per_page)
            .offset((filters.page - 1) * per_page)
        ).all()
        items = [from_row(row) for row in rows]
        references = sorted({i.reference for i in items if i.reference})
        deadlines: dict[str, datetime] = {}
        if references:
            for reference, deadline in connection.execute(
                select(copies.c.reference, func.min(requests.c.deadline))
                .join(requests, requests.c.id == copies.c.request_id)
                .where(
                    copies.c.reference.in_(references),
                    requests.c.state.in_(OPEN_REQUESTS),
                    requests.c.closed_at.is_(None),
                )
                .group_by(copies.c.reference)
            ):
                deadlines[reference] = aware(deadline)
    return QueuePage(items, total, max(1, math.ceil(total / per_page)), deadlines)


def choices(engine: Engine) -> dict[str, list[str]]:
    """The programs and sources matches have, for the filter menus."""
    with engine.connect() as connection:
        return {
            column: sorted(
                value
                for value in connection.execute(
                    select(getattr(matches.c, column)).distinct()
                ).scalars()
                if value
            )
            for column in ("program", "source")
        }


def install(desk: Desk) -> None:
    """`GET /desk` (the queue), `POST /desk/decide`, `POST
    /desk/matches/{id}/undo`, and the match page."""
    from reclaim.matcher.desk import match_page

    reviewer = Depends(desk.needs(Role.REVIEWER))
    desk.templates.env.filters["ago"] = ago
    service = desk.service

    @desk.router.get("/desk")
    def queue_page(request: Request, user: DeskUser = reviewer) -> Response:
        filters = QueueFilters.parse(request.query_params)
        found = search(service.engine, filters)
        return desk.page(
            request,
            "queue.html",
            user=user,
            section="queue",
            filters=filters,
            found=found,
            counts=service.queue.counts(),
            choices=choices(service.engine),
            previews=service.previews.which(i.id for i in found.items),
            keeping=service.previews.enabled,
            undoable=service.queue.undoable(user.name),
            here="/desk?" + filters.query(),
            states=[s.value for s in State],
            decisions=DECISION_LABELS,
        )

    @desk.router.post("/desk/decide")
    async def decide(request: Request, user: DeskUser = reviewer) -> Response:
        form = await desk.form(request, user)
        back = safe_next(form.get("next"))
        single = form.get("single")
        if single:
            match_id, _, decision = single.partition(":")
            ids = [whole_number(match_id, "match number")]
        else:
            decision = form.get("decision")
            picked = form.all("id")
            if len(picked) > MAX_BULK:
                raise DeskError(
                    f"{len(picked)} matches were selected: at most {MAX_BULK} can "
                    "be decided at once; decide them in parts"
                )
            ids = [whole_number(n, "match number") for n in picked]
            if not ids:
                return desk.back(back, notice="Nothing selected: tick matches first")
            if form.get("confirmed") != "yes":
                return desk.page(
                    request,
                    "queue_confirm.html",
                    user=user,
                    section="queue",
                    ids=ids,
                    decision=decision,
                    label=DECISION_LABELS.get(decision, decision),
                    back=back,
                )
        if decision not in DECISION_LABELS:
            raise DeskError(
                f"{decision[:20]!r} is not a decision: expected blocked or not_blocked"
            )
        try:
            decided = await run_in_threadpool(
                lambda: service.decide_on_desk(ids, decision, account=user.name)
            )
        except ReviewError as error:
            raise DeskError(str(error)) from None
        notice = _decided_notice(
            decided.done, decided.skipped, held=desk.config.undo_seconds > 0
        )
        return desk.back(back, notice=notice)

    @desk.router.post("/desk/matches/{match_id}/undo")
    async def undo(
        match_id: str, request: Request, user: DeskUser = reviewer
    ) -> Response:
        number = whole_number(match_id, "match number")
        form = await desk.form(request, user)
        try:
            item = await run_in_threadpool(
                lambda: service.undo(
                    number, account=user.name, lead=user.may(Role.LEAD)
                )
            )
        except ReviewError as error:  # shown on the desk's page, not as JSON
            raise DeskError(str(error)) from None
        return desk.back(
            safe_next(form.get("next")),
            notice=f"Undone: match {item.id} is pending again and nothing was sent",
        )

    match_page.install(desk)


def ago(value: datetime) -> str:
    """How long ago, in plain words ("5 min ago", "3 h ago", "2 days ago")."""
    seconds = max(0.0, (datetime.now(UTC) - aware(value)).total_seconds())
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def _decided_notice(
    done: Sequence[QueuedMatch],
    skipped: Sequence[tuple[int, ReviewError]],
    *,
    held: bool,
) -> str:
    if not done:
        return "Nothing decided: " + "; ".join(str(e) for _, e in skipped[:3])
    labels = {d.value: DECISION_LABELS[d.value] for d in DECISIONS}
    text = (
        f"{len(done)} marked {labels[done[0].state.value]} "
        f"(match{'es' if len(done) > 1 else ''} "
        + ", ".join(str(i.id) for i in done[:10])
        + (" …" if len(done) > 10 else "")
        + (
            "): you can undo this for a short while"
            if held
            else "): sent at once, so this cannot be undone"
        )
    )
    unknown = sum(isinstance(e, UnknownMatchError) for _, e in skipped)
    if len(skipped) > unknown:
        text += f"; {len(skipped) - unknown} skipped (already decided)"
    if unknown:
        text += f"; {unknown} not found"
    return text


def _hours(params: Mapping[str, str], name: str) -> float | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if not 0 <= hours <= 24 * 3650 or math.isnan(hours):
        raise DeskError(
            f"{raw[:20]!r} is not a number of hours for {name}: expected a "
            "number from 0 up"
        )
    return hours


def _text(hours: float | None) -> str:
    return "" if hours is None else f"{hours:g}"
