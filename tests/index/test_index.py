"""The PDQ index finds exactly the stored hashes within the radius."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reclaim.hashing import InvalidHashError, PdqHash
from reclaim.index import IndexArgumentError, Matches, PdqIndex
from reclaim.index.codes import as_codes, code_to_hex
from reclaim.index.flat import search_numpy
from reclaim.index.index import _plan


def random_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 32), dtype=np.uint8)


def flip(code: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """A copy of `code` with the given bit numbers (0-255) flipped."""
    out = np.unpackbits(code.copy())
    out[bits] ^= 1
    return np.packbits(out)


def brute_force(stored: np.ndarray, queries: np.ndarray, radius: int) -> list[list]:
    """(distance, position) pairs per query, from popcounts in numpy."""
    out = []
    for q in queries:
        dist = np.unpackbits(stored ^ q, axis=1).sum(axis=1) if len(stored) else []
        out.append(sorted((int(d), p) for p, d in enumerate(dist) if d <= radius))
    return out


def pairs(matches: Matches) -> list[tuple[int, int]]:
    return list(
        zip(matches.distances.tolist(), matches.positions.tolist(), strict=True)
    )


def with_neighbours(rng: np.random.Generator, n: int, radius: int):
    """Stored codes, and queries planted at distances around `radius`."""
    stored = random_codes(rng, n)
    queries = []
    for k in range(min(n, 12)):
        d = int(np.clip(radius + rng.integers(-2, 3), 0, 256))
        queries.append(flip(stored[k], rng.choice(256, size=d, replace=False)))
    queries.append(random_codes(rng, 1)[0])
    return stored, np.array(queries, dtype=np.uint8)


def test_a_hash_finds_itself_and_not_far_ones() -> None:
    rng = np.random.default_rng(1)
    stored = random_codes(rng, 100)
    index = PdqIndex.build([code_to_hex(c) for c in stored])
    [matches] = index.query([code_to_hex(stored[7])], radius=0)
    assert matches.positions.tolist() == [7]
    assert matches.positions.dtype == np.int64
    assert matches.distances.dtype == np.int32
    assert len(index) == 100


@pytest.mark.parametrize("radius", [0, 1, 15, 16, 31, 32, 63, 64])
def test_exact_at_the_radius_boundary(radius: int) -> None:
    rng = np.random.default_rng(radius)
    base = random_codes(rng, 1)[0]
    bits = rng.permutation(256)
    # Stored hashes exactly at radius-1, radius and radius+1 from the query.
    distances = [d for d in (radius - 1, radius, radius + 1) if d >= 0]
    stored = np.array([flip(base, bits[:d]) for d in distances])
    index = PdqIndex.build(stored)
    [matches] = index.query(base[None, :], radius=radius)
    expected = [(d, p) for p, d in enumerate(distances)]
    assert pairs(matches) == [e for e in expected if e[0] <= radius]


def test_results_are_sorted_by_distance_then_position() -> None:
    rng = np.random.default_rng(2)
    base = random_codes(rng, 1)[0]
    stored = np.array([flip(base, np.arange(d)) for d in (5, 3, 5, 0, 3)])
    [matches] = PdqIndex.build(stored).query(base[None, :], radius=31)
    assert pairs(matches) == [(0, 3), (3, 1), (3, 4), (5, 0), (5, 2)]


def test_an_empty_index_matches_nothing() -> None:
    index = PdqIndex.build([])
    assert len(index) == 0
    assert index.next_position == 0
    [matches] = index.query(["0" * 64])
    assert len(matches) == 0
    assert index.query([]) == []
    grown = index.with_changes(add=["0" * 64])
    assert pairs(grown.query(["0" * 64])[0]) == [(0, 0)]


def test_hex_pdqhash_and_array_inputs_agree() -> None:
    rng = np.random.default_rng(3)
    stored = random_codes(rng, 20)
    hexes = [code_to_hex(c) for c in stored]
    upper = [h.upper() for h in hexes]
    parsed = [PdqHash.parse(h) for h in hexes]
    for given_ in (hexes, upper, parsed, iter(hexes), [f" {h} " for h in hexes]):
        assert np.array_equal(as_codes(given_), stored)
    assert PdqHash.parse(hexes[0]).to_bytes() == bytes(stored[0])


@pytest.mark.parametrize(
    "bad",
    [["abc"], ["g" * 64], ["0" * 65], [123], ["é" * 64], "0" * 64, ["0" * 63 + " "]],
)
def test_bad_hashes_say_what_is_wrong(bad: object) -> None:
    with pytest.raises(InvalidHashError, match="PDQ hash"):
        PdqIndex.build(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "array", [np.zeros((2, 31), np.uint8), np.zeros(32, np.uint8), np.zeros((1, 32))]
)
def test_bad_arrays_say_the_expected_shape(array: np.ndarray) -> None:
    with pytest.raises(InvalidHashError, match=r"expected shape \(n, 32\)"):
        PdqIndex.build(array)


@pytest.mark.parametrize("radius", [-1, 257, 3.0, True])
def test_bad_radius(radius: object) -> None:
    index = PdqIndex.build(["0" * 64])
    with pytest.raises(IndexArgumentError, match="radius"):
        index.query(["0" * 64], radius=radius)  # type: ignore[arg-type]


@pytest.mark.parametrize("position", [-1, 3])
def test_removing_an_unknown_position_fails(position: int) -> None:
    index = PdqIndex.build(["0" * 64, "1" * 64])
    with pytest.raises(IndexArgumentError, match=f"{position} is not a position"):
        index.with_changes(remove=[position])


def test_changes_keep_positions_and_leave_the_old_index_alone() -> None:
    rng = np.random.default_rng(4)
    stored = random_codes(rng, 50)
    old = PdqIndex.build(stored)
    new = old.with_changes(add=stored[:2], remove=[0, 50])
    assert (len(old), len(new), new.next_position) == (50, 50, 52)
    assert old.query(stored[:1], radius=0)[0].positions.tolist() == [0]
    assert new.query(stored[:1], radius=0)[0].positions.tolist() == []
    assert new.query(stored[1:2], radius=0)[0].positions.tolist() == [1, 51]
    assert new.is_removed(0) and not new.is_removed(51)
    again = new.with_changes(remove=[0], add=stored[5:6])
    assert again.query(stored[5:6], radius=0)[0].positions.tolist() == [5, 52]
    assert len(again) == 51


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 80),
    radius=st.integers(0, 64),
    structure=st.sampled_from(["auto", "flat", "mih"]),
)
@settings(max_examples=80, deadline=None)
def test_index_equals_brute_force(
    seed: int, n: int, radius: int, structure: str
) -> None:
    rng = np.random.default_rng(seed)
    stored, queries = with_neighbours(rng, n, radius)
    index = PdqIndex.build(stored, structure=structure)  # type: ignore[arg-type]
    got = [pairs(m) for m in index.query(queries, radius=radius)]
    assert got == brute_force(stored, queries, radius)


def test_numpy_and_faiss_flat_agree() -> None:
    rng = np.random.default_rng(5)
    stored, queries = with_neighbours(rng, 40, 31)
    a = search_numpy(stored, queries, 31)
    index = PdqIndex.build(stored, structure="flat")
    b = index.query(queries, radius=31)
    for q, m in enumerate(b):
        mine = sorted(
            zip(a.distances[a.queries == q], a.positions[a.queries == q], strict=True)
        )
        assert pairs(m) == [(int(d), int(p)) for d, p in mine]


@pytest.mark.parametrize("structure", ["auto", "mih"])
def test_a_reader_never_sees_a_torn_index(structure: str) -> None:
    """A writer swaps in changed indexes while a reader queries the current one."""
    rng = np.random.default_rng(6)
    stored = random_codes(rng, 200)
    current = {"index": PdqIndex.build(stored, structure=structure)}  # type: ignore[arg-type]
    stop = threading.Event()
    errors: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            index = current["index"]
            size = index.next_position
            found = index.query(stored[:1], radius=0)[0].positions.tolist()
            # Position 0 and each copy of stored[0] added later, minus removals.
            expected = [p for p in [0, *range(200, size)] if not index.is_removed(p)]
            if found != expected:
                errors.append(f"{found} != {expected}")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for step in range(60):
            index = current["index"]
            change = {"add": stored[:1]}
            if step % 3 == 2:
                change["remove"] = [index.next_position - 1]
            current["index"] = index.with_changes(**change)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[:3]
    assert len(current["index"]) == 200 + 60 - 20


def test_the_structure_follows_the_list_size() -> None:
    rng = np.random.default_rng(7)
    assert PdqIndex.build(random_codes(rng, 100)).structures == ("flat",)
    assert _plan(100_000, "auto", 31) is None
    for size in (1_000_000, 10_000_000, 30_000_000):
        plan = _plan(size, "auto", 31)
        assert plan is not None
        # Tables plus codes and removal bits stay within twice the raw hashes.
        assert 32 + 0.125 + plan.bytes_per_code(size) <= 64
    # Searched mostly at a small radius, tables pay off on shorter lists.
    assert _plan(100_000, "auto", 16) is not None


def test_an_index_planned_for_a_small_radius_is_exact_at_any_radius() -> None:
    rng = np.random.default_rng(16)
    stored, queries = with_neighbours(rng, 3000, 16)
    added = np.stack([flip(q, np.array([3])) for q in queries] * 800)
    index = PdqIndex.build(stored, radius=16)
    grown = index.with_changes(add=added, remove=[0, 5])
    # More than a short tail was added: it got tables of its own.
    assert grown.structures[-1].startswith("mih(")
    every = np.concatenate([stored, added])
    for radius in (8, 16, 31):
        found = grown.query(queries, radius=radius)
        expected = [
            [pair for pair in want if pair[1] not in (0, 5)]
            for want in brute_force(every, queries, radius)
        ]
        assert [pairs(m) for m in found] == expected


@pytest.mark.parametrize("radius", [0, 5, 31, 40])
def test_forced_tables_on_small_data_equal_brute_force(radius: int) -> None:
    rng = np.random.default_rng(radius)
    stored, queries = with_neighbours(rng, 300, radius)
    stored = np.concatenate([stored, stored[:5]])  # duplicates share buckets
    index = PdqIndex.build(stored, structure="mih")
    assert index.structures[0].startswith("mih(")
    assert index._segments[0].search.uses_tables(radius)  # type: ignore[attr-defined]
    got = [pairs(m) for m in index.query(queries, radius=radius)]
    assert got == brute_force(stored, queries, radius)
