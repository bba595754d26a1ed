"""The platform endpoints: authentication, feed, snapshot, feedback."""

from __future__ import annotations

import json

import httpx
import numpy as np

from tests.api.test_cases_api import assert_error_shape, body
from tests.conftest import random_pdq


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_list_needs_a_valid_key(client: httpx.Client, platform_key: str) -> None:
    for headers in (
        {},
        auth("rk_0123456789abcdef_nope"),
        {"Authorization": platform_key},
    ):
        response = client.get("/api/v1/platform/changes", headers=headers)
        assert_error_shape(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    assert_error_shape(client.get("/api/v1/platform/snapshot"), 401)


def test_changes_snapshot_and_feedback(client: httpx.Client, platform_key: str) -> None:
    created = client.post("/api/v1/cases", json=body(3)).json()
    page = client.get(
        "/api/v1/platform/changes?limit=2", headers=auth(platform_key)
    ).json()
    assert page["has_more"] is True and len(page["records"]) == 2
    rest = client.get(
        f"/api/v1/platform/changes?cursor={page['cursor']}", headers=auth(platform_key)
    ).json()
    assert rest["has_more"] is False and len(rest["records"]) == 1
    record = page["records"][0]
    assert record["status"] == "active" and record["program"] == "adult"
    assert record["updated_at"].endswith("Z")

    stream = client.get("/api/v1/platform/snapshot", headers=auth(platform_key))
    assert stream.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in stream.text.splitlines()]
    assert lines[-1] == {"end": True, "cursor": rest["cursor"], "count": 3}
    assert {r["value"] for r in lines[:-1]} == {
        h["value"] for h in created["case"]["hashes"]
    }
    assert lines[0]["updated_at"].endswith("Z")

    value = created["case"]["hashes"][0]["value"]
    reply = client.post(
        "/api/v1/platform/feedback",
        headers=auth(platform_key),
        json={
            "items": [
                {
                    "type": "pdq",
                    "value": value,
                    "feedback": "blocked",
                    "copies": 2,
                    "shareable": True,
                }
            ]
        },
    )
    assert reply.json() == {"ok": True, "accepted": 1, "unknown": []}
    status = client.post(
        f"/api/v1/cases/{created['case_number']}/status", json={"pin": created["pin"]}
    ).json()
    first = next(h for h in status["case"]["hashes"] if h["value"] == value)
    assert first["platforms_removed"] == 1
    assert first["shared"] == [
        {"platform": "Example Social", "outcome": "blocked", "copies": 2}
    ]


def test_program_permissions(client: httpx.Client, registry) -> None:  # type: ignore[no-untyped-def]
    key = registry.add_platform("Adults Only", ["adult"])[1]
    client.post("/api/v1/cases", json=body(1, program="minor"))
    assert (
        client.get("/api/v1/platform/changes", headers=auth(key)).json()["records"]
        == []
    )
    assert_error_shape(
        client.get("/api/v1/platform/changes?program=minor", headers=auth(key)), 403
    )


def test_feedback_validation(client: httpx.Client, platform_key: str) -> None:
    value = random_pdq(np.random.default_rng(3))
    bad = {"items": [{"type": "pdq", "value": value, "feedback": "deleted"}]}
    assert_error_shape(
        client.post("/api/v1/platform/feedback", headers=auth(platform_key), json=bad),
        422,
    )
    unknown = {"items": [{"type": "pdq", "value": value, "feedback": "blocked"}]}
    reply = client.post(
        "/api/v1/platform/feedback", headers=auth(platform_key), json=unknown
    )
    assert reply.json()["unknown"] == [0]
