"""`PdqIndex`: every stored PDQ hash within a Hamming radius of a query, exactly.

Concurrency contract
--------------------
A `PdqIndex` never changes after it is built. `with_changes` returns a *new*
index that shares the unchanged arrays with the old one; the old one keeps
answering exactly as before. A service holds its current index in one
attribute, queries whatever object it read from there, and a writer thread
swaps in the new index with a single assignment, which is atomic in Python.
A reader therefore sees either the whole old state or the whole new state,
never a torn one, and nobody waits on a lock.

Bulk searches
-------------
`query` gives one `Matches` per query hash; `search` gives every hit of a
batch as one `Hits` (parallel arrays), for callers that stream millions of
queries and want no Python object per query.

Positions
---------
Hashes are numbered 0, 1, 2, ... in the order they were given to `build` and
then to each `with_changes(add=...)`. A position never changes and is never
reused: removing a hash only marks its position as removed, so callers can
keep their own arrays (ids, programs) indexed by position.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from reclaim.hashing import MATCH_DISTANCE, PdqHash
from reclaim.index.codes import CODE_BYTES, Codes, as_codes
from reclaim.index.errors import IndexArgumentError
from reclaim.index.expanded import MAX_TABLE_BYTES, ExpandedSearch, plan_for
from reclaim.index.flat import FlatSearch
from reclaim.index.hits import Hits
from reclaim.index.mih import FLAT_NS, MihPlan, MultiIndexHash, best_plan

Structure = Literal["auto", "flat", "mih", "expanded"]
HashesIn = Iterable[str | PdqHash] | npt.NDArray[np.uint8]

MAX_RADIUS = CODE_BYTES * 8

#: Bytes per stored hash the search tables may use on top of the 32-byte
#: hash itself and its removal bit: the whole index stays within 2x the raw
#: hashes.
TABLE_BUDGET = 2 * CODE_BYTES - CODE_BYTES - 0.125

#: Added hashes collect in one small flat segment up to this size.
_DELTA_MAX = 1 << 16
#: Below this planning radius the flat tail is kept shorter (`_tail_limit`).
_SMALL_RADIUS = 24
#: Once this share of hashes is outside the first segment, `with_changes`
#: rebuilds one segment (positions are kept).
_MAX_DELTA_SHARE = 0.125


class _Search(Protocol):
    """A structure that finds every stored code within a radius of a query."""

    def __len__(self) -> int: ...

    @property
    def codes(self) -> Codes: ...

    @property
    def name(self) -> str: ...

    @property
    def nbytes(self) -> int: ...

    def search(self, queries: Codes, radius: int) -> Hits: ...


@dataclass(frozen=True, slots=True, eq=False)
class Matches:
    """The stored hashes within the radius of one query.

    `positions` (int64) are positions in build order and `distances` (int32)
    their Hamming distances, sorted by distance, then position.
    """

    positions: npt.NDArray[np.int64]
    distances: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.positions)


@dataclass(frozen=True, slots=True)
class _Segment:
    start: int
    search: _Search


def _plan(size: int, structure: Structure, radius: int) -> MihPlan | None:
    """The multi-index-hashing plan for a list of this size, or None for flat.

    "auto" takes MIH when its tables fit the memory budget and its estimated
    cost at `radius` (the radius most searches use) beats a flat scan.
    """
    if structure == "flat" or not size:
        return None
    if structure == "mih":
        return best_plan(size, radius=radius, max_bytes=None)
    plan = best_plan(size, radius=radius, max_bytes=TABLE_BUDGET)
    if plan is None or plan.cost_ns(size, radius) >= FLAT_NS * size:
        return None
    return plan


def _tail_limit(radius: int) -> int:
    """How many added codes the flat tail takes before they get tables.

    A flat scan costs the same at any radius, a table search far less at a
    small one: a list searched mostly at a small radius keeps a shorter tail.
    """
    return _DELTA_MAX if radius >= _SMALL_RADIUS else _DELTA_MAX // 8


def _structure(codes: Codes, structure: Structure, radius: int) -> _Search:
    """Build the search structure `_plan` picks for these codes."""
    if structure == "expanded":
        return _expanded(codes, radius)
    plan = _plan(len(codes), structure, radius)
    if plan is None:
        return FlatSearch(codes)
    return MultiIndexHash(codes, plan, scan_when_cheaper=structure == "auto")


def _expanded(codes: Codes, radius: int) -> _Search:
    """Expanded tables planned for `radius`, or a flat scan where a scan of
    so few codes is cheaper than the tables' look-ups."""
    plan = plan_for(len(codes), radius=radius, max_bytes=MAX_TABLE_BYTES)
    if plan is None:
        raise IndexArgumentError(
            f"{len(codes)} hashes at radius {radius} are too many for expanded "
            f"tables: expected them to fit in {MAX_TABLE_BYTES / 1e9:.1f} GB; "
            'use structure="mih" (or "flat") for a list this large'
        )
    if FLAT_NS * len(codes) <= plan.cost_ns(len(codes)):
        return FlatSearch(codes)
    return ExpandedSearch(codes, plan)


