"""One matcher on two registries: labels, separate cursors, outages, withdrawals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from reclaim.hashing import PdqHash
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.service import MatcherService, Query
from reclaim.registry.service import Registry
from tests.conftest import generous_settings, live_server, migrated_registry, random_pdq
from tests.matcher.conftest import pdq_item, submit


@dataclass
class Other:
    """A second registry, with its own platform key and a person's client."""

    service: Registry
    url: str
    key: str
    person: httpx.Client


@pytest.fixture
def other(tmp_path: Path) -> Iterator[Other]:
    from reclaim.api.app import create_app

    settings = generous_settings(f"sqlite:///{tmp_path}/other.db")
    with migrated_registry(settings) as registry:
        key = registry.add_platform("Example Social", ["minor", "adult"])[1]
        with live_server(create_app(settings, registry)) as url:
            with httpx.Client(base_url=url, timeout=30) as person:
                yield Other(registry, url, key, person)


@pytest.fixture
def two(
    tmp_path: Path,
    registry_url: str,
    platform_key: str,
    other: Other,
    make_service: Callable[..., MatcherService],
) -> Callable[..., MatcherService]:
    """A matcher with the sources "a" (the main registry) and "b" (`other`)."""

    def make(b_url: str | None = None, **extra: Any) -> MatcherService:
        data: dict[str, Any] = {
            "sources": [
                {"name": "a", "url": registry_url, "api_key": platform_key},
                {"name": "b", "url": b_url or other.url, "api_key": other.key},
            ],
            "store": {"url": f"sqlite:///{tmp_path}/matcher.db"},
            "sync": {"poll_seconds": 0.05, "max_backoff_seconds": 0.2},
            **extra,
        }
        return make_service(MatcherConfig.from_mapping(data))

    return make


def sources_of(service: MatcherService, value: str) -> list[str]:
    found = service.find([Query(pdq=(PdqHash.parse(value),))])[0]
    return sorted(m.source for m in found)


def withdraw(person: httpx.Client, case: dict[str, Any]) -> None:
    person.post(
        f"/api/v1/cases/{case['case_number']}/withdraw", json={"pin": case["pin"]}
    ).raise_for_status()


def test_matches_are_labelled_and_withdrawn_per_source(
    two: Callable[..., MatcherService], person: httpx.Client, other: Other
) -> None:
    rng = np.random.default_rng(61)
    shared, only_a = random_pdq(rng), random_pdq(rng)
    case_a = submit(person, pdq_item(shared), pdq_item(only_a))
    case_b = submit(other.person, pdq_item(shared))
    service = two()
    assert service.sync_once().result == "ok"
    assert sources_of(service, shared) == ["a", "b"]
    assert sources_of(service, only_a) == ["a"]
    status = service.status()
    assert status["ok"] is True
    assert status["sources"]["a"]["listed"]["pdq"] == 2
    assert status["sources"]["b"]["listed"]["pdq"] == 1
    assert status["sources"]["a"]["cursor"] is not None
    assert status["sources"]["b"]["kind"] == "reclaim"

    # The hash both list: one review entry, both sources named.
    (result,) = service.match([Query(pdq=(PdqHash.parse(shared),), reference="u1")])
    entries = {item.id for _, item in result.matches}
    assert len(entries) == 1
    item = result.matches[0][1]
    assert item.sources == ("a", "b")
    assert item.summary()["sources"] == ["a", "b"]
    assert item.summary()["matched_hashes"] == 1

    # Withdrawn from b: still listed by a, so still matched, labelled a.
    withdraw(other.person, case_b)
    service.sync_once()
    assert sources_of(service, shared) == ["a"]
    withdraw(person, case_a)
    service.sync_once()
    assert sources_of(service, shared) == []
    assert service.status()["list"]["size"] == 0
    metrics = service.metrics.render().decode()
    assert 'reclaim_matcher_source_syncs_total{result="ok",source="b"}' in metrics
    assert 'reclaim_matcher_source_list_size{source="a",type="pdq"} 0.0' in metrics


def test_feedback_goes_to_each_source_that_listed_the_hash(
    two: Callable[..., MatcherService], person: httpx.Client, other: Other
) -> None:
    rng = np.random.default_rng(62)
    shared, only_a = random_pdq(rng), random_pdq(rng)
    case_a = submit(person, pdq_item(shared))
    submit(person, pdq_item(only_a))
    case_b = submit(other.person, pdq_item(shared))
    service = two()
    service.sync_once()
    (result,) = service.match([Query(pdq=(PdqHash.parse(shared),))])
    service.decide(result.matches[0][1].id, "blocked", reviewer="mod")
    service.deliver()
    assert service.outbox.pending()["feedback"] == 0
    for client, case in ((person, case_a), (other.person, case_b)):
        status = client.post(
            f"/api/v1/cases/{case['case_number']}/status", json={"pin": case["pin"]}
        ).json()["case"]
        assert status["hashes"][0]["platforms_removed"] == 1


def test_one_source_down_leaves_the_other_syncing(
    two: Callable[..., MatcherService], person: httpx.Client, other: Other
) -> None:
    rng = np.random.default_rng(63)
    first, later = random_pdq(rng), random_pdq(rng)
    submit(other.person, pdq_item(first))
    service = two(b_url="http://127.0.0.1:9")  # nothing listens there
    status = service.sync_once()
    assert status.result == "unavailable"
    report = service.status()
    assert report["ok"] is False
    assert report["sources"]["a"]["result"] == "ok"
    assert report["sources"]["b"]["result"] == "unavailable"
    assert report["sources"]["b"]["consecutive_failures"] == 1
    submit(person, pdq_item(later))
    service.sync_source("a")
    assert sources_of(service, later) == ["a"]
    # Feedback for a's listing is not held up by b.
    (result,) = service.match([Query(pdq=(PdqHash.parse(later),))])
    service.decide(result.matches[0][1].id, "not_blocked")
    service.deliver()
    assert service.outbox.pending()["feedback"] == 0


def test_a_source_taken_out_of_the_config_leaves_the_list(
    two: Callable[..., MatcherService],
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., MatcherConfig],
    person: httpx.Client,
    other: Other,
) -> None:
    value = random_pdq(np.random.default_rng(64))
    submit(other.person, pdq_item(value))
    first = two()
    first.sync_once()
    assert sources_of(first, value) == ["b"]
    first.close()
    # The same store with only the main registry (as "default"): b's rows go.
    alone = make_service(make_config())
    assert sources_of(alone, value) == []
    assert alone.store.count() == 0
