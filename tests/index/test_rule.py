"""The match rule: `robust_match` equals brute force, and the index paths equal it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reclaim.hashing import MATCH_DISTANCE, MIN_QUALITY, PdqHash, SignalType
from reclaim.index import (
    RULE,
    IndexArgumentError,
    ListRecord,
    MatchableList,
    MatchRule,
    match_pdq,
    robust_match,
)

BITS = 256


@st.composite
def near(
    draw: st.DrawFn, base: int, *, quality: st.SearchStrategy[int | None]
) -> PdqHash:
    """A hash a few bits from `base` (so that pairs fall either side of 31)."""
    flips = draw(st.lists(st.integers(0, BITS - 1), max_size=26))
    value = base
    for bit in flips:
        value ^= 1 << bit
    return PdqHash(value, draw(quality))


ANY_QUALITY = st.one_of(st.none(), st.integers(0, 100))
#: As `submission_hashes` lists them: views below 50 are dropped on the device.
FIT_QUALITY = st.one_of(st.none(), st.integers(MIN_QUALITY, 100))


def rules() -> st.SearchStrategy[MatchRule]:
    return st.builds(
        MatchRule,
        distance=st.sampled_from([MATCH_DISTANCE, 0, 10, 24, 40]),
        derived_distance=st.sampled_from([None, 0, 12, 20, 40]),
        min_quality=st.sampled_from([MIN_QUALITY, 0, 80]),
        any_quality_queries=st.sampled_from([8, 0, 2]),
        any_quality_items=st.sampled_from([1, 0]),
    )


def brute(queries: list[PdqHash], items: list[PdqHash], rule: MatchRule) -> int | None:
    """The rule spelled out: smallest distance over pairs where both take part."""

    def fit(hashed: PdqHash) -> bool:
        return hashed.quality is None or hashed.quality >= rule.min_quality

    derived = rule.distance if rule.derived_distance is None else rule.derived_distance
    found = [
        (d, rule.distance if i == 0 else derived)
        for i, q in enumerate(queries)
        if i < rule.any_quality_queries or fit(q)
        for j, s in enumerate(items)
        if j < rule.any_quality_items or fit(s)
        for d in [(q.value ^ s.value).bit_count()]
    ]
    within = [d for d, limit in found if d <= limit]
    return min(within) if within else None


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(0, 2**BITS - 1), rules())
def test_robust_match_is_brute_force(
    data: st.DataObject, base: int, rule: MatchRule
) -> None:
    hashes = st.lists(near(base, quality=ANY_QUALITY), max_size=12)
    queries, items = data.draw(hashes), data.draw(hashes)
    assert robust_match(queries, items, rule=rule) == brute(queries, items, rule)
    if rule == RULE:
        assert robust_match(queries, items) == brute(queries, items, rule)


@settings(max_examples=100, deadline=None)
@given(st.data(), st.integers(0, 2**BITS - 1), rules())
def test_the_index_path_equals_the_rule_for_every_listed_item(
    data: st.DataObject, base: int, rule: MatchRule
) -> None:
    # Several pictures listed side by side, each as `submission_hashes` gives
    # it: the whole-image hash at any quality, then views that passed the gate.
    pictures = [
        [
            data.draw(near(base, quality=ANY_QUALITY)),
            *data.draw(st.lists(near(base, quality=FIT_QUALITY), max_size=6)),
        ]
        for _ in range(data.draw(st.integers(1, 4)))
    ]
    if rule.min_quality > MIN_QUALITY or rule.any_quality_items == 0:
        # The list does not carry qualities or places: it relies on the gate
        # having been applied when the hashes were made.
        rule = MatchRule(distance=rule.distance, derived_distance=rule.derived_distance)
    matchable = MatchableList.build(
        ListRecord(SignalType.PDQ, h.hex, f"picture-{n}", quality=h.quality)
        for n, picture in enumerate(pictures)
        for h in picture
    )
    upload = data.draw(st.lists(near(base, quality=ANY_QUALITY), max_size=14))
    best: dict[str, int] = {}
    for match in match_pdq(matchable, [upload], rule=rule):
        assert match.query == 0
        best[match.program] = min(match.distance, best.get(match.program, BITS))
    for n, picture in enumerate(pictures):
        assert best.get(f"picture-{n}") == robust_match(upload, picture, rule=rule)


def test_the_rule_as_published() -> None:
    assert RULE.distance == MATCH_DISTANCE == 31
    assert RULE.min_quality == MIN_QUALITY == 50
    assert RULE.search_radius == 31
    assert RULE.radius(0, 0) == RULE.radius(40, None) == 31
    blurry = PdqHash(0, quality=10)
    # The upload's 8 rotations and mirrors and the whole-image hash count at
    # any quality; other views do not.
    assert RULE.takes_query(7, blurry) and not RULE.takes_query(8, blurry)
    assert RULE.takes_item(0, blurry) and not RULE.takes_item(1, blurry)
    assert RULE.takes_item(5, PdqHash(0))  # no quality known: gated upstream
    assert robust_match([blurry], [PdqHash(0b111, quality=90)]) == 3
    assert robust_match([], [blurry]) is None


def test_no_pair_needs_more_than_the_search_radius() -> None:
    for rule in (RULE, MatchRule(distance=0), MatchRule(distance=64)):
        for query in range(60):
            for item in (*range(50), None):
                assert rule.radius(query, item) <= rule.search_radius


@pytest.mark.parametrize("distance", [-1, 257, 3.5])
def test_a_radius_out_of_range_is_refused(distance: object) -> None:
    with pytest.raises(IndexArgumentError, match="not a usable radius"):
        MatchRule(distance=distance)  # type: ignore[arg-type]  # on purpose
