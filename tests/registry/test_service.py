"""The registry's operations, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import json
import threading

import numpy as np
import psycopg
import pytest
from sqlalchemy import func, select

from reclaim.registry.db import is_postgres
from reclaim.registry.errors import (
    AuthenticationError,
    CaseAccessError,
    CaseClosedError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from reclaim.registry.models import AuditEvent, Case
from reclaim.registry.service import Registry
from tests.conftest import random_pdq

RNG = np.random.default_rng(2026)


def pdq_item(value: str | None = None, quality: int = 100) -> dict[str, object]:
    return {"type": "pdq", "value": value or random_pdq(RNG), "quality": quality}


def test_case_lifecycle(registry: Registry) -> None:
    items = [pdq_item(), pdq_item(), {"type": "md5", "value": "ab" * 16}]
    new = registry.create_case("adult", items)
    assert new.view.status == "active" and len(new.view.hashes) == 3
    assert all(i.status == "active" for i in new.view.hashes)
    assert [i.item for i in new.view.hashes] == [0, 1, 2]  # unlabelled: one each
    # Status works with any typing of the number and PIN.
    view = registry.case_status(new.number.lower(), new.pin.replace("-", " "))
    assert view.number == new.number
    more = registry.add_hashes(new.number, new.pin, [pdq_item()])
    assert len(more.hashes) == 4 and len(more.items) == 4
    done = registry.withdraw_case(new.number, new.pin)
    assert done.status == "withdrawn" and done.withdrawn_at is not None
    assert {i.status for i in done.hashes} == {"withdrawn"}
    assert {i.status for i in done.items} == {"withdrawn"}
    with pytest.raises(CaseClosedError):
        registry.withdraw_case(new.number, new.pin)
    with pytest.raises(CaseClosedError):
        registry.add_hashes(new.number, new.pin, [pdq_item()])


def test_wrong_pin_and_unknown_case_are_one_error(registry: Registry) -> None:
    new = registry.create_case("minor", [pdq_item()])
    messages = set()
    for number, pin in [
        (new.number, "0000-0000-0000-0000"),
        ("000-000-000", new.pin),
        ("not a number", new.pin),
    ]:
        with pytest.raises(CaseAccessError) as raised:
            registry.case_status(number, pin)
        messages.add(str(raised.value))
    assert len(messages) == 1


def test_nothing_personal_is_stored(registry: Registry) -> None:
    new = registry.create_case("adult", [pdq_item()])
    with registry.db.read() as session:
        case = session.scalars(select(Case)).one()
        events = session.scalars(select(AuditEvent)).all()
    assert new.pin.replace("-", "") not in (case.pin_hash or "")
    assert case.pin_hash and case.pin_hash.startswith("scrypt$")
    for event in events:
        assert new.view.hashes[0].value not in event.detail


def test_withdrawal_keeps_hashes_other_cases_hold(registry: Registry) -> None:
    shared, own = pdq_item(), pdq_item()
    first = registry.create_case("adult", [shared, own])
    second = registry.create_case("adult", [shared])
    registry.withdraw_case(first.number, first.pin)
    platform = _platform(registry)
    records = {
        e.value: e for e in registry.changes(platform, cursor=0, limit=100).entries
    }
    assert records[shared["value"]].status == "active"
    assert records[shared["value"]].case_count == 1
    assert records[own["value"]].status == "withdrawn"
    registry.withdraw_case(second.number, second.pin)
    records = {
        e.value: e for e in registry.changes(platform, cursor=0, limit=100).entries
    }
    assert records[shared["value"]].status == "withdrawn"


def test_programs_are_separate_lists(registry: Registry) -> None:
    item = pdq_item()
    registry.create_case("minor", [item])
    registry.create_case("adult", [item])
    _, adult_key = registry.add_platform("adult-only", ["adult"])
    adult = registry.authenticate(adult_key)
    page = registry.changes(adult, cursor=0, limit=100)
    assert [e.program for e in page.entries] == ["adult"]
    with pytest.raises(PermissionDeniedError, match="may not read program 'minor'"):
        registry.changes(adult, cursor=0, limit=100, programs=["minor"])


def test_feed_pages_and_cursor(registry: Registry) -> None:
    values = [pdq_item() for _ in range(25)]
    for start in range(0, 25, 5):
        registry.create_case("adult", values[start : start + 5])
    platform = _platform(registry)
    cursor, seen, pages = 0, [], 0
    while True:
        page = registry.changes(platform, cursor=cursor, limit=7)
        seen += [e.value for e in page.entries]
        assert all(e.change > cursor for e in page.entries)
        cursor, pages = page.cursor, pages + 1
        if not page.has_more:
            break
    # Cases arrive in the order they were created; within a case, records are
    # ordered by (type, digest), the order their rows are locked in.
    assert pages == 4 and len(seen) == len(values)
    for start in range(0, 25, 5):
        assert set(seen[start : start + 5]) == {
            v["value"] for v in values[start : start + 5]
        }
    assert registry.changes(platform, cursor=cursor, limit=7).entries == []


def test_snapshot_is_consistent_and_has_a_cursor(registry: Registry) -> None:
    live = [pdq_item() for _ in range(10)]
    gone = registry.create_case("adult", [pdq_item()])
    registry.create_case("adult", live)
    registry.withdraw_case(gone.number, gone.pin)
    platform = _platform(registry)
    cursor, rows = registry.snapshot(platform)
    values = [row[1] for row in rows]
    assert sorted(values) == sorted(v["value"] for v in live)
    assert cursor == registry.changes(platform, cursor=0, limit=100).cursor


def test_platform_keys(registry: Registry) -> None:
    info, key = registry.add_platform("Example", ["minor", "adult"])
    assert info.programs == ("adult", "minor") and info.active_keys == 1
    assert registry.authenticate(key).name == "Example"
    with pytest.raises(ConflictError):
        registry.add_platform("Example", ["adult"])
    _, new_key = registry.rotate_key("Example")
    with pytest.raises(AuthenticationError, match="revoked"):
        registry.authenticate(key)
    assert registry.authenticate(new_key).name == "Example"
    registry.revoke_platform("Example")
    with pytest.raises(AuthenticationError):
        registry.authenticate(new_key)
    for bad in [None, "", "rk_0123456789abcdef_wrong", new_key[:-1] + "x"]:
        with pytest.raises(AuthenticationError):
            registry.authenticate(bad)
    with pytest.raises(NotFoundError):
        registry.rotate_key("nobody")
    with pytest.raises(InvalidRequestError):
        registry.add_platform("bad\nname", ["adult"])
    with pytest.raises(InvalidRequestError):
        registry.add_platform("nothing", [])


def test_feedback_reaches_the_person_only_when_shareable(registry: Registry) -> None:
    first, second = pdq_item(), pdq_item()
    new = registry.create_case("adult", [first, second])
    a = registry.authenticate(registry.add_platform("A", ["adult"])[1])
    b = registry.authenticate(registry.add_platform("B", ["adult"])[1])
    registry.give_feedback(
        a, [{**first, "feedback": "blocked", "copies": 3, "shareable": True}]
    )
    registry.give_feedback(b, [{**first, "feedback": "pending_review"}])
    applied, unknown = registry.give_feedback(
        b,
        [{**second, "feedback": "not_blocked"}, {**pdq_item(), "feedback": "blocked"}],
    )
    assert (applied, unknown) == (1, [1])
    view = registry.case_status(new.number, new.pin)
    item = {i.value: i for i in view.hashes}
    assert (
        item[first["value"]].platforms_matched,
        item[first["value"]].platforms_removed,
    ) == (2, 1)
    assert item[first["value"]].platforms_reviewed == 1
    assert [(s.platform, s.outcome, s.copies) for s in item[first["value"]].shared] == [
        ("A", "blocked", 3)
    ]
    assert item[second["value"]].shared == ()
    with pytest.raises(InvalidRequestError, match="none was stored"):
        registry.give_feedback(a, [{**first, "feedback": "removed"}])


def test_quarantine_after_two_platforms_say_not_blocked(registry: Registry) -> None:
    item = pdq_item()
    registry.create_case("adult", [item])
    platforms = [
        registry.authenticate(registry.add_platform(n, ["adult"])[1]) for n in "ABC"
    ]
    registry.give_feedback(platforms[0], [{**item, "feedback": "not_blocked"}])
    page = registry.changes(platforms[2], cursor=0, limit=10)
    assert not page.entries[0].quarantined
    registry.give_feedback(platforms[1], [{**item, "feedback": "not_blocked"}])
    later = registry.changes(platforms[2], cursor=page.cursor, limit=10)
    assert [(e.value, e.quarantined, e.status) for e in later.entries] == [
        (item["value"], True, "active")
    ]
    actions = [e.action for e in registry.audit_log(limit=50)]
    assert "hash_quarantined" in actions


def test_case_limits(registry: Registry) -> None:
    small = Registry(registry.settings.replace(max_hashes_per_case=3), registry.db)
    new = small.create_case("adult", [pdq_item(), pdq_item()])
    with pytest.raises(InvalidRequestError, match="at most 3 hashes"):
        small.add_hashes(new.number, new.pin, [pdq_item(), pdq_item()])
    with pytest.raises(InvalidRequestError, match="at most 3"):
        small.create_case("adult", [pdq_item() for _ in range(4)])


def test_audit_trail(registry: Registry) -> None:
    new = registry.create_case("adult", [pdq_item()])
    registry.withdraw_case(new.number, new.pin)
    platform = _platform(registry)
    registry.changes(platform, cursor=0, limit=10)
    events = registry.audit_log(limit=20)
    actions = [e.action for e in events]
    for expected in (
        "case_created",
        "case_withdrawn",
        "platform_added",
        "key_issued",
        "platform_fetched",
    ):
        assert expected in actions
    assert all(e.at.tzinfo is not None for e in events)
    text = json.dumps([e.detail for e in events])
    assert new.pin not in text


def test_concurrent_writers_never_lose_a_change(registry: Registry) -> None:
    """Writers race on shared hashes while a reader follows the feed."""
    shared = [pdq_item() for _ in range(3)]
    platform = _platform(registry)
    created: list[str] = []
    errors: list[BaseException] = []
    rng = np.random.default_rng(7)
    own = [pdq_item(random_pdq(rng)) for _ in range(40)]

    def writer(index: int) -> None:
        try:
            for k in range(5):
                items = [shared[(index + k) % 3], own[index * 5 + k]]
                created.append(registry.create_case("adult", items).number)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    seen: dict[str, int] = {}
    cursor = 0
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        page = registry.changes(platform, cursor=cursor, limit=5)
        for entry in page.entries:
            seen[entry.value] = entry.case_count
        cursor = page.cursor
    for thread in threads:
        thread.join()
    assert errors == []
    while True:
        page = registry.changes(platform, cursor=cursor, limit=100)
        for entry in page.entries:
            seen[entry.value] = entry.case_count
        cursor = page.cursor
        if not page.has_more:
            break
    assert len(created) == 40
    assert set(seen) == {i["value"] for i in [*shared, *own]}
    # Each shared hash is in 40 * 1/3 cases; counts as the feed last said.
    assert sum(seen[s["value"]] for s in shared) == 40
    with registry.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 40


def test_creations_race_withdrawals_on_shared_hashes(registry: Registry) -> None:
    """New cases and withdrawals of old ones lock the same records at once."""
    shared = [pdq_item() for _ in range(4)]
    opened = [registry.create_case("adult", shared[:2]) for _ in range(8)]
    errors: list[BaseException] = []
    made: list[str] = []

    def creator() -> None:
        try:
            for k in range(8):
                made.append(registry.create_case("adult", shared[k % 3 :]).number)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    def withdrawer() -> None:
        try:
            for case in opened:
                registry.withdraw_case(case.number, case.pin)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=creator) for _ in range(3)]
    threads.append(threading.Thread(target=withdrawer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(made) == 24
    platform = _platform(registry)
    counts = {
        e.value: e.case_count
        for e in registry.changes(platform, cursor=0, limit=100).entries
    }
    # Each creation k holds shared[k % 3:]; the 8 withdrawn cases held none now.
    expected = [sum(1 for k in range(24) if k % 8 % 3 <= i) for i in range(4)]
    assert [counts[item["value"]] for item in shared] == expected


def test_an_item_counts_once_whichever_view_matched(registry: Registry) -> None:
    """A picture sent as its whole-image hash and two views is one item."""
    picture = [pdq_item() for _ in range(3)]
    other = pdq_item()
    items = [{**h, "item": 7} for h in picture] + [other]
    new = registry.create_case("adult", items)
    assert [(i.item, i.hashes, i.kinds) for i in new.view.items] == [
        (0, 3, ("pdq",)),
        (1, 1, ("pdq",)),
    ]
    a = registry.authenticate(registry.add_platform("A", ["adult"])[1])
    b = registry.authenticate(registry.add_platform("B", ["adult"])[1])
    # A matched two views of the picture and removed it; B matched the third.
    registry.give_feedback(a, [{**picture[0], "feedback": "match_found"}])
    registry.give_feedback(
        a, [{**picture[1], "feedback": "blocked", "copies": 2, "shareable": True}]
    )
    registry.give_feedback(b, [{**picture[2], "feedback": "pending_review"}])
    view = registry.case_status(new.number, new.pin)
    first = view.items[0]
    assert (
        first.platforms_matched,
        first.platforms_reviewed,
        first.platforms_removed,
    ) == (2, 1, 1)
    assert [(s.platform, s.outcome, s.copies) for s in first.shared] == [
        ("A", "blocked", 2)
    ]
    assert view.items[1].platforms_matched == 0
    # Adding more continues the numbering; labels are local to each request.
    more = registry.add_hashes(
        new.number, new.pin, [{**pdq_item(), "item": 7}, {**pdq_item(), "item": 7}]
    )
    assert [(i.item, i.hashes) for i in more.items] == [(0, 3), (1, 1), (2, 2)]
    with pytest.raises(InvalidRequestError) as refused:
        registry.create_case("adult", [{**pdq_item(), "item": -1}])
    assert "not an item label" in refused.value.details[0]


def _platform(registry: Registry):  # type: ignore[no-untyped-def]
    import uuid

    return registry.authenticate(
        registry.add_platform(f"p-{uuid.uuid4().hex[:8]}", ["minor", "adult"])[1]
    )


def test_operator_resolves_quarantine(registry: Registry) -> None:
    keep_me, drop_me = pdq_item(), pdq_item()
    registry.create_case("adult", [keep_me, drop_me])
    platforms = [
        registry.authenticate(registry.add_platform(n, ["adult"])[1]) for n in "AB"
    ]
    for platform in platforms:
        registry.give_feedback(
            platform,
            [
                {**keep_me, "feedback": "not_blocked"},
                {**drop_me, "feedback": "not_blocked"},
            ],
        )
    disputed = {d.value: d for d in registry.quarantined()}
    assert set(disputed) == {keep_me["value"], drop_me["value"]}
    assert disputed[drop_me["value"]].not_blocked == 2
    cursor = registry.changes(platforms[0], cursor=0, limit=100).cursor
    registry.resolve_quarantine(disputed[keep_me["value"]].id, "keep")
    registry.resolve_quarantine(disputed[drop_me["value"]].id, "remove")
    later = {
        e.value: e
        for e in registry.changes(platforms[0], cursor=cursor, limit=100).entries
    }
    assert (later[keep_me["value"]].status, later[keep_me["value"]].quarantined) == (
        "active",
        False,
    )
    assert later[drop_me["value"]].status == "removed"
    assert registry.quarantined() == []
    # A new case with the removed hash does not bring it back.
    registry.create_case("adult", [drop_me])
    final = {
        e.value: e for e in registry.changes(platforms[0], cursor=0, limit=100).entries
    }
    assert final[drop_me["value"]].status == "removed"
    with pytest.raises(InvalidRequestError, match="not awaiting review"):
        registry.resolve_quarantine(disputed[keep_me["value"]].id, "keep")
    with pytest.raises(NotFoundError):
        registry.resolve_quarantine(999_999, "keep")


def test_a_crash_mid_request_leaves_no_half_case(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reclaim.registry.creation as creation_module

    def crash(*_: object, **__: object) -> int:
        raise RuntimeError("power cut")

    platform = _platform(registry)
    before = registry.changes(platform, cursor=0, limit=10).cursor
    if is_postgres(registry.db.engine):
        # One statement writes the whole case: make its last part fail (a
        # NULL audit action) after the case, records and feed were written.
        from reclaim.registry import pg_create

        broken = pg_create._CREATE.replace("%(action)s", "NULL")
        assert broken != pg_create._CREATE
        monkeypatch.setattr(pg_create, "_CREATE", broken)
        expected: type[Exception] = psycopg.errors.NotNullViolation
    else:
        monkeypatch.setattr(creation_module, "publish", crash)
        expected = RuntimeError
    with pytest.raises(expected):
        registry.create_case("adult", [pdq_item(), pdq_item()])
    monkeypatch.undo()
    with registry.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0
    page = registry.changes(platform, cursor=0, limit=10)
    assert page.entries == [] and page.cursor == before
    actions = [e.action for e in registry.audit_log(limit=50)]
    assert "case_created" not in actions
