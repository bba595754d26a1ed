"""Exhaustive search: compare every query with every stored code.

Right for small lists, and the reference every faster structure must equal.
It uses faiss's `IndexBinaryFlat` when faiss is installed (the `faiss` extra)
and numpy otherwise; both are exact.
"""

from __future__ import annotations

import numpy as np

from reclaim.index.codes import CODE_BYTES, Codes
from reclaim.index.hits import Hits

try:  # faiss is an optional extra; numpy gives the same answers, slower.
    import faiss
except ImportError:  # pragma: no cover - the dev install has faiss
    faiss = None  # type: ignore[assignment]  # checked before each use

#: Queries compared at once by the numpy path (bounds its temporary memory).
_NUMPY_BLOCK = 1 << 20


class FlatSearch:
    """All stored codes in one array, scanned for every query."""

    __slots__ = ("_codes", "_faiss")

    def __init__(self, codes: Codes, *, use_faiss: bool = True) -> None:
        self._codes = codes
        self._faiss = _faiss_index(codes) if use_faiss else None

    def __getstate__(self) -> tuple[Codes, bool]:
        """Pickled as its codes: faiss's index is a SWIG object, which does
        not pickle, so it is built again on loading (Ray sends an index to
        its workers by pickling it)."""
        return self._codes, self._faiss is not None

    def __setstate__(self, state: tuple[Codes, bool]) -> None:
        codes, use_faiss = state
        self._codes = codes
        self._faiss = _faiss_index(codes) if use_faiss else None

    def __len__(self) -> int:
        return len(self._codes)

    @property
    def codes(self) -> Codes:
        """The stored codes, in position order."""
        return self._codes

    @property
    def name(self) -> str:
        """The structure, for logs and benchmarks."""
        return "flat"

    @property
    def nbytes(self) -> int:
        """Bytes held: the codes (faiss keeps its own copy of them too)."""
        return self._codes.nbytes * (2 if self._faiss is not None else 1)

    def search(self, queries: Codes, radius: int) -> Hits:
        """Every (query, position) pair within `radius` bits."""
        if not len(self._codes) or not len(queries):
            return Hits.empty()
        if self._faiss is None:
            return search_numpy(self._codes, queries, radius)
        # faiss keeps distances strictly below its radius.
        lims, distances, positions = self._faiss.range_search(queries, radius + 1)
        counts = np.diff(lims.astype(np.int64))
        return Hits(
            np.repeat(np.arange(len(queries), dtype=np.int64), counts),
            positions.astype(np.int64, copy=False),
            distances.astype(np.int32, copy=False),
        )


def _faiss_index(codes: Codes) -> faiss.IndexBinaryFlat | None:
    """faiss's flat index of the codes, or None without faiss or codes."""
    if faiss is None or not len(codes):
        return None
    index = faiss.IndexBinaryFlat(CODE_BYTES * 8)
    index.add(np.ascontiguousarray(codes))
    return index


def search_numpy(codes: Codes, queries: Codes, radius: int) -> Hits:
    """Brute force in numpy: the reference implementation."""
    stored = codes.view(np.uint64)
    asked = queries.view(np.uint64)
    rows = min(len(stored), _NUMPY_BLOCK)
    step = max(1, _NUMPY_BLOCK // max(1, rows))
    parts = []
    for start in range(0, len(stored), rows):
        chunk = stored[start : start + rows]
        for first in range(0, len(asked), step):
            block = asked[first : first + step]
            xor = chunk[None, :, :] ^ block[:, None, :]
            dist = np.bitwise_count(xor).sum(axis=2, dtype=np.int32)
            q, p = np.nonzero(dist <= radius)
            parts.append(
                Hits(q.astype(np.int64) + first, p.astype(np.int64) + start, dist[q, p])
            )
    return Hits.concat(parts)
