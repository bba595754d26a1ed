"""POST /api/v1/platform/feedback/summary: other platforms' feedback, counted."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from reclaim.registry.service import Registry
from tests.api.test_cases_api import assert_error_shape
from tests.conftest import random_pdq

URL = "/api/v1/platform/feedback/summary"
RNG = np.random.default_rng(2024)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def counts(
    match_found: int = 0,
    pending_review: int = 0,
    blocked: int = 0,
    not_blocked: int = 0,
) -> dict[str, int]:
    return {
        "match_found": match_found,
        "pending_review": pending_review,
        "blocked": blocked,
        "not_blocked": not_blocked,
    }


def give(client: httpx.Client, key: str, *items: tuple[str, str, str]) -> None:
    body = {"items": [{"type": t, "value": v, "feedback": f} for t, v, f in items]}
    reply = client.post("/api/v1/platform/feedback", json=body, headers=auth(key))
    assert reply.json() == {"ok": True, "accepted": len(items), "unknown": []}


def ask(client: httpx.Client, key: str, *hashes: tuple[str, str]) -> list[Any]:
    body = {"hashes": [{"type": t, "value": v} for t, v in hashes]}
    reply = client.post(URL, json=body, headers=auth(key))
    assert reply.status_code == 200, reply.text
    assert reply.json()["ok"] is True
    results: list[Any] = reply.json()["results"]
    return results


def listed(client: httpx.Client, program: str, *hashes: dict[str, Any]) -> None:
    created = client.post(
        "/api/v1/cases", json={"program": program, "hashes": list(hashes)}
    )
    assert created.status_code == 201, created.text


def test_a_platform_sees_other_platforms_feedback_counted(
    client: httpx.Client, registry: Registry
) -> None:
    first = registry.add_platform("First Social", ["adult", "minor"])[1]
    second = registry.add_platform("Second Video", ["adult", "minor"])[1]
    asker = registry.add_platform("Third Forum", ["adult", "minor"])[1]
    removed, disputed, pending = (random_pdq(RNG) for _ in range(3))
    md5 = "0123456789abcdef0123456789abcdef"
    listed(
        client,
        "adult",
        *({"type": "pdq", "value": v, "quality": 90} for v in (removed, disputed)),
        {"type": "pdq", "value": pending, "quality": 90},
        {"type": "md5", "value": md5},
    )
    give(client, first, ("pdq", removed, "blocked"), ("pdq", disputed, "not_blocked"))
    give(client, first, ("pdq", pending, "pending_review"), ("md5", md5, "blocked"))
    give(client, second, ("pdq", removed, "blocked"), ("pdq", disputed, "not_blocked"))
    # The asker's own feedback never counts in its own answer.
    give(client, asker, ("pdq", removed, "not_blocked"), ("md5", md5, "match_found"))

    unknown = random_pdq(RNG)
    results = ask(
        client,
        asker,
        ("pdq", removed),
        ("pdq", disputed),
        ("pdq", pending.upper()),
        ("md5", md5),
        ("pdq", unknown),
    )
    assert results == [
        {"type": "pdq", "value": removed, "listed": True, "quarantined": False,
         "reports": counts(blocked=2)},
        # Two platforms said "not a match": the hash is quarantined.
        {"type": "pdq", "value": disputed, "listed": True, "quarantined": True,
         "reports": counts(not_blocked=2)},
        {"type": "pdq", "value": pending, "listed": True, "quarantined": False,
         "reports": counts(pending_review=1)},
        {"type": "md5", "value": md5, "listed": True, "quarantined": False,
         "reports": counts(blocked=1)},
        {"type": "pdq", "value": unknown, "listed": False, "quarantined": False,
         "reports": counts()},
    ]  # fmt: skip

    # Another platform asking sees the asker's feedback and not its own.
    seen = ask(client, first, ("pdq", removed), ("md5", md5))
    assert [r["reports"] for r in seen] == [
        counts(blocked=1, not_blocked=1),
        counts(match_found=1),
    ]
    # Counts, never names or ids.
    reply = client.post(
        URL, json={"hashes": [{"type": "pdq", "value": removed}]}, headers=auth(asker)
    )
    for name in ("First Social", "Second Video", "Third Forum"):
        assert name not in reply.text


def test_a_platform_counts_once_with_its_newest_value(
    client: httpx.Client, registry: Registry
) -> None:
    both = registry.add_platform("Both Programs", ["adult", "minor"])[1]
    asker = registry.add_platform("Asker", ["adult", "minor"])[1]
    value = random_pdq(RNG)
    for program in ("adult", "minor"):
        listed(client, program, {"type": "pdq", "value": value, "quality": 90})
    give(client, both, ("pdq", value, "blocked"))  # stored on both records
    assert ask(client, asker, ("pdq", value))[0]["reports"] == counts(blocked=1)
    give(client, both, ("pdq", value, "not_blocked"))
    assert ask(client, asker, ("pdq", value))[0]["reports"] == counts(not_blocked=1)


def test_hashes_a_platform_cannot_read_say_nothing(
    client: httpx.Client, registry: Registry
) -> None:
    reporter = registry.add_platform("Reporter", ["adult", "minor"])[1]
    adult_only = registry.add_platform("Adults Only", ["adult"])[1]
    minor, withdrawn = random_pdq(RNG), random_pdq(RNG)
    listed(client, "minor", {"type": "pdq", "value": minor, "quality": 90})
    case = client.post(
        "/api/v1/cases",
        json={
            "program": "adult",
            "hashes": [{"type": "pdq", "value": withdrawn, "quality": 90}],
        },
    ).json()
    give(client, reporter, ("pdq", minor, "blocked"), ("pdq", withdrawn, "blocked"))
    # Listed and reported, but in a program the asker may not read.
    assert ask(client, adult_only, ("pdq", minor)) == [
        {"type": "pdq", "value": minor, "listed": False, "quarantined": False,
         "reports": counts()},
    ]  # fmt: skip
    assert ask(client, adult_only, ("pdq", withdrawn))[0]["reports"] == counts(
        blocked=1
    )
    client.post(
        f"/api/v1/cases/{case['case_number']}/withdraw", json={"pin": case["pin"]}
    )
    assert ask(client, adult_only, ("pdq", withdrawn))[0] == {
        "type": "pdq", "value": withdrawn, "listed": False, "quarantined": False,
        "reports": counts(),
    }  # fmt: skip


def test_the_summary_refuses_bad_requests(
    client: httpx.Client, platform_key: str
) -> None:
    good = {"type": "pdq", "value": random_pdq(RNG)}
    for headers in ({}, auth("rk_0123456789abcdef_nope")):
        refused = client.post(URL, json={"hashes": [good]}, headers=headers)
        assert_error_shape(refused, 401)
    bodies: list[dict[str, Any]] = [
        {"hashes": []},
        {"hashes": [{"type": "sha1", "value": "ab" * 20}]},
        {"hashes": [good], "extra": 1},
    ]
    for body in bodies:
        response = client.post(URL, json=body, headers=auth(platform_key))
        assert_error_shape(response, 422)
    malformed = client.post(
        URL,
        json={"hashes": [good, {"type": "pdq", "value": "xyz"}]},
        headers=auth(platform_key),
    )
    problems: Any = assert_error_shape(malformed, 422)["errors"]
    assert problems[0].startswith("hashes[1]")
    too_many = client.post(
        URL, json={"hashes": [good] * 101}, headers=auth(platform_key)
    )
    error: Any = assert_error_shape(too_many, 422)
    assert "100" in " ".join([error["error"], *error["errors"]])
