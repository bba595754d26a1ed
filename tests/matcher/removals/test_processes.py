"""Two matcher processes on one store, on SQLite and PostgreSQL: a change
made on a state another process changed meanwhile is refused (never made
on a state it did not see), and one process's watch list follows the
requests filed and decided by the other, within about a second."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select, update

from reclaim.hashing import Md5Hash
from reclaim.index import MatchRule
from reclaim.matcher.errors import RemovalStateError
from reclaim.matcher.outbox import WEBHOOK
from reclaim.matcher.removals import tables
from reclaim.matcher.removals.copies import REFRESH_SECONDS, Watch
from reclaim.matcher.removals.model import Intake, State
from reclaim.matcher.removals.requests import RemovalRequests
from reclaim.matcher.removals.schemas import RemovalRequestIn
from reclaim.matcher.removals.store import RemovalStore
from reclaim.matcher.service import Query
from reclaim.matcher.store import open_engine
from reclaim.matcher.tables import outbox
from tests.matcher.removals.conftest import body
from tests.matcher.removals.test_store import (  # noqa: F401 - the fixture
    CONFIG,
    engine,
    filed,
    held_open,
)

DIGEST = "0123456789abcdef0123456789abcdef"


def moved_to(number: int, state: State) -> Callable[[Connection], None]:
    """Another process's change of a request's state (uncommitted while held)."""

    def write(connection: Connection) -> None:
        connection.execute(
            update(tables.requests)
            .where(tables.requests.c.id == number)
            .values(state=state.value)
        )

    return write


def takedowns(db: Engine) -> list[str]:
    with db.connect() as connection:
        sent = connection.scalars(
            select(outbox.c.payload).where(outbox.c.channel == WEBHOOK)
        ).all()
    return [p for p in sent if "removal.copies" in p]


@pytest.mark.parametrize("elsewhere", [State.REMOVED, State.REJECTED])
def test_a_decision_on_a_state_changed_meanwhile_is_refused(
    engine: Engine,  # noqa: F811 - the fixture imported above
    elsewhere: State,
) -> None:
    store = RemovalStore(engine, CONFIG, webhooks=True)
    number = filed(store)
    request = store.get(number)
    other = held_open(engine, moved_to(request.id, elsewhere))
    try:
        with pytest.raises(RemovalStateError, match="changed meanwhile"):
            store.decide(number, "valid", reason="checked", actor="lead-a")
    finally:
        other.join()
    after = store.get(number)
    assert after.state is elsewhere  # not made valid again
    assert "valid" not in [e.action for e in after.events]
    assert takedowns(engine) == []  # nothing asked for a closed request


def test_marking_removed_a_request_rejected_meanwhile_is_refused(
    engine: Engine,  # noqa: F811 - the fixture imported above
) -> None:
    store = RemovalStore(engine, CONFIG, webhooks=True)
    number = filed(store)
    request = store.get(number)
    other = held_open(engine, moved_to(request.id, State.REJECTED))
    try:
        with pytest.raises(RemovalStateError, match="reload it"):
            store.mark_removed(number, ["post-1"], actor="api")
    finally:
        other.join()
    after = store.get(number)
    assert after.state is State.REJECTED
    assert [c.removed_at for c in after.copies] == [None]  # all rolled back


@contextmanager
def second_engine(db: Engine) -> Iterator[Engine]:
    """A second engine on the same store: another process's connections."""
    url = db.url.render_as_string(hide_password=False)
    second = open_engine(url)
    try:
        yield second
    finally:
        second.dispose()


def test_the_watch_list_follows_requests_filed_and_decided_by_another_process(
    engine: Engine,  # noqa: F811 - the fixture imported above
) -> None:
    rule = MatchRule()
    here = RemovalRequests(engine, CONFIG, rule=rule, catalog=None, webhooks=False)
    with second_engine(engine) as second:
        there = RemovalRequests(second, CONFIG, rule=rule, catalog=None, webhooks=False)
        ticks = [0.0]
        there.watch = Watch(there.store, rule, clock=lambda: ticks[0])
        reads: list[int] = []
        counted = there.store.change_count

        def counting() -> int:
            reads.append(1)
            return counted()

        there.store.change_count = counting  # type: ignore[method-assign]

        def upload(reference: str) -> list[Any]:
            return [Query(md5=Md5Hash.parse(DIGEST), reference=reference)]

        assert there.watch.check(upload("up-0")) == 0  # nothing open yet
        sent = body(hashes=[{"type": "md5", "value": DIGEST}])
        number = here.file(Intake.of(RemovalRequestIn.model_validate(sent))).view
        # Within the second: no query per match, so not seen yet.
        assert there.watch.check(upload("up-1")) == 0
        assert len(reads) == 1
        ticks[0] += REFRESH_SECONDS + 0.1
        assert there.watch.check(upload("up-2")) == 1  # seen: a forward copy
        copies = here.store.get(number.public_id).copies
        assert [(c.reference, c.found_by) for c in copies][-1] == ("up-2", "forward")

        here.store.decide(number.public_id, "rejected", reason="x", actor="lead")
        ticks[0] += REFRESH_SECONDS + 0.1
        assert there.watch.check(upload("up-3")) == 0  # closed elsewhere
        assert len(reads) == 3
