"""The moderators' review page: listing, deciding, escaping, same-origin posts."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import numpy as np

from reclaim.hashing import PdqHash
from reclaim.matcher.app import create_app
from reclaim.matcher.service import MatcherService, Query
from tests.conftest import live_server, random_pdq
from tests.matcher.conftest import pdq_item, submit


def test_review_page(
    make_service: Callable[..., MatcherService], person: httpx.Client
) -> None:
    listed = random_pdq(np.random.default_rng(41))
    submit(person, pdq_item(listed))
    service = make_service()
    service.sync_once()
    service.match([Query(pdq=(PdqHash.parse(listed),), reference="<b>post</b>")])
    with (
        live_server(create_app(service)) as url,
        httpx.Client(base_url=url, timeout=30) as browser,
    ):
        page = browser.get("/review")
        assert page.status_code == 200
        assert "&lt;b&gt;post&lt;/b&gt;" in page.text and "<b>post" not in page.text
        assert listed not in page.text  # list hashes are never shown
        assert "form-action 'self'" in page.headers["content-security-policy"]

        foreign = browser.post(
            "/review/1",
            content="decision=blocked",
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 422
        assert service.queue.get(1).state.value == "pending"

        decided = browser.post(
            "/review/1",
            content="decision=blocked&reviewer=ana",
            headers={
                "Origin": url,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert decided.status_code == 303 and decided.headers["location"] == "/review"
        assert service.queue.get(1).state.value == "blocked"
        assert service.queue.get(1).reviewer == "ana"
        assert "Nothing to review." in browser.get("/review").text
