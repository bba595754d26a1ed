"""One batch of stored files into catalog items: the backfill's unit of work.

`hash_batch` is pure: it reads the files through their source and returns
items and bad-file lines, the same in the job's own process or in a Ray
worker, and the same when a retried task hashes a batch again. `ray_task`
wraps it for Ray Data (run by `BatchHasher` actors): a row of file names
in, a row of Arrow-packed items and bad-file lines out.
"""

from __future__ import annotations

import functools
import hashlib
import json
import resource
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from reclaim.catalog.errors import CatalogItemError
from reclaim.catalog.items import (
    SCHEMA,
    STORED_VARIANTS,
    CatalogItem,
    from_table,
    to_table,
)
from reclaim.catalog.sources import (
    MediaSource,
    ReferenceMode,
    SourceFile,
    reference_of,
)
from reclaim.hashing import Md5Hash, MediaError, pdq_hash_dihedral
from reclaim.hashing.decoder import check_pixels, looks_like_image, truncated_images

#: The largest image the backfill decodes (the matcher's upload default);
#: a larger one is refused from its header and kept by its MD5 only.
MAX_PIXELS = 40_000_000
#: Image files past this size are kept by their MD5 only (never held whole).
MAX_IMAGE_BYTES = 256 * 1024 * 1024
#: How much of a file is read at a time for its MD5.
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch of files gave: catalog items, and one line per bad file."""

    index: int
    items: tuple[CatalogItem, ...]
    bad: tuple[str, ...]
    peak_rss: int = 0  # bytes, of the process that hashed it


def hash_batch(
    source: MediaSource | str,
    files: Sequence[SourceFile],
    *,
    index: int = 0,
    reference: ReferenceMode = "path",
    max_pixels: int = MAX_PIXELS,
) -> BatchResult:
    """Hash a batch of stored files into catalog items and bad-file lines.

    An image gets its MD5 and the PDQ hashes of its four rotations
    (`items.STORED_VARIANTS`); a truncated one is hashed as a browser shows
    it. Anything else (videos included: no video is decoded here) gets its
    MD5 only. A bad file gives one line, "<path>: <reason>", with the path
    under the source (the reference, unless references are names):

    * an image that cannot be decoded, or past `max_pixels`: a line, and an
      item with its MD5 (an exact copy still matches);
    * a file that cannot be read, is empty, or whose reference the catalog
      cannot keep: a line and no item.

    Items are in the order of `files`, so a batch hashed twice (a retried
    task) gives the same result.
    """
    opened = _open_source(source) if isinstance(source, str) else source
    items: list[CatalogItem] = []
    bad: list[str] = []
    for file in files:
        item, problem = _hash_file(opened, file, reference, max_pixels)
        if item is not None:
            items.append(item)
        if problem is not None:
            bad.append(f"{file.relative}: {problem}")
    return BatchResult(index, tuple(items), tuple(bad), peak_rss())


def _hash_file(
    source: MediaSource, file: SourceFile, mode: ReferenceMode, max_pixels: int
) -> tuple[CatalogItem | None, str | None]:
    try:
        reference = reference_of(file.relative, mode)
        # Checked before reading: a reference the catalog refuses is no item.
        CatalogItem(reference, file.modified, md5=bytes(16))
    except CatalogItemError as error:
        return None, str(error)
    try:
        read = _read(source, file.relative)
    except OSError as error:
        return None, f"cannot read the file ({error}); check that it is readable"
    if read.size == 0:
        return None, "the file is empty (0 bytes): nothing to hash"
    md5_only = CatalogItem(reference, file.modified, md5=read.md5)
    if read.image is None:
        if read.size > MAX_IMAGE_BYTES and read.looks_like_image:
            return md5_only, (
                f"an image file of {read.size / 2**20:.0f} MiB: over the "
                f"{MAX_IMAGE_BYTES // 2**20} MiB the backfill decodes; kept by "
                "its MD5 only"
            )
        return md5_only, None
    try:
        check_pixels(read.image, max_pixels=max_pixels)
        with truncated_images():
            hashes = pdq_hash_dihedral(read.image)[: len(STORED_VARIANTS)]
    except MediaError as error:
        return md5_only, f"{error}; kept by its MD5 only"
    except Exception as error:  # noqa: BLE001
        # A decoder bug on one odd file must not stop a backfill of millions.
        return md5_only, f"the image cannot be decoded ({error}); kept by its MD5 only"
    item = CatalogItem.of_hashes(
        reference,
        file.modified,
        md5=Md5Hash(read.md5.hex()),
        pdq=hashes,
        labels=STORED_VARIANTS,
    )
    return item, None


@dataclass(frozen=True, slots=True)
class _Read:
    """A file's MD5 and size, and its bytes when it is an image to decode."""

    md5: bytes
    size: int
    looks_like_image: bool
    image: bytes | None


