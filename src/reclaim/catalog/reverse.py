"""Reverse matching: the catalogued items that newly listed hashes match.

Forward matching looks an upload's query hashes up in the list. Reverse
matching turns it round for content already held: the *new* listed hashes
are few, the catalog is huge, so the new hashes are indexed
(`ListedQuery`) and every shard's items stream through that index
(`match_shard`), one shard at a time, anywhere (`runner`).

The rule is the forward one, `reclaim.index.MatchRule`, on the hashes a
catalog item keeps: the upload's eight rotations and mirrors (four stored,
four as their bit-transposes, `items.transposed`). A listed hash matches an
item when some variant is within `rule.radius(variant)` of it: the upload
as it came within `distance`, the others within `derived`, exactly as
`match_pdq` treats an upload's first eight query hashes. The upload's
other query views (crops, bars, turns) are not kept (the 256-byte budget),
so a copy only those views would find is left to forward matching; MD5
matches exactly.

Per shard the cheaper of two exact searches runs (`ListedQuery.scans`): the
index of the new hashes built for the rule's radius (`PdqIndex` with
expanded tables, one look-up a table per query) when the shard has enough
items to repay building it, else a brute-force scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from reclaim.catalog.items import (
    MD5_BYTES,
    STORED_VARIANTS,
    TRANSPOSED_VARIANTS,
    pdq_codes,
    transposed,
)
from reclaim.hashing import DIHEDRAL_NAMES, SignalType
from reclaim.index import IndexArgumentError, ListRecord, MatchRule, PdqIndex
from reclaim.index.codes import as_codes
from reclaim.index.flat import FlatSearch
from reclaim.index.hits import Hits
from reclaim.index.mih import FLAT_NS

#: Query position (in `query_hashes` order) of each stored variant, and of
#: each stored variant's transpose: what `MatchRule.radius` is asked about.
_STORED_PLACE = np.array([DIHEDRAL_NAMES.index(n) for n in STORED_VARIANTS])
_TRANSPOSED_PLACE = np.array([DIHEDRAL_NAMES.index(n) for n in TRANSPOSED_VARIANTS])
_PDQ_HEX = re.compile(r"[0-9a-fA-F]{64}")
#: Measured costs (one core, `index/expanded.py`'s figures at 88k codes):
#: building the expanded tables, per stored code, and a query through them.
_BUILD_NS_PER_CODE = 110_000.0
_QUERY_NS = 1_500.0

#: Columns of a shard's hits (`CatalogHit` fields), as an Arrow schema.
HIT_SCHEMA = pa.schema(
    [
        pa.field("reference", pa.string(), nullable=False),
        pa.field("uploaded_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("listed", pa.int64(), nullable=False),  # ListedQuery.records
        pa.field("distance", pa.int32(), nullable=False),
        pa.field("variant", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True, slots=True)
class CatalogHit:
    """One catalogued item that one listed hash matches."""

    reference: str
    uploaded_at: datetime
    record: ListRecord
    distance: int
    #: Which of the item's views matched ("original", "rotate90", ... or "md5").
    variant: str

    @property
    def key(self) -> tuple[str, datetime, tuple[str, str, str, str]]:
        """What makes a hit the same hit (for merging and de-duplication)."""
        return (self.reference, self.uploaded_at, self.record.key)


@dataclass(slots=True)
class ListedQuery:
    """The new listed hashes, ready to match shards against.

    `records` are numbered in order; a hit's `listed` column is that number.
    PDQ codes are held twice, as listed and bit-transposed, so the index
    positions p < n are record `pdq_records[p]` as listed and n <= p < 2n
    the same record transposed.
    """

    rule: MatchRule
    records: list[ListRecord]
    pdq_numbers: npt.NDArray[np.int64]
    codes: npt.NDArray[np.uint8]
    md5: dict[bytes, list[int]]
    _index: PdqIndex | None = field(default=None, repr=False)

    @classmethod
    def of(cls, records: Iterable[ListRecord], *, rule: MatchRule) -> ListedQuery:
        """The query for these listed records (PDQ and MD5; vPDQ is skipped).

        Unparseable values are skipped, as the matchable list skips them.
        """
        kept: list[ListRecord] = []
        pdq: list[int] = []
        pdq_values: list[str] = []
        md5: dict[bytes, list[int]] = {}
        seen: set[tuple[str, str, str, str]] = set()
        for record in records:
            if not record.active or record.key in seen:
                continue
            if record.kind is SignalType.PDQ:
                if not _PDQ_HEX.fullmatch(record.value):
                    continue
                pdq.append(len(kept))
                pdq_values.append(record.value)
            elif record.kind is SignalType.MD5:
                try:
                    digest = bytes.fromhex(record.value)
                except ValueError:
                    continue
                if len(digest) != MD5_BYTES:
                    continue
                md5.setdefault(digest, []).append(len(kept))
            else:
                continue
            seen.add(record.key)
            kept.append(record)
        listed = as_codes(pdq_values)
        codes = np.ascontiguousarray(np.concatenate([listed, transposed(listed)]))
        return cls(rule, kept, np.array(pdq, dtype=np.int64), codes, md5)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def pdq_count(self) -> int:
        """Listed PDQ hashes (each is indexed twice: as listed, transposed)."""
        return len(self.pdq_numbers)

    def scans(self, queries: int, *, built: bool | None = None) -> bool:
        """Whether brute force beats the index for this many item hashes.

        Brute force costs `FLAT_NS` per (query, stored code) pair; the index
        a fixed cost per query, plus its build unless it is built already
        (by an earlier shard, or by the driver for every task).
        """
        stored = len(self.codes)
        ready = self._index is not None if built is None else built
        flat = FLAT_NS * stored * queries
        indexed = _QUERY_NS * queries + (0.0 if ready else _BUILD_NS_PER_CODE * stored)
        return flat <= indexed

    def index(self) -> PdqIndex:
        """The index of the new hashes (built on first use, then kept)."""
        if self._index is None:
            self._index = PdqIndex.build(
                self.codes, structure="expanded", radius=self.rule.search_radius
            )
        return self._index

    def search(self, queries: npt.NDArray[np.uint8], *, scan: bool) -> Hits:
        """Every (query, position) within the rule's widest radius."""
        radius = self.rule.search_radius
        if not scan:
            try:
                return self.index().search(queries, radius=radius)
            except IndexArgumentError:
                pass  # no table layout fits (a huge list): brute force, exact
        return FlatSearch(self.codes).search(queries, radius)


