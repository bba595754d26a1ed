"""Expanded tables: exact radius-R search with one bucket look-up per table.

For few stored codes and very many queries at one large radius (reverse
matching: the newly listed hashes are stored, a platform's catalog streams
through as queries). Multi-index hashing (`mih`) probes every key within r_t
of the query's key, thousands of probes per query at radius 31; here each
stored code is instead entered into every bucket within r_t of its own key,
so a query reads one bucket per table.

Exact by the pigeonhole principle, as in `mih`: the tables read disjoint
whole bytes of the code, and if sum over tables of (r_t + 1) >= R + 1, a code
within R of a query is within r_t of it on at least one table's key, so it is
in the bucket that query reads. Candidates are then checked on all 256 bits.
A query at a radius below R uses the same tables (still exact); one above R
is answered by a flat scan.

The plan (`plan_for`) is chosen at build time for one R and one stored size:
the layout (how many tables, 1, 2 or 3 key bytes each, each its own r_t) with
the least estimated cost per query (`LOOKUP_NS`, `CANDIDATE_NS`) whose tables
fit a memory cap. A table of b key bytes at radius r stores each code
ball(8b, r) = sum_k<=r C(8b, k) times (3 bytes a position below 2**24) and
has a directory of 2**(8b) buckets (about 1.1 bytes each); a random query
reads size * ball / 2**(8b) candidates from it. A table is built with one
sort of (key << 32 | position) 8-byte words, not a stable argsort of keys.
No plan lets a table's ball cover over half its key space (nearly a scan),
so radii from 128 up have none.

Measured with `bench/expanded_index.py` (one core of the shared 2-core dev
VM, numpy 2.4 with AVX-512; the VM was busy, so figures vary by some 15%)
for 88,000 random stored codes at R = 31, plan 10 x (3 bytes, r 2) + 1 x
(2 bytes, r 1): build 8.7-9.9 s CPU (10 tables of 26.5 million entries, one of 1.5),
984 MB of arrays (979 MB of tables), peak RSS +1.55 GB while building;
1.37-1.6 us and 38.6 candidates per query over 1,000,000 random queries
(the prototype's argsort build took 47 s, and 2.07 us per query).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reclaim.index.buckets import (
    IN_RANGE,
    Directory,
    PositionList,
    directory_bytes,
    position_bytes,
)
from reclaim.index.candidates import ball_size, flip_masks, unique_pairs, within
from reclaim.index.codes import CODE_BYTES, Codes
from reclaim.index.flat import FlatSearch
from reclaim.index.hits import Hits

#: Estimated CPU cost per query, in nanoseconds on one core: reading one
#: table's bucket, and checking one candidate (gathering its position and
#: code, popcount, dedup). Fitted to this code's timings at 88,000 random
#: stored codes on the 2-core dev VM: 8x24r0 0.21 us/query (0.04 candidates),
#: 8x24r1 0.27 (1.05), 16x16r0 1.14 (21.5), 8x16r1 4.5 (183), 16x16r1 8.7
#: (365), 16x8r0 160 (5500), 10x24r2+1x16r1 1.38 (38.6): within 20%.
LOOKUP_NS = 30.0
CANDIDATE_NS = 25.0

#: The default cap on the tables' memory: enough for 88,000 codes at R = 31.
MAX_TABLE_BYTES = 1_500_000_000
#: Plans within this factor of the cheapest count as equally fast: the least
#: memory among them wins (the estimates are not finer than that, and a
#: smaller table also builds faster).
_COST_TOLERANCE = 1.1
#: The largest table built, in entries (stored code, key) (a build sorts
#: them as 8-byte words: 1 GiB of temporary memory).
_MAX_TABLE_ENTRIES = 1 << 27
#: Candidates checked per batch of queries: bounds temporary memory.
_BATCH_CANDIDATES = 1 << 18
#: Partial plans kept per state of the planner's search (see `_pareto`).
_FRONTIER = 4
#: Key sizes a table may use, in whole bytes (keys stay below 2**24).
_KEY_BYTES = (1, 2, 3)


@dataclass(frozen=True, slots=True)
class ExpandedTable:
    """One table: its key is `key_bytes` code bytes, big-endian; every code
    is stored under each key within `radius` bits of its own."""

    key_bytes: tuple[int, ...]
    radius: int

    @property
    def key_bits(self) -> int:
        """Bits in this table's key."""
        return 8 * len(self.key_bytes)

    def copies(self) -> int:
        """How many buckets each stored code is entered into."""
        return ball_size(self.key_bits, self.radius)

    def candidates(self, size: int) -> float:
        """Expected codes in the bucket a random query reads."""
        return size * self.copies() / 2.0**self.key_bits

    def nbytes(self, size: int) -> float:
        """Estimated memory for `size` stored codes."""
        return _shape_bytes(len(self.key_bytes), self.radius, size)


