"""`Idempotency-Key` on case creation: a lost answer is answered again."""

from __future__ import annotations

import secrets

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from reclaim.registry.models import Case
from reclaim.registry.service import Registry
from tests.api.test_cases_api import assert_error_shape
from tests.conftest import random_pdq
from tests.dropping_proxy import dropping_proxy

RNG = np.random.default_rng(1402)


def body(n: int = 2) -> dict[str, object]:
    return {
        "program": "adult",
        "hashes": [
            {"type": "pdq", "value": random_pdq(RNG), "quality": 100} for _ in range(n)
        ],
    }


def cases(registry: Registry) -> int:
    with registry.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def test_a_retry_gets_the_same_number_and_pin(
    client: httpx.Client, registry: Registry
) -> None:
    key, sent = secrets.token_urlsafe(16), body()
    first = client.post("/api/v1/cases", json=sent, headers={"Idempotency-Key": key})
    again = client.post("/api/v1/cases", json=sent, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    one, two = first.json(), again.json()
    assert (two["case_number"], two["pin"]) == (one["case_number"], one["pin"])
    assert two["case"] == one["case"]
    assert cases(registry) == 1


def test_the_same_key_with_another_body_is_refused(
    client: httpx.Client, registry: Registry
) -> None:
    key = secrets.token_urlsafe(16)
    client.post("/api/v1/cases", json=body(), headers={"Idempotency-Key": key})
    other = client.post("/api/v1/cases", json=body(), headers={"Idempotency-Key": key})
    payload = assert_error_shape(other, 422)
    assert "already used for a different request" in str(payload["error"])
    assert cases(registry) == 1


@pytest.mark.parametrize("key", ["short", "x" * 65, "a" * 30 + "=", "ü" * 24])
def test_a_malformed_key_is_refused_and_not_echoed(
    client: httpx.Client, registry: Registry, key: str
) -> None:
    refused = client.post(
        "/api/v1/cases", json=body(), headers={"Idempotency-Key": key.encode()}
    )
    payload = assert_error_shape(refused, 422)
    assert "22 to 64 URL-safe characters" in str(payload["error"])
    assert key not in refused.text
    assert cases(registry) == 0


def test_a_dropped_answer_is_given_on_retry(
    client: httpx.Client, registry: Registry
) -> None:
    """The server commits, the connection drops before the answer: before
    keys this left an orphan case and a retry opened a second one."""
    key, sent = secrets.token_urlsafe(16), body()
    url = str(client.base_url).rstrip("/")
    with (
        dropping_proxy(url, prefix=b"POST /api/v1/cases ") as proxy,
        httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}") as http,
    ):
        with pytest.raises(httpx.TransportError):
            http.post("/api/v1/cases", json=sent, headers={"Idempotency-Key": key})
        assert proxy.dropped == 1 and cases(registry) == 1  # done, but unheard
        again = http.post("/api/v1/cases", json=sent, headers={"Idempotency-Key": key})
    assert again.status_code == 201
    number, pin = again.json()["case_number"], again.json()["pin"]
    assert cases(registry) == 1
    status = client.post(f"/api/v1/cases/{number}/status", json={"pin": pin})
    assert status.status_code == 200


def test_without_a_key_a_dropped_answer_leaves_an_orphan(
    client: httpx.Client, registry: Registry
) -> None:
    """Why the key exists: the same loss, no key, two cases."""
    sent = body()
    url = str(client.base_url).rstrip("/")
    with (
        dropping_proxy(url, prefix=b"POST /api/v1/cases ") as proxy,
        httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}") as http,
    ):
        with pytest.raises(httpx.TransportError):
            http.post("/api/v1/cases", json=sent)
        assert http.post("/api/v1/cases", json=sent).status_code == 201
    assert cases(registry) == 2
