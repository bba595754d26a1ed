"""A small review page for moderators: pending matches, blocked / not blocked.

Plain HTML forms, no script, no cookies. Decisions are `POST`ed as a form to
the same origin (cross-site posts are refused by their `Origin` header).
Like the rest of the matcher API it has no login: serve it on a private
network or behind the platform's own single sign-on.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reclaim.matcher.errors import DecisionError
from reclaim.matcher.review import Origin, QueuedMatch
from reclaim.matcher.schemas import MatchId
from reclaim.matcher.service import MatcherService
from reclaim.strict import text_problem

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reclaim matcher: review</title>
<style>
body {{ font: 16px/1.4 system-ui, sans-serif; margin: 2rem; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: .4rem .8rem; border-bottom: 1px solid #ccc; text-align: left; }}
form {{ display: inline; }}
</style></head>
<body>
<h1>Matches waiting for review</h1>
<p>{summary}</p>
{table}
</body></html>
"""


def router(service: MatcherService) -> APIRouter:
    """The `/review` page and its form posts."""
    pages = APIRouter(include_in_schema=False)

    @pages.get("/review")
    def page() -> HTMLResponse:
        items = service.queue.list(state="pending", limit=200)
        counts = service.queue.counts()
        summary = ", ".join(f"{escape(k)}: {v}" for k, v in counts.items())
        table = _table(items) if items else "<p>Nothing to review.</p>"
        return HTMLResponse(
            PAGE.format(summary=summary, table=table),
            headers={
                "Content-Security-Policy": "default-src 'none'; style-src "
                "'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                "Cache-Control": "no-store",
            },
        )

    @pages.post("/review/{match_id}")
    async def decide(match_id: MatchId, request: Request) -> Response:
        origin = request.headers.get("origin")
        if (
            origin is not None
            and origin != f"{request.url.scheme}://{request.url.netloc}"
        ):
            raise DecisionError(
                "a decision posted from another site is refused: decide on this "
                "matcher's own /review page"
            )
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        decision = form.get("decision", [""])[0]
        reviewer = form.get("reviewer", [""])[0][:100] or None
        if (problem := text_problem(decision)) or (
            problem := text_problem(reviewer or "")
        ):
            raise DecisionError(f"the posted form {problem}")
        service.decide(match_id, decision, reviewer=reviewer)
        return RedirectResponse("/review", status_code=303)

    return pages


def _table(items: list[QueuedMatch]) -> str:
    rows = []
    for item in items:
        summary = item.summary()
        buttons = "".join(
            f'<form method="post" action="/review/{item.id}">'
            f'<input type="hidden" name="decision" value="{value}">'
            f'<button type="submit">{label}</button></form> '
            for value, label in (("blocked", "Blocked"), ("not_blocked", "Not a match"))
        )
        rows.append(
            "<tr>"
            f"<td>{item.id}</td><td>{escape(str(summary['created_at']))}</td>"
            f"<td>{escape(item.kind)}</td><td>{escape(item.program)}</td>"
            f"<td>{item.distance}</td><td>{escape(item.reference or '')}</td>"
            f"<td>{_FOUND[item.origin]}</td><td>{buttons}</td></tr>"
        )
    head = (
        "<tr><th>id</th><th>when</th><th>type</th><th>program</th>"
        "<th>distance</th><th>your reference</th><th>found</th><th>decision</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


#: How each match was found, as the page says it.
_FOUND = {Origin.UPLOAD: "as uploaded", Origin.CATALOG: "found in catalog"}
