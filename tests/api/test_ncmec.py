"""The NCMEC Hash Sharing API v2 over HTTP: auth, windows, paging, feedback, seals."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from sqlalchemy import event, select

from reclaim.hashing.types import PdqHash
from reclaim.hashing.vpdq_format import VpdqFrame, VpdqHash
from reclaim.registry.feed import as_utc, publish
from reclaim.registry.models import AuditEvent, Feedback, HashRecord, Instance
from reclaim.registry.ncmec import REASONS, REGISTRY_MEMBER
from reclaim.registry.service import Registry
from tests.api.test_cases_api import assert_error_shape
from tests.conftest import random_pdq

#: Windows here are to the second: record times to the microsecond (the real
#: minute is tested in tests/registry/test_feed.py).
pytestmark = pytest.mark.usefixtures("precise_feed_times")

RNG = np.random.default_rng(11)
PLATFORM = "Example Social"
MD5 = "0a21c8f8a3e1c5b4d2f60718293a4b5c"
NOT_REPORTED, NOT_INTIMATE, _ = REASONS


# ---- helpers ---------------------------------------------------------------


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def xml(response: httpx.Response) -> ET.Element:
    """The answer's XML with namespaces dropped (as pytx reads it)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert (
        root.tag
        == "{https://hashsharing.ncmec.org/hashsharing/v2}"
        + root.tag[root.tag.index("}") + 1 :]
    )
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    return root


def person_case(
    client: httpx.Client, pdq: list[str], *, md5: str | None = None, program="adult"
) -> dict:
    hashes: list[dict[str, object]] = [
        {"type": "pdq", "value": v, "quality": 100} for v in pdq
    ]
    if md5:
        hashes.append({"type": "md5", "value": md5})
    reply = client.post("/api/v1/cases", json={"program": program, "hashes": hashes})
    assert reply.status_code == 201, reply.text
    return reply.json()


def window(
    client: httpx.Client,
    key: str,
    begin: datetime,
    end: datetime,
    *,
    name: str = PLATFORM,
    **extra: object,
) -> httpx.Response:
    params = {"from": stamp(begin), "to": stamp(end), **extra}
    return client.get("/ncmec/v2/entries", params=params, auth=(name, key))


def entries(root: ET.Element) -> list[ET.Element]:
    return [e for container in root for e in container if container.tag != "paging"]


def fetch_window(
    client: httpx.Client,
    key: str,
    begin: datetime,
    end: datetime,
    *,
    name: str = PLATFORM,
    **extra: object,
) -> tuple[list[ET.Element], list[ET.Element]]:
    """Every entry of a window, following `next`; and each page's root."""
    pages = [xml(window(client, key, begin, end, name=name, **extra))]
    while (link := pages[-1].find("paging/next")) is not None:
        assert link.text and link.text.startswith("/v2/entries?")
        pages.append(xml(client.get(f"/ncmec{link.text}", auth=(name, key))))
    return [e for page in pages for e in entries(page)], pages


def ids(found: list[ET.Element]) -> list[str]:
    return [e.findtext("id") or "" for e in found]


def records(registry: Registry) -> dict[str, HashRecord]:
    with registry.db.read() as session:
        return {str(r.id): r for r in session.scalars(select(HashRecord))}


# ---- authentication ----------------------------------------------------------


