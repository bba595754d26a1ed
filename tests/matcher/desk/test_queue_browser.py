"""The review desk in Chromium, as a moderator uses it: sign in, filter,
reveal a blurred preview with the keyboard, decide two matches at once after
confirming, and undo. The queue and match pages are checked with axe and for
sideways scrolling at 1280 px and 360 px.

Screenshots go to $DESK_SCREENSHOTS (when set) as desk-<page>.png.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

from reclaim.matcher.desk.accounts import Role
from tests.matcher.desk.conftest import (
    Desk,
    desk_page,
    look,
    sign_in_at,
)
from tests.matcher.desk.test_previews import listed_upload, upload
from tests.matcher.desk.test_queue import queue_some


def test_a_moderator_works_the_queue(
    serve_desk: Callable[..., Desk],
    person: httpx.Client,
    photos: dict[str, np.ndarray],
    browser: Any,
) -> None:
    desk = serve_desk(desk={"keep_media_hours": 2, "undo_seconds": 120})
    ids = []
    for name in ("astronaut", "chelsea"):
        data = listed_upload(desk, person, photos[name])
        reply = upload(desk, data, f"post-{name}")
        ids.append(reply.json()["matches"][0]["match_id"])
    others = queue_some(desk.service, 3, program="minor", seed=40)
    desk.account("kim", Role.REVIEWER)
    problems: dict[str, list[object]] = {}
    with desk_page(browser, desk) as page:
        sign_in_at(page, "/desk", "kim")
        assert page.locator("tr[data-row]").count() == 5

        # Filter: the adult program only.
        page.select_option("#f-program", "adult")
        page.click(".filters button[type=submit]")
        page.wait_for_url("**/desk?*program=adult*")
        assert page.locator("tr[data-row]").count() == 2
        # Typing in a field never fires a shortcut.
        page.focus("#f-older")
        page.keyboard.type("j")
        assert page.locator("tr[data-row].current").count() == 0
        page.fill("#f-older", "")
        page.locator("h1").click()
        look(page, "queue", problems)

        # Reveal the first row's preview with the keyboard.
        first = page.locator("tr[data-row]").first
        image = first.locator("img")
        assert "revealed" not in (image.get_attribute("class") or "")
        blurred = image.evaluate("i => getComputedStyle(i).filter")
        assert "blur" in blurred
        page.keyboard.press("j")
        page.keyboard.press("r")
        assert "revealed" in (image.get_attribute("class") or "")
        assert image.evaluate("i => getComputedStyle(i).filter") == "none"
        assert first.locator("button[data-reveal]").get_attribute("aria-pressed") == (
            "true"
        )

        # The match page, its preview revealed by keyboard too.
        page.goto(f"/desk/matches/{ids[0]}")
        assert "Why it matched" in page.content()
        look(page, "match", problems)
        page.keyboard.press("r")
        assert "revealed" in (page.get_attribute("#preview", "class") or "")
        page.keyboard.press("?")
        assert page.locator("#shortcuts").evaluate("d => d.open")

        # Select both with j/x, decide with b, confirm in the dialog.
        page.goto("/desk?program=adult")
        page.keyboard.press("j")
        page.keyboard.press("x")
        page.keyboard.press("j")
        page.keyboard.press("x")
        page.keyboard.press("b")
        dialog = page.locator("dialog#confirm")
        dialog.wait_for(state="visible")
        assert "Mark 2 matches as Blocked?" in dialog.inner_text()
        look(page, "queue-confirm", problems)
        dialog.locator("[data-confirm]").click()
        page.wait_for_selector(".notice")
        assert "2 marked Blocked" in page.inner_text(".notice")
        assert desk.service.queue.counts()["blocked"] == 2
        assert page.locator("tr[data-row]").count() == 0  # none pending left
        look(page, "queue-undo", problems)

        # Undo the last one with u.
        page.keyboard.press("u")
        page.wait_for_selector(".notice >> text=Undone")
        assert desk.service.queue.counts()["blocked"] == 1
        assert desk.service.queue.counts()["pending"] == 1 + len(others)
    assert problems == {}
