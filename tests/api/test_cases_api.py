"""The person's endpoints, their errors and their privacy."""

from __future__ import annotations

import logging
import re

import httpx
import numpy as np
import pytest

from reclaim.hashing.types import PdqHash
from reclaim.hashing.vpdq_format import MAX_VPDQ_FRAMES, VpdqFrame, VpdqHash
from reclaim.registry.service import Registry
from tests.conftest import random_pdq

RNG = np.random.default_rng(11)
CODE = re.compile(r"[a-z][a-z_]*")


def body(n: int = 2, program: str = "adult") -> dict[str, object]:
    return {
        "program": program,
        "hashes": [
            {"type": "pdq", "value": random_pdq(RNG), "quality": 100} for _ in range(n)
        ],
    }


def assert_error_shape(response: httpx.Response, status: int) -> dict[str, object]:
    payload = response.json()
    assert response.status_code == status
    assert set(payload) == {"ok", "error", "errors", "status", "code"}
    assert isinstance(payload["code"], str) and CODE.fullmatch(payload["code"])
    assert payload["ok"] is False and payload["status"] == status
    assert isinstance(payload["error"], str) and payload["error"]
    assert all(isinstance(e, str) for e in payload["errors"])
    return payload


def test_create_read_add_withdraw(client: httpx.Client) -> None:
    created = client.post("/api/v1/cases", json=body(2))
    assert created.status_code == 201
    data = created.json()
    number, pin = data["case_number"], data["pin"]
    assert data["ok"] is True and len(data["case"]["hashes"]) == 2
    status = client.post(f"/api/v1/cases/{number}/status", json={"pin": pin})
    assert status.status_code == 200 and status.json()["case"]["status"] == "active"
    more = client.post(f"/api/v1/cases/{number}/hashes", json={"pin": pin, **body(1)})
    assert more.status_code == 422  # 'program' is not a field of AddHashes
    extra = {"pin": pin, "hashes": body(1)["hashes"]}
    assert (
        len(
            client.post(f"/api/v1/cases/{number}/hashes", json=extra).json()["case"][
                "hashes"
            ]
        )
        == 3
    )
    gone = client.post(f"/api/v1/cases/{number}/withdraw", json={"pin": pin})
    assert gone.json()["case"]["status"] == "withdrawn"
    again = client.post(f"/api/v1/cases/{number}/withdraw", json={"pin": pin})
    assert_error_shape(again, 409)


def test_wrong_pin_looks_like_unknown_case(client: httpx.Client) -> None:
    number = client.post("/api/v1/cases", json=body()).json()["case_number"]
    wrong = client.post(
        f"/api/v1/cases/{number}/status", json={"pin": "AAAA-AAAA-AAAA-AAAA"}
    )
    unknown = client.post("/api/v1/cases/000-000-000/status", json={"pin": "AAAA"})
    assert_error_shape(wrong, 404)
    assert wrong.json() == unknown.json()


def test_bad_hashes_are_refused_with_reasons(client: httpx.Client) -> None:
    bad = {
        "program": "adult",
        "hashes": [
            {"type": "pdq", "value": random_pdq(RNG), "quality": 20},
            {"type": "pdq", "value": "0" * 64, "quality": 100},
        ],
    }
    payload = assert_error_shape(client.post("/api/v1/cases", json=bad), 422)
    assert len(payload["errors"]) == 2  # type: ignore[arg-type]
    assert "below 50" in payload["errors"][0]  # type: ignore[index]
    assert_error_shape(client.post("/api/v1/cases", json={**body(), "name": "x"}), 422)
    assert_error_shape(
        client.post("/api/v1/cases", json={**body(), "program": "kid"}), 422
    )
    assert_error_shape(client.post("/api/v1/cases", content=b"{not json"), 422)


def test_oversized_body_gets_413(client: httpx.Client) -> None:
    huge = b'{"program":"adult","hashes":[' + b" " * 3_000_000 + b"]}"
    assert_error_shape(
        client.post(
            "/api/v1/cases", content=huge, headers={"content-type": "application/json"}
        ),
        413,
    )


