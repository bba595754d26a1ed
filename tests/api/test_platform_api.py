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


def _flip(value: str, bits: int) -> str:
    """`value` with its lowest `bits` bits inverted (distance `bits`)."""
    return format(int(value, 16) ^ ((1 << bits) - 1), "064x")


def test_the_registry_matches_hashes_for_platforms(
    client: httpx.Client, platform_key: str, registry
) -> None:
    rng = np.random.default_rng(11)
    photo, other = random_pdq(rng), random_pdq(rng)
    md5 = "0123456789abcdef0123456789abcdef"
    hashes = [
        {"type": "pdq", "value": photo, "quality": 90},
        {"type": "md5", "value": md5},
    ]
    created = client.post(
        "/api/v1/cases", json={"program": "adult", "hashes": hashes}
    ).json()
    client.post("/api/v1/cases", json={"program": "minor", "hashes": [hashes[0]]})
    query = {
        "hashes": [
            {"type": "pdq", "value": _flip(photo, 12)},
            {"type": "pdq", "value": _flip(photo, 40)},
            {"type": "md5", "value": md5.upper()},
            {"type": "pdq", "value": other},
        ]
    }
    answer = client.post(
        "/api/v1/platform/match", json=query, headers=auth(platform_key)
    )
    assert answer.status_code == 200, answer.text
    results = [r["matches"] for r in answer.json()["results"]]
    assert sorted(results[0], key=lambda m: m["program"]) == [
        {"type": "pdq", "value": photo, "program": "adult", "distance": 12},
        {"type": "pdq", "value": photo, "program": "minor", "distance": 12},
    ]
    assert results[1] == [] and results[3] == []
    assert results[2] == [
        {"type": "md5", "value": md5, "program": "adult", "distance": 0}
    ]

    # A platform sees only the programs it may read.
    adult_only = registry.add_platform("adult-only", ["adult"])[1]
    seen = client.post(
        "/api/v1/platform/match", json=query, headers=auth(adult_only)
    ).json()["results"][0]["matches"]
    assert [m["program"] for m in seen] == ["adult"]

    # A smaller radius, then a withdrawal: the adult copy stops matching at once.
    tight = {"hashes": query["hashes"][:1], "radius": 11}
    assert (
        client.post(
            "/api/v1/platform/match", json=tight, headers=auth(platform_key)
        ).json()["results"][0]["matches"]
        == []
    )
    client.post(
        f"/api/v1/cases/{created['case_number']}/withdraw",
        json={"pin": created["pin"]},
    )
    after = client.post(
        "/api/v1/platform/match", json=query, headers=auth(platform_key)
    ).json()["results"]
    assert [m["program"] for m in after[0]["matches"]] == ["minor"]
    assert after[2]["matches"] == []


def test_match_refuses_bad_queries(client: httpx.Client, platform_key: str) -> None:
    url = "/api/v1/platform/match"
    good = {"type": "pdq", "value": "a" * 64}
    assert_error_shape(client.post(url, json={"hashes": [good]}), 401)
    for query in (
        {"hashes": []},
        {"hashes": [good], "radius": 32},
        {"hashes": [{"type": "pdq", "value": "xyz"}]},
        {"hashes": [{"type": "vpdq", "value": "a" * 64}]},
        {"hashes": [good] * 1001},
    ):
        response = client.post(url, json=query, headers=auth(platform_key))
        assert_error_shape(response, 422)
    refused = client.post(
        url,
        json={"hashes": [good, {"type": "md5", "value": "12"}]},
        headers=auth(platform_key),
    ).json()
    assert refused["errors"][0].startswith("hashes[1]")
