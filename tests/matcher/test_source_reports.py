"""Source.reports: other platforms' feedback on listed hashes, from a live registry."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from reclaim.client import RegistryClient
from reclaim.hashing import SignalType
from reclaim.matcher.config import SourceConfig
from reclaim.matcher.errors import SourceRejected, SourceUnavailable
from reclaim.matcher.ncmec_source import NcmecSource
from reclaim.matcher.records import Outcome, Reports
from reclaim.matcher.registry_source import RegistrySource
from reclaim.matcher.stopncii_source import StopnciiSource
from reclaim.registry.service import Registry
from tests.conftest import live_server, random_pdq
from tests.matcher.conftest import pdq_item, submit

RNG = np.random.default_rng(77)


def source(url: str, key: str) -> RegistrySource:
    return RegistrySource(SourceConfig("reclaim", url, api_key=key))


def test_registry_source_counts_other_platforms_feedback(
    registry_url: str,
    registry_service: Registry,
    person: httpx.Client,
    platform_key: str,
) -> None:
    removed, disputed, own_only = (random_pdq(RNG) for _ in range(3))
    submit(person, *(pdq_item(v) for v in (removed, disputed, own_only)))
    for name, outcome in (("First", "blocked"), ("Second", "not_blocked")):
        key = registry_service.add_platform(name, ["adult"])[1]
        with RegistryClient(registry_url, api_key=key) as other:
            other.feedback(
                [
                    {"type": "pdq", "value": removed, "feedback": outcome},
                    {"type": "pdq", "value": disputed, "feedback": "not_blocked"},
                ]
            )
    mine = source(registry_url, platform_key)
    # The platform's own feedback is left out of its answer.
    mine.report([Outcome(SignalType.PDQ, own_only, "blocked")])
    mine.report([Outcome(SignalType.PDQ, removed, "blocked")])

    # 150 hashes: two requests to the registry (100 at most each).
    unknown = [("pdq", random_pdq(RNG)) for _ in range(146)]
    asked = [
        (SignalType.PDQ, removed),
        ("pdq", own_only),
        *unknown,
        ("pdq", disputed),
        ("pdq", removed.upper()),
    ]
    try:
        found = mine.reports(asked)
    finally:
        mine.close()
    assert dict(found) == {
        ("pdq", removed): Reports(blocked=1, not_blocked=1),
        ("pdq", own_only): Reports(),
        ("pdq", disputed): Reports(not_blocked=2, quarantined=True),
        # Keyed as asked, whatever the case of the hex.
        ("pdq", removed.upper()): Reports(blocked=1, not_blocked=1),
    }


def test_registry_source_failures_are_source_errors(
    registry_url: str, platform_key: str
) -> None:
    asked = [("pdq", random_pdq(RNG))]
    stranger = source(registry_url, "rk_0123456789abcdef_nope")
    with pytest.raises(SourceRejected, match="refused the API key"):
        stranger.reports(asked)
    stranger.close()

    down = source("http://127.0.0.1:9", platform_key)
    with pytest.raises(SourceUnavailable, match="reports are unavailable"):
        down.reports(asked)
    # Nothing to ask: no request, so no failure either.
    assert down.reports([]) == {}
    down.close()

    with live_server(FastAPI()) as old:  # a server without the route: 404
        older = source(old, platform_key)
        with pytest.raises(SourceRejected, match="older than this matcher"):
            older.reports(asked)
        older.close()

    garbled = FastAPI()

    @garbled.post("/api/v1/platform/feedback/summary")
    async def no_results() -> dict[str, object]:
        return {"ok": True, "results": []}

    with live_server(garbled) as url:
        confused = source(url, platform_key)
        with pytest.raises(SourceUnavailable, match="not one summary per hash"):
            confused.reports(asked)
        confused.close()


def test_stopncii_and_ncmec_sources_have_no_reports() -> None:
    asked = [(SignalType.PDQ, random_pdq(RNG))]
    stopncii = StopnciiSource(
        SourceConfig("stopncii", "http://127.0.0.1:9", subscription_key="s")
    )
    ncmec = NcmecSource(
        SourceConfig("ncmec", "http://127.0.0.1:9", user="u", password="p")
    )
    # Empty without asking anything: the closed port would fail any request.
    assert stopncii.reports(asked) == {}
    assert ncmec.reports(asked) == {}
    stopncii.close()
    ncmec.close()
