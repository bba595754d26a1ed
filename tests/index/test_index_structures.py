"""The index's parts: compact bucket tables, MIH plans, segments on update."""

from __future__ import annotations

import numpy as np
import pytest

from reclaim.index import IndexArgumentError, PdqIndex
from reclaim.index import index as index_module
from reclaim.index.buckets import Directory, PositionList
from reclaim.index.mih import MihPlan, MultiIndexHash, _within


def reference_spans(keys: np.ndarray, key_bits: int, probe: np.ndarray):
    counts = np.bincount(keys, minlength=1 << key_bits)
    starts = np.concatenate([[0], np.cumsum(counts)])
    return starts[probe], counts[probe]


@pytest.mark.parametrize(
    ("keys", "key_bits", "offsets"),
    [
        (np.random.default_rng(1).integers(0, 1 << 12, 5000), 12, np.uint8),
        (np.repeat(np.arange(4), [300, 1, 0, 5]), 4, np.uint16),  # a 300 bucket
        (np.zeros(70_000, dtype=np.int64), 3, None),  # 70,000 duplicates
    ],
)
def test_directories_agree_with_a_plain_cumsum(keys, key_bits, offsets) -> None:
    keys = keys.astype(np.uint32)
    directory = Directory(keys, key_bits)
    assert (directory._offsets is None) == (offsets is None)
    if offsets is not None:
        assert directory._offsets.dtype == offsets
    probe = np.arange(1 << key_bits, dtype=np.uint32)
    starts, lengths = directory.spans(probe)
    want_starts, want_lengths = reference_spans(keys, key_bits, probe)
    assert starts.tolist() == want_starts.tolist()
    assert lengths.tolist() == want_lengths.tolist()


@pytest.mark.parametrize("top", [1 << 16, 1 << 24, (1 << 24) + 5, (1 << 32) - 1])
def test_position_lists_read_back_what_they_stored(top: int) -> None:
    positions = np.array([0, 1, 65535, 65536, top - 1, top // 2], dtype=np.int64)
    stored = PositionList(positions)
    assert stored.nbytes == len(positions) * (3 if top <= 1 << 24 else 4)
    slots = np.array([5, 0, 4, 4, 3], dtype=np.int64)
    assert stored.take(slots).tolist() == positions[slots].tolist()


def test_a_distance_of_256_does_not_wrap_to_0() -> None:
    ones = 2**64 - 1
    xor = np.array([[ones, ones, ones, ones], [0, 0, 0, 1]], dtype=np.uint64)
    rows, distances = _within(xor, 256)
    assert rows.tolist() == [0, 1]
    assert distances.tolist() == [256, 1]
    rows, distances = _within(xor, 255)
    assert rows.tolist() == [1]


@pytest.mark.parametrize(("tables", "radius"), [(8, 31), (9, 31), (16, 0), (7, 64)])
def test_plans_cover_the_radius_by_pigeonhole(tables: int, radius: int) -> None:
    plan = MihPlan(tables, 8)
    radii = plan.radii(radius)
    assert sum(r + 1 for r in radii) == radius + 1
    assert max(radii) - min(radii) <= 1
    keys = plan.byte_numbers()
    assert len(set(keys.ravel().tolist())) == keys.size  # disjoint keys


def test_plans_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        MihPlan(9, 32)


def test_segments_stay_few_and_positions_stay_put(monkeypatch) -> None:
    monkeypatch.setattr(index_module, "_DELTA_MAX", 50)
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, size=(2000, 32), dtype=np.uint8)
    index = PdqIndex.build(codes[:1000], structure="mih")
    seen = set()
    for first in range(1000, 2000, 40):
        index = index.with_changes(add=codes[first : first + 40], remove=[first - 7])
        assert 1 <= len(index.structures) <= 3
        seen.add(index.structures)
    assert any(len(s) == 3 for s in seen)  # base, middle and flat tail
    assert index.next_position == 2000
    assert len(index) == 2000 - 25
    found = index.query(codes, radius=0)
    for position, matches in enumerate(found):
        removed = position in range(993, 1954, 40)
        assert matches.positions.tolist() == ([] if removed else [position])


def test_memory_is_counted_from_the_arrays() -> None:
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 256, size=(3000, 32), dtype=np.uint8)
    index = PdqIndex.build(codes, structure="mih").with_changes(remove=[5])
    [table] = [s.search for s in index._segments]
    parts = sum(t.directory.nbytes + t.positions.nbytes for t in table._tables)
    assert index.nbytes == codes.nbytes + parts + (3000 + 7) // 8
    flat = PdqIndex.build(codes, structure="flat")
    assert flat.nbytes == 2 * codes.nbytes  # ours and faiss's copy


def test_a_query_far_from_everything_probes_empty_buckets() -> None:
    codes = np.zeros((50, 32), dtype=np.uint8)
    index = PdqIndex.build(codes, structure="mih")
    far = np.full((1, 32), 0xFF, dtype=np.uint8)
    assert len(index.query(far, radius=10)[0]) == 0
    assert index.query(codes[:1], radius=0)[0].positions.tolist() == list(range(50))


def test_tables_hand_over_to_a_scan_when_that_is_cheaper() -> None:
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 256, size=(2000, 32), dtype=np.uint8)
    search = MultiIndexHash(codes, MihPlan(8, 8), scan_when_cheaper=True)
    assert not search.uses_tables(31)
    hits = search.search(codes[:3], 31)
    pairs = zip(hits.queries.tolist(), hits.positions.tolist(), strict=True)
    assert sorted(pairs) == [
        (0, 0),
        (1, 1),
        (2, 2),
    ]


def test_positions_must_be_integers() -> None:
    index = PdqIndex.build(["0" * 64])
    with pytest.raises(IndexArgumentError, match="not positions"):
        index.with_changes(remove=[0.5])  # type: ignore[list-item]