def test_basic_auth_with_the_platform_name_and_key(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    root = xml(client.get("/ncmec/v2/status", auth=(PLATFORM, platform_key)))
    member = root.find("member")
    assert member is not None and member.text == PLATFORM
    platform_id = registry.list_platforms()[0].id
    assert int(member.get("id", "")) == 1000 + platform_id != REGISTRY_MEMBER.id

    wrong_key = "rk_" + "0" * 12 + "_" + "0" * 43
    attempts = [
        {},
        {"auth": (PLATFORM, wrong_key)},
        {"auth": ("Other Social", platform_key)},  # someone else's name
        {"auth": (PLATFORM.lower(), platform_key)},
        {"headers": {"Authorization": f"Bearer {platform_key}"}},
        {"headers": {"Authorization": "Basic !!!not-base64"}},
    ]
    for attempt in attempts:
        reply = client.get("/ncmec/v2/status", **attempt)  # type: ignore[arg-type]
        payload = assert_error_shape(reply, 401)
        assert reply.headers["www-authenticate"].startswith("Basic ")
        assert platform_key not in str(payload)
        assert "Bearer" not in str(payload["error"])  # the fix for this API

    registry.revoke_platform(PLATFORM)
    reply = client.get("/ncmec/v2/status", auth=(PLATFORM, platform_key))
    assert "revoked" in str(assert_error_shape(reply, 401)["error"])
    reply = window(client, platform_key, now() - timedelta(hours=1), now())
    assert_error_shape(reply, 401)


def test_members_lists_the_registry_and_unrevoked_platforms(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    registry.add_platform("Gone Video", ["adult"])
    registry.revoke_platform("Gone Video")
    registry.add_platform("Other Photos", ["minor"])
    root = xml(client.get("/ncmec/v2/members", auth=(PLATFORM, platform_key)))
    listed = {int(m.get("id", "")): m.text for m in root.findall("member")}
    ids_of = {p.name: p.id for p in registry.list_platforms()}
    assert listed == {
        REGISTRY_MEMBER.id: REGISTRY_MEMBER.name,
        1000 + ids_of[PLATFORM]: PLATFORM,
        1000 + ids_of["Other Photos"]: "Other Photos",
    }


def test_feedback_reasons_are_wrapped_for_pytx(
    client: httpx.Client, platform_key: str
) -> None:
    for kind in ("PDQ", "MD5"):
        reply = client.get(
            f"/ncmec/v2/feedback/{kind}/reasons", auth=(PLATFORM, platform_key)
        )
        root = xml(reply)
        listed = root.findall("availableFeedbackReasons/reason")
        assert [(r.get("guid"), r.get("name")) for r in listed] == [
            (r.guid, r.name) for r in REASONS
        ]
        assert {r.get("type") for r in listed} == {kind.capitalize()}
    reply = client.get("/ncmec/v2/feedback/SHA1/reasons", auth=(PLATFORM, platform_key))
    assert "expected PDQ or MD5" in str(assert_error_shape(reply, 422)["error"])


# ---- windows, entries, paging ---------------------------------------------------


def test_a_window_serves_images_and_videos_but_not_vpdq(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    before = now() - timedelta(seconds=2)
    pdq = random_pdq(RNG)
    video = VpdqHash((VpdqFrame(0, 0.0, PdqHash(int(random_pdq(RNG), 16), 100)),))
    reply = client.post(
        "/api/v1/cases",
        json={
            "program": "adult",
            "hashes": [
                {"type": "pdq", "value": pdq, "quality": 90},
                {"type": "md5", "value": MD5},
                {"type": "vpdq", "value": video.to_text()},
            ],
        },
    )
    assert reply.status_code == 201
    root = xml(window(client, platform_key, before, now()))
    assert root.tag == "queryResult" and root.find("paging") is None
    images, videos = root.find("images"), root.find("videos")
    assert images is not None and videos is not None
    assert images.get("count") == "1" and videos.get("count") == "1"
    stored = records(registry)
    (image,) = images
    assert image.tag == "image"
    assert [c.tag for c in image] == ["member", "timestamp", "id", "fingerprints"]
    record = stored[image.findtext("id") or ""]
    assert (record.signal_type, record.value) == ("pdq", pdq)
    assert image.findtext("fingerprints/pdq") == pdq
    assert image.findtext("member") == REGISTRY_MEMBER.name
    assert image.find("member").get("id") == str(REGISTRY_MEMBER.id)  # type: ignore[union-attr]
    # Whole seconds, UTC, and the container's maxTimestamp is its newest entry.
    assert image.findtext("timestamp") == stamp(as_utc(record.updated_at))
    assert images.get("maxTimestamp") == image.findtext("timestamp")
    (clip,) = videos
    assert clip.tag == "video" and clip.findtext("fingerprints/md5") == MD5
    assert stored[clip.findtext("id") or ""].signal_type == "md5"

    # A window before the case, and one that starts after it, are empty.
    for start, end in [
        (before - timedelta(days=3), before - timedelta(days=2)),
        (now() + timedelta(seconds=2), now() + timedelta(seconds=3)),
    ]:
        empty = xml(window(client, platform_key, start, end))
        assert [(c.tag, c.get("count"), len(c)) for c in empty] == [
            ("images", "0", 0),
            ("videos", "0", 0),
        ]
        assert empty.find("images").get("maxTimestamp") is None  # type: ignore[union-attr]


def test_paging_across_pages_in_feed_order(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    before = now() - timedelta(seconds=1)
    person_case(client, [random_pdq(RNG) for _ in range(4)], md5=MD5)
    person_case(client, [random_pdq(RNG) for _ in range(3)])
    found, pages = fetch_window(client, platform_key, before, now(), size=3)
    assert [len(entries(p)) for p in pages] == [3, 3, 2]
    stored = records(registry)
    assert sorted(ids(found), key=int) == sorted(stored, key=int)
    # Pages follow the feed (each page lists its images, then its videos).
    per_page = [sorted(stored[i].change for i in ids(entries(p))) for p in pages]
    changes = [c for page in per_page for c in page]
    assert changes == sorted(changes) and len(set(changes)) == 8
    # `next` carries the window, the next position, the size and the window's
    # last position; pytx's estimate (max - start + len) counts what is left.
    link = pages[0].findtext("paging/next") or ""
    query = parse_qs(urlsplit(link).query)
    assert query["from"] == [stamp(before)] and query["size"] == ["3"]
    assert int(query["max"][0]) == max(changes)
    assert int(query["start"][0]) == changes[2] + 1
    # Without a size, the server's page size (1000) applies: one page.
    found_once, pages = fetch_window(client, platform_key, before, now())
    assert len(pages) == 1 and sorted(ids(found_once)) == sorted(ids(found))


def test_hand_made_page_positions_stay_inside_the_window(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    before = now() - timedelta(seconds=1)
    person_case(client, [random_pdq(RNG) for _ in range(3)])
    end = now()
    whole, _ = fetch_window(client, platform_key, before, end)
    crafted = {"start": 0, "max": 2**62, "size": 2}
    found, pages = fetch_window(client, platform_key, before, end, **crafted)
    assert sorted(ids(found)) == sorted(ids(whole)) and len(pages) == 2
    old = before - timedelta(days=1)
    found, _ = fetch_window(client, platform_key, old, old, **crafted)
    assert found == []


def test_a_record_that_changes_mid_paging_moves_to_a_later_window(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    before = now() - timedelta(seconds=1)
    case = person_case(client, [random_pdq(RNG) for _ in range(4)])
    end = now()
    first = xml(window(client, platform_key, before, end, size=2))
    link = first.findtext("paging/next") or ""
    # The case is withdrawn between the pages: every record moves on.
    withdrawn = client.post(
        f"/api/v1/cases/{case['case_number']}/withdraw", json={"pin": case["pin"]}
    )
    assert withdrawn.status_code == 200
    rest = xml(client.get(f"/ncmec{link}", auth=(PLATFORM, platform_key)))
    assert len(entries(first)) == 2 and entries(rest) == []
    after = end + timedelta(seconds=1)
    later = xml(window(client, platform_key, after, now() + timedelta(seconds=2)))
    assert {e.tag for e in entries(later)} == {"deletedImage"}
    assert len(entries(later)) == 4


def test_withdrawn_records_are_tombstones_with_the_same_id(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    before = now() - timedelta(seconds=1)
    case = person_case(client, [random_pdq(RNG)], md5=MD5)
    end = now()
    live, _ = fetch_window(client, platform_key, before, end)
    reply = client.post(
        f"/api/v1/cases/{case['case_number']}/withdraw", json={"pin": case["pin"]}
    )
    assert reply.status_code == 200
    # Sealed: the withdrawal is stamped after the answered window.
    after, until = end + timedelta(seconds=1), now() + timedelta(seconds=2)
    dead, _ = fetch_window(client, platform_key, after, until)
    assert sorted(ids(dead)) == sorted(ids(live))
    assert {e.tag for e in dead} == {"deletedImage", "deletedVideo"}
    for tombstone in dead:
        assert [c.tag for c in tombstone] == ["member", "id", "timestamp"]
        assert tombstone.find("fingerprints") is None
    # The whole history, asked again, holds only the current state.
    again, _ = fetch_window(client, platform_key, before, until)
    assert {e.tag for e in again} == {"deletedImage", "deletedVideo"}


def test_only_programs_the_key_may_read(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    before = now() - timedelta(seconds=1)
    person_case(client, [random_pdq(RNG)], program="minor")
    person_case(client, [random_pdq(RNG)], program="adult")
    adult_key = registry.add_platform("Adult Only", ["adult"])[1]
    stored = records(registry)
    seen, _ = fetch_window(client, adult_key, before, now(), name="Adult Only")
    assert [stored[i].program for i in ids(seen)] == ["adult"]
    both, _ = fetch_window(client, platform_key, before, now())
    assert sorted(stored[i].program for i in ids(both)) == ["adult", "minor"]
    (minor_id,) = [i for i, r in stored.items() if r.program == "minor"]
    reply = client.put(
        f"/ncmec/v2/entries/1/{minor_id}/PDQ/feedback",
        content=b"<feedbackSubmission><affirmative/></feedbackSubmission>",
        auth=("Adult Only", adult_key),
    )
    assert_error_shape(reply, 404)


# ---- the seal: answered windows stay answered ---------------------------------


def test_a_record_created_after_a_window_is_answered_is_stamped_after_it(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    # The window ends in the current second, which is not over yet.
    end = now()
    answered, _ = fetch_window(client, platform_key, end - timedelta(minutes=5), end)
    case = person_case(client, [random_pdq(RNG)], md5=MD5)
    stored = records(registry)
    for item in case["case"]["hashes"]:
        (record,) = [r for r in stored.values() if r.value == item["value"]]
        assert as_utc(record.updated_at) >= end + timedelta(seconds=1)
    again, _ = fetch_window(client, platform_key, end - timedelta(minutes=5), end)
    assert ids(again) == ids(answered) == []
    with registry.db.read() as session:
        feed_time = as_utc(session.scalars(select(Instance.feed_time)).one())
    assert feed_time >= end + timedelta(seconds=1)


def test_a_window_waits_for_a_writer_that_holds_a_time_in_it(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    person_case(client, [random_pdq(RNG)])
    (record_id,) = records(registry)
    end = now() + timedelta(seconds=2)
    answers: list[list[str]] = []
    asking = threading.Thread(
        target=lambda: answers.append(
            ids(fetch_window(client, platform_key, end - timedelta(minutes=1), end)[0])
        )
    )
    with registry.db.write() as session:
        # An uncommitted change: stamped inside the window, not yet visible.
        publish(session, [int(record_id)])
        asking.start()
        asking.join(0.5)
        assert asking.is_alive(), "the window was answered before the writer committed"
    asking.join(30)
    assert answers == [[record_id]]


def test_answered_and_empty_windows_are_read_without_writing(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    person_case(client, [random_pdq(RNG)])
    past, end = datetime(2001, 1, 1, tzinfo=UTC), now()
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        verb = statement.split()[0].upper()
        if verb not in {"BEGIN", "COMMIT", "ROLLBACK"}:
            statements.append(verb)

    def ask(start: datetime, until: datetime) -> int:
        statements.clear()
        return len(entries(xml(window(client, platform_key, start, until))))

    event.listen(registry.db.engine, "before_cursor_execute", note)
    try:
        # An old, empty window: the key, the feed time, one probe of both ends.
        assert ask(past, past + timedelta(days=365)) == 0
        assert statements == ["SELECT"] * 3
        # The first answer of a recent window seals it; asking again only reads:
        # the ends, the page and its feedback (and audits the read: it serves
        # an entry).
        assert ask(past, end) == 1 and "UPDATE" in statements
        assert ask(past, end) == 1
        assert statements == ["SELECT"] * 5 + ["INSERT"]
    finally:
        event.remove(registry.db.engine, "before_cursor_execute", note)


# ---- feedback -------------------------------------------------------------------


def put_feedback(
    client: httpx.Client, key: str, path: str, body: bytes
) -> httpx.Response:
    return client.put(
        f"/ncmec/v2/entries/{path}/feedback",
        content=body,
        headers={"Content-Type": "application/xml; charset=utf-8"},
        auth=(PLATFORM, key),
    )


AFFIRMATIVE = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<feedbackSubmission xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
    b"<affirmative><!-- blank --></affirmative></feedbackSubmission>"
)


def negative(*guids: str) -> bytes:
    ids_xml = "".join(f"<guid>{g}</guid>" for g in guids)
    return (
        '<feedbackSubmission xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
        f"<negative><reasonIds>{ids_xml}</reasonIds></negative></feedbackSubmission>"
    ).encode()


def test_feedback_is_stored_audited_and_served(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    before = now() - timedelta(seconds=1)
    person_case(client, [random_pdq(RNG), random_pdq(RNG)], md5=MD5)
    stored = records(registry)
    image_a, image_b = sorted((i for i, r in stored.items() if r.signal_type == "pdq"))
    (video,) = [i for i, r in stored.items() if r.signal_type == "md5"]
    other_key = registry.add_platform("Other Photos", ["adult"])[1]

    reply = put_feedback(client, platform_key, f"1/{image_a}/PDQ", AFFIRMATIVE)
    assert xml(reply).tag == "submissionResult"
    reply = put_feedback(
        client, platform_key, f"1/{video}/MD5", negative(NOT_REPORTED.guid)
    )
    assert reply.status_code == 200
    reply = client.put(
        f"/ncmec/v2/entries/1/{image_b}/PDQ/feedback",
        content=negative(NOT_INTIMATE.guid, NOT_REPORTED.guid),
        auth=("Other Photos", other_key),
    )
    assert reply.status_code == 200

    with registry.db.read() as session:
        rows = {(f.hash_id, f.value, f.tags) for f in session.scalars(select(Feedback))}
        audited = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "feedback_given")
        ).all()
    assert rows == {
        (int(image_a), "blocked", ""),
        (int(video), "not_blocked", NOT_REPORTED.name),
        (int(image_b), "not_blocked", f"{NOT_INTIMATE.name},{NOT_REPORTED.name}"),
    }
    assert len(audited) == 3 and all('"api":"ncmec"' in d for d in audited)

    found, _ = fetch_window(client, platform_key, before, now())
    by_id = {e.findtext("id"): e for e in found}
    ids_of = {p.name: 1000 + p.id for p in registry.list_platforms()}
    upvote = by_id[image_a].find("feedback/affirmativeFeedback")
    assert upvote is not None and upvote.get("type") == "Pdq"
    assert [(m.get("id"), m.text) for m in upvote.findall("members/member")] == [
        (str(ids_of[PLATFORM]), PLATFORM)
    ]
    downvote = by_id[video].find("feedback/negativeFeedback")
    assert downvote is not None and downvote.get("type") == "Md5"
    pairs = list(downvote.find("reasons"))  # type: ignore[arg-type]
    assert [p.tag for p in pairs] == ["reason", "members"]
    assert pairs[0].get("guid") == NOT_REPORTED.guid
    assert [m.text for m in pairs[1]] == [PLATFORM]
    # Two reasons from one platform: one pair each.
    pairs = list(by_id[image_b].find("feedback/negativeFeedback/reasons"))  # type: ignore[arg-type]
    assert [p.get("name") for p in pairs[::2]] == [NOT_REPORTED.name, NOT_INTIMATE.name]


#: (path, body, status, what the error says)
BAD_FEEDBACK = [
    ("1/{image}/MD5", AFFIRMATIVE, 422, "image with a PDQ fingerprint, not MD5"),
    ("1/{video}/PDQ", AFFIRMATIVE, 422, "video with a MD5 fingerprint"),
    ("1/{image}/SHA1", AFFIRMATIVE, 422, "not a fingerprint type"),
    ("1/999999/PDQ", AFFIRMATIVE, 404, "no entry '999999'"),
    ("1/abc/PDQ", AFFIRMATIVE, 404, "no entry 'abc'"),
    ("7/{image}/PDQ", AFFIRMATIVE, 404, "member 7 has no entries"),
    ("1/{image}/PDQ", negative(), 422, "needs a reason"),
    ("1/{image}/PDQ", negative("nope"), 422, "'nope' is not a feedback reason"),
    ("1/{image}/PDQ", b"<feedbackSubmission/>", 422, "holds 0 votes"),
    ("1/{image}/PDQ", b"<vote><affirmative/></vote>", 422, "root is <vote>"),
    ("1/{image}/PDQ", b"<feedbackSubmission>", 422, "not well-formed XML"),
    ("1/{image}/PDQ", b"\xff\xfe<\x00", 422, "not UTF-8"),
    (
        "1/{image}/PDQ",
        b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x "affirmative">]>'
        b"<feedbackSubmission><affirmative/>&x;</feedbackSubmission>",
        422,
        "DOCTYPE",
    ),
    (
        "1/{image}/PDQ",
        b'<!doctype f SYSTEM "file:///etc/passwd"><feedbackSubmission/>',
        422,
        "DOCTYPE",
    ),
    (
        # UTF-16 without a byte-order mark is valid UTF-8, full of NULs, and
        # would hide its DOCTYPE from a text search.
        "1/{image}/PDQ",
        '<!DOCTYPE f [<!ENTITY x "affirmative">]><feedbackSubmission>&x;'
        "</feedbackSubmission>".encode("utf-16-le"),
        422,
        "NUL bytes",
    ),
]


def test_bad_feedback_is_refused_and_stores_nothing(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    person_case(client, [random_pdq(RNG)], md5=MD5)
    stored = records(registry)
    ids_by_type = {r.signal_type: i for i, r in stored.items()}
    for path, body, status, says in BAD_FEEDBACK:
        where = path.format(image=ids_by_type["pdq"], video=ids_by_type["md5"])
        reply = put_feedback(client, platform_key, where, body)
        payload = assert_error_shape(reply, status)
        assert says in str(payload["error"]), payload
    with registry.db.read() as session:
        assert session.scalars(select(Feedback)).all() == []


def test_feedback_bodies_are_bounded(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    person_case(client, [random_pdq(RNG)])
    (image,) = records(registry)
    padding = b"<!--" + b"x" * registry.settings.max_body_bytes + b"-->"
    reply = put_feedback(client, platform_key, f"1/{image}/PDQ", AFFIRMATIVE + padding)
    assert_error_shape(reply, 413)


# ---- malformed windows --------------------------------------------------------------


#: (query, what the error says)
BAD_WINDOWS: list[tuple[dict[str, object], str]] = [
    ({"from": "2024-05-01", "to": "2024-05-02T00:00:00Z"}, "is not a time"),
    ({"from": "2024-05-01T00:00:00Z", "to": "yesterday"}, "to='yesterday'"),
    ({"from": "2024-13-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"}, "not a time"),
    ({"from": "2024-05-02T00:00:00Z", "to": "2024-05-01T00:00:00Z"}, "ends before"),
    ({"from": "2024-05-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"}, "clock"),
    ({"to": "2024-05-01T00:00:00Z"}, "expected form"),
    (
        {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z", "start": 4},
        "'start' and 'max' come together",
    ),
    (
        {
            "from": "2024-05-01T00:00:00Z",
            "to": "2024-05-02T00:00:00Z",
            "size": 10**6,
        },
        "expected form",
    ),
    (
        {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z", "size": 0},
        "expected form",
    ),
    (
        {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z", "max": -1},
        "expected form",
    ),
]


def test_malformed_windows_are_refused(client: httpx.Client, platform_key: str) -> None:
    for params, says in BAD_WINDOWS:
        reply = client.get(
            "/ncmec/v2/entries", params=params, auth=(PLATFORM, platform_key)
        )
        payload = assert_error_shape(reply, 422)
        assert says in str(payload["error"]), (params, payload)


def test_milliseconds_are_accepted_and_cut_to_seconds(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    before = now() - timedelta(seconds=1)
    person_case(client, [random_pdq(RNG)])
    end = now()
    reply = client.get(
        "/ncmec/v2/entries",
        params={
            "from": before.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "to": end.strftime("%Y-%m-%dT%H:%M:%S.999Z"),
        },
        auth=(PLATFORM, platform_key),
    )
    assert len(entries(xml(reply))) == 1


def test_feedback_reaches_the_next_window_of_every_platform(
    client: httpx.Client, registry: Registry, platform_key: str
) -> None:
    import time

    begin = now() - timedelta(seconds=1)
    person_case(client, [random_pdq(RNG), random_pdq(RNG)])
    first = now()
    found, _ = fetch_window(client, platform_key, begin, first)
    assert len(found) == 2 and all(e.find("feedback") is None for e in found)
    target = found[0].findtext("id")
    time.sleep(1.1)  # feedback lands in a later second than the answered window
    other = registry.add_platform("Other Photos", ["adult"])[1]
    reply = client.put(
        f"/ncmec/v2/entries/1/{target}/PDQ/feedback",
        content=AFFIRMATIVE,
        auth=("Other Photos", other),
    )
    assert reply.status_code == 200, reply.text
    later, _ = fetch_window(client, platform_key, first + timedelta(seconds=1), now())
    assert ids(later) == [target]
    assert later[0].find("feedback/affirmativeFeedback") is not None
