"""Removal requests in Chromium: a person fills the public form and sees
the receipt once (a reload files nothing more and shows no receipt); a
lead finds the request on the desk (deadline, copies, record of efforts)
and marks a copy removed. Every page is checked with axe and for sideways
scrolling at 1280 px and 360 px.

Screenshots go to $DESK_SCREENSHOTS (when set) as desk-<page>.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from reclaim.matcher.desk.accounts import Role
from tests.conftest import encode
from tests.matcher.desk.conftest import (
    Desk,
    desk_page,
    look,
    sign_in_at,
)
from tests.matcher.removals.conftest import EMAIL, NAME
from tests.matcher.removals.test_api import turned, upload


def test_a_person_files_a_request_and_a_lead_acts_on_it(
    removals_desk: Callable[..., Desk],
    photos: dict[str, np.ndarray],
    browser: Any,
) -> None:
    desk = removals_desk()
    platform = desk.client()
    upload(platform, "post-1", encode(photos["astronaut"], "JPEG", quality=95))
    upload(platform, "post-2", turned(photos["astronaut"]))
    desk.account("lee", Role.LEAD)
    problems: dict[str, list[object]] = {}
    with desk_page(browser, desk) as page:
        page.goto("/removal")
        look(page, "removal-form", problems)
        page.fill("#locations", "https://social.example/p/post-1")
        page.check("input[name=statement_confirmed]")
        page.fill("#email", EMAIL)
        page.fill("#signature", NAME)
        page.check("input[name=signature_confirmed]")
        page.click("button[type=submit].primary")
        page.wait_for_selector("#receipt")
        receipt = page.inner_text("#receipt").strip()
        assert len(receipt) >= 30
        number = re.search(r"RR-[A-Z2-9]{10}", page.inner_text("main"))
        assert number is not None
        assert "48 hours" in page.inner_text("main")
        look(page, "removal-receipt", problems)
        # A reload sends the form again: nothing more is filed, and the
        # receipt is not shown again.
        page.reload()
        page.wait_for_selector("h1")
        again = page.inner_text("main")
        assert "We already received this request" in again
        assert number.group(0) in again and receipt not in page.content()
        look(page, "removal-repeat", problems)
        assert desk.service.removals.store.listed(view="all").total == 1
        page.goto("/removal/status")
        page.fill("#number", number.group(0))
        page.fill("#receipt-input", receipt)
        page.click("button[type=submit].primary")
        assert "our team is checking it" in page.inner_text("main")
        assert receipt not in page.content()

        assert desk.service.removals.search_owed() == 1  # the loop's work
        sign_in_at(page, "/desk/removals", "lee")
        look(page, "removals", problems)
        page.click(f"text={number.group(0)}")
        page.wait_for_url(f"**/desk/removals/{number.group(0)}")
        text = page.inner_text("main")
        assert "Deadline:" in text and re.search(r"4[78] h \d+ min left", text)
        assert "found in the catalog" in text and "named in the request" in text
        assert NAME in text  # a lead sees the signature
        assert "Catalog searched" in text and "Waiting for a lead to check" in text
        look(page, "removal", problems)
        page.click("button[value=post-1]")
        page.wait_for_selector(".notice")
        assert "1 marked removed" in page.inner_text(".notice")
        assert page.locator("button[value=post-1]").count() == 0
    assert not problems, problems
