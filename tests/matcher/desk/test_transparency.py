"""The transparency report and DSA statements, over HTTP, on a seeded store.

Expected numbers are worked out by hand from `seeding.seed_report`:

- adult: 5 matches (3 blocked after 600, 1800, 3600 s; 1 auto-actioned, 0 s;
  1 withdrawn): removal times 0, 600, 1800, 3600: median 1200, p95 3600;
- minor: 3 (blocked after 7200 s, not blocked, pending): 7200, 7200;
- source default: 0, 600, 1800: median 600, p95 (3rd of 3) 1800;
- source ncmec: 3600, 7200: median 5400, p95 7200;
- all matches: 0, 600, 1800, 3600, 7200: median 1800, p95 (5th) 7200;
- requests: 6 received, 1 waiting (no lead has checked it), 1 valid,
  1 invalid, 2 removed (10800, 72000 s), 1 rejected: median 41400, p95 72000;
- all removals: 7 times: median 3600 (4th), p95 (7th) 72000.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from reclaim.matcher import dsa
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.statements import SETTLE_SECONDS, Statements
from reclaim.matcher.desk.transparency import (
    HEADER,
    REQUEST_STATES,
    Period,
    build,
    percentile,
)
from reclaim.matcher.errors import ConfigError, QueryError
from reclaim.matcher.tables import matches
from tests.matcher.desk.conftest import Desk
from tests.matcher.desk.seeding import DAY, add_match, add_request, seed_report
from tests.matcher.desk.test_dashboard import rows_read

TOKEN = "transparency-token-0123456789"


def rows_of(text: str) -> dict[tuple[str, str, str], dict[str, str]]:
    """The CSV's rows by group, without the period's columns."""
    reader = csv.DictReader(io.StringIO(text))
    return {
        (r["kind"], r["program"], r["source"]): {
            k: v for k, v in r.items() if not k.startswith("period_")
        }
        for r in reader
    }


def test_the_report_csv_has_the_hand_computed_numbers(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(serve={"token": TOKEN})
    seed_report(desk.service.engine)
    lead = desk.sign_in("lea", Role.LEAD)
    reply = lead.get("/desk/transparency.csv")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    assert reply.text.splitlines()[0] == ",".join(HEADER)
    rows = rows_of(reply.text)
    assert list(rows) == [
        ("matches", "adult", "*"),
        ("matches", "minor", "*"),
        ("matches", "*", "default"),
        ("matches", "*", "ncmec"),
        ("matches", "*", "*"),
        ("requests", "*", "notice"),
        ("all", "*", "*"),
    ]

    def numbers(key: tuple[str, str, str], *names: str) -> list[str]:
        return [rows[key][name] for name in names]

    timing = ("removals", "median_seconds_to_removal", "p95_seconds_to_removal")
    adult = ("matches", "adult", "*")
    assert numbers(adult, "matches", "matches_blocked", "matches_auto_actioned") == [
        "5",
        "3",
        "1",
    ]
    assert numbers(adult, "matches_withdrawn", *timing) == [
        "1",
        "4",
        "1200.0",
        "3600.0",
    ]
    minor = ("matches", "minor", "*")
    assert numbers(minor, "matches_pending", "matches_not_blocked", *timing) == [
        "1",
        "1",
        "1",
        "7200.0",
        "7200.0",
    ]
    assert numbers(("matches", "*", "default"), *timing) == ["3", "600.0", "1800.0"]
    assert numbers(("matches", "*", "ncmec"), *timing) == ["2", "5400.0", "7200.0"]
    assert numbers(("matches", "*", "*"), "matches", *timing) == [
        "8",
        "5",
        "1800.0",
        "7200.0",
    ]
    requests = ("requests", "*", "notice")
    assert numbers(
        requests,
        "requests_received",
        "requests_waiting",
        "requests_valid",
        "requests_invalid",
        "requests_removed",
        "requests_rejected",
        *timing,
    ) == ["6", "1", "1", "1", "2", "1", "2", "41400.0", "72000.0"]
    assert rows[requests]["matches"] == "0"
    assert numbers(("all", "*", "*"), *timing) == ["7", "3600.0", "72000.0"]
    # No reference, hash or contact detail leaves in the report.
    for secret in ("post-secret-ref", "e" * 64, "person@example.org", "RR-"):
        assert secret not in reply.text
    # The same report over the API, with its token; a period narrows it.
    api = desk.client()
    assert api.get("/v1/transparency/report.csv").status_code == 401
    headers = {"Authorization": f"Bearer {TOKEN}"}
    same = api.get("/v1/transparency/report.csv", headers=headers)
    assert same.status_code == 200 and rows_of(same.text) == rows
    today = datetime.now(UTC).date()
    narrow = api.get(
        "/v1/transparency/report.csv",
        params={"from": str(today - timedelta(days=6)), "to": str(today)},
        headers=headers,
    )
    assert rows_of(narrow.text)[("matches", "*", "*")]["matches"] == "4"
    bad = api.get("/v1/transparency/report.csv?from=yesterday", headers=headers)
    assert bad.status_code == 422
    assert bad.json()["ok"] is False and "is not a date" in bad.json()["error"]


def test_the_page_shows_the_report_with_charts_for_leads_only(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk()
    seed_report(desk.service.engine)
    reviewer = desk.sign_in("rex", Role.REVIEWER)
    for path in ("/desk/transparency", "/desk/transparency.csv", "/desk/dashboard"):
        refused = reviewer.get(path)
        assert refused.status_code == 403 and "needs the lead role" in refused.text
    lead = desk.sign_in("lea", Role.LEAD)
    page = lead.get("/desk/transparency")
    assert page.status_code == 200
    text = page.text
    assert text.count('<svg xmlns="http://www.w3.org/2000/svg" role="img"') == 3
    assert "Removals by program" in text and "Time to removal" in text
    assert "<strong>7</strong> removals" in text
    assert "<strong>60 min</strong> median time to removal" in text
    assert "<strong>20 h</strong> 95th percentile" in text  # 72000 s
    assert "Program adult" in text and "Source ncmec" in text
    assert "post-secret-ref" not in text
    bad = lead.get("/desk/transparency?from=2026-06-10&to=2026-06-01")
    assert bad.status_code == 400 and "expected &#39;from&#39; before" in bad.text


def test_statements_pass_the_dsa_checks_one_per_removal(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(serve={"token": TOKEN}, desk={"undo_seconds": 60})
    engine = desk.service.engine
    now = seed_report(engine)
    # Decided 5 s ago, still inside the 60 s undo window: not final yet.
    held = add_match(engine, created=now - DAY, state="blocked", decided_after=86395)
    api = desk.client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert api.get("/v1/transparency/statements").status_code == 401
    reply = api.get("/v1/transparency/statements", headers=headers)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert list(body) == ["statements"]
    found = {s["puid"]: s for s in body["statements"]}
    assert reply.headers["x-total-count"] == str(len(found)) == "7"
    assert "link" not in reply.headers
    assert f"match-{held}" not in found
    for item in found.values():
        assert dsa.check(item) == [], item["puid"]
    assert dsa.batch(list(found.values())) == body
    puids = sorted(found)
    assert puids == sorted(
        ["match-1", "match-2", "match-3", "match-4", "match-5"]
        + ["request-RR-AAAAAAAAAA", "request-RR-BBBBBBBBBB"]
    )
    moderated, auto, notice = (
        found["match-1"],
        found["match-4"],
        found["request-RR-AAAAAAAAAA"],
    )
    assert moderated["source_type"] == auto["source_type"] == "SOURCE_VOLUNTARY"
    assert moderated["automated_detection"] == "Yes"
    assert moderated["automated_decision"] == "AUTOMATED_DECISION_PARTIALLY"
    assert auto["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert auto["content_type"] == ["CONTENT_TYPE_OTHER"]  # an MD5 match
    assert moderated["content_type"] == ["CONTENT_TYPE_IMAGE"]
    assert found["match-5"]["content_type"] == ["CONTENT_TYPE_VIDEO"]
    assert notice["source_type"] == "SOURCE_ARTICLE_16"
    assert notice["automated_detection"] == "No"
    assert notice["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert (
        notice["application_date"]
        == (now - 5 * DAY + timedelta(seconds=10800)).date().isoformat()
    )
    text = reply.text
    for secret in ("post-secret-ref", "e" * 64, "person@example.org", "content_id"):
        assert secret not in text
    # A period: only what was decided in it.
    today = now.date()
    narrow = api.get(
        "/v1/transparency/statements",
        params={"since": str(today - timedelta(days=6)), "until": str(today)},
        headers=headers,
    )
    narrow = narrow.json()
    assert sorted(s["puid"] for s in narrow["statements"]) == [
        "match-5",
        "request-RR-AAAAAAAAAA",
        "request-RR-BBBBBBBBBB",
    ]


def next_of(reply: httpx.Response) -> str | None:
    """The path and query of a reply's `Link: <...>; rel="next"`, if any."""
    link = reply.headers.get("link")
    if link is None:
        return None
    assert link.endswith('>; rel="next"'), link
    url = httpx.URL(link[1 : link.index(">")])
    return f"{url.path}?{url.query.decode()}"


