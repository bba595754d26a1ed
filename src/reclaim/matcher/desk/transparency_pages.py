"""The transparency report on the desk: a page with charts, and its CSV."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.charts import Chart, ChartSpec, Series, bar_chart
from reclaim.matcher.desk.dashboard import duration
from reclaim.matcher.desk.sessions import DeskUser
from reclaim.matcher.desk.transparency import (
    ALL,
    NOTICE,
    REQUEST_STATES,
    Period,
    Report,
    build,
)
from reclaim.matcher.errors import DeskError, QueryError
from reclaim.matcher.transparency_api import csv_response

if TYPE_CHECKING:
    from reclaim.matcher.desk.site import Desk


def install(desk: Desk) -> None:
    """`GET /desk/transparency` and `GET /desk/transparency.csv` (leads)."""
    lead = Depends(desk.needs(Role.LEAD))

    def period_of(start: str | None, end: str | None) -> Period:
        try:
            return Period.parse(start or None, end or None)
        except QueryError as error:
            raise DeskError(str(error)) from None

    @desk.router.get("/desk/transparency")
    def transparency_page(
        request: Request,
        start: str | None = Query(None, alias="from", max_length=40),
        end: str | None = Query(None, alias="to", max_length=40),
        user: DeskUser = lead,
    ) -> Response:
        period = period_of(start, end)
        report = build(desk.service.engine, period)
        return desk.page(
            request,
            "transparency.html",
            user=user,
            section="transparency",
            report=report,
            total=report.only("all"),
            charts=charts(report),
            ALL=ALL,
            REQUEST_STATES=REQUEST_STATES,
            query=request.url.query,
            seconds=duration,
        )

    @desk.router.get("/desk/transparency.csv")
    def transparency_csv(
        start: str | None = Query(None, alias="from", max_length=40),
        end: str | None = Query(None, alias="to", max_length=40),
        user: DeskUser = lead,
    ) -> Response:
        period = period_of(start, end)
        response = csv_response(build(desk.service.engine, period).csv(), period)
        response.headers["Cache-Control"] = "no-store"
        return response


def charts(report: Report) -> list[Chart]:
    """Removals by program, time to removal by program, requests by outcome."""
    programs = report.by_program()
    requests = report.only("requests", source=NOTICE)
    removals = bar_chart(
        [
            Series(
                "Auto-actioned",
                tuple(
                    (r.program, float(r.matches.get("auto_actioned", 0)))
                    for r in programs
                ),
            ),
            Series(
                "Blocked by a moderator",
                tuple(
                    (r.program, float(r.matches.get("blocked", 0))) for r in programs
                ),
            ),
        ],
        spec=ChartSpec(
            title="Removals by program",
            description="Matches removed in the period, by how.",
            x_label="Program",
            id="removals-by-program",
        ),
        stacked=True,
    )
    timed = [(r.program, r) for r in programs] + [("removal requests", requests)]
    speed = bar_chart(
        [
            Series(
                title,
                tuple(
                    (name, value)
                    for name, r in timed
                    if (value := getattr(r, attribute)) is not None
                ),
            )
            for title, attribute in (("Median", "median"), ("95th percentile", "p95"))
        ],
        spec=ChartSpec(
            title="Time to removal",
            description="Median and 95th percentile, by program and for requests.",
            unit="seconds",
            x_label="Program",
            id="time-to-removal",
        ),
    )
    outcomes = bar_chart(
        [
            Series(
                "Requests",
                (("received", float(requests.received)),)
                + tuple(
                    (s, float(requests.requests.get(s, 0))) for s in REQUEST_STATES
                ),
            )
        ],
        spec=ChartSpec(
            title="Removal requests by outcome",
            description="Requests received in the period, and where they stand now.",
            x_label="Outcome",
            id="requests-by-outcome",
        ),
    )
    return [removals, speed, outcomes]
