"""A backfill job's checkpoint: its frozen listing and the shards it wrote.

Both live in the catalog root, under `jobs/`: `<job>.listing.parquet` (every
file's path under the source, size and time, in listing order) and
`<job>.json` (what the job started with, the listing's SHA-256, and each
finished shard). The JSON is rewritten whole, atomically, after each shard
is written, so a job stopped anywhere resumes after its last recorded shard.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from reclaim.catalog.errors import CatalogJobError
from reclaim.catalog.items import CatalogItem, to_table
from reclaim.catalog.sources import MediaSource, ReferenceMode, canonical
from reclaim.catalog.store import CatalogStore

logger = logging.getLogger(__name__)

JOBS_DIR = "jobs"
_VERSION = 1

LISTING_SCHEMA = pa.schema(
    [
        pa.field("relative", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("modified", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass(slots=True)
class Checkpoint:
    """A job's record in the catalog root: `jobs/<job>.json` and its listing.

    The JSON holds what the job was started with (source, reference mode,
    sizes, pixel budget, the listing's file count and SHA-256) and, for each
    finished shard, the shard written (None if every file was bad) and its
    item and bad-file counts. It is rewritten whole, atomically, after each
    shard is written.
    """

    store: CatalogStore
    job: str
    source: str
    reference: str
    batch_files: int
    shard_files: int
    max_pixels: int
    files: int
    listing_sha256: str
    created_at: str
    done: dict[int, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        store: CatalogStore,
        job: str,
        source: MediaSource,
        *,
        reference: ReferenceMode,
        batch_files: int,
        shard_files: int,
        max_pixels: int,
    ) -> Checkpoint:
        """List the source, save the listing, and record a fresh job."""
        for label, value in (
            ("batch size", batch_files),
            ("shard size", shard_files),
            ("pixel budget", max_pixels),
        ):
            if value < 1:
                raise CatalogJobError(f"a {label} of {value}: expected at least 1")
        files = list(source.files())
        table = pa.Table.from_pydict(
            {
                "relative": [f.relative for f in files],
                "size": [f.size for f in files],
                "modified": [f.modified for f in files],
            },
            schema=LISTING_SCHEMA,
        )
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        data = buffer.getvalue()
        checkpoint = cls(
            store=store,
            job=job,
            source=canonical(source.location),
            reference=reference,
            batch_files=batch_files,
            # A shard is whole batches: a batch's items never straddle two.
            shard_files=max(1, shard_files // batch_files) * batch_files,
            max_pixels=max_pixels,
            files=len(files),
            listing_sha256=hashlib.sha256(data).hexdigest(),
            created_at=datetime.now(UTC).isoformat(),
        )
        write_atomically(store, checkpoint._listing_path, data)
        checkpoint.save()
        logger.info("backfill job %s: %d files listed", job, len(files))
        return checkpoint

    @classmethod
    def load(cls, store: CatalogStore, job: str) -> Checkpoint | None:
        """The job's record, or None for a job not started yet."""
        path = f"{store.path}/{JOBS_DIR}/{job}.json"
        try:
            with store.filesystem.open_input_stream(path) as stream:
                record = json.loads(stream.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise CatalogJobError(
                f"cannot read the checkpoint of backfill job {job!r} ({error}); "
                f"delete {JOBS_DIR}/{job}.json under the catalog to start over"
            ) from None
        if record.get("version") != _VERSION:
            raise CatalogJobError(
                f"backfill job {job!r} has a checkpoint of version "
                f"{record.get('version')!r}: expected {_VERSION}; finish it with "
                "the reclaim that started it, or start a new job"
            )
        return cls(
            store=store,
            job=job,
            source=record["source"],
            reference=record["reference"],
            batch_files=record["batch_files"],
            shard_files=record["shard_files"],
            max_pixels=record["max_pixels"],
            files=record["files"],
            listing_sha256=record["listing_sha256"],
            created_at=record["created_at"],
            done={int(d["index"]): d for d in record["shards"]},
        )

    def check(
        self,
        source: str,
        *,
        reference: ReferenceMode,
        batch_files: int | None,
        shard_files: int | None,
        max_pixels: int | None,
    ) -> None:
        """Refuse to resume this job with other settings than it started with."""
        given: list[tuple[str, object, object]] = [
            ("source", canonical(source), self.source),
            ("reference mode", reference, self.reference),
        ]
        if batch_files is not None:
            given.append(("batch size", batch_files, self.batch_files))
        if shard_files is not None:
            rounded = max(1, shard_files // self.batch_files) * self.batch_files
            given.append(("shard size", rounded, self.shard_files))
        if max_pixels is not None:
            given.append(("pixel budget", max_pixels, self.max_pixels))
        for label, value, recorded in given:
            if value != recorded:
                raise CatalogJobError(
                    f"backfill job {self.job!r} was started with another "
                    f"{label} ({str(recorded)[:200]!r}, not {str(value)[:200]!r}): "
                    "rerun it with the same, or name a new job with --job"
                )

    def listing(self) -> pa.Table:
        """The frozen listing, checked against its digest."""
        try:
            path = f"{self.store.path}/{self._listing_path}"
            with self.store.filesystem.open_input_stream(path) as stream:
                data = stream.read()
        except OSError as error:
            raise CatalogJobError(
                f"cannot read the file listing of backfill job {self.job!r} "
                f"({error}); delete {JOBS_DIR}/{self.job}.* under the catalog to "
                "start over"
            ) from None
        if hashlib.sha256(data).hexdigest() != self.listing_sha256:
            raise CatalogJobError(
                f"the file listing of backfill job {self.job!r} does not match its "
                f"checkpoint: delete {JOBS_DIR}/{self.job}.* under the catalog to "
                "start over"
            )
        return pq.read_table(io.BytesIO(data)).cast(LISTING_SCHEMA)

    @property
    def batches(self) -> int:
        """Batches in the job."""
        return -(-self.files // self.batch_files)

    @property
    def per_shard(self) -> int:
        """Batches a shard covers."""
        return self.shard_files // self.batch_files

    @property
    def shards(self) -> int:
        """Shards written so far (a shard of only bad files writes none)."""
        return sum(1 for d in self.done.values() if d["shard"] is not None)

    @property
    def items(self) -> int:
        """Items in the finished shards."""
        return sum(int(d["items"]) for d in self.done.values())

    @property
    def bad(self) -> int:
        """Bad files in the finished shards."""
        return sum(int(d["bad"]) for d in self.done.values())

    @property
    def files_done(self) -> int:
        """Files in the finished shards."""
        return sum(
            min(self.files, (shard + 1) * self.shard_files) - shard * self.shard_files
            for shard in self.done
        )

    def pending(self) -> list[int]:
        """The shards not finished yet, in order."""
        count = -(-self.batches // self.per_shard)
        return [shard for shard in range(count) if shard not in self.done]

    def shard_batches(self, shard: int) -> range:
        """The batches a shard covers."""
        first = shard * self.per_shard
        return range(first, min(self.batches, first + self.per_shard))

    def batch_size(self, batch: int) -> int:
        """Files in a batch (the last one may hold fewer)."""
        return min(self.batch_files, self.files - batch * self.batch_files)

    def shard_of(self, batch: int) -> int:
        """The shard a batch belongs to."""
        return batch // self.per_shard

    def finish(
        self, shard: int, origin: str, items: Sequence[CatalogItem], bad: int
    ) -> None:
        """Write a shard's items, then record the shard done."""
        written = None
        if items:
            first = shard * self.shard_files
            written = self.store.write(origin, first, to_table(items)).name
        self.done[shard] = {
            "index": shard,
            "shard": written,
            "items": len(items),
            "bad": bad,
        }
        self.save()

    def save(self) -> None:
        """Write the record (atomically: the old one or the new, never half)."""
        record = {
            "version": _VERSION,
            "job": self.job,
            "source": self.source,
            "reference": self.reference,
            "batch_files": self.batch_files,
            "shard_files": self.shard_files,
            "max_pixels": self.max_pixels,
            "files": self.files,
            "listing": f"{self.job}.listing.parquet",
            "listing_sha256": self.listing_sha256,
            "created_at": self.created_at,
            "complete": not self.pending(),
            "shards": [self.done[k] for k in sorted(self.done)],
        }
        data = json.dumps(record, indent=1, sort_keys=True).encode()
        write_atomically(self.store, f"{JOBS_DIR}/{self.job}.json", data)

    @property
    def _listing_path(self) -> str:
        return f"{JOBS_DIR}/{self.job}.listing.parquet"


def write_atomically(store: CatalogStore, relative: str, data: bytes) -> None:
    """Write a file under the catalog root whole, by a temporary name."""
    final = f"{store.path}/{relative}"
    directory, _, name = final.rpartition("/")
    temporary = f"{directory}/.writing-{uuid.uuid4().hex}-{name}"
    try:
        store.filesystem.create_dir(directory, recursive=True)
        with store.filesystem.open_output_stream(temporary) as stream:
            stream.write(data)
        store.filesystem.move(temporary, final)
    except OSError as error:
        raise CatalogJobError(
            f"cannot write {relative} under the catalog {store.root[:200]!r} "
            f"({error}); check free space and permissions"
        ) from None