def test_statements_come_100_a_page_with_a_stable_puid(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(serve={"token": TOKEN})
    engine = desk.service.engine
    now = seed_report(engine)
    for n in range(150):
        add_match(
            engine, created=now - DAY + timedelta(seconds=n), state="auto_actioned"
        )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    api = desk.client()
    first = api.get("/v1/transparency/statements", headers=headers)
    assert first.headers["x-total-count"] == "157"
    assert len(first.json()["statements"]) == dsa.MAX_BATCH
    following = next_of(first)
    assert following is not None
    query = httpx.URL(following).params
    # Every page of one export shares the first reply's bounds.
    assert query["until"] == first.headers["x-until"]
    assert query["since"] and query["after"] == "m104"  # an opaque (kind, id)
    second = api.get(following, headers=headers)
    assert second.status_code == 200 and next_of(second) is None
    assert second.headers["x-until"] == first.headers["x-until"]
    puids = [
        s["puid"] for s in first.json()["statements"] + second.json()["statements"]
    ]
    assert len(puids) == len(set(puids)) == 157
    assert puids[-2:] == ["request-RR-AAAAAAAAAA", "request-RR-BBBBBBBBBB"]
    again = api.get(following, headers=headers).json()
    assert again == second.json()  # stable pages
    for bad in ("x1", "m", "m-1", "r1.5", "m" + "9" * 30):
        refused = api.get(f"/v1/transparency/statements?after={bad}", headers=headers)
        assert refused.status_code == 422, bad
        assert refused.json()["ok"] is False and "after" in refused.json()["error"]


def test_a_paged_export_neither_skips_nor_repeats_while_decisions_settle(
    serve_desk: Callable[..., Desk],
) -> None:
    """A decision that leaves its undo window between two pages (its id lower
    than the first page's last) belongs to the next export, not to this one."""
    desk = serve_desk(serve={"token": TOKEN}, desk={"undo_seconds": 1})
    engine = desk.service.engine
    now = datetime.now(UTC)
    # Decided in a day: in no export until it is timed below.
    held = add_match(
        engine, created=now - DAY, state="blocked", decided_after=2 * 86400
    )
    for n in range(120):
        add_match(
            engine, created=now - DAY + timedelta(seconds=n), state="auto_actioned"
        )
    # Half a second short of settling: the 1 s undo window and the margin.
    with engine.begin() as connection:
        connection.execute(
            update(matches)
            .where(matches.c.id == held)
            .values(
                decided_at=datetime.now(UTC)
                - timedelta(seconds=SETTLE_SECONDS + 1 - 0.5)
            )
        )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    api = desk.client()
    first = api.get("/v1/transparency/statements", headers=headers)
    assert first.headers["x-total-count"] == "120"
    time.sleep(1.5)  # the held decision settles
    following = next_of(first)
    assert following is not None
    second = api.get(following, headers=headers)
    assert second.headers["x-total-count"] == "120"
    puids = [
        s["puid"] for s in first.json()["statements"] + second.json()["statements"]
    ]
    assert len(puids) == len(set(puids)) == 120
    assert f"match-{held}" not in puids
    # The next export starts where this one ended, and has it.
    later = api.get(
        "/v1/transparency/statements",
        params={"since": first.headers["x-until"]},
        headers=headers,
    )
    assert [s["puid"] for s in later.json()["statements"]] == [f"match-{held}"]


def test_a_decision_that_commits_late_lands_in_the_next_export(
    serve_desk: Callable[..., Desk],
) -> None:
    """A decision's time is set before its transaction commits, so one timed
    just before an export's end may be stored after it. Exports end a settle
    margin before now (past the undo window, here 0 s): a decision within the
    margin is left to the next export, which starts at X-Until and has it."""
    desk = serve_desk(serve={"token": TOKEN}, desk={"undo_seconds": 0})
    engine = desk.service.engine
    now = datetime.now(UTC)
    margin = timedelta(seconds=SETTLE_SECONDS)

    def decided(at: datetime) -> int:
        found = now - DAY
        return add_match(
            engine,
            created=found,
            state="blocked",
            decided_after=(at - found).total_seconds(),
        )

    settled = decided(now - 2 * margin)
    # Stored, and timed before the export: but within the margin.
    recent = decided(now - margin / 2)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    asked = datetime.now(UTC)
    first = desk.client().get("/v1/transparency/statements", headers=headers)
    answered = datetime.now(UTC)
    assert first.status_code == 200, first.text
    end = datetime.fromisoformat(first.headers["x-until"])
    assert asked - margin <= end <= answered - margin
    assert [s["puid"] for s in first.json()["statements"]] == [f"match-{settled}"]
    # Timed a second before the export was asked for, committed after it.
    late = decided(asked - timedelta(seconds=1))
    # The next export, once the margin has passed, starts at X-Until.
    following = Statements(
        engine, desk.service.config.dsa, hold_seconds=0, now=answered + 2 * margin
    )
    page = following.page(end, answered + DAY)
    assert [s["puid"] for s in page.statements] == [
        f"match-{recent}",
        f"match-{late}",
    ]
    assert page.total == 2 and page.next is None
    # The undo window comes on top of the margin; a negative one counts as 0.
    moment = datetime(2026, 6, 1, tzinfo=UTC)
    for hold, wait in ((30.0, 30 + SETTLE_SECONDS), (-5.0, SETTLE_SECONDS)):
        export = Statements(engine, dsa.DsaConfig(), hold_seconds=hold, now=moment)
        assert export.settled == moment - timedelta(seconds=wait)


def test_dsa_settings_come_from_the_config(
    make_config: Callable[..., MatcherConfig],
) -> None:
    config = make_config(
        dsa={"terms_url": "https://platform.example/terms", "territorial_scope": ["DE"]}
    )
    assert config.dsa.terms_url == "https://platform.example/terms"
    assert config.dsa.territorial_scope == ("DE",)
    with pytest.raises(ConfigError, match=r"\[dsa\] is not valid: .*not a URL"):
        make_config(dsa={"terms_url": "not a url"})
    with pytest.raises(ConfigError, match=r"\[dsa\] is not valid: .*category"):
        make_config(dsa={"category": "STATEMENT_CATEGORY_MADE_UP"})
    with pytest.raises(ConfigError, match=r"\[dsa\] source is not a known key"):
        make_config(dsa={"source": "x"})


def test_periods_and_percentiles() -> None:
    now = datetime(2026, 6, 30, 12, tzinfo=UTC)
    default = Period.parse(None, None, now=now)
    assert default.end == now and default.start == now - timedelta(days=30)
    days = Period.parse("2026-06-01", "2026-06-30", now=now)
    assert days.start == datetime(2026, 6, 1, tzinfo=UTC)
    assert days.end == datetime(2026, 7, 1, tzinfo=UTC)
    assert (days.first_day.isoformat(), days.last_day.isoformat()) == (
        "2026-06-01",
        "2026-06-30",
    )
    exact = Period.parse("2026-06-01T06:00:00+02:00", "2026-06-02T00:00:00Z")
    assert exact.start == datetime(2026, 6, 1, 4, tzinfo=UTC)
    with pytest.raises(QueryError, match="expected 'from' before 'to'"):
        Period.parse("2026-06-02", "2026-06-01")
    assert percentile([], 95) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(n) for n in range(1, 21)], 95) == 19.0  # 19th of 20
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0


