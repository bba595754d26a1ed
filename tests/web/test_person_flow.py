"""Test like a person: a phone (360 x 780) in English, Arabic, Ukrainian and
Spanish, the whole way through: a photo, a HEIC and a video, the case number,
the status page, labels, adding a file and withdrawing. Every state is
checked with axe and for sideways scrolling, and saved as a screenshot.

Screenshots go to $RECLAIM_TEST_ARTIFACTS (else pytest's tmp dir) and are
copied to test-artifacts/person-flow/ in the repository (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.web.conftest import axe_violations
from tests.web.test_app_flow import message, wait_until_hashed

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def shots(tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Where this run's screenshots go, and the git-ignored copy."""
    root = Path(os.environ.get("RECLAIM_TEST_ARTIFACTS") or tmp_path)
    name = request.node.callspec.id
    folder = root / "person-flow" / name
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    copy = REPOSITORY / "test-artifacts" / "person-flow" / name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy)


@pytest.mark.parametrize("locale", ["en", "ar", "uk", "es"])
def test_a_person_on_a_phone(page_factory, media, shots: Path, locale: str) -> None:  # type: ignore[no-untyped-def]
    page = page_factory(width=360, height=780, locale=locale)
    problems: dict[str, list[object]] = {}
    taken: list[str] = []

    def state(name: str) -> None:
        """Check the page as it is now and keep a picture of it."""
        page.wait_for_timeout(150)  # focus moves and fonts settle
        found: list[object] = list(axe_violations(page))
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 360:
            found.append(f"the page is {width} px wide")
        if found:
            problems[name] = found
        path = shots / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(name)

    page.goto("/")
    assert page.get_attribute("html", "lang") == locale
    state("intro")
    page.click("#start")
    state("eligibility")
    page.check("#program-minor" if locale == "uk" else "#program-adult")
    page.click("#eligibility-form button[type=submit]")
    page.set_input_files(
        "#file-input", [str(media["jpeg"]), str(media["heic"]), str(media["video"])]
    )
    wait_until_hashed(page, 3)
    page.wait_for_timeout(300)  # previews
    state("files-ready")
    page.click("#submit")
    page.wait_for_selector("#step-done:not([hidden])")
    state("case-open")
    number = page.text_content("#case-number") or ""
    pin = page.text_content("#case-pin") or ""

    # Coming back later: a fresh page, the number and PIN typed in.
    page.goto("/")
    page.fill("#status-number", number)
    page.fill("#status-pin", pin)
    page.locator("#status-form").scroll_into_view_if_needed()
    state("status-form")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#status-result:not([hidden])")
    assert page.locator("#status-items .card").count() == 3
    page.locator("#status-result").scroll_into_view_if_needed()
    state("status")
    page.check("#labels-on")
    page.fill("#label-0", {"ar": "صورة الشاطئ"}.get(locale, "beach"))
    state("status-labels")

    page.click("#status-add")
    state("add-files")
    page.set_input_files("#file-input", [str(media["png"])])
    wait_until_hashed(page, 1)
    page.wait_for_timeout(300)
    state("add-files-ready")
    page.click("#submit")
    page.wait_for_selector("#label-3")
    assert page.locator("#status-items .card").count() == 4
    state("status-after-adding")

    page.click("#status-withdraw")
    state("withdraw-confirm")
    page.click("#confirm-yes")
    page.wait_for_selector("#status-withdraw", state="hidden")
    assert page.is_hidden("#status-add")
    summaries = page.locator("#status-items .summary").all_text_contents()
    assert summaries == [message(page, "status.item.withdrawn")] * 4
    state("withdrawn")

    assert problems == {}
    assert len(list(shots.glob("*.png"))) == len(taken) == 12