def match_shard(
    listed: ListedQuery, table: pa.Table, *, scan: bool | None = None
) -> pa.Table:
    """The hits of one shard's items (`items.SCHEMA` table), as `HIT_SCHEMA`.

    `scan` forces brute force (True) or the index (False); None picks the
    cheaper for the shard's size. Each (item row, listed record) pair is
    one hit, at its smallest distance.
    """
    parts = [_pdq_hits(listed, table, scan=scan), _md5_hits(listed, table)]
    found = pa.concat_tables(parts)
    return _best(found)


def _pdq_hits(listed: ListedQuery, table: pa.Table, *, scan: bool | None) -> pa.Table:
    rows, codes = pdq_codes(table)
    n = listed.pdq_count
    if not len(rows) or not n:
        return HIT_SCHEMA.empty_table()
    queries = np.ascontiguousarray(codes.reshape(-1, codes.shape[-1]))
    if scan is None:
        scan = listed.scans(len(queries))
    hits = listed.search(queries, scan=scan)
    variant = hits.queries % len(STORED_VARIANTS)
    flipped = hits.positions >= n
    place = np.where(flipped, _TRANSPOSED_PLACE[variant], _STORED_PLACE[variant])
    radius = np.array([listed.rule.radius(int(p)) for p in range(8)])[place]
    keep = hits.distances <= radius
    item_rows = rows[hits.queries[keep] // len(STORED_VARIANTS)]
    numbers = listed.pdq_numbers[hits.positions[keep] % n]
    names = np.array(DIHEDRAL_NAMES, dtype=object)[place[keep]]
    return _hit_table(table, item_rows, numbers, hits.distances[keep], names)


def _md5_hits(listed: ListedQuery, table: pa.Table) -> pa.Table:
    if not listed.md5:
        return HIT_SCHEMA.empty_table()
    column = table.column("md5")
    wanted = pa.array(list(listed.md5), type=column.type)
    found = np.flatnonzero(
        pc.fill_null(pc.is_in(column, value_set=wanted), False).to_numpy(
            zero_copy_only=False
        )
    )
    if not len(found):
        return HIT_SCHEMA.empty_table()
    digests = column.take(pa.array(found)).to_pylist()
    rows: list[int] = []
    numbers: list[int] = []
    for row, digest in zip(found.tolist(), digests, strict=True):
        for number in listed.md5[digest]:
            rows.append(row)
            numbers.append(number)
    return _hit_table(
        table,
        np.array(rows, dtype=np.int64),
        np.array(numbers, dtype=np.int64),
        np.zeros(len(rows), dtype=np.int32),
        np.array(["md5"] * len(rows), dtype=object),
    )


def _hit_table(
    table: pa.Table,
    rows: npt.NDArray[np.int64],
    numbers: npt.NDArray[np.int64],
    distances: npt.NDArray[np.int32],
    variants: npt.NDArray[np.object_],
) -> pa.Table:
    taken = pa.array(rows)
    return pa.table(
        {
            "reference": table.column("reference").take(taken),
            "uploaded_at": table.column("uploaded_at").take(taken),
            "listed": pa.array(numbers, type=pa.int64()),
            "distance": pa.array(distances, type=pa.int32()),
            "variant": pa.array(variants.tolist(), type=pa.string()),
        },
        schema=HIT_SCHEMA,
    )


def _best(found: pa.Table) -> pa.Table:
    """One row per (reference, uploaded_at, listed): the smallest distance."""
    if len(found) < 2:
        return found
    ordered = found.sort_by(
        [
            ("reference", "ascending"),
            ("uploaded_at", "ascending"),
            ("listed", "ascending"),
            ("distance", "ascending"),
            ("variant", "ascending"),
        ]
    )
    references = ordered.column("reference").to_pylist()
    times = ordered.column("uploaded_at").cast(pa.int64()).to_numpy()
    listed = ordered.column("listed").to_numpy()
    first = np.ones(len(ordered), dtype=bool)
    same = (
        (
            np.array(references[1:], dtype=object)
            == np.array(references[:-1], dtype=object)
        )
        & (times[1:] == times[:-1])
        & (listed[1:] == listed[:-1])
    )
    first[1:] = ~same
    return ordered.filter(pa.array(first))


def merge(listed: ListedQuery, tables: Sequence[pa.Table]) -> list[CatalogHit]:
    """Every shard's hits as one list: each (item, listed record) once, at its
    smallest distance, in (reference, time, record) order."""
    if not tables:
        return []
    best = _best(pa.concat_tables(tables))
    return [
        CatalogHit(
            reference,
            uploaded_at,
            listed.records[number],
            distance,
            variant,
        )
        for reference, uploaded_at, number, distance, variant in zip(
            best.column("reference").to_pylist(),
            best.column("uploaded_at").to_pylist(),
            best.column("listed").to_pylist(),
            best.column("distance").to_pylist(),
            best.column("variant").to_pylist(),
            strict=True,
        )
    ]
