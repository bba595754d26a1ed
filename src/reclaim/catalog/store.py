"""Where the catalog lives: sharded Parquet files under one root.

The root is a local directory or any filesystem URL that pyarrow or fsspec
opens (`s3://bucket/catalog`, `gs://…`, `memory://…` in tests). Every shard
is one Parquet file in `items.SCHEMA`, written whole under a temporary name
and then renamed, so a reader never sees half a shard and a crash leaves at
most a temporary file (`.writing-…`, never read as a shard; safe to delete
once no job runs). Shards are the unit of work of reverse matching: each is read and
matched on its own, on whatever machine runs it.

Names: `<origin>-<first>-<last>.parquet`, where origin says who wrote it
(`uploads` for the matcher's own flushes, `backfill-<job>` for a backfill)
and first/last number the items it holds within that origin, zero-padded so
names sort in writing order.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from reclaim.catalog.errors import CatalogError
from reclaim.catalog.items import SCHEMA

SUFFIX = ".parquet"
_TEMPORARY = ".writing-"
_NAME = re.compile(
    r"(?P<origin>[a-z0-9][a-z0-9_.-]*)-(?P<first>\d{12})-(?P<last>\d{12})"
)
#: Rows per Parquet row group: a reader's unit of memory.
ROW_GROUP = 1 << 16


@dataclass(frozen=True, slots=True, order=True)
class Shard:
    """One shard file: its origin and the item numbers it holds."""

    origin: str
    first: int
    last: int

    @property
    def name(self) -> str:
        """The file name."""
        return f"{self.origin}-{self.first:012d}-{self.last:012d}{SUFFIX}"

    @property
    def items(self) -> int:
        """How many items it holds (at most: uploads' numbers have gaps)."""
        return self.last - self.first + 1

    @classmethod
    def parse(cls, name: str) -> Shard | None:
        """The shard a file name names, or None for any other file."""
        if not name.endswith(SUFFIX):
            return None
        found = _NAME.fullmatch(name[: -len(SUFFIX)])
        if found is None:
            return None
        return cls(found["origin"], int(found["first"]), int(found["last"]))


def check_origin(origin: str) -> str:
    """An origin name usable in shard names; CatalogError otherwise."""
    if not _NAME.fullmatch(f"{origin}-{0:012d}-{0:012d}"):
        raise CatalogError(
            f"{origin[:40]!r} is not a usable origin name: expected lower-case "
            "letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return origin


def open_root(root: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and path of a catalog root (directory or URL).

    pyarrow's own filesystems come first (local, S3, GCS, HDFS); any other
    URL scheme fsspec knows (memory://, az://, …) is opened through fsspec.
    """
    if "://" not in root:
        local = pafs.LocalFileSystem()
        return local, _local_path(root)
    try:
        filesystem, path = pafs.FileSystem.from_uri(root)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        import fsspec  # a scheme pyarrow lacks: fsspec's

        try:
            spec, path = fsspec.core.url_to_fs(root)
        except (ImportError, ValueError) as error:
            raise CatalogError(
                f"cannot open the catalog at {root[:200]!r}: {error}; expected a "
                "directory or a filesystem URL such as s3://bucket/catalog"
            ) from None
        filesystem = pafs.PyFileSystem(pafs.FSSpecHandler(spec))
    return filesystem, path.rstrip("/")


def _local_path(root: str) -> str:
    import os

    return os.path.abspath(root)


class CatalogStore:
    """The shards under one root."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.filesystem, self.path = open_root(root)
        try:
            self.filesystem.create_dir(self.path, recursive=True)
        except OSError as error:
            raise CatalogError(
                f"cannot create the catalog directory {root[:200]!r}: {error}; "
                "check the path and its permissions"
            ) from None

    def location(self, shard: Shard) -> str:
        """The shard's path on the filesystem."""
        return f"{self.path}/{shard.name}"

    def shards(self, *, origin: str | None = None) -> list[Shard]:
        """Every complete shard, in name order (optionally of one origin)."""
        try:
            infos = self.filesystem.get_file_info(
                pafs.FileSelector(self.path, allow_not_found=True)
            )
        except OSError as error:
            raise CatalogError(
                f"cannot list the catalog at {self.root[:200]!r}: {error}"
            ) from None
        found = []
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            shard = Shard.parse(info.base_name)
            if shard is not None and (origin is None or shard.origin == origin):
                found.append(shard)
        return sorted(found)

    def next_number(self, origin: str) -> int:
        """The first item number after every shard of this origin."""
        shards = self.shards(origin=origin)
        return max((s.last for s in shards), default=-1) + 1

    def write(
        self, origin: str, first: int, table: pa.Table, *, last: int | None = None
    ) -> Shard:
        """Write a table (`items.SCHEMA`) as the shard of items first, first+1, …
        (or of numbers first to `last`, for numbers with gaps).

        Written under a temporary name, then renamed: readers see all of it
        or nothing. Writing the same shard again replaces it with the same
        content (a retried job writes what it wrote before).
        """
        if not len(table):
            raise CatalogError("a shard with no items: write only non-empty tables")
        check_origin(origin)
        end = first + len(table) - 1 if last is None else last
        if end < first + len(table) - 1:
            raise CatalogError(
                f"items {first} to {end} cannot hold {len(table)} items: expected "
                "last >= first + items - 1"
            )
        shard = Shard(origin, first, end)
        final = self.location(shard)
        temporary = f"{self.path}/{_TEMPORARY}{uuid.uuid4().hex}-{shard.name}"
        table = table.select(SCHEMA.names).cast(SCHEMA)
        try:
            with self.filesystem.open_output_stream(temporary) as stream:
                pq.write_table(
                    table, stream, row_group_size=ROW_GROUP, compression="zstd"
                )
            self.filesystem.move(temporary, final)
        except OSError as error:
            raise CatalogError(
                f"cannot write catalog shard {shard.name} under "
                f"{self.root[:200]!r}: {error}; check free space and permissions"
            ) from None
        return shard

    def read(self, shard: Shard, *, columns: list[str] | None = None) -> pa.Table:
        """A shard's items (all columns, or these)."""
        try:
            with self.filesystem.open_input_file(self.location(shard)) as handle:
                return pq.read_table(handle, columns=columns)
        except (OSError, pa.ArrowInvalid) as error:
            raise CatalogError(
                f"cannot read catalog shard {shard.name} under "
                f"{self.root[:200]!r}: {error}; a damaged shard can be deleted "
                "and its items backfilled again"
            ) from None

    def batches(
        self, shard: Shard, *, columns: list[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """A shard's items a row group at a time (`ROW_GROUP` rows)."""
        try:
            with self.filesystem.open_input_file(self.location(shard)) as handle:
                reader = pq.ParquetFile(handle)
                for group in range(reader.num_row_groups):
                    yield from reader.read_row_group(
                        group, columns=columns
                    ).to_batches()
        except (OSError, pa.ArrowInvalid) as error:
            raise CatalogError(
                f"cannot read catalog shard {shard.name} under "
                f"{self.root[:200]!r}: {error}; a damaged shard can be deleted "
                "and its items backfilled again"
            ) from None

    def find(self, reference: str) -> pa.Table:
        """Every catalogued item of one reference, from every shard.

        Reads every shard's reference column first and the rest only of
        shards that hold it: for the few look-ups a removal request makes,
        not for bulk work.
        """
        found: list[pa.Table] = []
        for shard in self.shards():
            names = self.read(shard, columns=["reference"]).column("reference")
            if not pc.any(pc.equal(names, reference)).as_py():
                continue
            table = self.read(shard, columns=list(SCHEMA.names))
            found.append(table.filter(pc.equal(table.column("reference"), reference)))
        return pa.concat_tables(found) if found else SCHEMA.empty_table()

    def nbytes(self) -> int:
        """Bytes the shards take on the filesystem."""
        infos = self.filesystem.get_file_info([self.location(s) for s in self.shards()])
        return sum(info.size or 0 for info in infos)
