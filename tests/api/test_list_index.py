"""The registry's match index reads its feed: the newest state of a record wins."""

from __future__ import annotations

from datetime import UTC, datetime

from reclaim.api.list_index import _records
from reclaim.index import MatchableList
from reclaim.registry.hashlist import ListEntry

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def entry(value: str, status: str, change: int, program: str = "adult") -> ListEntry:
    return ListEntry("pdq", value, 100, program, status, 1, False, change, NOW)


def test_a_record_withdrawn_on_a_later_page_of_one_refresh_is_gone() -> None:
    x, y = "ab" * 32, "cd" * 32
    # A refresh read X as active on one page and, after a withdrawal
    # committed mid-read, as withdrawn on a later one.
    listed, gone = _records(
        [entry(x, "active", 1), entry(y, "active", 2), entry(x, "withdrawn", 3)]
    )
    assert [r.value for r in listed] == [y]
    assert [r.value for r in gone] == [x]
    matchable = MatchableList.empty().with_changes(listed=listed, gone=gone)
    assert len(matchable.pdq) == 1
    # And the other way round: withdrawn first, listed again later.
    listed, gone = _records([entry(x, "withdrawn", 1), entry(x, "active", 4)])
    assert [r.value for r in listed] == [x] and gone == []


def test_programs_are_separate_records() -> None:
    x = "ab" * 32
    listed, gone = _records(
        [entry(x, "active", 1, "adult"), entry(x, "withdrawn", 2, "minor")]
    )
    assert [(r.value, r.program) for r in listed] == [(x, "adult")]
    assert [(r.value, r.program) for r in gone] == [(x, "minor")]