#: Dates Python can hold whose period (or a day's shift) it cannot.
OUT_OF_RANGE = (
    {"to": "9999-12-31"},
    {"to": "0001-01-02"},
    {"from": "0001-01-01T00:00:00+01:00"},
    {"from": "0001-01-01", "to": "0001-01-05"},
)


@pytest.mark.parametrize("query", OUT_OF_RANGE)
def test_out_of_range_dates_are_refused_not_a_500(
    serve_desk: Callable[..., Desk], query: dict[str, str]
) -> None:
    with pytest.raises(QueryError, match="out of range"):
        Period.parse(query.get("from"), query.get("to"))
    desk = serve_desk(serve={"token": TOKEN})
    api = desk.client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    report = api.get("/v1/transparency/report.csv", params=query, headers=headers)
    assert report.status_code == 422, report.text
    assert report.json()["ok"] is False and "out of range" in report.json()["error"]
    statements = api.get(
        "/v1/transparency/statements",
        params={"since" if k == "from" else "until": v for k, v in query.items()},
        headers=headers,
    )
    assert statements.status_code == 422, statements.text
    assert "out of range" in statements.json()["error"]
    lead = desk.sign_in("lea", Role.LEAD)
    for path in ("/desk/transparency", "/desk/transparency.csv"):
        page = lead.get(path, params=query)
        assert page.status_code == 400, (path, page.text)
        assert "out of range" in page.text


