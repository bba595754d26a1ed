"""Expanded tables find exactly what a brute-force scan finds, at any radius."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reclaim.index import Hits, IndexArgumentError, PdqIndex
from reclaim.index import index as index_module
from reclaim.index.expanded import (
    MAX_TABLE_BYTES,
    ExpandedPlan,
    ExpandedSearch,
    ExpandedTable,
    plan_for,
)
from reclaim.index.flat import search_numpy

#: A cap that keeps keys to 1 or 2 bytes, so hypothesis builds in milliseconds.
SMALL = 4_000_000


def triples(hits: Hits) -> list[tuple[int, int, int]]:
    return sorted(
        zip(
            hits.queries.tolist(),
            hits.positions.tolist(),
            hits.distances.tolist(),
            strict=True,
        )
    )


def planted(rng: np.random.Generator, stored: np.ndarray, radius: int) -> np.ndarray:
    """Random queries, and one at each distance 0 .. radius + 2 from a stored
    code (the boundary on both sides)."""
    queries = [rng.integers(0, 256, size=(3, 32), dtype=np.uint8)]
    if len(stored):
        for distance in range(min(radius + 2, 256) + 1):
            code = np.unpackbits(stored[rng.integers(len(stored))])
            code[rng.choice(256, size=distance, replace=False)] ^= 1
            queries.append(np.packbits(code)[None, :])
    return np.concatenate(queries)


def adversarial(
    rng: np.random.Generator, code: np.ndarray, plan: ExpandedPlan
) -> np.ndarray:
    """Queries near `code` that only one table can find, at the edge of its
    radius (r_t bits flipped in its key, r_t + 1 in every other key), and
    one that no table finds (r_t + 1 everywhere: distance `coverage`)."""
    out = []
    for finder in range(len(plan.tables) + 1):
        bits = np.unpackbits(code)
        for t, table in enumerate(plan.tables):
            flips = table.radius + (t != finder)
            key = np.concatenate([np.arange(8 * b, 8 * b + 8) for b in table.key_bytes])
            bits[rng.choice(key, size=flips, replace=False)] ^= 1
        out.append(np.packbits(bits))
    return np.array(out, dtype=np.uint8)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(0, 40),
    planned=st.integers(0, 40),
    offset=st.integers(-8, 3),
)
def test_equals_brute_force_below_at_and_above_the_planned_radius(
    seed: int, size: int, planned: int, offset: int
) -> None:
    rng = np.random.default_rng(seed)
    stored = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
    if size > 2:
        stored[1] = stored[0]  # duplicates are each found
    plan = plan_for(size, radius=planned, max_bytes=SMALL)
    assert plan is not None
    queries = planted(rng, stored, planned)
    if size:
        queries = np.concatenate([queries, adversarial(rng, stored[-1], plan)])
    search = ExpandedSearch(stored, plan)
    radius = max(0, planned + offset)  # above `planned`: the flat fallback
    reference = search_numpy(stored, queries, radius) if size else Hits.empty()
    assert triples(search.search(queries, radius)) == triples(reference)


def test_exact_with_24_bit_keys_and_mixed_radii() -> None:
    rng = np.random.default_rng(7)
    stored = rng.integers(0, 256, size=(300, 32), dtype=np.uint8)
    stored[5] = stored[4]
    plan = ExpandedPlan(
        9,
        (
            ExpandedTable((0, 2, 4), 2),
            ExpandedTable((1, 3, 5), 3),
            ExpandedTable((6, 7), 1),
            ExpandedTable((8,), 0),
        ),
    )
    search = ExpandedSearch(stored, plan)
    queries = np.concatenate(
        [planted(rng, stored, 9), adversarial(rng, stored[9], plan)]
    )
    for radius in (0, 4, 9, 10, 12):
        got = triples(search.search(queries, radius))
        assert got == triples(search_numpy(stored, queries, radius))
    near = triples(search.search(queries, 9))
    assert {d for _, _, d in near} >= set(range(10))  # every planted distance
    assert search.name == "expanded(9: 1x24r2+1x24r3+1x16r1+1x8r0)"


def test_duplicates_are_all_found() -> None:
    code = np.arange(32, dtype=np.uint8)
    near = code.copy()
    near[0] ^= 1
    stored = np.stack([code, code, near, code])
    search = ExpandedSearch(stored, plan_for(4, radius=5, max_bytes=SMALL))
    assert triples(search.search(code[None, :], 5)) == [
        (0, 0, 0),
        (0, 1, 0),
        (0, 2, 1),
        (0, 3, 0),
    ]


def test_empty_sides() -> None:
    nothing = np.empty((0, 32), dtype=np.uint8)
    codes = np.random.default_rng(1).integers(0, 256, size=(5, 32), dtype=np.uint8)
    empty = ExpandedSearch(nothing, plan_for(0, radius=31, max_bytes=SMALL))
    full = ExpandedSearch(codes, plan_for(5, radius=31, max_bytes=SMALL))
    assert len(empty.search(codes, 31)) == 0 and len(empty) == 0
    assert len(full.search(nothing, 31)) == 0
    assert len(full.search(nothing, 64)) == 0
    index = PdqIndex.build(nothing, structure="expanded", radius=31)
    assert len(index.search(codes, radius=31)) == 0


@pytest.mark.parametrize("size", [0, 1000, 88_000])
def test_plans_cover_the_radius_by_pigeonhole(size: int) -> None:
    for radius in (0, 1, 5, 16, 31, 64, 127):
        plan = plan_for(size, radius=radius)
        assert plan is not None
        assert plan.coverage() >= radius + 1
        assert plan.nbytes(size) <= MAX_TABLE_BYTES
        used = [b for t in plan.tables for b in t.key_bytes]
        assert len(used) == len(set(used)) and all(0 <= b < 32 for b in used)


def test_the_reverse_matching_plan() -> None:
    plan = plan_for(88_000, radius=31)
    assert plan is not None
    assert plan.describe() == "10x24r2+1x16r1"
    assert plan.nbytes(88_000) < 1.2e9
    assert 38 < plan.candidates(88_000) < 39


def test_plans_that_would_miss_matches_are_refused() -> None:
    with pytest.raises(ValueError, match="covers 3 < radius"):
        ExpandedPlan(3, (ExpandedTable((0, 1), 1), ExpandedTable((2,), 0)))
    with pytest.raises(ValueError, match="reuses a code byte"):
        ExpandedPlan(1, (ExpandedTable((0, 1), 0), ExpandedTable((1,), 0)))
    with pytest.raises(ValueError, match="over 24 bits"):
        ExpandedPlan(1, (ExpandedTable((0, 1, 2, 3), 1),))
    assert plan_for(10, radius=128) is None  # a table would hold half the list


def test_an_index_too_large_for_tables_says_what_to_use() -> None:
    codes = np.zeros((88_000, 32), dtype=np.uint8)
    with pytest.raises(IndexArgumentError, match='structure="mih"'):
        PdqIndex.build(codes, structure="expanded", radius=200)


@pytest.fixture
def small_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "MAX_TABLE_BYTES", SMALL)


@pytest.mark.usefixtures("small_tables")
def test_index_search_equals_query_flattened_and_skips_removed() -> None:
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 256, size=(400, 32), dtype=np.uint8)
    index = PdqIndex.build(stored[:300], structure="expanded", radius=31)
    assert index.structures[0].startswith("expanded(31: ")
    index = index.with_changes(add=stored[300:], remove=[0, 5, 310])
    assert len(index.structures) == 1  # rebuilt whole, positions kept
    queries = planted(rng, stored, 31)
    for radius in (20, 31, 40):
        hits = index.search(queries, radius=radius)
        flattened = [
            (q, int(p), int(d))
            for q, m in enumerate(index.query(queries, radius=radius))
            for p, d in zip(m.positions, m.distances, strict=True)
        ]
        assert triples(hits) == sorted(flattened)
        reference = search_numpy(stored, queries, radius)
        alive = ~np.isin(reference.positions, [0, 5, 310])
        assert triples(hits) == triples(reference.where(alive))


@pytest.mark.usefixtures("small_tables")
def test_a_handful_of_hashes_is_scanned() -> None:
    codes = np.random.default_rng(4).integers(0, 256, size=(3, 32), dtype=np.uint8)
    index = PdqIndex.build(codes, structure="expanded", radius=31)
    assert index.structures == ("flat",)
    assert triples(index.search(codes, radius=0)) == [(0, 0, 0), (1, 1, 0), (2, 2, 0)]


def test_search_checks_its_radius() -> None:
    index = PdqIndex.build(np.zeros((1, 32), dtype=np.uint8))
    with pytest.raises(IndexArgumentError, match="not a usable radius"):
        index.search(np.zeros((1, 32), dtype=np.uint8), radius=257)