class PdqIndex:
    """An immutable set of PDQ hashes searchable by Hamming radius.

    Build with `PdqIndex.build(hashes)`; update with `with_changes`, which
    returns a new index (see the module docstring for the concurrency
    contract). Results are exact: every live stored hash within the radius.
    """

    __slots__ = ("_live", "_radius", "_removed", "_segments", "_size", "_structure")

    def __init__(
        self,
        segments: Sequence[_Segment],
        size: int,
        removed: npt.NDArray[np.uint8] | None,
        structure: Structure,
        radius: int = MATCH_DISTANCE,
    ) -> None:
        # Use `build`; this constructor trusts its arguments.
        self._segments = tuple(segments)
        self._size = size
        self._removed = removed
        self._structure: Structure = structure
        self._radius = radius
        dead = 0 if removed is None else int(np.bitwise_count(removed).sum())
        self._live = size - dead

    @classmethod
    def build(
        cls,
        hashes: HashesIn,
        *,
        structure: Structure = "auto",
        radius: int = MATCH_DISTANCE,
    ) -> PdqIndex:
        """Index hex strings, `PdqHash` values or an (n, 32) uint8 array.

        Positions follow the input order. A C-contiguous (n, 32) uint8 array
        is used in place, not copied (that is what keeps the index within 2x
        the raw hashes): do not write to it afterwards. `structure` forces a
        search structure ("flat" or "mih") instead of choosing by size
        ("auto"). `radius` is the radius most searches will use (a rule's
        `derived` radius): tables are planned for it, and any radius still
        gives exact answers.

        "expanded" (never chosen by "auto") is for few stored hashes and very
        many queries at one radius, such as reverse matching: every stored
        hash is entered into its neighbouring buckets so that a query reads
        one bucket per table (see `reclaim.index.expanded`). Searches at
        `radius` or less use the tables; a larger radius scans. Its tables
        take about 1 GB for 88,000 hashes at radius 31, and `with_changes`
        rebuilds them whole. Raises `IndexArgumentError` when they would not
        fit in `MAX_TABLE_BYTES`.
        """
        if type(radius) is not int or not 0 <= radius <= MAX_RADIUS:
            raise IndexArgumentError(
                f"{radius!r} is not a usable radius: expected an integer from 0 "
                f"to {MAX_RADIUS}; PDQ matches are usually within {MATCH_DISTANCE}"
            )
        codes = as_codes(hashes)
        segments = (
            [_Segment(0, _structure(codes, structure, radius))] if len(codes) else []
        )
        return cls(segments, len(codes), None, structure, radius)

    def __len__(self) -> int:
        """The number of stored hashes that are not removed."""
        return self._live

    @property
    def next_position(self) -> int:
        """The position the next added hash gets (all positions ever used)."""
        return self._size

    @property
    def structures(self) -> tuple[str, ...]:
        """The search structure of each segment, oldest first ("flat", "mih(...)")."""
        return tuple(s.search.name for s in self._segments)

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (codes, tables, removal marks)."""
        removed = 0 if self._removed is None else self._removed.nbytes
        return removed + sum(s.search.nbytes for s in self._segments)

    def is_removed(self, position: int) -> bool:
        """Whether the hash at `position` has been removed."""
        self._check_positions(np.array([position]))
        if self._removed is None:
            return False
        return bool(_bit(self._removed, np.array([position]))[0])

    def query(self, hashes: HashesIn, *, radius: int = MATCH_DISTANCE) -> list[Matches]:
        """For each query hash, every live stored hash within `radius` bits."""
        queries = as_codes(hashes)
        return _split(self.search(queries, radius=radius), len(queries))

    def search(self, hashes: HashesIn, *, radius: int) -> Hits:
        """Every (query, position, distance) within `radius` bits, as one `Hits`.

        The same hits as `query`, with no per-query objects: hit k is live
        stored hash `positions[k]` for query number `queries[k]` (0-based, in
        input order) at distance `distances[k]`, in no particular order.
        """
        if type(radius) is not int or not 0 <= radius <= MAX_RADIUS:
            raise IndexArgumentError(
                f"{radius!r} is not a usable radius: expected an integer from 0 "
                f"to {MAX_RADIUS}; PDQ matches are usually within {MATCH_DISTANCE}"
            )
        queries = as_codes(hashes)
        hits = Hits.concat(
            [s.search.search(queries, radius).shifted(s.start) for s in self._segments]
        )
        if self._removed is not None and len(hits):
            hits = hits.where(~_bit(self._removed, hits.positions))
        return hits

    def with_changes(
        self,
        *,
        add: HashesIn = (),
        remove: Iterable[int] | npt.NDArray[np.integer] = (),
    ) -> PdqIndex:
        """A new index with `add` appended (at `next_position` onwards) and the
        hashes at positions `remove` removed. This index is left unchanged.

        `remove` may name positions added by this same call; removing a
        position twice is allowed.
        """
        codes = as_codes(add)
        size = self._size + len(codes)
        gone = np.asarray(
            list(remove) if not isinstance(remove, np.ndarray) else remove
        )
        segments = list(self._segments)
        if len(codes):
            segments = self._added(segments, codes)
        removed = self._removed
        if removed is not None and len(removed) < (size + 7) // 8:
            grown = np.zeros((size + 7) // 8, dtype=np.uint8)
            grown[: len(removed)] = removed
            removed = grown
        if gone.size:
            self._check_positions(gone, size=size)
            gone = gone.astype(np.int64)
            if removed is None:
                removed = np.zeros((size + 7) // 8, dtype=np.uint8)
            elif removed is self._removed:
                removed = removed.copy()  # never write to the old index's marks
            np.bitwise_or.at(removed, gone >> 3, _MASKS[gone & 7])
        return PdqIndex(segments, size, removed, self._structure, self._radius)

    def _added(self, segments: list[_Segment], codes: Codes) -> list[_Segment]:
        """Segments with `codes` appended after the last position.

        At most three segments: the base, a middle part and a small flat
        tail. The tail takes additions until it holds `_DELTA_MAX` codes;
        then everything after the base is rebuilt as one middle segment, or
        the whole index is, once the middle outgrows its share of the base.
        Expanded tables are always rebuilt whole, as one segment.
        """
        structure, radius = self._structure, self._radius
        if not segments:
            return [_Segment(0, _structure(codes, structure, radius))]
        if structure == "expanded":
            # Built once per rescan: simply rebuilt, keeping positions.
            every = np.concatenate([*(s.search.codes for s in segments), codes])
            return [_Segment(0, _structure(every, structure, radius))]
        last = segments[-1]
        tail = _tail_limit(radius)
        if (
            isinstance(last.search, FlatSearch)
            and len(last.search) + len(codes) <= tail
        ):
            merged = np.concatenate([last.search.codes, codes])
            return [*segments[:-1], _Segment(last.start, FlatSearch(merged))]
        if len(codes) <= tail and len(segments) < 3:
            return [*segments, _Segment(self._size, FlatSearch(codes))]
        base = segments[0]
        rest = [s.search.codes for s in segments[1:]] + [codes]
        if sum(map(len, rest)) > _MAX_DELTA_SHARE * len(base.search):
            every = np.concatenate([base.search.codes, *rest])
            return [_Segment(0, _structure(every, structure, radius))]
        middle = _structure(np.concatenate(rest), structure, radius)
        return [base, _Segment(len(base.search), middle)]

    def _check_positions(
        self, positions: npt.NDArray[Any], *, size: int | None = None
    ) -> None:
        end = self._size if size is None else size
        if positions.dtype.kind not in "iu" or positions.ndim != 1:
            raise IndexArgumentError(
                f"{positions.dtype} values are not positions: expected integers "
                "from build order (0, 1, 2, ...)"
            )
        bad = positions[(positions < 0) | (positions >= end)]
        if bad.size:
            raise IndexArgumentError(
                f"{int(bad[0])} is not a position in this index: expected 0 to "
                f"{end - 1}; positions come from build and add order"
            )


#: The bit of position p within its byte (np.packbits order: big-endian).
_MASKS = (0x80 >> np.arange(8)).astype(np.uint8)


def _bit(
    packed: npt.NDArray[np.uint8], positions: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Bit `positions` of a `np.packbits` array (big-endian within bytes)."""
    shift = (7 - (positions & 7)).astype(np.uint8)
    bits: npt.NDArray[np.bool_] = ((packed[positions >> 3] >> shift) & 1).astype(bool)
    return bits


def _split(hits: Hits, count: int) -> list[Matches]:
    """One `Matches` per query, sorted by distance, then position."""
    order = np.lexsort((hits.positions, hits.distances, hits.queries))
    queries = hits.queries[order]
    positions = hits.positions[order]
    distances = hits.distances[order]
    bounds = np.searchsorted(queries, np.arange(count + 1))
    return [
        Matches(positions[a:b], distances[a:b])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
