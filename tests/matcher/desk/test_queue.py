"""The review queue over HTTP: filters, paging, bulk decisions with
confirmation, undo inside and after its window, roles, the audit trail, the
match page's reasons and other platforms' reports, and CSRF on every post."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pytest
from sqlalchemy import delete, insert, select, update

from reclaim.hashing import PdqHash, SignalType
from reclaim.index.matching import Match
from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.desk.tables import audit
from reclaim.matcher.errors import SourceUnavailable, UndoError
from reclaim.matcher.records import Reports
from reclaim.matcher.removals.tables import copies, requests
from reclaim.matcher.review import Origin
from reclaim.matcher.service import MatcherService, Query
from reclaim.matcher.tables import matches, outbox
from tests.conftest import random_pdq
from tests.matcher.conftest import pdq_item, submit
from tests.matcher.desk.conftest import Desk, csrf_of
from tests.matcher.receiver import webhook_receiver

SECRET = "a-webhook-secret-for-the-desk"
ROW = re.compile(r'id="row-(\d+)"')


def shown(page: httpx.Response) -> list[int]:
    """The match ids listed on a queue page, in order."""
    assert page.status_code == 200, page.text
    return [int(n) for n in ROW.findall(page.text)]


def queue_some(
    service: MatcherService,
    count: int,
    *,
    program: str = "adult",
    source: str = "default",
    origin: Origin = Origin.UPLOAD,
    reference: str | None = None,
    seed: int = 0,
) -> list[int]:
    """Queue `count` matches of unlisted random hashes (for filters and paging)."""
    rng = np.random.default_rng(seed)
    found = [
        (
            Match(
                0,
                SignalType.PDQ,
                random_pdq(rng),
                program,
                7,
                variant="rotate90",
                source=source,
            ),
            [],
            reference,
        )
        for _ in range(count)
    ]
    return [item.id for item in service.queue.record(found, origin=origin)]


def listed_match(
    desk: Desk, person: httpx.Client, *, seed: int, reference: str = "post-1"
) -> int:
    """A match of a hash really listed in the registry (so feedback can go)."""
    listed = random_pdq(np.random.default_rng(seed))
    submit(person, pdq_item(listed))
    desk.service.sync_once()
    (result,) = desk.service.match(
        [Query(pdq=(PdqHash.parse(listed),), reference=reference)]
    )
    return result.matches[0][1].id


def audit_rows(desk: Desk, subject: str) -> list[Any]:
    with desk.service.engine.connect() as connection:
        return connection.execute(
            select(audit).where(audit.c.subject == subject).order_by(audit.c.id)
        ).all()


def held_rows(desk: Desk, match_id: int) -> list[Any]:
    with desk.service.engine.connect() as connection:
        return connection.execute(
            select(outbox).where(outbox.c.match_id == match_id)
        ).all()


def decide(
    client: httpx.Client, ids: Sequence[int], decision: str, **extra: str
) -> httpx.Response:
    page = client.get("/desk")
    data: dict[str, Any] = {"csrf": csrf_of(page), "decision": decision, **extra}
    data["id"] = [str(n) for n in ids]
    return client.post("/desk/decide", data=data)


def test_filters_paging_order_and_counts(serve_desk: Callable[..., Desk]) -> None:
    desk = serve_desk()
    service = desk.service
    adult = queue_some(service, 3, program="adult", source="default", seed=1)
    minor = queue_some(service, 2, program="minor", source="ncmec", seed=2)
    found_later = queue_some(
        service, 1, origin=Origin.CATALOG, reference="post-9", seed=3
    )
    due = queue_some(service, 1, reference="post-7", seed=4)
    with service.engine.begin() as connection:
        # Two matches are old; one reference is in an open removal request.
        connection.execute(
            update(matches)
            .where(matches.c.id.in_(adult[:2]))
            .values(created_at=datetime.now(UTC) - timedelta(hours=30))
        )
        now = datetime.now(UTC)
        for public, state, deadline, reference in (
            ("RR-OPEN", "valid", now + timedelta(hours=5), "post-7"),
            ("RR-DONE", "removed", now + timedelta(hours=1), "post-9"),
        ):
            request_id = connection.execute(
                insert(requests)
                .values(
                    public_id=public,
                    received_at=now - timedelta(hours=43),
                    deadline=deadline,
                    state=state,
                    requester_role="depicted_person",
                )
                .returning(requests.c.id)
            ).scalar_one()
            connection.execute(
                insert(copies).values(
                    request_id=request_id,
                    reference=reference,
                    found_by="reported",
                    found_at=now,
                )
            )
    lead = desk.sign_in("lena", Role.REVIEWER)
    everything = shown(lead.get("/desk"))
    assert everything == sorted(adult + minor + found_later + due, reverse=True)
    assert shown(lead.get("/desk", params={"order": "oldest"})) == sorted(everything)
    assert set(shown(lead.get("/desk", params={"program": "minor"}))) == set(minor)
    assert set(shown(lead.get("/desk", params={"source": "ncmec"}))) == set(minor)
    assert shown(lead.get("/desk", params={"origin": "catalog"})) == found_later
    assert set(shown(lead.get("/desk", params={"older_than": "24"}))) == set(adult[:2])
    # Only the open request's copy, and only within the hours asked.
    assert shown(lead.get("/desk", params={"deadline": "6"})) == due
    assert shown(lead.get("/desk", params={"deadline": "2"})) == []
    page = lead.get("/desk")
    assert page.text.count('data-label="Removal deadline"><time') == 1
    # Paging: 50 a page.
    more = queue_some(service, 50, seed=5)
    first = shown(lead.get("/desk"))
    second = shown(lead.get("/desk", params={"page": "2"}))
    assert len(first) == 50 and first[0] == more[-1]
    assert len(second) == 7 and not set(first) & set(second)
    assert "page 2 of 2" in lead.get("/desk", params={"page": "2"}).text
    # Counts per state, and the decided view.
    lead.post(
        "/desk/decide",
        data={"csrf": csrf_of(page), "single": f"{minor[0]}:not_blocked"},
    )
    counted = lead.get("/desk").text
    assert re.search(r"Pending <span class=\"count\">56</span>", counted)
    assert re.search(r"Not a match <span class=\"count\">1</span>", counted)
    assert shown(lead.get("/desk", params={"state": "not_blocked"})) == [minor[0]]
    bad = lead.get("/desk", params={"state": "gone"})
    assert bad.status_code == 400 and "is not a state" in bad.text
    assert lead.get("/desk", params={"older_than": "soon"}).status_code == 400


def test_bulk_decisions_are_confirmed_held_and_audited(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(
        desk={"undo_seconds": 60},
        webhook={"url": "http://127.0.0.1:9/hooks", "secret": SECRET},
    )
    ids = queue_some(desk.service, 3, seed=6)
    ana = desk.sign_in("ana", Role.REVIEWER)
    asked = decide(ana, ids[:2], "blocked")
    assert asked.status_code == 200 and "Mark 2 matches as Blocked?" in asked.text
    assert desk.service.queue.counts()["blocked"] == 0  # nothing yet
    started = time.time()
    done = decide(ana, ids[:2], "blocked", confirmed="yes")
    assert done.status_code == 303
    assert "2 marked Blocked" in ana.get(done.headers["location"]).text
    assert desk.service.queue.counts() == {**desk.service.queue.counts(), "blocked": 2}
    for match_id in ids[:2]:
        (event,) = audit_rows(desk, f"match:{match_id}")
        assert event.actor == "ana" and event.action == "match.decide"
        detail = json.loads(event.detail)
        assert detail["decision"] == "blocked" and "undo_until" in detail
        held = held_rows(desk, match_id)
        # Feedback to the source and the webhook, held past the undo window.
        assert {row.channel for row in held} == {"feedback", "webhook"}
        assert all(row.next_attempt >= started + 60 for row in held)
    assert held_rows(desk, ids[2]) == []
    # Deciding one that is already decided is skipped, not an error page.
    again = decide(ana, ids[1:], "not_blocked", confirmed="yes")
    notice = ana.get(again.headers["location"]).text
    assert "1 marked Not a match" in notice and "1 skipped" in notice


def test_undo_inside_the_window_sends_nothing_and_after_it_is_refused(
    serve_desk: Callable[..., Desk], person: httpx.Client
) -> None:
    # A long window, and "after it" by moving the queue's clock: nothing here
    # depends on how fast the machine is.
    with webhook_receiver(SECRET) as receiver:
        desk = serve_desk(
            desk={"undo_seconds": 60},
            webhook={"url": receiver.url, "secret": SECRET},
        )
        service = desk.service
        match_id = listed_match(desk, person, seed=21)
        service.deliver()  # the "waiting for review" webhook and feedback
        assert [d["event"] for d in receiver.deliveries] == ["match.review"]
        bo = desk.sign_in("bo", Role.REVIEWER)
        page = bo.get(f"/desk/matches/{match_id}")
        decided = bo.post(
            "/desk/decide",
            data={"csrf": csrf_of(page), "single": f"{match_id}:blocked"},
        )
        assert decided.status_code == 303
        assert "you can undo this" in bo.get(decided.headers["location"]).text
        assert len(held_rows(desk, match_id)) == 2
        service.deliver()  # held: nothing leaves
        assert [d["event"] for d in receiver.deliveries] == ["match.review"]
        assert service.outbox.pending() == {"feedback": 1, "webhook": 1}
        undone = bo.post(f"/desk/matches/{match_id}/undo", data={"csrf": csrf_of(page)})
        assert undone.status_code == 303, undone.text
        assert "nothing was sent" in bo.get(undone.headers["location"]).text
        assert held_rows(desk, match_id) == []
        assert service.outbox.pending() == {"feedback": 0, "webhook": 0}
        assert service.queue.get(match_id).state.value == "pending"
        actions = [row.action for row in audit_rows(desk, f"match:{match_id}")]
        assert actions == ["match.decide", "match.undo"]
        # Decide again, and let the window pass (on the queue's clock).
        bo.post(
            "/desk/decide",
            data={"csrf": csrf_of(page), "single": f"{match_id}:not_blocked"},
        )
        service.deliver()
        assert len(receiver.deliveries) == 1
        service.queue.clock = lambda: datetime.now(UTC) + timedelta(seconds=61)
        late = bo.post(f"/desk/matches/{match_id}/undo", data={"csrf": csrf_of(page)})
        assert late.status_code == 400 and "undo window" in late.text
        assert service.queue.get(match_id).state.value == "not_blocked"
        assert len(held_rows(desk, match_id)) == 2  # still held, not withdrawn
        release_held(desk, match_id)  # the hold (window + guard) is over
        service.deliver()
        assert [d["event"] for d in receiver.deliveries] == [
            "match.review",
            "match.cleared",
        ]
        assert receiver.deliveries[-1]["match"]["reviewer"] == "bo"
        assert service.outbox.pending() == {"feedback": 0, "webhook": 0}


def release_held(desk: Desk, match_id: int) -> None:
    """Make a held decision's messages due, as if its hold had run out."""
    with desk.service.engine.begin() as connection:
        connection.execute(
            update(outbox)
            .where(outbox.c.match_id == match_id)
            .values(next_attempt=time.time() - 1)
        )


