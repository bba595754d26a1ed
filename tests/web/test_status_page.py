"""The case status page on a phone: one card per item in plain words, no
sideways scroll at 360 px in any language, and nothing offered that a
withdrawn case cannot do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from reclaim.api.app import create_app
from reclaim.config import Settings
from reclaim.registry import schema
from reclaim.registry.service import Registry
from reclaim.web.i18n import LANGUAGES
from tests.conftest import live_server, random_pdq
from tests.web.conftest import axe_violations, wait_for

#: A label a person might type: long, one unbroken word, and in another script.
LONG_LABEL = "Strandfoto-vom-Sommerurlaub-mit-Freunden-ثانية-2024"


@dataclass(frozen=True)
class RealCase:
    url: str
    number: str
    pin: str


@pytest.fixture(scope="module")
def real_case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCase]:
    """A served registry with one case that platforms have acted on: three
    photos (removed by one; found by two, one removed, one still reviewing;
    not found) and a video one platform reviewed and kept up."""
    root = tmp_path_factory.mktemp("status")
    settings = Settings(
        database_url=f"sqlite:///{root}/status.db",
        case_rate=(1000, 3600),
        pin_rate=(1000, 3600),
        leave_url="about:blank",
    )
    registry = Registry(settings)
    schema.upgrade(registry.db.engine)
    rng = np.random.default_rng(15)
    photos = [random_pdq(rng) for _ in range(3)]
    video = "".join(rng.choice(list("0123456789abcdef"), 32))
    items = [
        {"type": "pdq", "value": value, "quality": 100, "item": index}
        for index, value in enumerate(photos)
    ] + [{"type": "md5", "value": video, "item": 3}]
    created = registry.create_case("adult", items)
    keys = {}
    for name in ("Example Social", "Picture Board Worldwide"):
        _, keys[name] = registry.add_platform(name, ["adult", "minor"])

    def feedback(platform: str, kind: str, value: str, outcome: str) -> None:
        identity = registry.authenticate(keys[platform])
        item = {"type": kind, "value": value, "feedback": outcome}
        registry.give_feedback(identity, [{**item, "copies": 2, "shareable": True}])

    feedback("Example Social", "pdq", photos[0], "blocked")
    feedback("Example Social", "pdq", photos[1], "blocked")
    feedback("Picture Board Worldwide", "pdq", photos[1], "pending_review")
    feedback("Picture Board Worldwide", "md5", video, "not_blocked")
    with live_server(create_app(settings, registry)) as url:
        yield RealCase(url, created.number, created.pin)
    registry.close()


def open_status(
    browser, case: RealCase, *, lang: str, width: int = 360, height: int = 780
):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=case.url, viewport={"width": width, "height": height}
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"/?lang={lang}")
    page.fill("#status-number", case.number)
    page.fill("#status-pin", case.pin)
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#status-result:not([hidden])")
    return page


#: Elements that overflow the viewport or their own box, as "tag#id.class: why".
OVERFLOWS = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('.visually-hidden, .skip, dialog:not([open])')) continue;
    if (el.getClientRects().length === 0) continue;
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (typeof el.className === 'string' && el.className ? '.' + el.className : '');
    const box = el.getBoundingClientRect();
    if (box.right > width + 0.5 || box.left < -0.5) {
      found.push(`${name}: spans ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
    const style = getComputedStyle(el);
    const own = !['INPUT', 'SELECT', 'TEXTAREA', 'OPTION'].includes(el.tagName) &&
      style.display !== 'inline' && el.clientWidth > 0;
    if (own && el.scrollWidth > el.clientWidth + 1) {
      found.push(`${name}: content ${el.scrollWidth} px in ${el.clientWidth} px`);
    }
  }
  return found;
}"""


@pytest.mark.parametrize("language", [lang.code for lang in LANGUAGES])
def test_status_fits_a_phone(browser, real_case: RealCase, language: str) -> None:  # type: ignore[no-untyped-def]
    page = open_status(browser, real_case, lang=language)
    try:
        assert page.get_attribute("html", "lang") == language
        assert page.locator("#status-items .card").count() == 4
        # The labels a person keeps on the device, as long as they come.
        page.check("#labels-on")
        page.fill("#label-0", LONG_LABEL)
        page.fill("#label-3", "видео " * 9)
        page.locator("#status-items").scroll_into_view_if_needed()
        width = page.evaluate("document.documentElement.scrollWidth")
        viewport = page.evaluate("window.innerWidth")
        assert width <= viewport, f"{language}: the page is {width} px wide at 360"
        assert page.evaluate(OVERFLOWS) == [], language
    finally:
        page.context.close()