@dataclass(frozen=True, slots=True)
class ExpandedPlan:
    """Tables over disjoint code bytes covering `radius` by pigeonhole."""

    radius: int
    tables: tuple[ExpandedTable, ...]

    def __post_init__(self) -> None:
        used = [b for t in self.tables for b in t.key_bytes]
        if len(set(used)) != len(used) or not all(0 <= b < CODE_BYTES for b in used):
            raise ValueError(f"{self} reuses a code byte or names one past 31")
        if any(t.key_bits > 24 or not 0 <= t.radius < t.key_bits for t in self.tables):
            raise ValueError(f"{self} has a key over 24 bits or a radius past it")
        if self.coverage() < self.radius + 1:
            raise ValueError(
                f"{self} covers {self.coverage()} < radius + 1: it would miss matches"
            )

    def coverage(self) -> int:
        """Sum of (r_t + 1): more than any distance it finds exactly."""
        return sum(t.radius + 1 for t in self.tables)

    def candidates(self, size: int) -> float:
        """Expected candidates per random query."""
        return sum(t.candidates(size) for t in self.tables)

    def cost_ns(self, size: int) -> float:
        """Estimated time per query at a radius <= `radius`, in nanoseconds."""
        return sum(_shape_cost(len(t.key_bytes), t.radius, size) for t in self.tables)

    def nbytes(self, size: int) -> float:
        """Estimated memory of the tables for `size` stored codes."""
        return sum(t.nbytes(size) for t in self.tables)

    def describe(self) -> str:
        """The layout in short: "10x24r2+1x16r1" (tables x key bits, radius)."""
        shapes: dict[tuple[int, int], int] = {}
        for t in self.tables:
            shapes[(t.key_bits, t.radius)] = shapes.get((t.key_bits, t.radius), 0) + 1
        return "+".join(f"{n}x{bits}r{r}" for (bits, r), n in shapes.items())


def _shape_cost(key_bytes: int, radius: int, size: int) -> float:
    candidates = size * ball_size(8 * key_bytes, radius) / 2.0 ** (8 * key_bytes)
    return LOOKUP_NS + CANDIDATE_NS * candidates


def _shape_bytes(key_bytes: int, radius: int, size: int) -> float:
    entries = size * ball_size(8 * key_bytes, radius)
    return entries * position_bytes(size) + directory_bytes(8 * key_bytes, entries)


# A partial plan: estimated cost, memory, and its (key bytes, radius) shapes.
_Partial = tuple[float, float, tuple[tuple[int, int], ...]]