def test_oversized_streamed_body_gets_413(client: httpx.Client) -> None:
    # No Content-Length: the limit trips while the body streams in.
    chunks = (b'{"program":"adult","hashes":[' + b" " * 1_000_000 for _ in range(3))
    payload = assert_error_shape(
        client.post(
            "/api/v1/cases",
            content=chunks,
            headers={"content-type": "application/json"},
        ),
        413,
    )
    assert "send fewer hashes" in str(payload["error"])


def test_the_longest_video_fits_in_one_request(client: httpx.Client) -> None:
    # 10 hours at one frame a second: video_hash's limits, in compact form.
    frames = tuple(
        VpdqFrame(i, float(i), PdqHash(int(random_pdq(RNG), 16), 100))
        for i in range(MAX_VPDQ_FRAMES)
    )
    value = VpdqHash(frames).to_compact()
    assert len(value) > 1_048_576
    hashes = [{"type": "vpdq", "value": value}]
    created = client.post("/api/v1/cases", json={"program": "adult", "hashes": hashes})
    assert created.status_code == 201, created.text
    listed = created.json()["case"]["hashes"]
    assert [h["type"] for h in listed] == ["vpdq"]
    assert VpdqHash.parse(listed[0]["value"]).frames == frames


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert_error_shape(client.get("/api/v1/nope"), 404)
    assert_error_shape(client.get("/api/v1/cases"), 405)


def test_rate_limits_case_creation_and_pins(registry: Registry) -> None:
    from reclaim.api.app import create_app
    from tests.conftest import live_server

    strict = registry.settings.replace(case_rate=(2, 3600), pin_rate=(3, 3600))
    with (
        live_server(create_app(strict, registry)) as url,
        httpx.Client(base_url=url) as client,
    ):
        first = client.post("/api/v1/cases", json=body()).json()
        client.post("/api/v1/cases", json=body())
        limited = client.post("/api/v1/cases", json=body())
        assert_error_shape(limited, 429)
        assert 0 < int(limited.headers["retry-after"]) <= 3600
        url = f"/api/v1/cases/{first['case_number']}/status"
        for _ in range(3):
            assert client.post(url, json={"pin": "WRONG"}).status_code == 404
        assert_error_shape(client.post(url, json={"pin": first["pin"]}), 429)


def test_headers_and_logs_reveal_nothing(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = client.post(
        "/api/v1/cases", json=body(), headers={"x-forwarded-for": "203.0.113.9"}
    )
    assert created.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in created.headers["content-security-policy"]
    assert created.headers["x-content-type-options"] == "nosniff"
    pin = created.json()["pin"]
    value = created.json()["case"]["hashes"][0]["value"]
    server_side = [
        r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ]
    assert any(r.name == "reclaim.api.requests" for r in server_side)
    logged = "\n".join(r.getMessage() for r in server_side)
    for secret in ("203.0.113.9", "127.0.0.1", pin, value):
        assert secret not in logged


def test_health_and_openapi(client: httpx.Client) -> None:
    assert client.get("/healthz").json()["ok"] is True
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/cases" in paths and "/stopncii/v1/FetchHashes" in paths


def test_a_database_outage_gets_a_retryable_503() -> None:
    """The database vanishes under a running server: a clear, retryable 503."""
    import psycopg

    from reclaim.api.app import create_app
    from reclaim.config import Settings
    from tests.conftest import PG_ADMIN, live_server, postgres_database

    with postgres_database() as url:
        settings = Settings(
            database_url=url, case_rate=(1000, 3600), pin_rate=(1000, 3600)
        )
        from reclaim.registry import schema
        from reclaim.registry.db import make_engine

        engine = make_engine(url)
        schema.upgrade(engine)
        engine.dispose()
        registry = Registry(settings)
        try:
            app = create_app(settings, registry)
            with live_server(app) as base, httpx.Client(base_url=base) as http:
                body = {
                    "program": "adult",
                    "hashes": [
                        {
                            "type": "pdq",
                            "value": random_pdq(np.random.default_rng(3)),
                            "quality": 90,
                        }
                    ],
                }
                assert http.post("/api/v1/cases", json=body).status_code == 201
                name = url.rsplit("/", 1)[1]
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                answer = http.post("/api/v1/cases", json=body)
                assert answer.status_code == 503
                assert answer.headers["retry-after"] == "5"
                assert answer.json()["ok"] is False
                assert "try again" in answer.json()["error"]
        finally:
            registry.close()
