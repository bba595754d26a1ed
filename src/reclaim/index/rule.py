"""The match rule: when an upload's query hashes match a picture's listed hashes.

`robust_match(query_hashes(upload), submission_hashes(original))` is the rule
itself, on two short lists. Every path that matches an upload applies it: the
matcher's HTTP API and `reclaim matcher match` through the index
(`matching.match_pdq`), the registry's `POST /api/v1/platform/match`, and the
benchmarks. A change of the rule is made here, in `MatchRule`, and nowhere
else: the index paths search each query hash at `MatchRule.radius(query)`
(never more than `MatchRule.search_radius`), so they find exactly the pairs
`robust_match` counts.

Quality: a hash below `min_quality` matches unrelated pictures too easily, so
it takes no part, except the upload's own 8 rotations and mirrors (the first
8 query hashes) and the picture's whole-image hash (the first item hash), which
`query_hashes` and `submission_hashes` keep whatever their quality. A hash
read from hex (a list entry, a hash sent over HTTP) has no quality: it was
gated where it was made, and takes part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reclaim.hashing import DIHEDRAL_NAMES, MATCH_DISTANCE, MIN_QUALITY, PdqHash
from reclaim.index.codes import as_codes
from reclaim.index.errors import IndexArgumentError
from reclaim.index.index import MAX_RADIUS


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchRule:
    """When a query hash and an item hash match.

    A pair matches when both take part (`takes_query`, `takes_item`) and their
    Hamming distance is at most `radius(query, item)`, where `query` and
    `item` are the hashes' places in their lists (`query_hashes`,
    `submission_hashes` order).
    """

    #: The radius of the upload's own hash (query hash 0, the picture as it
    #: came) against any listed hash: plain PDQ's rule, what platforms on
    #: other tools apply to the same list.
    distance: int = MATCH_DISTANCE
    #: The radius of every other query hash (the upload's rotations, mirrors,
    #: crops and the picture inside bars). None: the same as `distance`.
    derived_distance: int | None = None
    #: Hashes below this quality take no part (but see the next two).
    min_quality: int = MIN_QUALITY
    #: The first query hashes, the upload's rotations and mirrors, take part
    #: whatever their quality.
    any_quality_queries: int = len(DIHEDRAL_NAMES)
    #: The first item hashes, the whole-image hash, take part whatever their
    #: quality.
    any_quality_items: int = 1

    def __post_init__(self) -> None:
        for value in (self.distance, self.derived_distance):
            if value is None:
                continue
            if type(value) is not int or not 0 <= value <= MAX_RADIUS:
                raise IndexArgumentError(
                    f"{value!r} is not a usable radius: expected an integer "
                    f"from 0 to {MAX_RADIUS}; PDQ matches are usually within "
                    f"{MATCH_DISTANCE}"
                )

    @property
    def search_radius(self) -> int:
        """The radius an index search needs: the largest `radius` of any pair."""
        return max(self.distance, self.derived)

    @property
    def derived(self) -> int:
        """The radius of query hashes after the first."""
        return self.distance if self.derived_distance is None else self.derived_distance

    def radius(self, query: int, item: int | None = None) -> int:
        """The largest distance at which query hash number `query` matches item
        hash number `item`.

        `item=None` stands for a listed hash whose place among its picture's
        hashes is not known (a hash list does not say which is the
        whole-image hash): it gets the largest radius any item hash gets.
        Never more than `search_radius`. Only the query's place matters:
        the upload's own hash (0) gets `distance`, every other `derived`.
        """
        return self.distance if query == 0 else self.derived

    def takes_query(self, position: int, hashed: PdqHash) -> bool:
        """Whether query hash number `position` takes part in matching."""
        return position < self.any_quality_queries or self._fit(hashed)

    def takes_item(self, position: int, hashed: PdqHash) -> bool:
        """Whether item hash number `position` takes part in matching."""
        return position < self.any_quality_items or self._fit(hashed)

    def _fit(self, hashed: PdqHash) -> bool:
        return hashed.quality is None or hashed.quality >= self.min_quality


#: The rule as published: radius 31, quality 50.
RULE = MatchRule()


def robust_match(
    query_hashes: Sequence[PdqHash],
    item_hashes: Sequence[PdqHash],
    *,
    rule: MatchRule = RULE,
) -> int | None:
    """The distance at which an upload matches a picture, or None if it does not.

    `query_hashes` are `reclaim.hashing.query_hashes(upload)` and
    `item_hashes` are `reclaim.hashing.submission_hashes(original)` (or any
    lists in those orders). The answer is the smallest distance of a pair
    that matches under `rule`.
    """
    queries = [n for n, h in enumerate(query_hashes) if rule.takes_query(n, h)]
    items = [n for n, h in enumerate(item_hashes) if rule.takes_item(n, h)]
    if not queries or not items:
        return None
    a = as_codes([query_hashes[n] for n in queries])
    b = as_codes([item_hashes[n] for n in items])
    distances = np.bitwise_count(np.bitwise_xor(a[:, None, :], b[None, :, :])).sum(
        axis=2, dtype=np.int32
    )
    # Search at the widest radius, then hold each pair to its own, as the
    # index paths do.
    best: int | None = None
    rows, columns = np.nonzero(distances <= rule.search_radius)
    for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
        distance = int(distances[row, column])
        if distance <= rule.radius(queries[row], items[column]) and (
            best is None or distance < best
        ):
            best = distance
    return best