def plan_for(
    size: int, *, radius: int, max_bytes: float = MAX_TABLE_BYTES
) -> ExpandedPlan | None:
    """The fastest plan for `size` codes at `radius` within `max_bytes`.

    None when no plan fits. Among plans within `_COST_TOLERANCE` of the
    fastest, the smallest wins. A dynamic programme over (code bytes used,
    coverage so far) keeps, per state, the partial plans that no other beats
    on both cost and memory.
    """
    need = radius + 1
    shapes = [
        (b, r)
        for b in _KEY_BYTES
        for r in range(8 * b)
        # A key ball over half the key space is nearly a scan of the table.
        if ball_size(8 * b, r) <= 2 ** (8 * b - 1)
        and _shape_bytes(b, r, size) <= max_bytes
        and size * ball_size(8 * b, r) <= _MAX_TABLE_ENTRIES
    ]
    # frontier[used][covered]: partial plans sorted by cost, memory falling.
    frontier: list[list[list[_Partial]]] = [
        [[] for _ in range(need + 1)] for _ in range(CODE_BYTES + 1)
    ]
    frontier[0][0] = [(0.0, 0.0, ())]
    for b, r in shapes:
        cost = _shape_cost(b, r, size)
        memory = _shape_bytes(b, r, size)
        # Ascending `used`, so a shape can be taken again on top of itself.
        for used in range(CODE_BYTES + 1 - b):
            for covered in range(need + 1):
                grown = [
                    (c + cost, m + memory, (*s, (b, r)))
                    for c, m, s in frontier[used][covered]
                    if m + memory <= max_bytes
                ]
                if grown:
                    # `grown` is a frontier already: merge only when needed.
                    target = min(need, covered + r + 1)
                    there = frontier[used + b][target]
                    frontier[used + b][target] = (
                        _pareto(there + grown) if there else grown
                    )
    done = _pareto([p for row in frontier for p in row[need]])
    if not done:
        return None
    fastest = done[0][0]
    _, _, chosen = min(
        (p for p in done if p[0] <= fastest * _COST_TOLERANCE), key=lambda p: p[1]
    )
    return ExpandedPlan(radius, _lay_out(chosen))


