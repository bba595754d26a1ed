"""Syncing from, and reporting to, a StopNCII-compatible API (our registry's)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import numpy as np

from reclaim.hashing import PdqHash
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.service import MatcherService, Query
from tests.conftest import random_pdq
from tests.matcher.conftest import pdq_item, submit


def test_stopncii_sync_withdrawal_and_feedback(
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., MatcherConfig],
    person: httpx.Client,
    registry_url: str,
    platform_key: str,
) -> None:
    rng = np.random.default_rng(21)
    kept, withdrawn = random_pdq(rng), random_pdq(rng)
    owner = submit(person, pdq_item(kept), {"type": "md5", "value": "12" * 16})
    case = submit(person, pdq_item(withdrawn))
    config = make_config(
        source={
            "kind": "stopncii",
            "url": f"{registry_url}/stopncii/v1",
            "api_key": "",
            "subscription_key": platform_key,
            "page_size": 2,
        }
    )
    service = make_service(config)
    assert service.sync_once().result == "ok", service.syncer.status.message
    assert service.status()["list"]["by_type"] == {"pdq": 2, "md5": 1, "vpdq": 0}

    person.post(
        f"/api/v1/cases/{case['case_number']}/withdraw", json={"pin": case["pin"]}
    )
    assert service.sync_once().result == "ok"
    assert service.status()["list"]["by_type"]["pdq"] == 1
    found = service.find([Query(pdq=(PdqHash.parse(withdrawn),))])[0]
    assert found == []

    (result,) = service.match([Query(pdq=(PdqHash.parse(kept),))])
    assert result.matches[0][0].program == "adult"
    service.decide(result.matches[0][1].id, "blocked")
    service.deliver()
    assert service.outbox.pending()["feedback"] == 0
    assert service.last_feedback.error is None
    status = person.post(
        f"/api/v1/cases/{owner['case_number']}/status", json={"pin": owner["pin"]}
    ).json()["case"]
    removed = {h["type"]: h["platforms_removed"] for h in status["hashes"]}
    assert removed == {"pdq": 1, "md5": 0}


def test_a_wrong_stopncii_key_is_rejected(
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., MatcherConfig],
    registry_url: str,
) -> None:
    config = make_config(
        source={
            "kind": "stopncii",
            "url": f"{registry_url}/stopncii/v1",
            "subscription_key": "rk_wrong",
        }
    )
    status = make_service(config).sync_once()
    assert status.result == "rejected"
