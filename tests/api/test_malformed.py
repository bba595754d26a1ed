"""Malformed input against a real case: always a 4xx in the one error shape,
never a 5xx, and the case and the hash list are left exactly as they were.

Each endpoint of the person's API and the platform API (and the exchanges'
write endpoints) gets a table of malformed inputs: wrong types, NUL and
unpaired surrogates, huge strings, bad JSON, wrong content types, missing
and extra fields, negative and huge numbers, malformed hashes and unicode
oddities. Runs on SQLite and PostgreSQL (PostgreSQL cannot store NUL, which
once cost a 500 and a dropped connection).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest

from reclaim.registry.service import Registry
from tests.api.test_fuzz import assert_error_shape
from tests.conftest import random_pdq

RNG = np.random.default_rng(1414)
PDQ = random_pdq(RNG)
OTHER_PDQ = random_pdq(RNG)
MD5 = "9e107d9d372bb6826bd81d3542a419d6"
JSON = {"content-type": "application/json"}

#: Values that no string field, number or list should accept (or that must be
#: refused for what they hold), by name.
BAD_VALUES: dict[str, Any] = {
    "null": None,
    "int": 7,
    "negative": -1,
    "over int64": 2**64,
    "float": 1.5,
    "bool": True,
    "list": [],
    "object": {},
    "NUL": "\u0000",
    "NUL inside": "ab\u0000cd",
    "number as text": "90",
    "huge": "A" * 300_000,
    "arabic digits": "\u0660" * 64,
    "fullwidth hex": "\uff41" * 64,
    "right-to-left override": "\u202e" + "a" * 63,
    "zero width": "a" * 32 + "\u200b" + "a" * 31,
    "emoji": "\U0001f600" * 16,
}

#: Whole bodies that are not what any endpoint reads.
BAD_BODIES: dict[str, tuple[bytes, dict[str, str]]] = {
    "empty": (b"", JSON),
    "truncated JSON": (b'{"program": "adult", "hashes": [', JSON),
    "trailing comma": (b'{"a": 1,}', JSON),
    "not UTF-8": (b"\xff\xfe{", JSON),
    "JSON null": (b"null", JSON),
    "JSON list": (b"[]", JSON),
    "JSON string": (b'"hello"', JSON),
    "deep nesting": (b"[" * 20_000 + b"]" * 20_000, JSON),
    "unpaired surrogate": (b'{"pin": "\\ud800"}', JSON),
    "NaN": (b'{"radius": NaN}', JSON),
    "huge number": (b'{"radius": ' + b"9" * 5000 + b"}", JSON),
    "form body": (b"a=1", {"content-type": "application/x-www-form-urlencoded"}),
    "text body": (b'{"program": "adult"}', {"content-type": "text/plain"}),
    "XML body": (b"<a/>", {"content-type": "application/xml"}),
}  # fmt: skip


#: Values of the table that a field rightly accepts, by field name: an item
#: label may be null or any small number; StopNCII tags are free text, and
#: its lists may be empty.
VALID: dict[Any, set[str]] = {
    "item": {"null", "int"},
    # Empty lists: no feedback is a valid (empty) StopNCII call, no tags too.
    "hashFeedbacks": {"list"}, "tags": {"list"}, "CSPFeedbacks": {"list"},
    0: {  # the first tag (the only list of strings in the bodies)
        "number as text", "huge", "arabic digits", "fullwidth hex",
        "right-to-left override", "zero width", "emoji",
    },
}  # fmt: skip


@dataclass
class Tally:
    """What the matrix sent and found (printed for the issue's figures)."""

    cases: int = 0
    server_errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


def leaves(body: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value in a JSON body (objects and lists too)."""
    if path:
        yield path
    if isinstance(body, dict):
        for key, value in body.items():
            yield from leaves(value, (*path, key))
    elif isinstance(body, list) and body:
        yield from leaves(body[0], (*path, 0))


def with_value(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(body)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def without(body: Any, path: tuple[Any, ...]) -> Any:
    changed = copy.deepcopy(body)
    target = changed
    for part in path[:-1]:
        target = target[part]
    if isinstance(target, dict):
        del target[path[-1]]
    return changed


def mutations(
    body: dict[str, Any], *, optional: frozenset[str] = frozenset(), extra: bool = True
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, request keywords) for every malformed variant of a valid body.

    Fields in `optional` may be left out (that is still a valid request), and
    with `extra=False` unknown fields are allowed (a fixed wire format).
    """
    for path in leaves(body):
        where = ".".join(map(str, path))
        for name, value in BAD_VALUES.items():
            original = copy.deepcopy(body)
            for part in path:
                original = original[part]
            if value == original or name in VALID.get(path[-1], ()):
                continue
            yield f"{where} = {name}", {"json": with_value(body, path, value)}
        if isinstance(path[-1], str) and where not in optional:
            yield f"{where} missing", {"json": without(body, path)}
    if extra:
        yield "an extra field", {"json": {**body, "extra": 1}}
    for name, (content, headers) in BAD_BODIES.items():
        yield name, {"content": content, "headers": headers}


@dataclass(frozen=True)
class Real:
    """The real case and key the matrix is aimed at."""

    number: str
    pin: str
    key: str


@pytest.fixture
def real(client: httpx.Client, platform_key: str) -> Real:
    made = client.post(
        "/api/v1/cases",
        json={
            "program": "adult",
            "hashes": [
                {"type": "pdq", "value": PDQ, "quality": 100},
                {"type": "md5", "value": MD5},
            ],
        },
    )
    assert made.status_code == 201, made.text
    return Real(made.json()["case_number"], made.json()["pin"], platform_key)


def state(client: httpx.Client, real: Real, registry: Registry) -> tuple[Any, ...]:
    """The case as its owner sees it, and the hash list as platforms do."""
    case = client.post(f"/api/v1/cases/{real.number}/status", json={"pin": real.pin})
    assert case.status_code == 200, case.text
    changes = client.get(
        "/api/v1/platform/changes", headers={"Authorization": f"Bearer {real.key}"}
    )
    assert changes.status_code == 200, changes.text
    listed = changes.json()
    return (case.json()["case"], listed["records"], listed["cursor"])


def send(
    client: httpx.Client,
    tally: Tally,
    label: str,
    method: str,
    url: str,
    expected: set[int] | None = None,
    **request: Any,
) -> None:
    tally.cases += 1
    response = client.request(method, url, **request)
    status = response.status_code
    if status >= 500:
        tally.server_errors.append(f"{label}: {status} {response.text[:200]}")
        return
    if not 400 <= status < 500 or (expected is not None and status not in expected):
        tally.wrong.append(f"{label}: {status} {response.text[:200]}")
        return
    try:
        assert_error_shape(status, response.content)
    except AssertionError as error:
        tally.wrong.append(f"{label}: {error}")


def test_malformed_input_is_refused_and_changes_nothing(
    client: httpx.Client, registry: Registry, real: Real
) -> None:
    before = state(client, real, registry)
    tally = Tally()
    bearer = {"Authorization": f"Bearer {real.key}"}
    exchange = {"x-functions-key": real.key, "Ocp-Apim-Subscription-Key": real.key}
    person_bodies = {
        "/api/v1/cases": {
            "program": "adult",
            "hashes": [{"type": "pdq", "value": OTHER_PDQ, "quality": 90}],
        },
        f"/api/v1/cases/{real.number}/status": {"pin": real.pin},
        f"/api/v1/cases/{real.number}/hashes": {
            "pin": real.pin,
            "hashes": [{"type": "md5", "value": MD5, "item": 0}],
        },
    }
    platform_bodies = {
        "/api/v1/platform/match": {"hashes": [{"type": "pdq", "value": PDQ}]},
        "/api/v1/platform/feedback": {
            "items": [{"type": "pdq", "value": PDQ, "feedback": "blocked"}]
        },
        "/stopncii/v1/SubmitFeedback": {
            "hashFeedbacks": [
                {"hashValue": PDQ, "feedbackValue": "Blocked", "tags": ["t"]}
            ]
        },
        "/stopncii/v1/SubmitHashes": {
            "hashRecords": [
                {
                    "signalType": "ImagePDQ",
                    "hashValue": OTHER_PDQ,
                    "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": []}],
                }
            ]
        },
    }
    optional = frozenset(
        {
            "hashes.0.quality",
            "hashes.0.item",
            "hashFeedbacks.0.tags",
            "hashRecords.0.CSPFeedbacks",
            "hashRecords.0.CSPFeedbacks.0.tags",
        }
    )
    for url, body in person_bodies.items():
        for name, request in mutations(body, optional=optional):
            # A body that kept the right PIN and the existing hash could be a
            # valid request (adding a hash already there changes nothing).
            send(client, tally, f"POST {url}: {name}", "POST", url, **request)
    # Withdraw last and only with broken bodies: a valid one would withdraw.
    withdraw = f"/api/v1/cases/{real.number}/withdraw"
    for name, request in mutations({"pin": real.pin}):
        send(client, tally, f"POST {withdraw}: {name}", "POST", withdraw, **request)
    for url, body in platform_bodies.items():
        headers = exchange if url.startswith("/stopncii/") else bearer
        wire = url.startswith("/stopncii/")  # unknown fields are StopNCII's own
        for name, request in mutations(body, optional=optional, extra=not wire):
            request["headers"] = {**request.get("headers", {}), **headers}
            send(client, tally, f"POST {url}: {name}", "POST", url, **request)

    # Case numbers in the path: malformed (422) or unknown (404), never 5xx.
    for name, number in {
        "NUL": "7KQ%0029M",
        "surrogate bytes": "%ED%A0%80",
        "huge": "A" * 5000,
        "unicode": "\u0660\u0661\u0662-\u0663",
        "slash": "a%2Fb",
        "right-to-left override": "\u202eABC-DEF-GHJ",
        "valid form, no case": "000-000-000",
    }.items():
        for action in ("status", "hashes", "withdraw"):
            url = f"/api/v1/cases/{number}/{action}"
            send(
                client, tally, f"POST {url}: {name}", "POST", url,
                {404, 422}, json={"pin": real.pin},
            )  # fmt: skip

    # Query parameters of the feeds and the exchanges.
    queries = {
        "/api/v1/platform/changes": [
            {"cursor": "-1"}, {"cursor": str(2**70)}, {"cursor": "abc"},
            {"cursor": "1.5"}, {"limit": "0"}, {"limit": "99999999"},
            {"program": "kid"}, {"program": "adult\x00"}, {"cursor": "\x00"},
            {"cursor": "\u0661"}, {"x\x00": "1"},
        ],
        "/api/v1/platform/snapshot": [
            {"program": "kid"}, {"program": "\x00"}, {"program": "A" * 5000},
        ],
        "/stopncii/v1/FetchHashes": [
            {"startTimestamp": "-1"}, {"startTimestamp": str(2**70)},
            {"pageSize": "0"}, {"nextPageToken": "\x00"},
            {"nextPageToken": "A" * 100}, {"startTimestamp": "\u0661"},
        ],
    }  # fmt: skip
    for url, params_list in queries.items():
        headers = exchange if url.startswith("/stopncii/") else bearer
        for params in params_list:
            send(
                client, tally, f"GET {url}?{params!r}"[:120], "GET", url,
                {400, 422}, params=params, headers=headers,
            )  # fmt: skip

    # NCMEC: the time window, path segments and XML feedback bodies.
    basic = "Basic " + base64.b64encode(f"Example Social:{real.key}".encode()).decode()
    ncmec = {"Authorization": basic}
    for params in (
        {"from": "2024-01-01T00:00:00Z\x00", "to": "2024-01-02T00:00:00Z"},
        {"from": "yesterday", "to": "2024-01-02T00:00:00Z"},
        {"from": "2024-01-01T00:00:00Z", "to": "2024-01-02T00:00:00Z", "size": "-1"},
        {"from": "2024-01-01T00:00:00Z", "to": "2024-01-02T00:00:00Z", "start": "1"},
    ):
        send(
            client, tally, f"GET ncmec entries {params!r}"[:120], "GET",
            "/ncmec/v2/entries", {400, 422}, params=params, headers=ncmec,
        )  # fmt: skip
    vote = b"<feedbackSubmission><affirmative/></feedbackSubmission>"
    for name, (path, body) in {
        "NUL in the entry id": ("/ncmec/v2/entries/1/12%003/PDQ/feedback", vote),
        "member id over int64": (f"/ncmec/v2/entries/{2**64}/1/PDQ/feedback", vote),
        "unknown fingerprint": ("/ncmec/v2/entries/1/1/SHA1/feedback", vote),
        "NUL in the body": ("/ncmec/v2/entries/1/1/PDQ/feedback", vote + b"\x00"),
        "character reference to NUL": (
            "/ncmec/v2/entries/1/1/PDQ/feedback",
            b"<feedbackSubmission><negative><reasonIds><guid>&#0;</guid>"
            b"</reasonIds></negative></feedbackSubmission>",
        ),
        "entity expansion": (
            "/ncmec/v2/entries/1/1/PDQ/feedback",
            b'<!DOCTYPE a [<!ENTITY x "x">]><feedbackSubmission/>',
        ),
        "not XML": ("/ncmec/v2/entries/1/1/PDQ/feedback", b"{}"),
    }.items():
        send(
            client, tally, f"PUT ncmec feedback: {name}", "PUT", path,
            {404, 422}, content=body,
            headers={**ncmec, "content-type": "application/xml"},
        )  # fmt: skip

    after = state(client, real, registry)
    print(
        f"\nmalformed-input matrix: {tally.cases} requests, "
        f"{len(tally.server_errors)} answered 5xx, {len(tally.wrong)} wrong"
    )
    assert tally.server_errors == [], "\n".join(tally.server_errors[:20])
    assert tally.wrong == [], "\n".join(tally.wrong[:20])
    assert after == before
    assert json.dumps(after[0]).count(PDQ) == 1


def test_a_405_names_every_method_of_the_path(client: httpx.Client) -> None:
    refused = client.request("DELETE", "/api/v1/cases")
    assert_error_shape(405, refused.content)
    assert refused.headers["allow"] == "POST"
    refused = client.put("/api/v1/platform/changes")
    assert_error_shape(405, refused.content)
    assert refused.headers["allow"] == "GET"
