"""A flat search survives pickling (Ray sends indexes to its workers so)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from reclaim.index import PdqIndex
from reclaim.index.flat import FlatSearch


def _pairs(hits: object) -> list[tuple[int, int, int]]:
    return sorted(
        zip(
            hits.queries.tolist(),  # type: ignore[attr-defined]
            hits.positions.tolist(),  # type: ignore[attr-defined]
            hits.distances.tolist(),  # type: ignore[attr-defined]
            strict=True,
        )
    )


@pytest.mark.parametrize("use_faiss", [True, False], ids=["faiss", "numpy"])
def test_a_pickled_flat_search_answers_as_before(use_faiss: bool) -> None:
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    near = codes[:20].copy()
    near[:, 0] ^= 0b111  # 3 bits off
    queries = np.concatenate([near, rng.integers(0, 256, (20, 32), np.uint8)])
    flat = FlatSearch(codes, use_faiss=use_faiss)
    loaded = pickle.loads(pickle.dumps(flat, protocol=5))
    codes.setflags(write=False)  # Ray hands arrays over read-only
    assert loaded.nbytes == flat.nbytes
    assert _pairs(loaded.search(queries, 31)) == _pairs(flat.search(queries, 31))
    assert len(_pairs(flat.search(queries, 31))) >= 20


def test_an_expanded_index_pickles_with_its_flat_fallback() -> None:
    rng = np.random.default_rng(8)
    codes = rng.integers(0, 256, (3000, 32), dtype=np.uint8)
    index = PdqIndex.build(codes, structure="expanded", radius=31)
    loaded = pickle.loads(pickle.dumps(index, protocol=5))
    queries = codes[:50].copy()
    queries[:, 5] ^= 0b11
    for radius in (31, 40):  # past the plan's radius: the flat fallback
        assert _pairs(loaded.search(queries, radius=radius)) == _pairs(
            index.search(queries, radius=radius)
        )
