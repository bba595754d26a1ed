"""Transparency over the API (with its token): DSA statements and the report.

- `GET /v1/transparency/statements?since=&until=&after=`: statements of
  reasons, at most 100 a page, as the Transparency Database's multiple
  endpoint takes them;
- `GET /v1/transparency/report.csv?from=&to=`: the transparency report.

Pages of statements: the body is exactly `{"statements": [...]}` (ready to
POST to the database); `X-Total-Count` tells how many the export has and a
`Link` header with `rel="next"` where its next page is. Pages follow a
cursor (`after`: the kind and id of the page's last statement), not an
offset, and every page of one export shares the first reply's bounds: the
Link carries `since` and `until`, where `until` (also in `X-Until`) is no
later than what had settled when the export began (the undo window and
`statements.SETTLE_SECONDS` before then, so a decision whose transaction
commits late still lands after it). So statements that settle while a
client pages through neither shift nor repeat the pages; the next export
starts at `since` = that `X-Until`.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from reclaim.matcher.desk.statements import Cursor, Statements
from reclaim.matcher.desk.transparency import Period, build
from reclaim.matcher.schemas import error_responses
from reclaim.matcher.service import MatcherService
from reclaim.matcher.times import iso

#: How a period's ends are given (each parameter needs its own Query:
#: FastAPI writes the parameter's name into it).
WHEN = "YYYY-MM-DD (the day included) or an ISO 8601 time; default: the last 30 days"


def router(service: MatcherService) -> APIRouter:
    """The transparency endpoints of `service`'s API."""
    routes = APIRouter()

    @routes.get(
        "/v1/transparency/statements",
        summary="DSA statements of reasons, one per removal, 100 a page",
        responses=error_responses(401, 422, 500),
    )
    def statements(
        request: Request,
        since: str | None = Query(None, max_length=40, description=WHEN),
        until: str | None = Query(None, max_length=40, description=WHEN),
        after: str | None = Query(
            None, max_length=40, description="the previous page's Link gives it"
        ),
    ) -> Response:
        period = Period.parse(since, until)
        cursor = Cursor.parse(after) if after else None
        export = Statements(
            service.engine,
            service.config.dsa,
            hold_seconds=service.config.desk.undo_seconds,
        )
        end = export.bound(period.end)
        found = export.page(period.start, end, after=cursor)
        headers = {"X-Total-Count": str(found.total), "X-Until": iso(end)}
        if found.next is not None:
            following = request.url.include_query_params(
                since=iso(period.start), until=iso(end), after=found.next.token()
            )
            headers["Link"] = f'<{following}>; rel="next"'
        return JSONResponse(found.body(), headers=headers)

    @routes.get(
        "/v1/transparency/report.csv",
        summary="The transparency report as CSV (docs/desk.md defines each column)",
        responses={
            200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
            **error_responses(401, 422, 500),
        },
    )
    def report_csv(
        start: str | None = Query(None, alias="from", max_length=40, description=WHEN),
        end: str | None = Query(None, alias="to", max_length=40, description=WHEN),
    ) -> Response:
        period = Period.parse(start, end)
        return csv_response(build(service.engine, period).csv(), period)

    return routes


def csv_response(text: str, period: Period) -> Response:
    """A CSV download named after its period."""
    name = f"transparency-{period.first_day}-to-{period.last_day}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
