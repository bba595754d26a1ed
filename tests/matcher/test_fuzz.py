"""Schemathesis fuzzing of the matcher's published OpenAPI schema, in process.

Every check schemathesis has, against a matcher synced from a real registry
(matches, a review queue) and against one that has never synced (every
match answer a documented 503).
"""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection

from reclaim.matcher.app import create_app
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.service import MatcherService
from tests.api.test_fuzz import (
    CHECKS,
    FUZZ,
    REFUSED,
    _send,
    assert_error_shape,
    canonical_error,
)
from tests.conftest import random_pdq
from tests.matcher.conftest import pdq_item, submit

#: Schema-valid input is accepted, or refused for what a schema cannot say:
#: not a valid hash of its type (422), no such match (404), already decided
#: (409), not ready (503).
ACCEPTED = ["2XX", 404, 409, 422, 503]
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": REFUSED},
            "positive_data_acceptance": {"expected-statuses": ACCEPTED},
        }
    }
)

OPERATIONS = {
    ("POST", "/v1/match"),
    ("POST", "/v1/match/media"),
    ("GET", "/v1/review"),
    ("GET", "/v1/review/{match_id}"),
    ("POST", "/v1/review/{match_id}"),
    ("GET", "/status"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/v1/removal-requests"),
    ("GET", "/v1/removal-requests"),
    ("GET", "/v1/removal-requests/{public_id}"),
    ("POST", "/v1/removal-requests/{public_id}/media"),
    ("POST", "/v1/removal-requests/{public_id}/actions"),
    ("GET", "/v1/transparency/statements"),
    ("GET", "/v1/transparency/report.csv"),
}


def _config(directory: Path, url: str = "http://127.0.0.1:9") -> MatcherConfig:
    return MatcherConfig.from_mapping(
        {
            "source": {"url": url, "api_key": "k"},
            "store": {"url": f"sqlite:///{directory}/m.db"},
        }
    )


def _published_schema() -> schemathesis.BaseSchema:
    """The schema as the matcher serves it (loaded at import: see test_fuzz)."""
    with tempfile.TemporaryDirectory() as directory:
        service = MatcherService(_config(Path(directory)))
        try:
            app = create_app(service)
            return schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
        finally:
            service.close()


api = _published_schema()


@dataclass(frozen=True, slots=True)
class Fuzzed:
    """The matcher under test and the listed hashes it holds."""

    app: FastAPI
    service: MatcherService
    listed: tuple[str, ...]


@pytest.fixture(params=["synced", "never synced"])
def fuzzed(
    request: pytest.FixtureRequest,
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., MatcherConfig],
    person: httpx.Client,
) -> Iterator[Fuzzed]:
    """A matcher on a real registry with three listed hashes and a queue."""
    rng = np.random.default_rng(23)
    listed = tuple(random_pdq(rng) for _ in range(3))
    submit(person, *(pdq_item(value) for value in listed))
    service = make_service(make_config(serve={"max_batch": 50}))
    if request.param == "synced":
        assert service.sync_once().healthy
        service.match([])  # nothing queued yet; the fuzzer's matches fill it
    yield Fuzzed(create_app(service), service, listed)


def steer(case: schemathesis.Case, fuzzed: Fuzzed) -> None:
    """Listed hashes in some match requests, real ids in some review paths."""
    meta = case.meta
    seed = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
    if seed % 4 == 0 or (meta is not None and meta.generation.mode.is_negative):
        return
    path = case.operation.path
    if path == "/v1/match" and isinstance(case.body, dict):
        for index, item in enumerate(case.body.get("hashes") or []):
            if isinstance(item, dict):
                item["type"] = "pdq"
                item["value"] = fuzzed.listed[(seed + index) % len(fuzzed.listed)]
    if "{match_id}" in path:
        case.path_parameters = {"match_id": 1 + seed % 3}


def only_not_ready(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any
) -> None:
    """Schemathesis check for a matcher that has never synced: its only 5xx
    is the 503 of the match routes and /readyz, with Retry-After."""
    if response.status_code >= 500:
        assert response.status_code == 503, response.status_code
        path = case.operation.path
        assert path.startswith("/v1/match") or path == "/readyz", path
        assert int(response.headers["retry-after"][0]) >= 1


@api.parametrize()
@FUZZ
def test_matcher_conforms_to_its_schema(
    case: schemathesis.Case, fuzzed: Fuzzed
) -> None:
    steer(case, fuzzed)
    if fuzzed.service.not_ready():
        # An upload is answered 503 before its body is read (however large
        # or broken it is): the synced run checks how bodies are refused.
        skip = {not_a_server_error}
        if case.operation.path == "/v1/match/media":
            skip.add(negative_data_rejection)
        checks = [check for check in CHECKS if check not in skip]
        extra = [canonical_error, only_not_ready]
    else:
        checks, extra = CHECKS, [canonical_error]
    case.call_and_validate(app=fuzzed.app, checks=checks, additional_checks=extra)


def test_openapi_lists_every_operation_and_status() -> None:
    paths = api.raw_schema["paths"]
    published = {
        (method.upper(), path) for path, item in paths.items() for method in item
    }
    assert published == OPERATIONS
    for method, path in [("POST", "/v1/match"), ("POST", "/v1/match/media")]:
        answers = paths[path][method.lower()]["responses"]
        assert {"200", "401", "413", "422", "500", "503"} <= set(answers)
        assert "Retry-After" in answers["503"]["headers"]
    review = paths["/v1/review/{match_id}"]["get"]
    (match_id,) = review["parameters"]
    assert match_id["schema"]["maximum"] == 2**63 - 1


def test_edges(fuzzed: Fuzzed) -> None:
    """What the first fuzzing found, each a documented 4xx or 503 in shape."""
    for method, url, kwargs in [
        ("GET", f"/v1/review/{2**63}", {}),
        ("GET", f"/v1/review/{10**30}", {}),
        ("POST", f"/v1/review/{2**63}", {"json": {"decision": "blocked"}}),
        ("POST", "/v1/match", {"json": {"hashes": [{"type": "md5", "value": 1}]}}),
        ("POST", "/v1/match?x=%00", {"json": {"hashes": []}}),
    ]:
        response = _send(fuzzed.app, method, url, **kwargs)
        assert 400 <= response.status_code < 500 or response.status_code == 503
        assert_error_shape(response.status_code, response.content)


def test_a_ready_matcher_answers_matches(fuzzed: Fuzzed) -> None:
    body: dict[str, Any] = {"hashes": [{"type": "pdq", "value": fuzzed.listed[0]}]}
    response = _send(fuzzed.app, "POST", "/v1/match", json=body)
    if fuzzed.service.not_ready():
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
    else:
        assert response.json()["results"][0]["matches"][0]["distance"] == 0