def test_an_undo_is_refused_when_a_message_has_left(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(
        desk={"undo_seconds": 60},
        webhook={"url": "http://127.0.0.1:9/hooks", "secret": SECRET},
    )
    service = desk.service
    sent, half, due, late = queue_some(service, 4, seed=22)
    ivy = desk.sign_in("ivy", Role.REVIEWER)
    decide(ivy, [sent, half, due, late], "blocked", confirmed="yes")
    for match_id in (sent, half, due, late):
        (event,) = audit_rows(desk, f"match:{match_id}")
        assert json.loads(event.detail)["messages"] == 2  # feedback and webhook
    # Delivery sent both of one (and deleted them), one of another, and is
    # about to send a third's (due: the lock kept the undo waiting).
    with service.engine.begin() as connection:
        connection.execute(delete(outbox).where(outbox.c.match_id == sent))
        connection.execute(
            delete(outbox).where(
                outbox.c.match_id == half, outbox.c.channel == "webhook"
            )
        )
    release_held(desk, due)
    page = ivy.get("/desk")
    for match_id, left in ((sent, 0), (half, 1), (due, 2)):
        refused = ivy.post(
            f"/desk/matches/{match_id}/undo", data={"csrf": csrf_of(page)}
        )
        assert refused.status_code == 400, match_id
        assert "already left" in refused.text and "nothing was sent" not in refused.text
        # Nothing changed: still decided, what was held still held, no undo.
        assert service.queue.get(match_id).state.value == "blocked"
        assert len(held_rows(desk, match_id)) == left
        actions = [row.action for row in audit_rows(desk, f"match:{match_id}")]
        assert actions == ["match.decide"]
    # The window closes while the undo waits to delete: checked again after
    # the delete, which is rolled back.
    inside = datetime.now(UTC)
    readings = iter([inside, inside + timedelta(seconds=61)])
    service.queue.clock = lambda: next(readings)
    with pytest.raises(UndoError, match="undo window"):
        service.undo(late, account="ivy", lead=False)
    assert service.queue.get(late).state.value == "blocked"
    assert len(held_rows(desk, late)) == 2
    assert [row.action for row in audit_rows(desk, f"match:{late}")] == ["match.decide"]


def test_retry_now_leaves_held_decisions_held(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(desk={"undo_seconds": 60})
    (match_id,) = queue_some(desk.service, 1, seed=23)
    decide(desk.sign_in("jo", Role.REVIEWER), [match_id], "blocked", confirmed="yes")
    before = [row.next_attempt for row in held_rows(desk, match_id)]
    assert desk.service.outbox.retry_now() == 0
    assert [row.next_attempt for row in held_rows(desk, match_id)] == before
    assert all(when > time.time() + 50 for when in before)
    due = desk.service.outbox.due("feedback")
    assert [m.payload["feedback"] for m in due] == ["pending_review"]  # not held


def test_reviewers_undo_their_own_and_leads_anyones(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(desk={"undo_seconds": 60})
    first, second = queue_some(desk.service, 2, seed=8)
    cy = desk.sign_in("cy", Role.REVIEWER)
    dee = desk.sign_in("dee", Role.REVIEWER)
    lead = desk.sign_in("eli", Role.LEAD)
    decide(cy, [first, second], "blocked", confirmed="yes")
    page = dee.get("/desk")
    refused = dee.post(f"/desk/matches/{first}/undo", data={"csrf": csrf_of(page)})
    assert refused.status_code == 400 and "decided by cy" in refused.text
    # The queue offers cy (only) the undo.
    assert f"/desk/matches/{first}/undo" in cy.get("/desk").text
    assert f"/desk/matches/{first}/undo" not in page.text
    assert cy.post(
        f"/desk/matches/{first}/undo", data={"csrf": csrf_of(page := cy.get("/desk"))}
    ).is_redirect
    lead_page = lead.get(f"/desk/matches/{second}")
    assert f"/desk/matches/{second}/undo" in lead_page.text
    by_lead = lead.post(
        f"/desk/matches/{second}/undo", data={"csrf": csrf_of(lead_page)}
    )
    assert by_lead.status_code == 303
    (undo_event,) = [
        row for row in audit_rows(desk, f"match:{second}") if row.action == "match.undo"
    ]
    assert undo_event.actor == "eli"
    assert desk.service.queue.counts()["pending"] == 2


def test_api_decisions_are_audited_sent_at_once_and_not_undone(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(desk={"undo_seconds": 60})
    (match_id,) = queue_some(desk.service, 1, seed=9)
    with httpx.Client(base_url=desk.url) as api:
        reply = api.post(
            f"/v1/review/{match_id}",
            json={"decision": "blocked", "reviewer": "mod-7"},
        )
    assert reply.status_code == 200, reply.text
    (event,) = audit_rows(desk, f"match:{match_id}")
    assert event.actor == "api"
    assert json.loads(event.detail) == {"decision": "blocked", "reviewer": "mod-7"}
    assert held_rows(desk, match_id) == []  # not held: due at once
    lead = desk.sign_in("fay", Role.LEAD)
    page = lead.get(f"/desk/matches/{match_id}")
    refused = lead.post(f"/desk/matches/{match_id}/undo", data={"csrf": csrf_of(page)})
    assert refused.status_code == 400 and "sent at once" in refused.text


def test_every_post_needs_the_sessions_token(serve_desk: Callable[..., Desk]) -> None:
    desk = serve_desk(desk={"undo_seconds": 60})
    (match_id,) = queue_some(desk.service, 1, seed=10)
    gus = desk.sign_in("gus", Role.LEAD)
    posts: list[tuple[str, Mapping[str, Any]]] = [
        ("/desk/decide", {"single": f"{match_id}:blocked"}),
        ("/desk/decide", {"id": str(match_id), "decision": "blocked"}),
        (
            "/desk/decide",
            {"id": str(match_id), "decision": "blocked", "confirmed": "yes"},
        ),
        (f"/desk/matches/{match_id}/undo", {}),
    ]
    for path, data in posts:
        for token in ({}, {"csrf": "not-the-token"}):
            refused = gus.post(path, data={**data, **token})
            assert refused.status_code == 400, path
            assert "security token does not match" in refused.text
    assert desk.service.queue.get(match_id).state.value == "pending"
    page = gus.get("/desk")
    elsewhere = gus.post(
        "/desk/decide",
        data={"csrf": csrf_of(page), "single": f"{match_id}:blocked"},
        headers={"Origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 400
    assert desk.service.queue.get(match_id).state.value == "pending"
    with desk.client() as anonymous:
        out = anonymous.post("/desk/decide", data={"single": f"{match_id}:blocked"})
        assert out.status_code == 303 and "/desk/login" in out.headers["location"]


class _Silent:
    """A source whose reports always fail (the rest goes to the real one)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def reports(self, hashes: Sequence[tuple[str, str]]) -> Mapping[Any, Reports]:
        raise SourceUnavailable("the source is down")


def test_the_match_page_says_why_and_what_others_reported(
    serve_desk: Callable[..., Desk], person: httpx.Client
) -> None:
    desk = serve_desk()
    match_id = listed_match(desk, person, seed=31)
    item = desk.service.queue.get(match_id)
    hal = desk.sign_in("hal", Role.REVIEWER)
    page = hal.get(f"/desk/matches/{match_id}")
    assert page.status_code == 200
    text = page.text
    assert f"{item.value[:16]}…" in text and item.value not in text
    assert "as uploaded" in text  # a bare PDQ query: the upload itself
    assert "31 or less is a match" in text and "0 of 256 bits differ" in text
    assert "adult" in text and "default" in text
    assert "no reports on these hashes" in text or "Matched" in text
    assert "Reports unavailable" not in text
    assert "No decision yet" in text
    assert "No preview is kept" in text  # keep_media_hours is 0 by default
    desk.service.sources["default"] = _Silent(desk.service.sources["default"])  # type: ignore[assignment]
    down = hal.get(f"/desk/matches/{match_id}").text
    assert "Reports unavailable from default" in down
    # A variant in words.
    (turned,) = queue_some(desk.service, 1, seed=32)
    assert "turned 90°" in hal.get(f"/desk/matches/{turned}").text
    missing = hal.get("/desk/matches/99999")
    assert missing.status_code == 400 and "there is no match 99999" in missing.text


#: Not ids: superscripts and other scripts' digits (str.isdigit says yes),
#: past a 64-bit integer, signs, exponents, hex, spaces, decimals.
NOT_NUMBERS = (
    "²",
    "١٢",
    "99999999999999999999",
    str(10**30),
    "-1",
    "1e3",
    "0x10",
    " 1",
    "1.0",
)


def test_ids_and_numbers_are_parsed_strictly_everywhere(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(desk={"undo_seconds": 60})
    (match_id,) = queue_some(desk.service, 1, seed=24)
    kai = desk.sign_in("kai", Role.LEAD)
    token = csrf_of(kai.get("/desk"))

    def each(value: str) -> dict[str, httpx.Response]:
        path = quote(value, safe="")
        return {
            "queue page": kai.get("/desk", params={"page": value}),
            "match page": kai.get(f"/desk/matches/{path}"),
            "preview": kai.get(f"/desk/matches/{path}/preview"),
            "undo": kai.post(f"/desk/matches/{path}/undo", data={"csrf": token}),
            "decide one": kai.post(
                "/desk/decide", data={"csrf": token, "single": f"{value}:blocked"}
            ),
            "decide many": kai.post(
                "/desk/decide",
                data={
                    "csrf": token,
                    "id": [str(match_id), value],
                    "decision": "blocked",
                    "confirmed": "yes",
                },
            ),
            "audit trail": kai.get("/desk/audit", params={"before": value}),
        }

    for value in NOT_NUMBERS:
        for name, reply in each(value).items():
            assert reply.status_code == 400, (name, value, reply.text[:300])
            assert reply.headers["content-type"].startswith("text/html"), name
            assert "expected a whole number" in reply.text, (name, value)
    assert desk.service.queue.get(match_id).state.value == "pending"
    # The largest accepted number is looked up, and simply not found.
    largest = each("9" * 18)
    assert largest["queue page"].status_code == 200
    assert largest["audit trail"].status_code == 200
    for name in ("match page", "undo"):
        assert largest[name].status_code == 400
        assert "there is no match" in largest[name].text, name
    assert largest["preview"].status_code == 400
    notice = kai.get(largest["decide one"].headers["location"]).text
    assert "Nothing decided" in notice and "there is no match" in notice


def test_bulk_decisions_are_capped_and_run_off_the_event_loop(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(desk={"undo_seconds": 60})
    service = desk.service
    first, second = queue_some(service, 2, seed=25)
    lou = desk.sign_in("lou", Role.REVIEWER)
    token = csrf_of(lou.get("/desk"))
    on_loop: list[bool] = []

    def watched(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            on_loop.append(_on_event_loop())
            return method(*args, **kwargs)

        return call

    service.decide_on_desk = watched(service.decide_on_desk)  # type: ignore[method-assign]
    service.undo = watched(service.undo)  # type: ignore[method-assign]
    form = {"csrf": token, "decision": "blocked", "confirmed": "yes"}
    too_many = lou.post("/desk/decide", data={**form, "id": [str(first)] * 501})
    assert too_many.status_code == 400 and "at most 500" in too_many.text
    assert service.queue.counts()["blocked"] == 0 and on_loop == []
    most = lou.post("/desk/decide", data={**form, "id": [str(first)] * 500})
    assert most.status_code == 303
    assert "1 marked Blocked" in lou.get(most.headers["location"]).text
    assert lou.post(f"/desk/matches/{first}/undo", data={"csrf": token}).is_redirect
    assert on_loop == [False, False]  # both in the thread pool
    assert service.queue.get(second).state.value == "pending"


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_the_notice_says_what_was_not_found_and_what_cannot_be_undone(
    serve_desk: Callable[..., Desk],
) -> None:
    desk = serve_desk(desk={"undo_seconds": 0})
    first, second = queue_some(desk.service, 2, seed=26)
    mo = desk.sign_in("mo", Role.REVIEWER)
    decide(mo, [second], "not_blocked", confirmed="yes")
    done = decide(mo, [first, second, 987654], "blocked", confirmed="yes")
    notice = mo.get(done.headers["location"]).text
    assert "1 marked Blocked" in notice
    assert "sent at once, so this cannot be undone" in notice
    assert "you can undo" not in notice
    assert "1 skipped (already decided)" in notice and "1 not found" in notice
    assert held_rows(desk, first) == []  # not held: due at once