def _read(source: MediaSource, relative: str) -> _Read:
    """Read a file once: MD5 in chunks; an image's bytes kept for decoding."""
    digest = hashlib.md5(usedforsecurity=False)
    with source.open(relative) as stream:
        head = stream.read(CHUNK_BYTES)
        image = looks_like_image(head)
        digest.update(head)
        size = len(head)
        kept: list[bytes] | None = [head] if image else None
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            if kept is not None:
                kept.append(chunk)
                if size > MAX_IMAGE_BYTES:
                    kept = None
    return _Read(
        digest.digest(), size, image, b"".join(kept) if kept is not None else None
    )


@functools.lru_cache(maxsize=4)
def _open_source(location: str) -> MediaSource:
    """A source opened once per process (a Ray worker runs many batches)."""
    return MediaSource(location)


def peak_rss() -> int:
    """This process's peak resident memory, in bytes.

    Linux's VmHWM, of this program alone: `ru_maxrss` keeps the peak of
    whatever process exec'd it (a parent that spawned this one).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes there, KiB here
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def to_row(index: int, files: Sequence[SourceFile]) -> dict[str, Any]:
    """A batch of files as a Ray Data row (plain strings and integers)."""
    return {
        "index": index,
        "relative": [f.relative for f in files],
        "size": [f.size for f in files],
        "modified": [_micros(f.modified) for f in files],
    }


def ray_task(
    row: dict[str, Any], *, source: str, reference: ReferenceMode, max_pixels: int
) -> dict[str, Any]:
    """One batch in a Ray worker: `hash_batch`, packed as Arrow-friendly values."""
    files = [
        SourceFile(relative, int(size), _from_micros(int(modified)))
        for relative, size, modified in zip(
            row["relative"], row["size"], row["modified"], strict=True
        )
    ]
    result = hash_batch(
        source,
        files,
        index=int(row["index"]),
        reference=reference,
        max_pixels=max_pixels,
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, SCHEMA) as writer:
        writer.write_table(to_table(result.items))
    return {
        "index": result.index,
        "items": sink.getvalue().to_pybytes(),
        "bad": json.dumps(result.bad),
        "peak_rss": result.peak_rss,
    }


class BatchHasher:
    """A Ray Data actor that runs `ray_task` for one source, batch after batch.

    An actor, not a task a batch: it holds its next batch queued, so a CPU
    never waits for the scheduler between batches (tasks left 0.1-0.3 s gaps
    each), and it opens the source once.
    """

    def __init__(self, source: str, reference: ReferenceMode, max_pixels: int) -> None:
        self.source = source
        self.reference: ReferenceMode = reference
        self.max_pixels = max_pixels

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        """Hash one batch row."""
        return ray_task(
            row,
            source=self.source,
            reference=self.reference,
            max_pixels=self.max_pixels,
        )


def from_row(row: dict[str, Any]) -> BatchResult:
    """A `ray_task` row back as the batch's result."""
    with pa.ipc.open_stream(row["items"]) as reader:
        table = reader.read_all()
    return BatchResult(
        int(row["index"]),
        tuple(from_table(table)),
        tuple(json.loads(row["bad"])),
        int(row["peak_rss"]),
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    """A time as whole microseconds since 1970 (exact, unlike a float)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)
