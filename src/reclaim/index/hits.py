"""Search results in bulk: parallel arrays of (query, position, distance) hits.

Every structure answers a whole batch of queries with one `Hits` value, so no
Python object is made per candidate; the index turns hits into `Matches` once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True, eq=False)
class Hits:
    """Matches for a batch: hit k is stored hash `positions[k]` for query
    `queries[k]` at Hamming distance `distances[k]`."""

    queries: npt.NDArray[np.int64]
    positions: npt.NDArray[np.int64]
    distances: npt.NDArray[np.int32]

    @classmethod
    def empty(cls) -> Hits:
        """No hits at all."""
        return cls(
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.int32),
        )

    @classmethod
    def concat(cls, parts: list[Hits]) -> Hits:
        """All hits of several structures, in no particular order."""
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(
            np.concatenate([p.queries for p in parts]),
            np.concatenate([p.positions for p in parts]),
            np.concatenate([p.distances for p in parts]),
        )

    def shifted(self, offset: int) -> Hits:
        """The same hits with `offset` added to every position."""
        if offset == 0:
            return self
        return Hits(self.queries, self.positions + offset, self.distances)

    def shifted_queries(self, offset: int) -> Hits:
        """The same hits with `offset` added to every query number."""
        if offset == 0:
            return self
        return Hits(self.queries + offset, self.positions, self.distances)

    def where(self, keep: npt.NDArray[np.bool_]) -> Hits:
        """Only the hits where `keep` is true."""
        return Hits(self.queries[keep], self.positions[keep], self.distances[keep])

    def __len__(self) -> int:
        return len(self.positions)
