"""Multi-index hashing: exact Hamming-radius search through short-key tables.

The pigeonhole principle makes it exact. Split the 256 bits into disjoint keys
of `key_bits` bits, one per table. If two codes are within radius R, and key t
is searched within r_t bits, where the (r_t + 1) add up to at least R + 1,
then at least one key is within its r_t: otherwise the distance would be at
least the sum of (r_t + 1) > R. So probing, in every table, each bucket within
r_t of the query's key finds every stored code within R; candidates are then
checked against the full 256 bits. The radii r_t are chosen per query, so one
set of tables serves any radius (large radii fall back to a flat scan).

Each table is a bucket directory over all 2**key_bits keys and the stored
positions sorted by key (see `buckets`): about 1.1 bytes a bucket and 3 bytes
a position. Keys are not stored: the directory says where each bucket starts.
The codes themselves are shared with the caller, in position order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reclaim.index.buckets import IN_RANGE as _IN_RANGE
from reclaim.index.buckets import Directory, PositionList, directory_bytes
from reclaim.index.buckets import position_bytes as _id_bytes
from reclaim.index.candidates import ball_size as _ball
from reclaim.index.candidates import flip_masks as _flip_masks
from reclaim.index.candidates import unique_pairs as _unique
from reclaim.index.candidates import within as _within
from reclaim.index.codes import CODE_BYTES, Codes
from reclaim.index.flat import search_numpy
from reclaim.index.hits import Hits

#: Estimated CPU costs in nanoseconds on one core, measured with this numpy
#: code at 0.3-1M codes (a bucket probe, a candidate checked) and with faiss's
#: flat scan (one code compared with one query).
PROBE_NS = 25.0
CANDIDATE_NS = 65.0
FLAT_NS = 2.5
#: numpy's own flat scan (the fallback for radii too large for the tables).
_NUMPY_FLAT_NS = 10.0

#: Candidates checked per batch of queries: bounds temporary memory to some
#: 16 MB; smaller batches pay more per-call overhead.
_BATCH_CANDIDATES = 1 << 17
#: Rows whose keys are extracted at once while building (bounds memory).
_BUILD_ROWS = 1 << 16


@dataclass(frozen=True, slots=True)
class MihPlan:
    """How many tables, and how many key bits each."""

    tables: int
    key_bits: int

    def __post_init__(self) -> None:
        if not (
            1 <= self.key_bits <= 24 and self.tables * self.key_bytes <= CODE_BYTES
        ):
            raise ValueError(f"{self} does not fit in {CODE_BYTES} bytes")

    @property
    def key_bytes(self) -> int:
        """Whole bytes each key is read from (its top `key_bits` are used)."""
        return -(-self.key_bits // 8)

    def byte_numbers(self) -> npt.NDArray[np.int64]:
        """(tables, key_bytes) code bytes: table t reads bytes t, t + m, ...

        Interleaving spreads each key over the whole hash (PDQ bit k is the
        DCT coefficient at row k // 16), so correlated neighbouring bits do
        not all land in one key; whole bytes keep key extraction cheap.
        """
        grid = np.arange(self.key_bytes)[None, :] * self.tables
        return grid + np.arange(self.tables)[:, None]

    def radii(self, radius: int) -> list[int]:
        """Per-table search radius r_t, with sum(r_t + 1) == radius + 1.

        A table with r_t == -1 is not searched.
        """
        base, extra = divmod(radius + 1, self.tables)
        return [base + (1 if t < extra else 0) - 1 for t in range(self.tables)]

    def probes(self, radius: int) -> int:
        """Buckets probed per query at this radius."""
        return sum(_ball(self.key_bits, r) for r in self.radii(radius) if r >= 0)

    def candidates(self, size: int, radius: int) -> float:
        """Expected candidates per query for uniformly random codes."""
        return self.probes(radius) * size / 2.0**self.key_bits

    def cost_ns(self, size: int, radius: int) -> float:
        """Estimated time per query, in nanoseconds."""
        probes = PROBE_NS * self.probes(radius)
        return float(probes + CANDIDATE_NS * self.candidates(size, radius))

    def bytes_per_code(self, size: int) -> float:
        """Memory of the tables per stored code (not counting the codes)."""
        directory = directory_bytes(self.key_bits, size) / max(size, 1)
        return float(self.tables * (_id_bytes(size) + directory))


def best_plan(size: int, *, radius: int, max_bytes: float | None) -> MihPlan | None:
    """The cheapest plan whose tables fit in `max_bytes` per code, if any."""
    best: tuple[float, MihPlan] | None = None
    for tables in range(1, CODE_BYTES + 1):
        for key_bits in range(1, min(24, 8 * (CODE_BYTES // tables)) + 1):
            plan = MihPlan(tables, key_bits)
            if max_bytes is not None and plan.bytes_per_code(size) > max_bytes:
                continue
            if max(plan.radii(radius)) >= key_bits:
                continue  # a table would be scanned whole
            cost = plan.cost_ns(size, radius)
            if best is None or cost < best[0]:
                best = (cost, plan)
    return None if best is None else best[1]


class _Table:
    """One key's bucket directory and the positions sorted by that key."""

    __slots__ = ("directory", "positions")

    def __init__(self, keys: npt.NDArray[np.uint32], key_bits: int) -> None:
        self.directory = Directory(keys, key_bits)
        self.positions = PositionList(_stable_argsort(keys))

    @property
    def nbytes(self) -> int:
        return self.directory.nbytes + self.positions.nbytes


def _stable_argsort(keys: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]:
    """Stable argsort of keys below 2**32 as two 16-bit radix passes."""
    low = (keys & 0xFFFF).astype(np.uint16)
    order = np.argsort(low, kind="stable")
    high = (keys[order] >> 16).astype(np.uint16)
    result: npt.NDArray[np.int64] = order[np.argsort(high, kind="stable")]
    return result


class MultiIndexHash:
    """Exact radius search over codes through `plan.tables` key tables."""

    __slots__ = (
        "_bytes",
        "_codes",
        "_plan",
        "_scan_when_cheaper",
        "_tables",
    )

    def __init__(
        self, codes: Codes, plan: MihPlan, *, scan_when_cheaper: bool = True
    ) -> None:
        self._codes = codes
        self._plan = plan
        self._scan_when_cheaper = scan_when_cheaper
        self._bytes = plan.byte_numbers()
        keys = self._keys(codes)
        self._tables = [_Table(keys[t], plan.key_bits) for t in range(plan.tables)]

    def __len__(self) -> int:
        return len(self._codes)

    @property
    def plan(self) -> MihPlan:
        """The table layout."""
        return self._plan

    @property
    def codes(self) -> Codes:
        """The stored codes, in position order."""
        return self._codes

    @property
    def name(self) -> str:
        """The structure, for logs and benchmarks: "mih(tables x key bits)"."""
        return f"mih({self._plan.tables}x{self._plan.key_bits})"

    @property
    def nbytes(self) -> int:
        """Bytes held: the codes and every table."""
        return int(self._codes.nbytes + sum(t.nbytes for t in self._tables))

    def uses_tables(self, radius: int) -> bool:
        """Whether a query at `radius` probes tables (else it scans)."""
        if max(self._plan.radii(radius)) >= self._plan.key_bits:
            return False
        if self._plan.probes(radius) >= 2**self._plan.key_bits:
            return False  # every bucket would be probed: scanning is simpler
        if not self._scan_when_cheaper:
            return True
        cost = self._plan.cost_ns(len(self), radius)
        return cost < _NUMPY_FLAT_NS * len(self)

    def search(self, queries: Codes, radius: int) -> Hits:
        """Every (query, position) pair within `radius` bits."""
        if not len(self._codes) or not len(queries):
            return Hits.empty()
        if not self.uses_tables(radius):
            return search_numpy(self._codes, queries, radius)
        # Candidates and probes per query bound a batch's temporary arrays.
        work = max(self._plan.candidates(len(self), radius), self._plan.probes(radius))
        step = max(1, int(_BATCH_CANDIDATES / work))
        parts = [
            self._search_batch(queries[first : first + step], radius).shifted_queries(
                first
            )
            for first in range(0, len(queries), step)
        ]
        return Hits.concat(parts)

    def _keys(self, codes: Codes) -> npt.NDArray[np.uint32]:
        """(tables, n) keys: each table's bits of each code, as an integer."""
        tables, key_bytes = self._bytes.shape
        drop = 8 * key_bytes - self._plan.key_bits
        keys = np.empty((tables, len(codes)), dtype=np.uint32)
        # Row blocks keep the column reads in cache.
        for first in range(0, len(codes), _BUILD_ROWS):
            block = codes[first : first + _BUILD_ROWS]
            for t in range(tables):
                key = keys[t, first : first + len(block)]
                key[:] = block[:, self._bytes[t, 0]]
                for byte in self._bytes[t, 1:]:
                    key <<= 8
                    key |= block[:, byte]
                key >>= drop
        return keys

    def _search_batch(self, queries: Codes, radius: int) -> Hits:
        keys = self._keys(queries)
        found_queries = []
        found_positions = []
        numbers = np.arange(len(queries), dtype=np.int64)
        for table, key, r in zip(
            self._tables, keys, self._plan.radii(radius), strict=True
        ):
            if r < 0:
                continue
            masks = _flip_masks(self._plan.key_bits, r)
            probes = (key[:, None] ^ masks).ravel()
            starts, lengths = table.directory.spans(probes)
            ends = np.cumsum(lengths)
            total = int(ends[-1])
            if not total:
                continue
            # Expand each probed bucket [start, start + length) into slots:
            # slot = start + (k - first k of its bucket) for k = 0 .. total - 1.
            starts += lengths
            starts -= ends
            slots = np.repeat(starts, lengths)
            slots += np.arange(total, dtype=np.int64)
            found_positions.append(table.positions.take(slots))
            per_query = np.diff(ends[len(masks) - 1 :: len(masks)], prepend=0)
            found_queries.append(np.repeat(numbers, per_query))
        if not found_positions:
            return Hits.empty()
        positions = np.concatenate(found_positions)
        asked = np.concatenate(found_queries)
        # np.take is several times faster than fancy indexing on 2-d arrays.
        xor = np.take(self._codes.view(np.uint64), positions, axis=0, mode=_IN_RANGE)
        xor ^= np.take(queries.view(np.uint64), asked, axis=0, mode=_IN_RANGE)
        rows, distances = _within(xor, radius)
        return _unique(Hits(asked[rows], positions[rows], distances), len(self))
