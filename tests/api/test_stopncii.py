"""The StopNCII-compatible API, driven by the unmodified python-threatexchange client.

A real uvicorn server on 127.0.0.1; the client is `threatexchange`'s
`StopNCIIAPI` from PyPI with `base_url_override`, nothing patched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIIAPI,
    StopNCIICaseStatus,
    StopNCIICSPFeedbackValue,
    StopNCIIEndpoint,
    StopNCIISignalType,
)

from reclaim.registry.service import Registry
from tests.api.test_cases_api import assert_error_shape
from tests.conftest import live_server, random_pdq

RNG = np.random.default_rng(5)


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with live_server(app) as url:
        yield url


def client_for(server: str, key: str) -> StopNCIIAPI:
    return StopNCIIAPI(
        key,
        key,
        {StopNCIIEndpoint.SubmitFeedback: key, StopNCIIEndpoint.SubmitHashes: key},
        base_url_override=f"{server}/stopncii/v1",
    )


def person_case(server: str, n: int) -> dict[str, object]:
    hashes = [
        {"type": "pdq", "value": random_pdq(RNG), "quality": 100} for _ in range(n)
    ]
    response = httpx.post(
        f"{server}/api/v1/cases", json={"program": "adult", "hashes": hashes}
    )
    assert response.status_code == 201
    return response.json()  # type: ignore[no-any-return]


def fetch_all(api: StopNCIIAPI, start: int = StopNCIIAPI.DEFAULT_START_TIME) -> dict:
    return {
        (r.signalType, r.hashValue): r
        for page in api.fetch_hashes_iter(start_timestamp=start)
        for r in page.hashRecords
    }


def test_client_fetches_feedback_and_withdrawals(
    server: str, platform_key: str
) -> None:
    api = client_for(server, platform_key)
    case = person_case(server, 3)
    md5 = {"type": "md5", "value": "0a21c8f8a3e1c5b4d2f60718293a4b5c"}
    httpx.post(f"{server}/api/v1/cases", json={"program": "adult", "hashes": [md5]})
    records = fetch_all(api)
    assert len(records) == 4
    assert {r.hashStatus for r in records.values()} == {StopNCIICaseStatus.Active}
    assert (StopNCIISignalType.VideoMD5, md5["value"]) in records

    first = case["case"]["hashes"][0]["value"]  # type: ignore[index]
    api.submit_feedback(
        StopNCIISignalType.ImagePDQ,
        first,
        StopNCIICSPFeedbackValue.Blocked,
        {"csam-team"},
    )
    httpx.post(
        f"{server}/api/v1/cases/{case['case_number']}/withdraw",
        json={"pin": case["pin"]},
    )
    records = fetch_all(api)
    mine = records[(StopNCIISignalType.ImagePDQ, first)]
    assert mine.hashStatus is StopNCIICaseStatus.Withdrawn
    assert [(f.feedbackValue, f.tags, f.source) for f in mine.CSPFeedbacks] == [
        (StopNCIICSPFeedbackValue.Blocked, {"csam-team"}, "Example Social")
    ]
    assert records[(StopNCIISignalType.VideoMD5, md5["value"])].hashStatus is (
        StopNCIICaseStatus.Active
    )
    status = httpx.post(
        f"{server}/api/v1/cases/{case['case_number']}/status", json={"pin": case["pin"]}
    ).json()
    assert status["case"]["hashes"][0]["platforms_removed"] == 1


def test_paging_and_checkpoints_never_skip(server: str, platform_key: str) -> None:
    api = client_for(server, platform_key)
    for _ in range(5):
        person_case(server, 3)
    seen: list[str] = []
    token = ""
    while True:
        page = api.fetch_hashes(page_size=4, next_page=token)
        seen += [r.hashValue for r in page.hashRecords]
        if not page.hasMoreRecords:
            checkpoint = page.nextSetTimestamp
            break
        token = page.nextPageToken or ""
    assert len(seen) == 15 and len(set(seen)) == 15
    # Resuming from the checkpoint re-delivers at most the last second, and
    # everything that changes later arrives.
    time.sleep(1.1)
    later = person_case(server, 2)
    resumed = fetch_all(api, start=checkpoint)
    new_values = {h["value"] for h in later["case"]["hashes"]}  # type: ignore[index]
    assert new_values <= {value for _, value in resumed}
    # Anything re-delivered was modified in or after the checkpoint's second.
    assert all(r.lastModtimestamp >= checkpoint for r in resumed.values())


def test_platform_submits_its_own_hashes(
    server: str, platform_key: str, registry: Registry
) -> None:
    api = client_for(server, platform_key)
    value = random_pdq(RNG)
    api.submit_hash(
        StopNCIISignalType.ImagePDQ, value
    )  # sends "StopNCIISignalType.ImagePDQ"
    records = fetch_all(api)
    record = records[(StopNCIISignalType.ImagePDQ, value)]
    assert record.hashStatus is StopNCIICaseStatus.Active
    assert [f.feedbackValue for f in record.CSPFeedbacks] == [
        StopNCIICSPFeedbackValue.Blocked
    ]
    actions = [e.action for e in registry.audit_log(limit=20)]
    assert "platform_submitted" in actions


def test_authentication_headers(
    server: str, platform_key: str, registry: Registry
) -> None:
    url = f"{server}/stopncii/v1/FetchHashes"
    other = registry.add_platform("Other", ["adult"])[1]
    for headers in (
        {},
        {"Ocp-Apim-Subscription-Key": platform_key},
        {
            "x-functions-key": platform_key,
            "Ocp-Apim-Subscription-Key": "rk_0123456789abcdef_x",
        },
        {"x-functions-key": other, "Ocp-Apim-Subscription-Key": platform_key},
    ):
        assert_error_shape(httpx.get(url, headers=headers), 401)
    good = {"x-functions-key": platform_key, "Ocp-Apim-Subscription-Key": platform_key}
    assert httpx.get(url, headers=good).json()["hashRecords"] == []
    assert_error_shape(
        httpx.get(url, headers=good, params={"nextPageToken": "zzz"}), 422
    )


def test_submit_hashes_keeps_the_per_request_and_per_case_limits(
    server: str, platform_key: str, registry: Registry
) -> None:
    """At most 1,000 records a request and 5,000 hashes in the platform's case
    (`max_hashes_per_request`, `max_hashes_per_case`, as for a person)."""
    per_request = registry.settings.max_hashes_per_request
    per_case = registry.settings.max_hashes_per_case
    assert (per_request, per_case) == (1000, 5000)
    headers = {
        "x-functions-key": platform_key,
        "Ocp-Apim-Subscription-Key": platform_key,
    }
    values = [f"{n:032x}" for n in range(1, per_case + 2)]

    def submit(batch: list[str]) -> httpx.Response:
        records = [{"signalType": "VideoMD5", "hashValue": v} for v in batch]
        return httpx.post(
            f"{server}/stopncii/v1/SubmitHashes",
            json={"hashRecords": records},
            headers=headers,
            timeout=60,
        )

    def listed() -> int:
        records = registry.exchange_fetch(
            registry.authenticate(platform_key),
            start_timestamp=0,
            token=None,
            page_size=10_000,
        ).records
        return len(records)

    too_many = assert_error_shape(submit(values[: per_request + 1]), 422)
    assert "1001 hashRecords in one request is too many: at most 1000" in str(
        too_many["error"]
    )
    assert listed() == 0
    for start in range(0, per_case, per_request):
        reply = submit(values[start : start + per_request])
        assert reply.status_code == 200, reply.text
    assert listed() == per_case
    full = assert_error_shape(submit(values[-2:]), 422)  # one held, one new
    assert "at most 5000" in str(full["error"]) and "adds 1 hashes" in str(
        full["error"]
    )
    # A retry of hashes the case holds adds nothing, so it still fits.
    assert submit(values[:10]).status_code == 200
    assert listed() == per_case
