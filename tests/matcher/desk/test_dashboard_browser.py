"""The dashboard and the transparency report in Chromium: a lead signs in,
reads both, opens a chart's numbers with the keyboard and changes the period;
axe finds nothing at 1280 px and 360 px, and neither page scrolls sideways
(wide charts and tables scroll inside their own box).

Screenshots go to $DESK_SCREENSHOTS (when set) as desk-dashboard.png,
desk-transparency.png and their -phone versions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.tables import alerts
from tests.matcher.desk.conftest import (
    Desk,
    desk_page,
    look,
    sign_in_at,
)
from tests.matcher.desk.seeding import DAY, add_match, seed_report


def test_a_lead_reads_the_dashboard_and_the_transparency_report(
    serve_desk: Callable[..., Desk], browser: Any
) -> None:
    desk = serve_desk()
    engine = desk.service.engine
    now = seed_report(engine)
    for day in range(1, 20):  # a month of matches to chart
        for n in range(day % 4 + 1):
            add_match(
                engine,
                created=now - day * DAY + timedelta(minutes=n),
                state="blocked",
                program=("adult", "minor")[n % 2],
                source=("default", "ncmec")[day % 2],
                decided_after=600 * (n + 1),
            )
    desk.service.sync_once()
    with engine.begin() as connection:
        connection.execute(
            insert(alerts).values(
                rule="adult-spike",
                window_start=now - DAY,
                fired_at=now - DAY,
                count=57,
                baseline=6.0,
                message="matches in program adult jumped to 57 in 60 min, "
                "9.5× the 7-day baseline of 6.0",
            )
        )
    desk.account("lea", Role.LEAD)
    problems: dict[str, list[object]] = {}
    with desk_page(browser, desk) as page:
        sign_in_at(page, "/desk/dashboard", "lea")
        assert page.locator("svg[role=img]").count() == 5
        assert page.get_by_text("jumped to 57 in 60 min").is_visible()
        # A chart's numbers open from the keyboard.
        summary = page.locator("summary").first
        summary.focus()
        page.keyboard.press("Enter")
        table = page.locator("details").first.locator("table")
        assert table.is_visible() and table.locator("tbody tr").count() == 30
        look(page, "dashboard", problems)

        page.click("nav >> text=Transparency")
        page.wait_for_url("**/desk/transparency")
        assert page.locator("svg[role=img]").count() == 3
        assert page.get_by_role(
            "table", name="Requests, matches and removals"
        ).is_visible()
        look(page, "transparency", problems)
        # The period narrows the report.
        page.fill("#from", (now - 6 * DAY).date().isoformat())
        page.fill("#to", now.date().isoformat())
        page.click("form.period button[type=submit]")
        page.wait_for_url("**/desk/transparency?from=*")
        row = page.locator("tr", has=page.locator("th", has_text="All matches"))
        assert row.locator("td").nth(6).inner_text() != "—"
        with page.expect_download() as download:
            page.click("text=Download CSV")
        saved = Path(download.value.path()).read_text()
        assert saved.startswith("period_start,period_end,kind,")
    assert not problems, problems
