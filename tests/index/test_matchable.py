"""The matchable list: its updates, versions and record look-up."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reclaim.hashing import Md5Hash, PdqHash, SignalType, VpdqFrame, VpdqHash
from reclaim.index import ListRecord, MatchableList, MatchRule, match_md5, match_pdq
from tests.conftest import random_pdq


def pdq(value: str, program: str = "adult", active: bool = True) -> ListRecord:
    return ListRecord(SignalType.PDQ, value, program, active, 90)


def brute(records: list[ListRecord], query: str, radius: int) -> set[tuple[str, str]]:
    target = PdqHash.parse(query)
    return {
        (r.value, r.program)
        for r in records
        if r.kind is SignalType.PDQ
        and (PdqHash.parse(r.value).value ^ target.value).bit_count() <= radius
    }


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_catalog_updates_equal_a_fresh_build(data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    base = [random_pdq(rng) for _ in range(12)]
    pool = [pdq(v, p) for v in base for p in ("adult", "minor")] + [
        ListRecord(SignalType.MD5, f"{n:032x}", "adult") for n in range(4)
    ]
    matchable = MatchableList.empty()
    listed: dict[tuple[str, str, str], ListRecord] = {}
    for _ in range(data.draw(st.integers(1, 5))):
        adds = data.draw(st.lists(st.sampled_from(pool), max_size=8))
        removes = data.draw(st.lists(st.sampled_from(pool), max_size=8))
        matchable = matchable.with_changes(listed=adds, gone=removes)
        for record in removes:
            listed.pop(record.key, None)
        # Within one change set, removals apply first.
        for record in adds:
            listed[record.key] = record
    fresh = MatchableList.build(listed.values())
    assert matchable.counts() == fresh.counts()
    for query in base[:4]:
        for built in (matchable, fresh):
            found = match_pdq(
                built, [[PdqHash.parse(query)]], rule=MatchRule(distance=40)
            )
            assert {(m.value, m.program) for m in found} == brute(
                list(listed.values()), query, 40
            )
    digests = [Md5Hash(f"{n:032x}") for n in range(4)]
    assert len(match_md5(matchable, digests)) == len(match_md5(fresh, digests))


def test_unparseable_list_entries_are_skipped() -> None:
    matchable = MatchableList.build(
        [
            pdq("not-hex"),
            ListRecord(SignalType.VPDQ, "garbage", "adult"),
            ListRecord(
                SignalType.VPDQ,
                VpdqHash(
                    (VpdqFrame(0, 0.0, PdqHash.parse("ab" * 32, quality=90)),)
                ).to_text(),
                "adult",
            ),
        ]
    )
    assert matchable.counts() == {"pdq": 0, "md5": 0, "vpdq": 1}
    assert matchable.skipped == 2


def test_prefix_lookup_across_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    from reclaim.index import lookup
    from reclaim.index.codes import as_codes

    monkeypatch.setattr(lookup, "_MERGE_AT", 4)
    rng = np.random.default_rng(51)
    values = [random_pdq(rng) for _ in range(20)]
    # Two hashes sharing their first 8 bytes: both are candidates.
    values.append(values[0][:16] + values[1][16:])
    table = lookup.PrefixLookup()
    for start in range(0, len(values), 3):
        table.add(as_codes(values[start : start + 3]), start)
    found = table.candidates(as_codes(values))
    for position, hits in enumerate(found):
        assert position in hits
    assert sorted(found[0]) == [0, 20]
    assert table.candidates(as_codes([random_pdq(rng)])) == [[]]


def test_catalog_swaps_keep_old_versions_readable() -> None:
    rng = np.random.default_rng(52)
    values = [random_pdq(rng) for _ in range(5)]
    old = MatchableList.build([pdq(v) for v in values])
    new = old.with_changes(listed=[pdq(values[0], "minor")], gone=[pdq(values[0])])
    query = [[PdqHash.parse(values[0])]]
    assert [m.program for m in match_pdq(old, query, rule=MatchRule(distance=0))] == [
        "adult"
    ]
    assert [m.program for m in match_pdq(new, query, rule=MatchRule(distance=0))] == [
        "minor"
    ]
    again = new.with_changes(listed=[pdq(values[0], "minor")], gone=[])
    assert again.counts()["pdq"] == 5  # listing it twice adds nothing
