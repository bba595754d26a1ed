"""Transparency over the API (with its token): DSA statements and the report.

- `GET /v1/transparency/statements?since=&until=&page=`: statements of
  reasons, at most 100 a page, as the Transparency Database's multiple
  endpoint takes them;
- `GET /v1/transparency/report.csv?from=&to=`: the transparency report.

Pages of statements: the body is exactly `{"statements": [...]}` (ready to
POST to the database); `X-Total-Count`, `X-Page`, `X-Pages` and a `Link`
header with `rel="next"` tell how many there are and where the next page is.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from reclaim.matcher.desk.statements import Statements
from reclaim.matcher.desk.transparency import Period, build
from reclaim.matcher.schemas import error_responses
from reclaim.matcher.service import MatcherService

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
        page: int = Query(1, ge=1, le=10_000_000),
    ) -> Response:
        period = Period.parse(since, until)
        found = Statements(
            service.engine,
            service.config.dsa,
            hold_seconds=service.config.desk.undo_seconds,
        ).page(period.start, period.end, page)
        headers = {
            "X-Total-Count": str(found.total),
            "X-Page": str(found.number),
            "X-Pages": str(found.pages),
        }
        if found.number < found.pages:
            following = request.url.include_query_params(page=found.number + 1)
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
