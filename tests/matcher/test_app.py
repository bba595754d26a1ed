"""The matcher API: batches, uploads, errors, review, status and metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest

from reclaim.hashing import video_hash
from reclaim.matcher.app import create_app
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.service import MatcherService
from tests.conftest import encode, live_server, random_pdq, write_video
from tests.matcher.conftest import pdq_item, submit
from tests.matcher.test_sync import flip


@contextmanager
def served(service: MatcherService) -> Iterator[httpx.Client]:
    """A client of the matcher API served by uvicorn on 127.0.0.1."""
    with (
        live_server(create_app(service)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


@pytest.fixture
def service(make_service: Callable[..., MatcherService]) -> MatcherService:
    return make_service()


@pytest.fixture
def api(service: MatcherService) -> Iterator[httpx.Client]:
    with served(service) as client:
        yield client


def assert_error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"ok", "error", "errors", "status", "code"}
    assert body["ok"] is False and body["status"] == status
    return body  # type: ignore[no-any-return]


def test_a_batch_of_hashes(
    api: httpx.Client, service: MatcherService, person: httpx.Client
) -> None:
    rng = np.random.default_rng(7)
    listed = random_pdq(rng)
    submit(person, pdq_item(listed), {"type": "md5", "value": "0f" * 16})
    submit(person, pdq_item(listed), program="minor")
    service.sync_once()
    reply = api.post(
        "/v1/match",
        json={
            "hashes": [
                {"type": "pdq", "value": flip(listed, 5), "reference": "a"},
                {"type": "pdq", "value": random_pdq(rng)},
                {"type": "md5", "value": "0F" * 16},
            ]
        },
    )
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    first = results[0]["matches"]
    assert sorted(m["program"] for m in first) == ["adult", "minor"]
    assert {m["distance"] for m in first} == {5}
    assert results[1]["matches"] == []
    assert results[2]["matches"][0]["type"] == "md5"
    assert service.queue.counts()["pending"] == 3
    assert service.outbox.pending()["feedback"] == 3

    review = api.get("/v1/review").json()["matches"]
    assert [m["reference"] for m in review if m["type"] == "pdq"] == ["a", "a"]
    assert "value" not in review[0]  # the API never hands list hashes around


def test_bad_requests_have_one_error_shape(
    api: httpx.Client, service: MatcherService
) -> None:
    service.sync_once()
    body = assert_error(
        api.post(
            "/v1/match",
            json={
                "hashes": [
                    {"type": "pdq", "value": "xyz"},
                    {"type": "md5", "value": "1"},
                ]
            },
        ),
        422,
    )
    assert len(body["errors"]) == 2  # type: ignore[arg-type]
    assert_error(
        api.post("/v1/match", json={"hashes": [{"type": "sha1", "value": "a"}]}), 422
    )
    assert_error(api.post("/v1/match/media", content=b""), 422)
    assert_error(api.post("/v1/match/media", content=b"not a picture at all"), 422)
    assert_error(api.get("/v1/review/99"), 404)
    assert_error(api.post("/v1/review/99", json={"decision": "blocked"}), 404)
    assert_error(api.post("/v1/review/1", json={"decision": "maybe"}), 422)
    assert_error(api.get("/v1/review?state=odd"), 422)
    assert_error(api.get("/nope"), 404)


def test_uploads_over_the_limit_are_refused(
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., MatcherConfig],
) -> None:
    service = make_service(make_config(serve={"max_upload_bytes": 1000}))
    service.sync_once()
    with served(service) as api:
        body = assert_error(api.post("/v1/match/media", content=b"x" * 1001), 413)
        assert "over 1000 bytes" in str(body["error"])

        def chunks() -> Iterator[bytes]:
            for _ in range(3):
                yield b"x" * 600

        assert_error(api.post("/v1/match/media", content=chunks()), 413)
        # Hash batches too: the JSON body is refused before it is read whole.
        many = {"hashes": [{"type": "md5", "value": "0" * 32}] * 40}
        body = assert_error(api.post("/v1/match", json=many), 413)
        assert "max_upload_bytes" in str(body["error"])
        streamed = (b'{"hashes": [' + b" " * 600 for _ in range(3))
        assert_error(api.post("/v1/match", content=streamed), 413)
        assert api.post("/v1/match", json={"hashes": many["hashes"][:5]}).is_success


def test_auto_action_by_policy(
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., MatcherConfig],
    person: httpx.Client,
) -> None:
    listed = random_pdq(np.random.default_rng(8))
    submit(person, pdq_item(listed))
    service = make_service(make_config(policy={"auto_action_distance": 3}))
    service.sync_once()
    with served(service) as api:
        close = api.post(
            "/v1/match", json={"hashes": [{"type": "pdq", "value": flip(listed, 2)}]}
        )
        far = api.post(
            "/v1/match", json={"hashes": [{"type": "pdq", "value": flip(listed, 20)}]}
        )
        assert close.json()["results"][0]["matches"][0]["state"] == "auto_actioned"
        assert far.json()["results"][0]["matches"][0]["state"] == "pending"
        decided = api.post("/v1/review/1", json={"decision": "not_blocked"})
        assert_error(decided, 409)


def test_videos_match_by_frames(
    tmp_path: Path,
    photos: dict[str, np.ndarray],
    api: httpx.Client,
    service: MatcherService,
    person: httpx.Client,
) -> None:
    listed = video_hash(write_video(tmp_path / "a.mp4", photos["astronaut"], frames=30))
    other = write_video(tmp_path / "b.mp4", photos["rocket"], frames=30)
    submit(person, {"type": "vpdq", "value": listed.vpdq.to_text()})
    service.sync_once()
    assert service.status()["list"]["by_type"]["vpdq"] == 1
    upload = api.post("/v1/match/media", content=(tmp_path / "a.mp4").read_bytes())
    assert upload.status_code == 200, upload.text
    assert upload.json()["media"] == "video"
    kinds = {m["type"] for m in upload.json()["matches"]}
    assert kinds == {"vpdq"}  # the MD5 was not listed, the frames were
    match = upload.json()["matches"][0]
    assert match["query_percent"] >= 80 and match["compared_percent"] >= 80
    miss = api.post("/v1/match/media", content=other.read_bytes())
    assert miss.json()["matches"] == []
    batch = api.post(
        "/v1/match",
        json={"hashes": [{"type": "vpdq", "value": listed.vpdq.to_compact()}]},
    )
    assert batch.json()["results"][0]["matches"][0]["type"] == "vpdq"


def test_status_and_metrics(
    api: httpx.Client,
    service: MatcherService,
    person: httpx.Client,
    photos: dict[str, np.ndarray],
) -> None:
    before = api.get("/status").json()
    assert before["sync"]["result"] == "never" and before["list"]["size"] == 0
    submit(person, pdq_item(random_pdq(np.random.default_rng(9))))
    service.sync_once()
    api.post("/v1/match/media", content=encode(photos["coins"], "PNG"))
    status = api.get("/status").json()
    assert status["ok"] is True and status["list"]["size"] == 1
    assert status["sync"]["cursor"] is not None and status["sync"]["lag_seconds"] < 60
    metrics = api.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'reclaim_matcher_list_size{type="pdq"} 1.0' in text
    assert 'reclaim_matcher_syncs_total{result="ok"} 1.0' in text
    assert 'reclaim_matcher_uploads_total{outcome="clear"} 1.0' in text
    assert "reclaim_matcher_match_seconds_bucket" in text


def test_an_upload_inside_bars_matches_its_picture(
    api: httpx.Client,
    service: MatcherService,
    person: httpx.Client,
    photos: dict[str, np.ndarray],
) -> None:
    from reclaim.hashing import pdq_hash

    picture = photos["chelsea"]
    listed = pdq_hash(picture)
    submit(person, pdq_item(listed.hex, listed.quality or 0))
    service.sync_once()
    height, width = picture.shape[:2]
    framed = np.zeros((height + 200, width, 3), np.uint8)
    framed[100 : 100 + height] = picture
    reply = api.post("/v1/match/media", content=encode(framed, "PNG"))
    (match,) = reply.json()["matches"]
    assert match["variant"] == "inner" and match["distance"] <= 31


def test_an_access_token_guards_every_endpoint_but_liveness(
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
) -> None:
    token = "s3cret-token"
    config = make_config(serve={"token": token})
    assert token not in repr(config)
    batch = {"hashes": [{"type": "md5", "value": "0" * 32}]}
    service = make_service(config)
    service.sync_once()
    with served(service) as api:
        assert api.get("/healthz").status_code == 200
        assert api.get("/readyz").status_code == 200  # probes need no token
        for method, path in (
            ("POST", "/v1/match"),
            ("GET", "/status"),
            ("GET", "/metrics"),
            ("GET", "/review"),
            ("GET", "/v1/review"),
        ):
            refused = api.request(method, path, json=batch)
            assert_error(refused, 401)
            assert refused.headers["www-authenticate"].startswith("Basic")
            wrong = api.request(
                method, path, json=batch, headers={"Authorization": "Bearer nope"}
            )
            assert_error(wrong, 401)
        bearer = {"Authorization": f"Bearer {token}"}
        assert api.post("/v1/match", json=batch, headers=bearer).status_code == 200
        assert api.get("/status", headers=bearer).status_code == 200
        # HTTP Basic, the token as the password (the old review page's way).
        assert api.get("/status", auth=("moderator", token)).status_code == 200
        assert api.get("/status", auth=("moderator", "guess")).status_code == 401
        # The old review page moved to the desk, which has its own sign-in.
        moved = api.get("/review", auth=("moderator", token))
        assert moved.status_code == 301 and moved.headers["location"] == "/desk"


def test_not_ready_until_every_source_has_a_complete_list(
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., MatcherConfig],
    person: httpx.Client,
) -> None:
    listed = random_pdq(np.random.default_rng(12))
    submit(person, pdq_item(listed))
    batch = {"hashes": [{"type": "pdq", "value": listed}]}
    service = make_service()
    with served(service) as api:
        # Up, but it has never synced: a match now would miss the listed hash.
        assert api.get("/healthz").json()["ok"] is True
        for response in (
            api.get("/readyz"),
            api.post("/v1/match", json=batch),
            api.post("/v1/match/media", content=b"\x89PNG"),
        ):
            body = assert_error(response, 503)
            assert "not ready" in str(body["error"])
            assert int(response.headers["retry-after"]) >= 1
        assert api.get("/status").json()["ready"] is False
        service.sync_once()
        ready = api.get("/readyz")
        assert ready.status_code == 200 and ready.json()["sources"] == ["default"]
        reply = api.post("/v1/match", json=batch)
        assert reply.status_code == 200, reply.text
        assert reply.json()["results"][0]["matches"][0]["distance"] == 0
    # A restart on the same store is ready at once: it serves its last list.
    again = make_service(make_config())
    with served(again) as api:
        assert api.get("/readyz").status_code == 200


def test_a_source_that_never_answers_keeps_the_matcher_unready(
    make_service: Callable[..., MatcherService],
    make_config: Callable[..., MatcherConfig],
) -> None:
    config = make_config(source={"url": "http://127.0.0.1:9"})
    service = make_service(config)
    assert service.sync_once().result == "unavailable"
    with served(service) as api:
        body = assert_error(api.get("/readyz"), 503)
        assert "default" in str(body["error"])
        status = api.get("/status").json()
        assert status["ready"] is False and status["sync"]["result"] == "unavailable"


@pytest.mark.parametrize(
    "match_id", ["9223372036854775808", "99999999999999999999999", "0", "-1"]
)
def test_review_ids_outside_int64_are_refused(api: httpx.Client, match_id: str) -> None:
    assert_error(api.get(f"/v1/review/{match_id}"), 422)
    decision = {"decision": "blocked"}
    assert_error(api.post(f"/v1/review/{match_id}", json=decision), 422)


def test_nul_and_loose_types_are_refused(
    api: httpx.Client, service: MatcherService
) -> None:
    service.sync_once()
    md5 = {"type": "md5", "value": "0" * 32}
    for bad in (
        {"hashes": [{**md5, "reference": "a\u0000b"}]},
        {"hashes": [{**md5, "value": "0" * 31 + "\u0000"}]},
        {"hashes": [{**md5, "value": 123}]},
        {"hashes": [md5], "extra": 1},
    ):
        body = assert_error(api.post("/v1/match", json=bad), 422)
        assert body["errors"], body
    nul = assert_error(
        api.post("/v1/match", json={"hashes": [{**md5, "reference": "\x00"}]}), 422
    )
    assert "NUL" in str(nul["errors"])
    # An unpaired surrogate (JSON allows the escape; no database stores it).
    lone = b'{"hashes": [{"type": "md5", "value": "%s", "reference": "\\ud800"}]}'
    surrogate = api.post(
        "/v1/match",
        content=lone % (b"0" * 32),
        headers={"content-type": "application/json"},
    )
    assert "surrogate" in str(assert_error(surrogate, 422)["errors"])
    assert_error(api.get("/v1/review", params={"state": "pending\x00"}), 422)
    assert_error(api.post("/v1/match/media?reference=a%00", content=b"x"), 422)
    assert_error(
        api.post("/v1/review/1", json={"decision": "blocked", "reviewer": "\x00"}),
        422,
    )


def test_pages_cannot_be_framed(api: httpx.Client) -> None:
    for path in ("/desk/login", "/docs", "/v1/review", "/healthz", "/nope"):
        response = api.get(path)
        assert response.headers["x-frame-options"] == "DENY", path
        assert (
            "frame-ancestors 'none'" in response.headers["content-security-policy"]
        ), path


def test_a_405_names_every_method_of_the_path(api: httpx.Client) -> None:
    refused = api.request("DELETE", "/v1/review/1")
    assert_error(refused, 405)
    assert refused.headers["allow"] == "GET, POST"