def test_the_report_counts_matches_in_the_database(
    serve_desk: Callable[..., Desk],
) -> None:
    """Auto-actioned matches are counted (and their 0 s times too), not read
    one by one: only the blocked ones' times leave the database."""
    desk = serve_desk()
    engine = desk.service.engine
    now = datetime.now(UTC)
    for n in range(20):
        add_match(engine, created=now - timedelta(hours=n + 1), state="auto_actioned")
    add_match(engine, created=now - DAY, state="blocked", decided_after=600)
    add_match(engine, created=now - DAY, state="blocked", decided_after=1200)
    reports: list[Any] = []
    read = rows_read(
        engine, lambda: reports.append(build(engine, Period.parse(None, None)))
    )
    assert read <= 4, read  # two counts and two blocked matches
    total = reports[0].only("matches")
    assert total.found == 22 and total.removals == 22
    assert total.median == 0.0 and total.p95 == 600.0  # 11th and 21st of 22


def test_the_request_columns_add_up_to_the_requests_received(
    serve_desk: Callable[..., Desk],
) -> None:
    """Every stored state has a column (`waiting`: received, no lead has
    checked it yet), so waiting + valid + invalid + removed + rejected is
    requests_received, in the CSV, on the page and in docs/desk.md."""
    desk = serve_desk()
    engine = desk.service.engine
    now = seed_report(engine)
    for n, state in enumerate(("received", "received", "valid", "removed")):
        add_request(
            engine,
            f"RR-{'WXYZ'[n] * 10}",
            received=now - timedelta(hours=n + 1),
            state=state,
            closed_after=60 if state == "removed" else None,
        )
    columns = [f"requests_{state}" for state in REQUEST_STATES]
    assert HEADER[HEADER.index("requests_received") + 1 :][:5] == tuple(columns)
    lead = desk.sign_in("lea", Role.LEAD)
    rows = rows_of(lead.get("/desk/transparency.csv").text)
    for key in (("requests", "*", "notice"), ("all", "*", "*")):
        row = rows[key]
        assert row["requests_received"] == "10", key
        assert [row[c] for c in columns] == ["3", "2", "1", "3", "1"], key
        assert sum(int(row[c]) for c in columns) == int(row["requests_received"])
    for key, row in rows.items():
        if key[0] == "matches":
            assert {row[c] for c in ["requests_received", *columns]} == {"0"}, key
    page = lead.get("/desk/transparency").text
    assert '<th scope="col" class="number">Requests waiting</th>' in page
    assert "<strong>10</strong> removal requests" in page
    docs = Path(__file__).parents[3] / "docs" / "desk.md"
    assert ",".join(HEADER) in docs.read_text(encoding="utf-8")
