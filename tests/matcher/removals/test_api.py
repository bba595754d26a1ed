"""Removal requests over HTTP against a real matcher with the catalog on:
the deadline, the copies found (in the catalog, and uploaded later), the
actions taken, and nothing personal in replies, webhooks or logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import insert

from reclaim.matcher.desk.audit import events
from reclaim.matcher.removals.model import EMPTY_MD5
from reclaim.matcher.tables import catalog_spool
from tests.conftest import encode
from tests.matcher.desk.conftest import Desk
from tests.matcher.receiver import Receiver
from tests.matcher.removals.conftest import PERSONAL, body
from tests.matcher.test_catalog import list_photo


def turned(photo: np.ndarray, quality: int = 70) -> bytes:
    """The photo turned a quarter, scaled to 70% and re-compressed."""
    image = Image.fromarray(np.ascontiguousarray(np.rot90(photo)))
    image = image.resize((image.width * 7 // 10, image.height * 7 // 10))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def upload(platform: httpx.Client, reference: str, data: bytes) -> None:
    reply = platform.post(
        "/v1/match/media", params={"reference": reference}, content=data
    )
    assert reply.status_code == 200, reply.text


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_request_shows_its_deadline_the_copies_found_and_the_actions_taken(
    removals_desk: Callable[..., Desk],
    receiver: Receiver,
    photos: dict[str, np.ndarray],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    desk = removals_desk()
    service = desk.service
    platform = desk.client()
    photo = photos["astronaut"]
    upload(platform, "post-1", encode(photo, "JPEG", quality=95))  # reported
    assert service.catalog is not None
    service.catalog.flush(force=True)  # post-1 in a shard
    upload(platform, "post-2", turned(photo))  # a copy, still in the spool
    upload(platform, "post-other", encode(photos["camera"], "JPEG"))  # no copy

    reply = platform.post("/v1/removal-requests", json=body())
    assert reply.status_code == 201, reply.text
    intake = reply.json()
    # The requester hears only of their request, nothing of the platform's.
    assert set(intake) == {
        "ok",
        "id",
        "state",
        "received_at",
        "deadline",
        "validity",
        "receipt",
    }
    assert intake["id"].startswith("RR-") and intake["state"] == "received"
    assert at(intake["deadline"]) - at(intake["received_at"]) == timedelta(hours=48)
    assert intake["validity"]["complete"] is True
    assert intake["validity"]["valid"] is False
    assert intake["validity"]["summary"].startswith("complete: the four parts")
    assert len(intake["receipt"]) >= 30
    number = intake["id"]
    # The search is owed, and done in the background (here: now).
    assert service.removals.store.owed() == [number]
    assert service.removals.search_owed() == 1
    assert service.removals.store.owed() == []
    request = platform.get(f"/v1/removal-requests/{number}").json()
    assert request["state"] == "received"
    copies = {c["reference"]: c for c in request["copies"]}
    assert set(copies) == {"post-1", "post-2"}
    assert copies["post-1"]["found_by"] == "reported"
    assert copies["post-2"]["found_by"] == "catalog"
    assert copies["post-2"]["distance"] <= 31
    assert request["hashes"] == {"catalog": 2}
    steps = [e["action"] for e in request["events"]]
    for step in ("received", "checked", "hashed", "searched_catalog"):
        assert step in steps
    assert "watching_uploads" in steps
    assert "takedown_asked" not in steps  # no person has checked it yet
    searched = next(e for e in request["events"] if e["action"] == "searched_catalog")
    assert searched["detail"]["items"] == 3 and searched["detail"]["copies"] == 2

    # A copy uploaded after the request is found as it arrives.
    upload(platform, "post-3", turned(photo, quality=40))
    shown = platform.get(f"/v1/removal-requests/{number}").json()
    found = {c["reference"]: c["found_by"] for c in shown["copies"]}
    assert found == {"post-1": "reported", "post-2": "catalog", "post-3": "forward"}
    service.deliver()
    assert not [d for d in receiver.deliveries if d["event"] == "removal.copies"]

    # A person marks it valid: every copy found so far goes for removal.
    valid = platform.post(
        f"/v1/removal-requests/{number}/actions",
        json={"action": "valid", "reason": "the four parts checked"},
    ).json()
    assert valid["state"] == "valid" and valid["validity"]["valid"] is True
    service.deliver()
    asked = [d for d in receiver.deliveries if d["event"] == "removal.copies"]
    assert [d["references"] for d in asked] == [["post-1", "post-2", "post-3"]]

    # The platform removes them; the request is then removed.
    reply = platform.post(
        f"/v1/removal-requests/{number}/actions",
        json={"action": "removed", "references": ["post-1", "post-2"]},
    )
    assert reply.status_code == 200 and reply.json()["state"] == "valid"
    reply = platform.post(
        f"/v1/removal-requests/{number}/actions",
        json={"action": "removed", "references": ["post-3"]},
    )
    done = reply.json()
    assert done["state"] == "removed" and done["closed_at"]
    assert all(c["removed_at"] and c["removed_by"] == "api" for c in done["copies"])
    taken = [a["action"] for a in done["actions"]]
    assert taken.count("copy_removed") == 3 and taken[-1] == "closed"
    assert taken.index("valid") < taken.index("takedown_asked")
    assert done["actions"][-1]["detail"]["hours_to_removal"] >= 0

    # The takedown system heard of every copy once, and of nothing personal.
    service.deliver()
    asked = [d for d in receiver.deliveries if d["event"] == "removal.copies"]
    assert [r for d in asked for r in d["references"]] == ["post-1", "post-2", "post-3"]
    assert all(d["request"] == number for d in asked)
    sent = json.dumps(receiver.deliveries)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    replies = json.dumps([intake | {"receipt": ""}, request, shown, done])
    audit = json.dumps([e.detail for e in events(service.engine, limit=1000)])
    assert f"request:{number}" in {e.subject for e in events(service.engine)}
    for secret in PERSONAL:
        assert secret not in sent and secret not in logged
        assert secret not in replies and secret not in audit
    assert intake["receipt"] not in logged


def test_a_request_missing_a_part_is_recorded_invalid_with_the_part_named(
    removals_desk: Callable[..., Desk],
) -> None:
    platform = removals_desk().client()
    reply = platform.post("/v1/removal-requests", json=body(contact=None))
    assert reply.status_code == 201, reply.text
    request = reply.json()
    assert request["state"] == "invalid"
    (problem,) = request["validity"]["problems"]
    assert problem.startswith("contact:") and "email" in problem
    assert request["validity"]["complete"] is False
    shown = platform.get(f"/v1/removal-requests/{request['id']}").json()
    assert shown["reason"] == problem
    reply = platform.post(
        "/v1/removal-requests",
        json=body(
            signature={"name": "", "confirmed": True},
            content=[],
            good_faith_statement={"confirmed": False, "statement": ""},
            requester={"role": "authorized_agent"},
        ),
    )
    parts = [p.split(":")[0] for p in reply.json()["validity"]["problems"]]
    assert parts == ["signature", "content", "good-faith statement", "requester"]


@pytest.mark.parametrize(
    "sent",
    [
        body(surprise=True),
        body(content=[{"location": "https://social.example/p/x"}] * 51),
        body(content=[{"location": "x" * 2001}]),
        body(hashes=[{"type": "pdq", "value": "not a hash"}]),
        body(requester={"role": "neighbour"}),
        body(requester=None),
        body(signature={"name": "A", "confirmed": "yes"}),
    ],
)
def test_a_malformed_body_is_422_in_the_one_error_shape(
    removals_desk: Callable[..., Desk], sent: dict[str, object]
) -> None:
    platform = removals_desk().client()
    reply = platform.post("/v1/removal-requests", json=sent)
    assert reply.status_code == 422, reply.text
    error = reply.json()
    assert set(error) == {"ok", "error", "errors", "status", "code"}
    assert error["ok"] is False and error["status"] == 422
    assert not platform.get("/v1/removal-requests").json()["requests"]


def test_the_platform_api_needs_the_token_and_intake_does_not(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk(serve={"token": "platform-token"})
    public = desk.client()
    reply = public.post("/v1/removal-requests", json=body())
    assert reply.status_code == 201
    number = reply.json()["id"]
    assert public.get("/v1/removal-requests").status_code == 401
    assert public.get(f"/v1/removal-requests/{number}").status_code == 401
    refused = public.post(
        f"/v1/removal-requests/{number}/actions",
        json={"action": "rejected", "reason": "spam"},
    )
    assert refused.status_code == 401
    platform = desk.client()
    platform.headers["Authorization"] = "Bearer platform-token"
    listed = platform.get("/v1/removal-requests", params={"state": "received"})
    assert [r["id"] for r in listed.json()["requests"]] == [number]
    soon = platform.get("/v1/removal-requests", params={"due_within_hours": 47})
    assert soon.json()["requests"] == []
    due = platform.get("/v1/removal-requests", params={"due_within_hours": 48.1})
    assert [r["id"] for r in due.json()["requests"]] == [number]
    assert platform.get("/v1/removal-requests/RR-AAAAAAAAAA").status_code == 404


def test_decisions_need_a_reason_and_follow_the_states(
    removals_desk: Callable[..., Desk], receiver: Receiver
) -> None:
    desk = removals_desk()
    platform = desk.client()
    number = platform.post("/v1/removal-requests", json=body(contact=None)).json()["id"]
    path = f"/v1/removal-requests/{number}/actions"
    assert platform.post(path, json={"action": "valid"}).status_code == 422
    made = platform.post(path, json={"action": "valid", "reason": "contact by post"})
    assert made.json()["state"] == "valid"
    assert made.json()["validity"] == {
        "complete": True,
        "valid": True,
        "problems": [],
        "summary": "valid: checked by a person",
    }
    again = platform.post(path, json={"action": "valid", "reason": "twice"})
    assert again.status_code == 409
    rejected = platform.post(path, json={"action": "rejected", "reason": "duplicate"})
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["reason"] == "duplicate"
    late = platform.post(path, json={"action": "removed", "references": ["post-1"]})
    assert late.status_code == 409
    # Made valid, its reported copy went to the takedown system.
    desk.service.deliver()
    assert [d["references"] for d in receiver.deliveries] == [["post-1"]]


def test_an_attached_file_is_hashed_and_its_copies_found(
    removals_desk: Callable[..., Desk],
    photos: dict[str, np.ndarray],
) -> None:
    desk = removals_desk(catalog={"enabled": False})
    platform = desk.client()
    photo = photos["chelsea"]
    upload(platform, "post-old", turned(photo))  # before, catalog off: not found
    # Reported by a location the patterns do not resolve.
    sent = body(content=[{"location": "the picture on my old profile"}])
    number = platform.post("/v1/removal-requests", json=sent).json()["id"]
    desk.service.removals.search_owed()
    shown = platform.get(f"/v1/removal-requests/{number}").json()
    assert shown["copies"] == [] and shown["content"][0]["reference"] is None
    missing = platform.post("/v1/removal-requests/RR-AAAAAAAAAA/media", content=b"x")
    assert missing.status_code == 404
    reply = platform.post(
        f"/v1/removal-requests/{number}/media",
        params={"reference": "post-7"},
        content=encode(photo, "PNG"),
    )
    assert reply.status_code == 200, reply.text
    attached = reply.json()
    assert attached["hashes"] == {"media": 2}
    assert [(c["reference"], c["found_by"]) for c in attached["copies"]] == [
        ("post-7", "reported")
    ]
    unreadable = platform.post(
        f"/v1/removal-requests/{number}/media", content=b"not a picture"
    )
    assert unreadable.status_code == 422
    assert set(unreadable.json()) == {"ok", "error", "errors", "status", "code"}
    # Uploaded afterwards: found as it arrives, exact (MD5) or near (PDQ).
    upload(platform, "post-8", encode(photo, "PNG"))
    upload(platform, "post-9", turned(photo, quality=50))
    upload(platform, "post-other", encode(photos["camera"], "PNG"))
    copies = platform.get(f"/v1/removal-requests/{number}").json()["copies"]
    found = {c["reference"]: (c["found_by"], c["distance"]) for c in copies}
    assert found["post-8"] == ("forward", 0)
    assert found["post-9"][0] == "forward" and found["post-9"][1] <= 31
    assert "post-other" not in found and "post-old" not in found


def test_uploads_in_the_review_queue_matching_what_was_reported_are_copies(
    removals_desk: Callable[..., Desk],
    person: httpx.Client,
    photos: dict[str, np.ndarray],
) -> None:
    desk = removals_desk(catalog={"enabled": False})
    photo = photos["astronaut"]
    list_photo(person, encode(photo, "JPEG", quality=95))
    desk.service.sync_once()
    platform = desk.client()
    upload(platform, "post-1", encode(photo, "PNG"))
    upload(platform, "post-2", turned(photo))
    upload(platform, "post-3", turned(photo, quality=40))
    queued = {
        m["reference"]: m["id"] for m in platform.get("/v1/review").json()["matches"]
    }
    assert set(queued) == {"post-1", "post-2", "post-3"}
    # A moderator found post-3 was not a match: it is no copy either.
    said = platform.post(
        f"/v1/review/{queued['post-3']}", json={"decision": "not_blocked"}
    )
    assert said.status_code == 200, said.text
    number = platform.post("/v1/removal-requests", json=body()).json()["id"]
    desk.service.removals.search_owed()
    request = platform.get(f"/v1/removal-requests/{number}").json()
    found = {c["reference"]: c["found_by"] for c in request["copies"]}
    assert found == {"post-1": "reported", "post-2": "forward"}


def test_attaching_reads_the_store_off_the_event_loop(
    removals_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
    photos: dict[str, np.ndarray],
) -> None:
    desk = removals_desk(catalog={"enabled": False})
    platform = desk.client()
    number = platform.post("/v1/removal-requests", json=body()).json()["id"]
    store = desk.service.removals.store
    read, seen = store.get, []

    def watched(public_id: str, **options: bool) -> object:
        try:
            asyncio.get_running_loop()
            seen.append("event loop")
        except RuntimeError:  # no loop running in this thread: a worker
            seen.append("worker")
        return read(public_id, **options)

    monkeypatch.setattr(store, "get", watched)
    reply = platform.post(
        f"/v1/removal-requests/{number}/media", content=encode(photos["chelsea"], "PNG")
    )
    assert reply.status_code == 200, reply.text
    assert seen and set(seen) == {"worker"}, seen


def test_a_reported_blank_item_adds_no_hash_that_matches_everything(
    removals_desk: Callable[..., Desk],
) -> None:
    """The catalog item of a reported reference is hashed by the same check
    as the requester's hashes: a blank picture's PDQ hash and an empty
    file's MD5 are skipped, with a step saying so, and flood no copies."""
    desk = removals_desk()
    now = datetime.now(UTC)
    flat = bytes(128)  # a blank picture's PDQ hashes (4 views): no bit set
    with desk.service.engine.begin() as connection:
        for reference, md5 in (("post-1", EMPTY_MD5), ("post-flat", "ab" * 16)):
            connection.execute(
                insert(catalog_spool).values(
                    reference=reference,
                    uploaded_at=now,
                    md5=bytes.fromhex(md5),
                    pdq=flat,
                    quality=0,
                )
            )
    platform = desk.client()
    number = platform.post("/v1/removal-requests", json=body()).json()["id"]
    assert desk.service.removals.search_owed() == 1
    shown = platform.get(f"/v1/removal-requests/{number}").json()
    assert shown["hashes"] == {}
    skipped = [e for e in shown["events"] if e["action"] == "hashes_skipped"]
    assert [e["detail"] for e in skipped] == [
        {"hashes": 2, "from": "catalog", "why": "they would match nearly anything"}
    ]
    assert [c["reference"] for c in shown["copies"]] == ["post-1"]  # as reported
