"""The issue's "done means", end to end against a real registry and matcher.

A person submits a photo's hash; the matcher syncs; a mirrored, resized and
re-compressed copy matches through the matcher API; a moderator marks it
blocked; the person's case says one platform removed it; the person
withdraws; the copy stops matching. Also measures the sync latencies.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import httpx
import numpy as np
from PIL import Image

from reclaim.hashing import pdq_hash, pdq_hash_dihedral
from reclaim.matcher.app import create_app
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.service import MatcherService, Query
from tests.conftest import encode, live_server
from tests.matcher.conftest import pdq_item, submit
from tests.matcher.receiver import webhook_receiver

SECRET = "a-shared-secret-of-some-length"


def altered_copy(photo: np.ndarray) -> bytes:
    """Mirrored, scaled to 60% and re-compressed at JPEG quality 60."""
    image = Image.fromarray(np.ascontiguousarray(photo[:, ::-1]))
    image = image.resize((image.width * 3 // 5, image.height * 3 // 5), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


def wait_for(check: Callable[[], bool], *, timeout: float = 10.0) -> float:
    """Seconds until `check()` holds (polling every 10 ms)."""
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise AssertionError("timed out")
        time.sleep(0.01)
    return time.perf_counter() - started


def test_done_means(
    photos: dict[str, np.ndarray],
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
) -> None:
    original = encode(photos["astronaut"], "JPEG", quality=95)
    photo_hash = pdq_hash(original)
    copy = altered_copy(photos["astronaut"])
    query = [Query(pdq=tuple(pdq_hash_dihedral(copy)))]

    with webhook_receiver(SECRET) as receiver:
        config = make_config(
            webhook={"url": receiver.url, "secret": SECRET},
            sync={"poll_seconds": 0.1},
        )
        service = make_service(config)
        with (
            live_server(create_app(service, background=True)) as matcher_url,
            httpx.Client(base_url=matcher_url, timeout=30) as platform,
        ):

            def copy_matches() -> list[dict[str, object]]:
                reply = platform.post("/v1/match/media", content=copy)
                assert reply.status_code == 200, reply.text
                return reply.json()["matches"]  # type: ignore[no-any-return]

            # Not ready (503) until the first complete sync; then nothing listed.
            wait_for(lambda: platform.get("/readyz").status_code == 200)
            assert copy_matches() == []
            case = submit(person, pdq_item(photo_hash.hex, photo_hash.quality or 0))
            matchable = wait_for(lambda: bool(service.find(query)[0]))
            print(f"\nsubmission to matchable: {matchable * 1000:.0f} ms (poll 0.1 s)")

            matches = copy_matches()
            assert len(matches) == 1
            match = matches[0]
            assert match["type"] == "pdq" and match["program"] == "adult"
            assert match["state"] == "pending"
            assert match["variant"] != "original"
            assert int(match["distance"]) <= 31  # type: ignore[call-overload]

            # The registry hears pending_review, the platform gets a webhook.
            wait_for(lambda: not any(service.outbox.pending().values()))
            assert receiver.deliveries[0]["event"] == "match.review"
            assert receiver.bad_signatures == 0

            decided = platform.post(
                f"/v1/review/{match['match_id']}",
                json={"decision": "blocked", "reviewer": "mod-1"},
            )
            assert (
                decided.status_code == 200
                and decided.json()["match"]["state"] == "blocked"
            )
            wait_for(lambda: not any(service.outbox.pending().values()))
            assert receiver.deliveries[-1]["event"] == "match.action"
            assert receiver.deliveries[-1]["match"]["id"] == match["match_id"]

            status = person.post(
                f"/api/v1/cases/{case['case_number']}/status", json={"pin": case["pin"]}
            ).json()["case"]
            item = status["hashes"][0]
            assert item["platforms_removed"] == 1 and item["platforms_matched"] == 1

            person.post(
                f"/api/v1/cases/{case['case_number']}/withdraw",
                json={"pin": case["pin"]},
            )
            gone = wait_for(lambda: not service.find(query)[0])
            print(f"withdrawal to unmatchable: {gone * 1000:.0f} ms (poll 0.1 s)")
            assert copy_matches() == []
            assert platform.get("/status").json()["sync"]["result"] == "ok"


def test_a_picture_listed_with_its_views_is_one_review_entry(
    photos: dict[str, np.ndarray],
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
) -> None:
    """A copy matching several of a picture's listed views is one upload to
    review; the decision reaches the registry for each view, and the person's
    case counts the picture once."""
    from reclaim.hashing import submission_hashes

    photo = photos["chelsea"]
    views = submission_hashes(photo)
    assert len(views) > 10
    case = submit(
        person, *({**pdq_item(h.hex, h.quality or 0), "item": 0} for h in views)
    )
    height = photo.shape[0]
    cropped = encode(photo[height // 10 :], "JPEG", quality=90)  # top 10% cut
    service = make_service(make_config())
    service.sync_once()
    with (
        live_server(create_app(service)) as matcher_url,
        httpx.Client(base_url=matcher_url, timeout=30) as platform,
    ):
        reply = platform.post("/v1/match/media", content=cropped).json()
        found = reply["matches"]
        assert len({m["match_id"] for m in found}) == 1
        queued = platform.get("/v1/review").json()["matches"]
        assert len(queued) == 1 and queued[0]["matched_hashes"] == len(found) > 1
        platform.post(
            f"/v1/review/{queued[0]['id']}", json={"decision": "blocked"}
        ).raise_for_status()
        service.deliver()
        assert not any(service.outbox.pending().values())
    status = person.post(
        f"/api/v1/cases/{case['case_number']}/status", json={"pin": case["pin"]}
    ).json()["case"]
    [item] = status["items"]
    assert (item["platforms_matched"], item["platforms_removed"]) == (1, 1)
    removed = [h for h in status["hashes"] if h["platforms_removed"]]
    assert len(removed) == len(found)
