"""One catalogued piece of content: what reverse matching needs, nothing more.

A platform that opts in (`[catalog] enabled = true`) keeps, for every upload
the matcher sees and every file a backfill hashes, one `CatalogItem`: the
platform's own content id (`reference`), when it was uploaded, its MD5, and
four PDQ hashes of the picture: the upload as it came and turned by 90, 180
and 270 degrees. The other four of its eight rotations and mirrors are not
stored: each is the bit-transpose of one of these (`transposed`), exactly,
so reverse matching looks up each listed hash and its transpose and meets
all eight. No media, no file name, no other personal data.

Budget: at most 256 bytes an item (`ITEM_BYTES`): 128 for the hashes, 16
for the MD5, 8 for the time, 1 for the quality and at most
`MAX_REFERENCE_BYTES` for the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from reclaim.catalog.errors import CatalogItemError
from reclaim.hashing import DIHEDRAL_NAMES, Md5Hash, PdqHash

#: The dihedral variants an item stores, in this order (`query_hashes` order).
STORED_VARIANTS: tuple[str, ...] = DIHEDRAL_NAMES[:4]
#: For each stored variant, the variant its bit-transpose is.
TRANSPOSED_VARIANTS: tuple[str, ...] = (
    "flip_plus1",
    "flipy",
    "flip_minus1",
    "flipx",
)
PDQ_BYTES = 32
STORED_PDQ_BYTES = PDQ_BYTES * len(STORED_VARIANTS)
MD5_BYTES = 16
#: The longest platform content id kept (UTF-8 bytes).
MAX_REFERENCE_BYTES = 100
#: The most an item may take: hashes, MD5, time, quality and reference.
ITEM_BYTES = 256

#: The Parquet schema of every catalog shard.
SCHEMA = pa.schema(
    [
        pa.field("reference", pa.string(), nullable=False),
        pa.field("uploaded_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("md5", pa.binary(MD5_BYTES), nullable=True),
        pa.field("pdq", pa.binary(STORED_PDQ_BYTES), nullable=True),
        pa.field("quality", pa.uint8(), nullable=True),
    ]
)


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """One piece of content the platform holds.

    `pdq` is the four stored variants' hashes, 128 bytes, or None for a
    video (matched by its MD5 only) or a picture that could not be hashed by
    PDQ; `quality` is the PDQ quality (the same for every variant).
    """

    reference: str
    uploaded_at: datetime
    md5: bytes | None = None
    pdq: bytes | None = None
    quality: int | None = None

    def __post_init__(self) -> None:
        check_reference(self.reference)
        if self.uploaded_at.tzinfo is None:
            raise CatalogItemError(
                f"upload time {self.uploaded_at.isoformat()} has no time zone: "
                "expected an aware datetime (UTC)"
            )
        if self.md5 is not None and len(self.md5) != MD5_BYTES:
            raise CatalogItemError(
                f"an MD5 of {len(self.md5)} bytes: expected {MD5_BYTES}"
            )
        if self.pdq is not None and len(self.pdq) != STORED_PDQ_BYTES:
            raise CatalogItemError(
                f"PDQ hashes of {len(self.pdq)} bytes: expected "
                f"{STORED_PDQ_BYTES} ({', '.join(STORED_VARIANTS)})"
            )
        if self.quality is not None and not 0 <= self.quality <= 100:
            raise CatalogItemError(f"PDQ quality {self.quality}: expected 0 to 100")
        if self.md5 is None and self.pdq is None:
            raise CatalogItemError(
                f"item {self.reference!r} has neither an MD5 nor PDQ hashes: "
                "there would be nothing to match it by"
            )

    @classmethod
    def of_hashes(
        cls,
        reference: str,
        uploaded_at: datetime,
        *,
        md5: Md5Hash | None,
        pdq: Sequence[PdqHash] = (),
        labels: Sequence[str] = (),
    ) -> CatalogItem:
        """The item for an upload's hashes (`MediaHashes`' md5, pdq, labels).

        `pdq` must start with the upload's rotations in `query_hashes` order
        (labels "original", "rotate90", "rotate180", "rotate270"); with fewer
        (a video, or PDQ hashing without rotations) only the MD5 is kept.
        """
        stored: bytes | None = None
        quality: int | None = None
        if len(pdq) >= len(STORED_VARIANTS) and (
            not labels or tuple(labels[: len(STORED_VARIANTS)]) == STORED_VARIANTS
        ):
            first = pdq[: len(STORED_VARIANTS)]
            stored = b"".join(h.to_bytes() for h in first)
            quality = first[0].quality
        return cls(
            reference,
            uploaded_at.astimezone(UTC),
            md5=bytes.fromhex(md5.hex) if md5 is not None else None,
            pdq=stored,
            quality=quality,
        )

    @property
    def nbytes(self) -> int:
        """What this item takes, by the budget's count."""
        return (
            len(self.reference.encode())
            + 8
            + (MD5_BYTES if self.md5 is not None else 0)
            + (STORED_PDQ_BYTES if self.pdq is not None else 0)
            + (1 if self.quality is not None else 0)
        )