def card_texts(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        " | ".join(
            t.strip()
            for t in card.locator("h3, .summary, .shared li").all_text_contents()
        )
        for card in page.locator("#status-items .card").all()
    ]


def test_cards_say_what_happened_in_plain_words(browser, real_case: RealCase) -> None:  # type: ignore[no-untyped-def]
    page = open_status(browser, real_case, lang="en")
    try:
        assert card_texts(page) == [
            "Photo 1 | Found on 1 platform · removed | Example Social: removed",
            "Photo 2 | Found on 2 platforms · removed by 1 · waiting for review by 1"
            " | Example Social: removed | Picture Board Worldwide: under review",
            "Photo 3 | Not found on any platform yet.",
            "Video 1 | Found on 1 platform · reviewed, not removed"
            " | Picture Board Worldwide: reviewed, not removed",
        ]
        assert page.locator("table").count() == 0
    finally:
        page.context.close()


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("uk", ["Знайдено на 1 платформі", "Знайдено на 2 платформах"]),
        ("pl", ["Znaleziono na 1 platformie", "Znaleziono na 2 platformach"]),
        ("ar", ["عدد المنصات التي عثرت عليه: 1", "عدد المنصات التي عثرت عليه: 2"]),
    ],
)
def test_cards_use_the_languages_plural_forms(
    browser, real_case: RealCase, language: str, expected: list[str]
) -> None:  # type: ignore[no-untyped-def]
    page = open_status(browser, real_case, lang=language)
    try:
        summaries = page.locator("#status-items .summary").all_text_contents()
        # Arabic may write its numbers in Arabic-Indic digits.
        western = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")
        firsts = [s.split(" · ")[0].translate(western) for s in summaries[:2]]
        assert firsts == expected
    finally:
        page.context.close()


def test_labels_name_the_cards_and_can_be_switched_off(
    browser, real_case: RealCase
) -> None:  # type: ignore[no-untyped-def]
    page = open_status(browser, real_case, lang="en")
    try:
        assert page.locator("#status-items input").count() == 0  # off by default
        assert page.evaluate("localStorage.length") == 0
        page.check("#labels-on")
        page.fill("#label-1", "beach, blue towel")
        assert page.locator("#status-items h3").nth(1).text_content() == (
            "beach, blue towel (Photo 2)"
        )
        stored = page.evaluate("Object.entries(localStorage)")
        assert len(stored) == 1
        key, value = stored[0]
        # Keyed by a hash of the case number, never the number itself.
        assert real_case.number not in key and real_case.number not in value
        assert key.startswith("reclaim-labels:") and len(key) == 15 + 64
        # Shown again when the case is opened later on this device.
        page.reload()
        page.fill("#status-number", real_case.number)
        page.fill("#status-pin", real_case.pin)
        page.click("#status-form button[type=submit]")
        wait_for(page, "() => document.querySelectorAll('#status-items input').length")
        assert page.input_value("#label-1") == "beach, blue towel"
        assert page.is_checked("#labels-on")
        assert axe_violations(page) == []
        # The off switch forgets them.
        page.uncheck("#labels-on")
        assert page.locator("#status-items input").count() == 0
        assert page.evaluate("localStorage.length") == 0
        assert page.locator("#status-items h3").nth(1).text_content() == "Photo 2"
    finally:
        page.context.close()


def test_withdrawn_case_offers_no_add_or_withdraw(
    page_factory, media: dict[str, Path]
) -> None:  # type: ignore[no-untyped-def]
    """Issue 15, item 7: `button { display: inline-flex }` beat `hidden`."""
    from tests.web.test_app_flow import choose_program_and_files, wait_until_hashed

    page = page_factory(width=360, height=780)
    page.goto("/")
    choose_program_and_files(page, [media["jpeg"]])
    wait_until_hashed(page, 1)
    page.click("#submit")
    page.wait_for_selector("#step-done:not([hidden])")
    number = page.text_content("#case-number") or ""
    pin = page.text_content("#case-pin") or ""
    page.fill("#status-pin", pin)
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#status-result:not([hidden])")
    assert page.is_visible("#status-add") and page.is_visible("#status-withdraw")
    page.click("#status-withdraw")
    page.click("#confirm-yes")
    wait_for(page, "() => document.getElementById('status-withdraw').hidden")
    assert page.is_hidden("#status-add") and page.is_hidden("#status-withdraw")
    # And when the withdrawn case is looked up again later.
    page.reload()
    page.fill("#status-number", number)
    page.fill("#status-pin", pin)
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#status-result:not([hidden])")
    assert page.is_hidden("#status-add") and page.is_hidden("#status-withdraw")
    summary = page.text_content("#status-items .summary") or ""
    assert summary == "Withdrawn: platforms no longer look for it."
