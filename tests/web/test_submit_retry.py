"""The page keeps one Idempotency-Key per case and retries a lost answer."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import httpx

from tests.web.test_app_flow import choose_program_and_files, wait_until_hashed

KEY = re.compile(r"[A-Za-z0-9_-]{22,64}")


def test_a_lost_answer_is_retried_with_the_same_key(  # type: ignore[no-untyped-def]
    page_factory, media: dict[str, Path], app_url: str, tmp_path: Path
) -> None:
    """The registry creates the case, the connection drops before the answer
    arrives: the page sends the same request with the same key, shows the
    case it got, and the registry holds that one case only."""
    page = page_factory()
    keys: list[str | None] = []

    def lose_the_first_answer(route) -> None:  # type: ignore[no-untyped-def]
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fetch()  # the registry does the work...
            route.abort("connectionreset")  # ...and the answer is lost
        else:
            route.continue_()

    page.route(f"{app_url}/api/v1/cases", lose_the_first_answer)
    page.goto("/")
    choose_program_and_files(page, [media["jpeg"]])
    wait_until_hashed(page, 1)
    page.click("#submit")
    page.wait_for_selector("#step-done:not([hidden])")
    number = page.text_content("#case-number") or ""
    pin = page.text_content("#case-pin") or ""
    assert len(keys) == 2 and keys[0] == keys[1]
    assert keys[0] is not None and KEY.fullmatch(keys[0])
    with sqlite3.connect(tmp_path / "web.db") as db:
        assert db.execute("SELECT number FROM cases").fetchall() == [(number,)]
    status = httpx.post(f"{app_url}/api/v1/cases/{number}/status", json={"pin": pin})
    assert status.status_code == 200


def test_each_new_case_gets_a_new_key(  # type: ignore[no-untyped-def]
    page_factory, media: dict[str, Path], app_url: str
) -> None:
    page = page_factory()
    keys: list[str | None] = []

    def note(route) -> None:  # type: ignore[no-untyped-def]
        keys.append(route.request.headers.get("idempotency-key"))
        route.continue_()

    page.route(f"{app_url}/api/v1/cases", note)
    for _ in range(2):
        page.goto("/")
        choose_program_and_files(page, [media["png"]])
        wait_until_hashed(page, 1)
        page.click("#submit")
        page.wait_for_selector("#step-done:not([hidden])")
    assert len(keys) == 2 and all(k and KEY.fullmatch(k) for k in keys)
    assert keys[0] != keys[1]
