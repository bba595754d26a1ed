"""Schemathesis fuzzing of the registry's published OpenAPI schema, in process."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

from reclaim.api.app import create_app
from reclaim.config import Settings
from reclaim.registry import db, schema
from reclaim.registry.service import Registry
from tests.conftest import postgres_database, random_pdq, run_async

#: Hypothesis budget per operation and test: enough to reach every handler
#: with valid and invalid input, small enough for the file to take seconds.
#: Schemathesis's coverage phase (boundary values, wrong types, missing
#: fields, other methods) runs on top of these examples.
FUZZ = settings(
    # A longer run: RECLAIM_FUZZ_EXAMPLES=500 (make bench does).
    max_examples=int(os.environ.get("RECLAIM_FUZZ_EXAMPLES", "25")),
    deadline=None,
    # `fuzzed` is function-scoped on purpose: each operation gets a fresh
    # registry, which its examples then share (state piling up is realistic).
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

#: Every check schemathesis has: every response must not be a 5xx; have a
#: documented status, media type, headers and body; refuse schema-violating
#: input and accept schema-valid input (below); answer undocumented methods
#: with 405 and an Allow header; and, for errors, have the one error shape
#: (`canonical_error`). The stateful and authentication checks apply where
#: the schema gives them something to check.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    use_after_free,
    ensure_resource_availability,
    ignored_auth,
]

#: Schemathesis's default statuses for refused input, plus 413: the body
#: limit is enforced before the body is read, so an over-long list of hashes
#: gets 413 rather than 422.
REFUSED = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
#: Schema-valid input is accepted, or refused for what a schema cannot say:
#: no key or another platform's (401/403), no such case or a wrong PIN
#: (404), a closed case (409), a hex string that is not a PDQ hash or a
#: flat image's (422), a rate limit (429). Never 400, 413 or 415: the
#: schema's shapes, sizes and media types are the server's.
ACCEPTED = ["2XX", 401, 403, 404, 409, 422, 429]
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": REFUSED},
            "positive_data_acceptance": {"expected-statuses": ACCEPTED},
        }
    }
)

OPERATIONS = {
    ("POST", "/api/v1/cases"),
    ("POST", "/api/v1/cases/{number}/status"),
    ("POST", "/api/v1/cases/{number}/hashes"),
    ("POST", "/api/v1/cases/{number}/withdraw"),
    ("GET", "/api/v1/platform/changes"),
    ("GET", "/api/v1/platform/snapshot"),
    ("POST", "/api/v1/platform/feedback"),
    ("POST", "/api/v1/platform/feedback/summary"),
    ("POST", "/api/v1/platform/match"),
    ("GET", "/stopncii/v1/FetchHashes"),
    ("POST", "/stopncii/v1/SubmitFeedback"),
    ("POST", "/stopncii/v1/SubmitHashes"),
}


def _migrated(directory: Path, url: str | None = None) -> Settings:
    """Settings on a new, migrated database (SQLite in `directory` unless a URL
    is given), with no practical rate limit."""
    url = url or f"sqlite:///{directory}/r.db"
    engine = db.make_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    return Settings(database_url=url, case_rate=(10**9, 3600), pin_rate=(10**9, 3600))


def _published_schema() -> schemathesis.BaseSchema:
    """The schema as the app serves it at /openapi.json.

    Loaded at import, because `@schema.parametrize()` makes one test per
    operation when pytest collects this file. (schemathesis's lazy
    `schemathesis.pytest.from_fixture` would let a fixture load it, but
    4.32 reads `Node._nodeid`, which pytest 9.2 no longer has.) Requests go
    to a fresh app per test (`fuzzed`), passed to each call as `app=`.
    """
    with tempfile.TemporaryDirectory() as directory:
        registry = Registry(_migrated(Path(directory)))
        try:
            app = create_app(registry.settings, registry)
            return schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
        finally:
            registry.close()


api = _published_schema()


@dataclass(frozen=True, slots=True)
class Fuzzed:
    """The app under test, and real values the fuzzer cannot guess."""

    app: FastAPI
    registry: Registry
    key: str
    hashes: tuple[tuple[str, str], ...]  # listed (type, value) pairs


#: The databases fuzzed: SQLite in `make test`; `make bench` adds PostgreSQL
#: (RECLAIM_FUZZ_DATABASES=sqlite,postgres).
DATABASES = os.environ.get("RECLAIM_FUZZ_DATABASES", "sqlite").split(",")


@pytest.fixture(params=DATABASES)
def fuzzed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fuzzed]:
    """A registry with a platform, listed hashes and feedback, and its app."""
    with ExitStack() as stack:
        url = None
        if request.param == "postgres":
            url = stack.enter_context(postgres_database())
        yield from _fuzzed(_migrated(tmp_path, url))


def _fuzzed(config: Settings) -> Iterator[Fuzzed]:
    registry = Registry(config)
    _, key = registry.add_platform("fuzz", ["minor", "adult"])
    rng = np.random.default_rng(11)
    hashes = tuple(("pdq", random_pdq(rng)) for _ in range(3)) + tuple(
        ("md5", f"{rng.integers(1, 2**62):032x}") for _ in range(2)
    )
    registry.create_case(
        "adult", [{"type": t, "value": v, "quality": 90} for t, v in hashes[:3]]
    )
    registry.create_case("minor", [{"type": t, "value": v} for t, v in hashes[3:]])
    registry.give_feedback(
        registry.authenticate(key),
        [{"type": "pdq", "value": hashes[0][1], "feedback": "blocked", "copies": 2}],
    )
    # The app gets this registry so that the test closes its connections:
    # schemathesis keeps an ASGI app's lifespan running until the process ends.
    app = create_app(config, registry)
    yield Fuzzed(app, registry, key, hashes)
    registry.close()


def _send(app: FastAPI, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request to the app in process; a server error comes back as a 500."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver"
        ) as client:
            return await client.request(method, url, **kwargs)

    return run_async(send)


def test_openapi_lists_every_operation(fuzzed: Fuzzed) -> None:
    response = _send(fuzzed.app, "GET", "/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    paths = response.json()["paths"]
    published = {
        (method.upper(), path) for path, item in paths.items() for method in item
    }
    assert OPERATIONS <= published
    assert {path for _, path in published if path.startswith("/api/")} == {
        path for _, path in OPERATIONS if path.startswith("/api/")
    }
    assert {path for _, path in published if path.startswith("/stopncii/")} == {
        path for _, path in OPERATIONS if path.startswith("/stopncii/")
    }


def assert_error_shape(status: int, content: bytes) -> None:
    """An error body is exactly {"ok": false, "error", "errors", "status", "code"}."""
    try:
        body = json.loads(content)
    except ValueError:
        raise AssertionError(f"error body is not JSON: {content!r}") from None
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    assert set(body) == {"ok", "error", "errors", "status", "code"}, (
        f"error keys: {body!r}"
    )
    assert body["ok"] is False, f"error with ok other than false: {body!r}"
    assert isinstance(body["error"], str), f"error message not text: {body!r}"
    assert isinstance(body["errors"], list), f"errors not a list: {body!r}"
    assert all(isinstance(e, str) for e in body["errors"]), f"errors: {body!r}"
    assert type(body["status"]) is int, f"status not an integer: {body!r}"
    assert isinstance(body["code"], str) and body["code"], f"code: {body!r}"
    assert body["status"] == status, f"status differs from HTTP {status}: {body!r}"


def canonical_error(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any
) -> None:
    """Schemathesis check: every 4xx and 5xx answer has the one error shape."""
    if response.status_code >= 400:
        assert_error_shape(response.status_code, response.content)


def _seed(case: schemathesis.Case) -> int:
    """A number that depends only on the generated case, so failures replay."""
    text = repr((case.operation.label, case.path_parameters, case.query, case.body))
    return zlib.crc32(text.encode())


def _pool(seed: int, fuzzed: Fuzzed) -> list[tuple[str, str]]:
    """Listed hashes, and new ones (an MD5 also in capitals: the same hash)."""
    md5 = hashlib.md5(str(seed).encode()).hexdigest()
    pdq = random_pdq(np.random.default_rng(seed))
    return [*fuzzed.hashes, ("pdq", pdq), ("md5", md5), ("md5", md5.upper())]


def steer(case: schemathesis.Case, fuzzed: Fuzzed) -> None:
    """Put real hashes, case numbers, PINs and page tokens into some requests.

    The fuzzer never guesses a valid PDQ or MD5 hash, nor a case's number
    and PIN, so without this it would only ever meet validation errors. The
    other generated fields (quality, feedback, copies, tags...) are kept.
    Only valid (positive) requests are changed, and three in four of them.
    """
    meta = case.meta
    seed = _seed(case)
    choice = seed % 4
    if choice == 0 or (meta is not None and meta.generation.mode.is_negative):
        return
    path = case.operation.path
    body = case.body if isinstance(case.body, dict) else {}
    pool = _pool(seed, fuzzed)
    for field in ("hashes", "items"):  # a person's hashes, platform feedback
        for index, item in enumerate(body.get(field) or []):
            if isinstance(item, dict):
                item["type"], item["value"] = pool[(seed + index) % len(pool)]
    if "{number}" in path and choice >= 2:
        kind, value = pool[seed % len(pool)]
        item = {"type": kind, "value": value, "quality": 90}
        new = fuzzed.registry.create_case("minor", [item])
        case.path_parameters = {**(case.path_parameters or {}), "number": new.number}
        if "pin" in body:
            body["pin"] = new.pin
    if path in ("/api/v1/platform/changes", "/api/v1/platform/snapshot"):
        programs = {1: [], 2: ["minor"], 3: ["adult", "minor"]}[choice]
        case.query = {**(case.query or {}), "program": programs}
    if path == "/stopncii/v1/FetchHashes":
        # Page tokens are feed positions: digit strings; try many lengths.
        query = dict(case.query or {})
        token = str(query.pop("nextPageToken", ""))
        if choice >= 2:  # else none: the first page
            query["nextPageToken"] = "9" * (1 + len(token) % 20)
        case.query = query
    if path.startswith("/stopncii/v1/Submit"):
        case.body = _exchange_body(path, body, pool, choice)


def _exchange_body(
    path: str, generated: dict[str, Any], pool: list[tuple[str, str]], choice: int
) -> dict[str, Any]:
    """A StopNCII body: one entry per generated property, hashes from the pool.

    The bodies are free-form objects in the schema, so the generated values
    go where the server has to check types itself: nowhere (choice 1), as the
    whole field (2), or inside it (3).
    """
    entries: list[dict[str, Any]] = []
    for name, value in generated.items() or [("", None)]:
        kind, hash_value = pool[zlib.crc32(name.encode()) % len(pool)]
        if path.endswith("SubmitHashes"):
            signal = {"pdq": "ImagePDQ", "md5": "VideoMD5"}[kind]
            record = {"signalType": signal, "hashValue": hash_value}
            if choice >= 2:
                record["CSPFeedbacks"] = value if choice == 2 else [value]
            entries.append(record)
        else:
            entry = {"hashValue": hash_value, "feedbackValue": "Blocked"}
            if choice >= 2:
                entry["tags" if choice == 2 else "feedbackValue"] = value
            entries.append(entry)
    key = "hashRecords" if path.endswith("SubmitHashes") else "hashFeedbacks"
    return {key: entries}


def key_headers(path: str, key: str) -> dict[str, str]:
    """The platform's API key, as the operation at `path` wants it."""
    if path.startswith("/api/v1/platform/"):
        return {"Authorization": f"Bearer {key}"}
    if path.startswith("/stopncii/v1/"):
        return {"x-functions-key": key, "Ocp-Apim-Subscription-Key": key}
    if path.startswith("/ncmec/v2/"):  # HTTP Basic: the platform's name and key
        token = base64.b64encode(f"fuzz:{key}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


@api.parametrize()
@FUZZ
def test_api_conforms_to_its_schema(case: schemathesis.Case, fuzzed: Fuzzed) -> None:
    steer(case, fuzzed)
    case.headers = {
        **(case.headers or {}),
        **key_headers(case.operation.path, fuzzed.key),
    }
    case.call_and_validate(
        app=fuzzed.app, checks=CHECKS, additional_checks=[canonical_error]
    )


@api.include(path_regex=r"^/(api/v1/platform|stopncii/v1|ncmec/v2)/").parametrize()
@FUZZ
def test_api_refuses_calls_without_a_key(
    case: schemathesis.Case, fuzzed: Fuzzed
) -> None:
    response = case.call_and_validate(
        app=fuzzed.app, checks=CHECKS, additional_checks=[canonical_error]
    )
    assert response.status_code >= 400, f"answered without a key: {response.text}"


#: Requests the fuzzer reaches rarely (a 19-digit token, a non-ASCII digit),
#: or that hide behind another failure of the same operation (Hypothesis
#: reports one per test): each must get a documented, non-5xx answer in the
#: canonical shape.
EDGES = {
    "timestamp past year 9999": (
        "GET", "/stopncii/v1/FetchHashes", {"params": {"startTimestamp": 2**40}}
    ),
    "page token over 64 bits": (
        "GET", "/stopncii/v1/FetchHashes", {"params": {"nextPageToken": "9" * 19}}
    ),
    "page token of non-ASCII digits": (
        "GET", "/stopncii/v1/FetchHashes", {"params": {"nextPageToken": "\u00b2"}}
    ),
    "CSPFeedbacks not a list": (
        "POST", "/stopncii/v1/SubmitHashes", {"json": {"hashRecords": [
            {"signalType": "VideoMD5", "hashValue": "ab" * 16, "CSPFeedbacks": 1}
        ]}},
    ),
    "a new hash twice in one request": (
        "POST", "/stopncii/v1/SubmitHashes", {"json": {"hashRecords": [
            {"signalType": "VideoMD5", "hashValue": "cd" * 16},
            {"signalType": "VideoMD5", "hashValue": "CD" * 16},
        ]}},
    ),
    "quality as text": (
        "POST", "/api/v1/cases", {"json": {"program": "adult", "hashes": [
            {"type": "md5", "value": "ab" * 16, "quality": "90"}
        ]}},
    ),
    "NUL in a StopNCII tag": (
        "POST", "/stopncii/v1/SubmitFeedback", {"json": {"hashFeedbacks": [
            {"hashValue": "ab" * 16, "feedbackValue": "Blocked", "tags": ["a\x00"]}
        ]}},
    ),
    "NUL in a query": (
        "GET", "/stopncii/v1/FetchHashes", {"params": {"nextPageToken": "1\x00"}}
    ),
    "body not UTF-8": (
        "POST", "/api/v1/cases",
        {"content": b"\xff", "headers": {"content-type": "application/json"}},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", EDGES)
def test_edge_requests_get_documented_answers(fuzzed: Fuzzed, name: str) -> None:
    method, path, given = EDGES[name]
    request = dict(given)
    headers = {**request.pop("headers", {}), **key_headers(path, fuzzed.key)}
    response = _send(fuzzed.app, method, path, headers=headers, **request)
    documented = api.raw_schema["paths"][path][method.lower()]["responses"]
    assert response.status_code < 500, response.text
    if name.startswith(("NUL", "quality")):
        assert response.status_code == 422, response.text
    assert str(response.status_code) in documented, response.text
    if response.status_code >= 400:
        assert_error_shape(response.status_code, response.content)
