"""Entry-keyed sources in the store (NCMEC): two entries, one hash; tombstones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reclaim.hashing import SignalType
from reclaim.index import ListRecord
from reclaim.matcher.store import ListStore, open_engine, stored_sources
from tests.conftest import postgres_database

A = "a" * 64
B = "b" * 64
MD5 = "c" * 32


@pytest.fixture(params=["sqlite", "postgres"])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    with postgres_database() as url:
        yield url


def listed(entry: str, value: str, kind: SignalType = SignalType.PDQ) -> ListRecord:
    return ListRecord(kind, value, "minor", source="n", entry=entry)


def values(records: tuple[ListRecord, ...]) -> list[str]:
    return sorted(r.value for r in records)


def test_entries_list_and_unlist_what_they_hold(engine_url: str) -> None:
    engine = open_engine(engine_url)
    store = ListStore(engine, name="n")
    other = ListStore(engine, name="m")
    try:
        # Two entries list A; one lists B too.
        applied = store.apply(
            [listed("1-x", A), listed("1-x", B), listed("2-y", A)],
            cursor="10",
            source="ncmec",
            entries=["1-x", "2-y"],
        )
        assert values(applied.listed) == [A, B] and not applied.gone
        assert {r.source for r in applied.listed} == {"n"}
        # Another source lists A as well: its rows are its own.
        other.apply(
            [ListRecord(SignalType.PDQ, A, "minor", source="m")], cursor="1", source="s"
        )
        assert store.entries_of([("pdq", A), ("pdq", B)]) == {
            ("pdq", A): ("1-x", "2-y"),
            ("pdq", B): ("1-x",),
        }
        # Entry 1 is updated to list only an MD5: B leaves, A stays (entry 2).
        applied = store.apply(
            [listed("1-x", MD5, SignalType.MD5)],
            cursor="10",
            source="ncmec",
            entries=["1-x"],
        )
        assert values(applied.listed) == [MD5] and values(applied.gone) == [B]
        # Entry 2's tombstone: A is no longer n's, still m's.
        applied = store.apply([], cursor="20", source="ncmec", entries=["2-y"])
        assert values(applied.gone) == [A] and not applied.listed
        assert [r.value for r in store.records()] == [MD5]
        assert [r.value for r in other.records()] == [A]
        assert store.count() == 1 and store.state().cursor == "20"
        # Restating an entry as it was changes nothing.
        again = store.apply(
            [listed("1-x", MD5, SignalType.MD5)],
            cursor="20",
            source="ncmec",
            entries=["1-x"],
        )
        assert not again.listed and not again.gone
        assert stored_sources(engine) == {"n", "m"}
        store.reset()
        assert stored_sources(engine) == {"m"} and other.count() == 1
    finally:
        engine.dispose()
