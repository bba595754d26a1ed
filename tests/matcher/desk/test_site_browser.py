"""The desk's own pages in Chromium: sign-in, the audit trail and accounts,
each checked with axe and for sideways scrolling at 1280 px and 360 px.

Screenshots go to $DESK_SCREENSHOTS (when set) as desk-<page>.png.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reclaim.matcher.desk.accounts import Role
from tests.matcher.desk.conftest import Desk, desk_page, look, sign_in_at


def test_an_admin_reads_the_audit_trail_and_the_accounts(
    serve_desk: Callable[..., Desk], browser: Any
) -> None:
    desk = serve_desk()
    desk.account("ada", Role.ADMIN)
    for number in range(12):
        desk.account(f"moderator-with-a-long-name-{number}", Role.REVIEWER)
    problems: dict[str, list[object]] = {}
    with desk_page(browser, desk) as page:
        page.goto("/desk/login")
        look(page, "login", problems)
        sign_in_at(page, "/desk/audit", "ada")
        assert page.locator("tbody tr").count() == 13  # each account added
        look(page, "audit", problems)
        page.goto("/desk/accounts")
        assert page.locator("tbody tr").count() == 13
        look(page, "accounts", problems)
    assert problems == {}