def _pareto(partials: list[_Partial]) -> list[_Partial]:
    """The partial plans no other beats on both cost and memory.

    At most the `_FRONTIER` // 2 cheapest and as many smallest are kept, which
    bounds the search (seconds, not minutes, at radius 255); any plan found
    is exact, this only limits how hard the cheapest one is looked for.
    """
    kept: list[_Partial] = []
    for partial in sorted(partials):
        if not kept or partial[1] < kept[-1][1]:
            kept.append(partial)
    if len(kept) > _FRONTIER:
        kept = kept[: _FRONTIER // 2] + kept[-(_FRONTIER // 2) :]
    return kept


def _lay_out(shapes: tuple[tuple[int, int], ...]) -> tuple[ExpandedTable, ...]:
    """Code bytes for each table, dealt round-robin: table t of T gets bytes
    t, t + T, ... (widest keys first), so each key spreads over the hash (PDQ
    bit k is a DCT coefficient of row k // 16: neighbouring bits correlate)."""
    order = sorted(shapes, key=lambda s: (-s[0], -s[1]))
    dealt: list[list[int]] = [[] for _ in order]
    byte = 0
    for round_ in range(max((b for b, _ in order), default=0)):
        for t, (b, _) in enumerate(order):
            if round_ < b:
                dealt[t].append(byte)
                byte += 1
    return tuple(
        ExpandedTable(tuple(d), r) for d, (_, r) in zip(dealt, order, strict=True)
    )


class _Table:
    """One table's bucket directory and its positions, sorted by key."""

    __slots__ = ("directory", "positions", "spec")

    def __init__(self, codes: Codes, spec: ExpandedTable) -> None:
        self.spec = spec
        masks = flip_masks(spec.key_bits, spec.radius)
        # Sort (key << 32 | position) words: one AVX-512 sort of 8-byte
        # integers, several times faster than a stable argsort of the keys.
        # Within a bucket the positions end up in increasing order.
        own = _keys(codes, spec.key_bytes).astype(np.uint64) << np.uint64(32)
        own |= np.arange(len(codes), dtype=np.uint64)
        words = (own[:, None] ^ (masks.astype(np.uint64) << np.uint64(32))).ravel()
        words.sort()
        # Each word's halves, read in place: its position and its key. The
        # words go before the directory is built: a lower peak of memory.
        high = 1 if sys.byteorder == "little" else 0
        self.positions = PositionList(words.view(np.uint32)[1 - high :: 2])
        keys = words.view(np.uint32)[high::2].copy()
        del words
        self.directory = Directory(keys, spec.key_bits)

    @property
    def nbytes(self) -> int:
        return self.directory.nbytes + self.positions.nbytes


def _keys(codes: Codes, key_bytes: tuple[int, ...]) -> npt.NDArray[np.uint32]:
    """Each code's key: its bytes `key_bytes`, big-endian, as one integer."""
    key = codes[:, key_bytes[0]].astype(np.uint32)
    for byte in key_bytes[1:]:
        key <<= np.uint32(8)
        key |= codes[:, byte]
    return key


class ExpandedSearch:
    """Exact radius search through stored-side expanded tables (see module)."""

    __slots__ = ("_codes", "_flat", "_plan", "_tables")

    def __init__(self, codes: Codes, plan: ExpandedPlan) -> None:
        self._codes = codes
        self._plan = plan
        self._flat = FlatSearch(codes)
        self._tables = [_Table(codes, t) for t in plan.tables] if len(codes) else []

    def __len__(self) -> int:
        return len(self._codes)

    @property
    def plan(self) -> ExpandedPlan:
        """The table layout and the radius it covers."""
        return self._plan

    @property
    def codes(self) -> Codes:
        """The stored codes, in position order."""
        return self._codes

    @property
    def name(self) -> str:
        """The structure, for logs: "expanded(R: tables x key bits r radius)"."""
        return f"expanded({self._plan.radius}: {self._plan.describe()})"

    @property
    def nbytes(self) -> int:
        """Bytes held: the codes, the flat fallback and every table."""
        return int(self._flat.nbytes + sum(t.nbytes for t in self._tables))

    def candidates(self, queries: Codes) -> int:
        """Candidates these queries would check (for benchmarks and logs)."""
        return sum(
            int(t.directory.spans(_keys(queries, t.spec.key_bytes))[1].sum())
            for t in self._tables
        )

    def search(self, queries: Codes, radius: int) -> Hits:
        """Every (query, position) pair within `radius` bits."""
        if not len(self._codes) or not len(queries):
            return Hits.empty()
        if radius > self._plan.radius:
            return self._flat.search(queries, radius)
        work = self._plan.candidates(len(self)) + len(self._tables)
        step = max(1, int(_BATCH_CANDIDATES / work))
        parts = [
            self._search_batch(queries[first : first + step], radius).shifted_queries(
                first
            )
            for first in range(0, len(queries), step)
        ]
        return Hits.concat(parts)

    def _search_batch(self, queries: Codes, radius: int) -> Hits:
        numbers = np.arange(len(queries), dtype=np.int64)
        found_queries = []
        found_positions = []
        for table in self._tables:
            starts, lengths = table.directory.spans(
                _keys(queries, table.spec.key_bytes)
            )
            ends = np.cumsum(lengths)
            total = int(ends[-1])
            if not total:
                continue
            # Slots start .. start + length - 1 of each bucket, all in a row.
            starts += lengths
            starts -= ends
            slots = np.repeat(starts, lengths)
            slots += np.arange(total, dtype=np.int64)
            found_positions.append(table.positions.take(slots))
            found_queries.append(np.repeat(numbers, lengths))
        if not found_positions:
            return Hits.empty()
        positions = np.concatenate(found_positions)
        asked = np.concatenate(found_queries)
        xor = np.take(self._codes.view(np.uint64), positions, axis=0, mode=IN_RANGE)
        xor ^= np.take(queries.view(np.uint64), asked, axis=0, mode=IN_RANGE)
        rows, distances = within(xor, radius)
        return unique_pairs(Hits(asked[rows], positions[rows], distances), len(self))
