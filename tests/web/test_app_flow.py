"""The whole flow in a browser: Spanish, phone-sized, photo + HEIC + video."""

from __future__ import annotations

import re
from pathlib import Path

from reclaim.hashing import pdq_hash
from tests.web.conftest import wait_for


def choose_program_and_files(page, files, program="adult"):  # type: ignore[no-untyped-def]
    page.click("#start")
    page.check(f"#program-{program}")
    page.click("#eligibility-form button[type=submit]")
    page.set_input_files("#file-input", [str(f) for f in files])


def wait_until_hashed(page, count: int) -> None:  # type: ignore[no-untyped-def]
    wait_for(
        page,
        """count => {
            const m = JSON.parse(document.getElementById('messages').textContent);
            const states = [...document.querySelectorAll('#file-list .state')];
            return states.length === count &&
                states.every(s => s.textContent !== m['files.hashing']);
        }""",
        arg=count,
    )


def message(page, key: str) -> str:  # type: ignore[no-untyped-def]
    return str(
        page.evaluate(
            "k => JSON.parse(document.getElementById('messages').textContent)[k]", key
        )
    )


def test_spanish_phone_flow(
    page_factory, media: dict[str, Path], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    page = page_factory(width=360, height=780, locale="es-ES")
    page.goto("/")
    assert page.get_attribute("html", "lang") == "es"
    choose_program_and_files(page, [media["jpeg"], media["heic"], media["video"]])
    wait_until_hashed(page, 3)
    states = page.locator("#file-list .state").all_text_contents()
    assert states == [message(page, "files.ready")] * 3, states
    page.screenshot(path=str(tmp_path / "phone-files.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.click("#submit")
    page.wait_for_selector("#step-done:not([hidden])")
    number = page.text_content("#case-number") or ""
    pin = page.text_content("#case-pin") or ""
    assert re.fullmatch(r"[0-9A-Z]{3}-[0-9A-Z]{3}-[0-9A-Z]{3}", number)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", pin)
    receipt = page.get_attribute("#receipt", "href") or ""
    assert receipt.startswith("blob:")
    page.screenshot(path=str(tmp_path / "phone-done.png"), full_page=True)

    page.fill("#status-pin", pin)
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#status-result:not([hidden])")
    cards = page.locator("#status-items .card").count()
    assert cards == 3
    page.click("#status-withdraw")
    page.click("#confirm-yes")
    wait_for(page, "() => document.getElementById('status-withdraw').hidden")
    assert message(page, "status.withdrawn") in (
        page.text_content("#status-case") or ""
    )


def test_browser_pdq_matches_python_on_the_jpeg(page_factory, media, app_url) -> None:  # type: ignore[no-untyped-def]
    import httpx

    page = page_factory()
    page.goto("/")
    choose_program_and_files(page, [media["jpeg"], media["png"]])
    wait_until_hashed(page, 2)
    page.click("#submit")
    page.wait_for_selector("#step-done:not([hidden])")
    number = page.text_content("#case-number")
    pin = page.text_content("#case-pin")
    case = httpx.post(
        f"{app_url}/api/v1/cases/{number}/status", json={"pin": pin}
    ).json()
    sent = {h["value"] for h in case["case"]["hashes"]}
    for name in ("jpeg", "png"):
        expected = pdq_hash(media[name], exact=True)
        distances = [bin(int(v, 16) ^ expected.value).count("1") for v in sent]
        assert min(distances) <= 4, (name, distances)


def test_bad_files_are_explained_not_sent(page_factory, media) -> None:  # type: ignore[no-untyped-def]
    page = page_factory()
    page.goto("/")
    choose_program_and_files(page, [media["broken"]])
    wait_until_hashed(page, 1)
    assert "bad" in (page.get_attribute("#file-list .state", "class") or "")
    page.click("#submit")
    assert page.is_visible("#files-error")
    assert page.is_hidden("#step-done")


def test_add_more_files_to_a_case(page_factory, media: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    page = page_factory()
    page.goto("/")
    choose_program_and_files(page, [media["jpeg"]])
    wait_until_hashed(page, 1)
    page.click("#submit")
    page.wait_for_selector("#step-done:not([hidden])")
    page.fill("#status-pin", page.text_content("#case-pin") or "")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#status-result:not([hidden])")
    assert page.locator("#status-items .card").count() == 1
    page.click("#status-add")
    assert page.is_visible("#step-files")
    page.set_input_files("#file-input", [str(media["png"]), str(media["video"])])
    wait_until_hashed(page, 2)
    page.click("#submit")
    wait_for(page, "() => document.querySelectorAll('#status-items .card').length == 3")
    titles = page.locator("#status-items .card h3").all_text_contents()
    video = message(page, "status.item.video").replace("{number}", "1")
    assert titles.count(video) == 1, titles