def check_reference(reference: object) -> str:
    """The reference, if the catalog can keep it; CatalogItemError otherwise."""
    if not isinstance(reference, str) or not reference.strip():
        raise CatalogItemError(
            f"{str(reference)[:40]!r} is not a content reference: expected the "
            "platform's own, non-empty id for the content (what it removes)"
        )
    size = len(reference.encode())
    if size > MAX_REFERENCE_BYTES:
        raise CatalogItemError(
            f"a content reference of {size} bytes: the catalog keeps at most "
            f"{MAX_REFERENCE_BYTES} bytes a reference; pass the platform's "
            "content id, not a URL or path"
        )
    return reference


def to_table(items: Sequence[CatalogItem]) -> pa.Table:
    """Items as an Arrow table in `SCHEMA`."""
    return pa.Table.from_pydict(
        {
            "reference": [i.reference for i in items],
            "uploaded_at": [i.uploaded_at for i in items],
            "md5": [i.md5 for i in items],
            "pdq": [i.pdq for i in items],
            "quality": [i.quality for i in items],
        },
        schema=SCHEMA,
    )


def from_table(table: pa.Table) -> list[CatalogItem]:
    """Items back from a table in `SCHEMA` (for tests and small reads)."""
    columns = table.select(SCHEMA.names).to_pydict()
    return [
        CatalogItem(
            reference,
            uploaded_at,
            md5=md5,
            pdq=pdq,
            quality=quality,
        )
        for reference, uploaded_at, md5, pdq, quality in zip(
            columns["reference"],
            columns["uploaded_at"],
            columns["md5"],
            columns["pdq"],
            columns["quality"],
            strict=True,
        )
    ]


def pdq_codes(table: pa.Table) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """The rows with PDQ hashes, and their hashes as (rows, 4, 32) uint8 codes.

    Variant v of row k is `codes[k, v]` (`STORED_VARIANTS` order), in
    `reclaim.index` code layout (`PdqHash.to_bytes()`).
    """
    column = table.column("pdq").combine_chunks()
    valid = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    rows = np.flatnonzero(valid).astype(np.int64)
    if not len(rows):
        return rows, np.empty((0, len(STORED_VARIANTS), PDQ_BYTES), np.uint8)
    kept = column.filter(pa.array(valid))
    data = np.frombuffer(kept.buffers()[1], dtype=np.uint8)
    start = kept.offset * STORED_PDQ_BYTES
    flat = data[start : start + len(kept) * STORED_PDQ_BYTES]
    return rows, flat.reshape(len(kept), len(STORED_VARIANTS), PDQ_BYTES)


def transposed(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Each (…, 32) code's 16x16 bit grid transposed.

    PDQ bit k is the DCT coefficient at row k // 16, column k % 16, and a
    picture's transpose has the transposed DCT with the same median, so this
    is, bit for bit, the hash of the transposed picture: variant
    `TRANSPOSED_VARIANTS[v]` of an item is `transposed(codes[k, v])`.
    """
    shape = codes.shape
    bits = np.unpackbits(codes.reshape(-1, PDQ_BYTES), axis=1)
    grid = bits.reshape(-1, 16, 16).transpose(0, 2, 1).reshape(-1, 256)
    return np.packbits(grid, axis=1).reshape(shape)
