"""The operator's /metrics: behind a token, counters that move, nothing personal."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from reclaim.api import metrics
from reclaim.api.app import create_app
from reclaim.registry.service import Registry
from tests.api.test_cases_api import assert_error_shape
from tests.conftest import live_server, random_pdq

RNG = np.random.default_rng(1212)
TOKEN = "m" * 40
PLATFORM = "Example Social"


@pytest.fixture
def server(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(metrics, "TOTALS_SECONDS", 0.0)  # fresh totals each scrape
    app = create_app(registry.settings.replace(metrics_token=TOKEN), registry)
    with live_server(app) as url:
        yield url


def scrape(server: str) -> str:
    reply = httpx.get(f"{server}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return reply.text


def value(text: str, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series is absent."""
    inside = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(inside) + r"\}" if labels else "")
    found = re.search(rf"^{pattern} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_need_the_operator_token(server: str) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer " + "x" * 40},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ):
        reply = httpx.get(f"{server}/metrics", headers=headers)
        payload = assert_error_shape(reply, 401)
        assert "RECLAIM_METRICS_TOKEN" in str(payload["error"])
        assert TOKEN not in reply.text


def test_without_a_token_there_is_no_metrics_endpoint(registry: Registry) -> None:
    assert registry.settings.metrics_token is None
    with live_server(create_app(registry.settings, registry)) as url:
        reply = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer x"})
        assert_error_shape(reply, 404)
        spec = httpx.get(f"{url}/openapi.json").json()
        assert "/metrics" not in spec["paths"]


def test_counters_move_and_nothing_personal_shows(
    server: str, registry: Registry
) -> None:
    before = scrape(server)
    assert value(before, "reclaim_registry_cases_created_total", opener="person") == 0
    values = [random_pdq(RNG) for _ in range(3)]
    created = httpx.post(
        f"{server}/api/v1/cases",
        json={
            "program": "adult",
            "hashes": [{"type": "pdq", "value": v, "quality": 100} for v in values],
        },
    )
    assert created.status_code == 201, created.text
    case = created.json()
    withdrawn = httpx.post(
        f"{server}/api/v1/cases/{case['case_number']}/withdraw",
        json={"pin": case["pin"]},
    )
    assert withdrawn.status_code == 200, withdrawn.text
    wrong = httpx.post(
        f"{server}/api/v1/cases/{case['case_number']}/status", json={"pin": "0" * 12}
    )
    assert wrong.status_code >= 400
    key = registry.add_platform(PLATFORM, ["adult"])[1]
    fetched = httpx.get(
        f"{server}/api/v1/platform/changes", headers={"Authorization": f"Bearer {key}"}
    )
    assert fetched.status_code == 200

    after = scrape(server)
    assert value(after, "reclaim_registry_cases_created_total", opener="person") == 1
    assert value(after, "reclaim_registry_cases_withdrawn_total", opener="person") == 1
    assert value(after, "reclaim_registry_hash_records", status="withdrawn") == 3
    assert value(after, "reclaim_registry_hash_records", status="active") == 0
    assert value(after, "reclaim_registry_feed_position") == 6  # 3 made, 3 withdrawn
    assert (
        value(after, "reclaim_registry_requests_total", family="cases", status="201")
        == 1
    )
    assert (
        value(after, "reclaim_registry_requests_total", family="platform", status="200")
        == 1
    )
    assert value(after, "reclaim_registry_request_seconds_count", family="cases") >= 3
    assert (
        value(after, "reclaim_registry_requests_total", family="metrics", status="200")
        == 1
    )

    # Nothing that names a case, a person's hash, a platform, a key or a client.
    for secret in (
        case["case_number"],
        case["pin"],
        *values,
        PLATFORM,
        key,
        "127.0.0.1",
        TOKEN,
    ):
        assert secret not in after
    labels = set(re.findall(r'(\w+)="', after))
    assert labels <= {"family", "status", "opener", "le"}
    families = set(re.findall(r'family="([^"]*)"', after))
    assert families <= {name for _, name in metrics.FAMILIES} | {"other"}
