"""The 48-hour clock (reminder, escalation, overdue: once each) and the
purge of personal data after retention, with a chosen `now`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from reclaim.matcher.desk.accounts import Role
from reclaim.matcher.removals import tables
from tests.matcher.desk.conftest import Desk
from tests.matcher.receiver import Receiver
from tests.matcher.removals.conftest import NAME, PERSONAL, body


def test_reminder_escalation_and_overdue_are_sent_once_each(
    removals_desk: Callable[..., Desk], receiver: Receiver
) -> None:
    desk = removals_desk(removals={"remind_hours": 24, "escalate_hours": 6})
    removals = desk.service.removals
    number = desk.client().post("/v1/removal-requests", json=body()).json()["id"]
    deadline = removals.store.get(number).deadline
    assert removals.tick(now=deadline - timedelta(hours=25)).reminders == 0
    first = removals.tick(now=deadline - timedelta(hours=23))
    assert (first.reminders, first.escalations, first.overdue) == (1, 0, 0)
    assert removals.tick(now=deadline - timedelta(hours=22)).reminders == 0
    later = removals.tick(now=deadline - timedelta(hours=5))
    assert (later.reminders, later.escalations, later.overdue) == (0, 1, 0)
    late = removals.tick(now=deadline + timedelta(minutes=1))
    assert (late.reminders, late.escalations, late.overdue) == (0, 0, 1)
    again = removals.tick(now=deadline + timedelta(hours=3))
    assert (again.reminders, again.escalations, again.overdue) == (0, 0, 0)
    steps = [e.action for e in removals.store.get(number).events]
    assert [s for s in steps if s in ("reminder", "escalated", "overdue")] == [
        "reminder",
        "escalated",
        "overdue",
    ]
    desk.service.deliver()
    events = [d["event"] for d in receiver.deliveries]
    for name in ("removal.reminder", "removal.escalated", "removal.overdue"):
        assert events.count(name) == 1
    overdue = next(d for d in receiver.deliveries if d["event"] == "removal.overdue")
    assert overdue["request"] == number and overdue["references"] == ["post-1"]
    sent = json.dumps(receiver.deliveries)
    assert not any(secret in sent for secret in PERSONAL)


def test_closed_requests_stay_quiet_and_the_desk_counts_the_urgent(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk()
    removals = desk.service.removals
    public = desk.client()
    closed = public.post("/v1/removal-requests", json=body()).json()["id"]
    removals.store.decide(closed, "rejected", reason="duplicate", actor="lee")
    deadline = removals.store.get(closed).deadline
    quiet = removals.tick(now=deadline + timedelta(hours=1))
    assert (quiet.reminders, quiet.escalations, quiet.overdue) == (0, 0, 0)
    # Received 49 hours ago (the test moves the stored times back).
    late = public.post("/v1/removal-requests", json=body()).json()["id"]
    moved = removals.store.get(late)
    with desk.service.engine.begin() as connection:
        connection.execute(
            tables.requests.update()
            .where(tables.requests.c.public_id == late)
            .values(
                received_at=moved.received_at - timedelta(hours=49),
                deadline=moved.deadline - timedelta(hours=49),
            )
        )
    reviewer = desk.sign_in("rae")
    page = reviewer.get("/desk/removals").text
    assert "1 overdue" in page and "overdue by 1 h" in page
    assert "1 waiting for a lead to check" in page  # the clock runs meanwhile
    assert late in page and closed not in page  # open ones only
    shut = reviewer.get("/desk/removals", params={"view": "closed"}).text
    assert closed in shut and late not in shut


def test_the_purge_blanks_personal_data_after_retention_and_keeps_the_record(
    removals_desk: Callable[..., Desk],
) -> None:
    desk = removals_desk(removals={"retention_days": 30})
    removals = desk.service.removals
    number = desk.client().post("/v1/removal-requests", json=body()).json()["id"]
    done = removals.store.mark_removed(number, ["post-1"], actor="api")
    assert done.closed_at is not None
    assert removals.tick(now=done.closed_at + timedelta(days=29)).redacted == 0
    assert removals.store.get(number, personal=True).personal is not None
    assert (
        removals.tick(now=done.closed_at + timedelta(days=30, seconds=1)).redacted == 1
    )
    assert removals.tick(now=done.closed_at + timedelta(days=60)).redacted == 0
    kept = removals.store.get(number, personal=True)
    assert kept.personal is None and kept.redacted_at is not None
    steps = [e.action for e in kept.events]
    assert steps[0] == "received" and steps[-1] == "redacted"
    assert "closed" in steps and "copy_removed" in steps
    assert [c.reference for c in kept.copies] == ["post-1"]
    with desk.service.engine.connect() as connection:
        rows = connection.execute(select(tables.requests)).all()
    assert NAME not in repr(rows)
    lead = desk.sign_in("lee", Role.LEAD)
    page = lead.get(f"/desk/removals/{number}").text
    assert "Deleted on" in page and NAME not in page
