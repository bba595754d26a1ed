"""The NCMEC source end to end against the registry's own NCMEC view (/ncmec/v2).

The registry serves each hash record as an NCMEC entry (PDQ as an image, MD5
as a video) and a withdrawn one as a tombstone, with Basic auth: the
platform's name and API key. Here a matcher reads the registry both ways at
once, "registry" (its platform feed) and "ncmec" (its NCMEC view).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from reclaim.hashing import Md5Hash, PdqHash
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.ncmec_source import NcmecSource
from reclaim.matcher.service import MatcherService, Query
from reclaim.registry.service import Registry
from tests.conftest import random_pdq
from tests.matcher.conftest import pdq_item, submit

#: Record times to the microsecond: these tests sync right after a change,
#: where the registry's whole-minute times would hold it back up to a minute
#: (tests/registry/test_feed.py covers the real minute).
pytestmark = pytest.mark.usefixtures("precise_feed_times")

MD5 = "c3" * 16


def matcher(
    make_service: Callable[..., MatcherService],
    tmp_path: Path,
    registry_url: str,
    platform_key: str,
    *,
    both: bool = True,
) -> MatcherService:
    ncmec = {
        "name": "ncmec",
        "kind": "ncmec",
        "url": f"{registry_url}/ncmec",
        "user": "Example Social",
        "password": platform_key,
        "page_size": 2,  # several pages per window
        # The cases here are in the registry's adult program: labelled so, a
        # hash both sources list is one review entry.
        "program": "adult",
    }
    registry = {"name": "registry", "url": registry_url, "api_key": platform_key}
    data: dict[str, Any] = {
        "sources": [ncmec, registry] if both else [ncmec],
        "store": {"url": f"sqlite:///{tmp_path}/matcher.db"},
        "sync": {"poll_seconds": 0.05, "max_backoff_seconds": 0.2},
    }
    config = MatcherConfig.from_mapping(data)
    source = NcmecSource(config.sources[0])
    # The registry seals every window it answers: nothing written after an
    # answer joins it, so the fetch may end at the clock itself.
    source.settle_seconds = 0
    return make_service(config, sources={"ncmec": source})


def next_second() -> None:
    """Let the clock pass into a new whole second (windows are whole seconds)."""
    time.sleep(1.05 - time.time() % 1)


def sources_of(service: MatcherService, query: Query) -> list[str]:
    return sorted(m.source for m in service.find([query])[0])


def case_status(person: httpx.Client, case: dict[str, Any]) -> dict[str, Any]:
    response = person.post(
        f"/api/v1/cases/{case['case_number']}/status", json={"pin": case["pin"]}
    )
    body: dict[str, Any] = response.json()["case"]
    return body


def test_sync_match_feedback_and_withdrawal(
    make_service: Callable[..., MatcherService],
    tmp_path: Path,
    registry_url: str,
    platform_key: str,
    person: httpx.Client,
) -> None:
    rng = np.random.default_rng(81)
    values = [random_pdq(rng) for _ in range(3)]
    case = submit(person, *(pdq_item(v) for v in values), {"type": "md5", "value": MD5})
    service = matcher(make_service, tmp_path, registry_url, platform_key)
    assert service.sync_once().result == "ok", service.status()["sources"]
    status = service.status()["sources"]
    assert status["ncmec"]["listed"] == {"pdq": 3, "md5": 1, "vpdq": 0}
    assert status["registry"]["listed"] == {"pdq": 3, "md5": 1, "vpdq": 0}
    assert status["ncmec"]["result"] == "ok" and status["ncmec"]["cursor"]
    assert platform_key not in str(status)
    pdq = Query(pdq=(PdqHash.parse(values[0]),))
    md5 = Query(md5=Md5Hash.parse(MD5))
    assert sources_of(service, pdq) == ["ncmec", "registry"]
    assert sources_of(service, md5) == ["ncmec", "registry"]

    # One review entry naming both; the decision goes back both ways.
    (result,) = service.match([pdq])
    item = result.matches[0][1]
    assert item.sources == ("ncmec", "registry")
    service.decide(item.id, "blocked", reviewer="mod")
    service.deliver()
    assert service.outbox.pending()["feedback"] == 0
    assert service.last_feedback.error is None
    assert case_status(person, case)["hashes"][0]["platforms_removed"] == 1

    # Withdrawn: the tombstones take every hash off the NCMEC listing too.
    person.post(
        f"/api/v1/cases/{case['case_number']}/withdraw", json={"pin": case["pin"]}
    ).raise_for_status()
    next_second()
    assert service.sync_once().result == "ok"
    assert sources_of(service, pdq) == [] and sources_of(service, md5) == []
    assert service.status()["list"]["size"] == 0


def test_negative_feedback_and_a_revoked_key(
    make_service: Callable[..., MatcherService],
    tmp_path: Path,
    registry_url: str,
    platform_key: str,
    person: httpx.Client,
    registry_service: Registry,
) -> None:
    value = random_pdq(np.random.default_rng(82))
    case = submit(person, pdq_item(value))
    service = matcher(make_service, tmp_path, registry_url, platform_key, both=False)
    assert service.sync_once().result == "ok"
    (result,) = service.match([Query(pdq=(PdqHash.parse(value),))])
    assert [m.source for m, _ in result.matches] == ["ncmec"]
    service.decide(result.matches[0][1].id, "not_blocked")
    service.deliver()
    assert service.outbox.pending()["feedback"] == 0
    hashes = case_status(person, case)["hashes"][0]
    assert (hashes["platforms_reviewed"], hashes["platforms_removed"]) == (1, 0)

    registry_service.revoke_platform("Example Social")
    next_second()
    status = service.sync_once()
    assert status.result == "rejected"
    assert "user and password" in (status.message or "")
    assert sources_of(service, Query(pdq=(PdqHash.parse(value),))) == ["ncmec"]
