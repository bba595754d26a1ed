"""The local store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from reclaim.hashing import SignalType
from reclaim.index import ListRecord
from reclaim.matcher.store import ListStore, open_engine
from tests.conftest import postgres_database, random_pdq


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ListStore]:
    if request.param == "sqlite":
        engine = open_engine(f"sqlite:///{tmp_path}/deep/store.db")
        yield ListStore(engine)
        engine.dispose()
        return
    with postgres_database() as url:
        engine = open_engine(url)
        yield ListStore(engine)
        engine.dispose()


def pdq(value: str, program: str = "adult", active: bool = True) -> ListRecord:
    return ListRecord(SignalType.PDQ, value, program, active, 90)


def test_pages_snapshots_and_cursor(store: ListStore) -> None:
    rng = np.random.default_rng(31)
    a, b, c = (random_pdq(rng) for _ in range(3))
    assert store.state().cursor is None
    applied = store.apply([pdq(a), pdq(b), pdq(a, "minor")], cursor="3", source="s")
    assert len(applied.listed) == 3 and store.count() == 3
    # Re-applying is harmless; a withdrawal removes; the last state wins.
    applied = store.apply(
        [pdq(a), pdq(b, active=False), pdq(c, active=False), pdq(c)],
        cursor="7",
        source="s",
    )
    assert [r.value for r in applied.listed] == [c]
    assert [r.value for r in applied.gone] == [b]
    assert store.state().cursor == "7" and store.count() == 3
    long_video = ListRecord(SignalType.VPDQ, "0,100," + a + ",0.000\n" * 200, "adult")
    cut = store.begin_snapshot()
    store.stage([pdq(a)], generation=cut)  # a snapshot that never finishes
    generation = store.begin_snapshot()
    assert generation == cut
    store.stage([pdq(b), long_video, pdq(c, active=False)], generation=generation)
    assert store.count() == 3  # nothing listed until the snapshot ends
    assert sorted(r.value for r in store.records()) == sorted([a, a, c])
    store.finish_snapshot(generation=generation, cursor="9", source="s")
    assert sorted(r.kind.value for r in store.records()) == ["pdq", "vpdq"]
    assert store.state().cursor == "9"
    store.reset()
    assert store.count() == 0 and store.state().cursor is None
