"""The backfill: hash a platform's stored media into the content catalog.

A job lists its source once (`sources.MediaSource`), freezes that listing
in the catalog root (`jobs/<job>.listing.parquet`, with its SHA-256 in
`jobs/<job>.json`), and cuts it into batches of `batch_files` files and
shards of `shard_files` files (a whole number of batches). `hash_batch`
turns one batch into catalog items and bad-file lines; it is pure, and runs
the same in this process or in a Ray worker. The driver gathers a shard's
batches in listing order, writes the shard (`CatalogStore.write`, origin
`backfill-<job>`, first item number = the shard's first file number), and
only then records it done in the job file. So:

* a shard's name and content depend only on the frozen listing: a retried
  task, a resumed job or a crash between writing a shard and recording it
  writes the same file again, and no item is lost or written twice;
* rerunning a job resumes after its last recorded shard;
* memory is bounded: the driver holds one shard's items (at most 256 bytes
  each), a worker one file's bytes (images up to `MAX_IMAGE_BYTES`; other
  files are read in chunks for their MD5).

Where it runs: `address=None` hashes in this process, one batch after the
other, and never imports Ray. `address="local"` starts Ray on this machine;
any other address joins that Ray cluster (`ray.init(address=...)`), whose
workers must have reclaim installed and reach the source (object storage or
a shared mount). There the batches go through Ray Data (`map` over one block
per batch, a fixed pool of tasks, results streamed back in order), and a
task whose worker dies is run again (Ray Data retries tasks on system
failures); a batch hashed twice gives the same items, so nothing doubles.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import resource
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from reclaim.catalog.errors import (
    CatalogError,
    CatalogItemError,
    CatalogJobError,
)
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
    reference_mode,
    reference_of,
)
from reclaim.catalog.store import CatalogStore, check_origin
from reclaim.hashing import Md5Hash, MediaError, pdq_hash_dihedral
from reclaim.hashing.decoder import check_pixels, looks_like_image, truncated_images

logger = logging.getLogger(__name__)

#: Files a batch holds: a task's unit of work, of retry and of progress.
BATCH_FILES = 64
#: Files a shard covers (rounded down to whole batches): the unit of a
#: checkpoint, and of reverse matching's work.
SHARD_FILES = 100_000
#: The largest image the backfill decodes (the matcher's upload default);
#: a larger one is refused from its header and kept by its MD5 only.
MAX_PIXELS = 40_000_000
#: Image files past this size are kept by their MD5 only (never held whole).
MAX_IMAGE_BYTES = 256 * 1024 * 1024
#: How much of a file is read at a time for its MD5.
CHUNK_BYTES = 1024 * 1024
JOBS_DIR = "jobs"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch of files gave: catalog items, and one line per bad file."""

    index: int
    items: tuple[CatalogItem, ...]
    bad: tuple[str, ...]
    peak_rss: int = 0  # bytes, of the process that hashed it


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a job is, after each batch (files of the whole job)."""

    files_done: int
    files_total: int
    items: int
    bad: int


@dataclass(frozen=True, slots=True)
class BackfillStats:
    """A finished job: totals over all its runs, and this run's rate."""

    job: str
    files: int
    items: int
    bad: int
    shards: int
    hashed: int  # files hashed by this run (after resuming, the rest)
    seconds: float
    peak_rss: int  # bytes: this process
    worker_peak_rss: int  # bytes: the largest Ray worker (0 in one process)

    @property
    def files_per_second(self) -> float:
        """This run's rate."""
        return self.hashed / self.seconds if self.seconds > 0 else 0.0


# --------------------------------------------------------------- hashing


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
    return BatchResult(index, tuple(items), tuple(bad), _peak_rss())


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


def _peak_rss() -> int:
    """This process's peak resident memory, in bytes (Linux counts KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ------------------------------------------------------------------- job


def job_name(source: str, reference: ReferenceMode = "path") -> str:
    """The default job name of a source: the same source gives the same job.

    A digest, not the path, so the name leaks nothing about the media.
    """
    key = f"{_canonical(source)}\n{reference}".encode()
    return hashlib.sha256(key).hexdigest()[:12]


def backfill(
    source: str,
    catalog: str | CatalogStore,
    *,
    job: str | None = None,
    reference: ReferenceMode = "path",
    address: str | None = None,
    workers: int | None = None,
    batch_files: int | None = None,
    shard_files: int | None = None,
    max_pixels: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_bad_file: Callable[[str], None] | None = None,
) -> BackfillStats:
    """Hash every file of `source` into the catalog, resuming a started job.

    `job` names the job (default: `job_name(source, reference)`): rerunning
    it resumes from its checkpoint, with the listing, sizes and budget it
    started with (passing different ones is a CatalogJobError). `address`:
    None runs in this process; "local" starts Ray here with `workers` CPUs
    (default: all); anything else joins that Ray cluster. `on_progress` is
    called after each batch, `on_bad_file` with each bad-file line; an
    exception from either stops the job, which a rerun resumes.
    """
    started = time.perf_counter()
    reference = reference_mode(reference)
    store = catalog if isinstance(catalog, CatalogStore) else CatalogStore(catalog)
    name = job if job is not None else job_name(source, reference)
    origin = _origin(name)
    if address is not None and _canonical(source).startswith("memory://"):
        raise CatalogJobError(
            f"the source {source[:200]!r} lives in this process's memory: Ray "
            "workers cannot read it; run without an address"
        )
    checkpoint = _Checkpoint.load(store, name)
    if checkpoint is None:
        checkpoint = _Checkpoint.start(
            store,
            name,
            MediaSource(source),
            reference=reference,
            batch_files=batch_files or BATCH_FILES,
            shard_files=shard_files or SHARD_FILES,
            max_pixels=max_pixels or MAX_PIXELS,
        )
    else:
        checkpoint.check(
            source,
            reference=reference,
            batch_files=batch_files,
            shard_files=shard_files,
            max_pixels=max_pixels,
        )
    listing = checkpoint.listing()
    batches = [
        (index, _files(listing, index, checkpoint.batch_files))
        for shard in checkpoint.pending()
        for index in checkpoint.shard_batches(shard)
    ]
    if address is None or not batches:
        results: Iterable[BatchResult] = (
            hash_batch(
                source,
                files,
                index=index,
                reference=reference,
                max_pixels=checkpoint.max_pixels,
            )
            for index, files in batches
        )
    else:
        results = _ray_results(
            batches,
            source=source,
            reference=reference,
            max_pixels=checkpoint.max_pixels,
            address=address,
            workers=workers,
        )
    hashed, worker_rss = _drive(
        checkpoint,
        origin,
        batches,
        results,
        in_process=address is None,
        on_progress=on_progress,
        on_bad_file=on_bad_file,
    )
    return BackfillStats(
        job=name,
        files=checkpoint.files,
        items=checkpoint.items,
        bad=checkpoint.bad,
        shards=checkpoint.shards,
        hashed=hashed,
        seconds=time.perf_counter() - started,
        peak_rss=_peak_rss(),
        worker_peak_rss=worker_rss,
    )


def _drive(
    checkpoint: _Checkpoint,
    origin: str,
    batches: Sequence[tuple[int, Sequence[SourceFile]]],
    results: Iterable[BatchResult],
    *,
    in_process: bool,
    on_progress: Callable[[Progress], None] | None,
    on_bad_file: Callable[[str], None] | None,
) -> tuple[int, int]:
    """Gather results into shards, write each, then record it done."""
    sizes = {index: len(files) for index, files in batches}
    expected = iter(sizes)
    done = checkpoint.files_done
    items, bad = checkpoint.items, checkpoint.bad
    shard_items: list[CatalogItem] = []
    shard_bad = 0
    hashed = worker_rss = 0
    for result in results:
        if result.index != next(expected, None):
            raise CatalogJobError(
                f"batch {result.index} of job {checkpoint.job!r} came back out "
                "of order: expected listing order; rerun the job to resume"
            )
        shard_items.extend(result.items)
        shard_bad += len(result.bad)
        for line in result.bad:
            if on_bad_file is not None:
                on_bad_file(line)
        if not in_process:
            worker_rss = max(worker_rss, result.peak_rss)
        hashed += sizes[result.index]
        done += sizes[result.index]
        items += len(result.items)
        bad += len(result.bad)
        shard = checkpoint.shard_of(result.index)
        if result.index == checkpoint.shard_batches(shard)[-1]:
            checkpoint.finish(shard, origin, shard_items, shard_bad)
            shard_items, shard_bad = [], 0
        if on_progress is not None:
            on_progress(Progress(done, checkpoint.files, items, bad))
    return hashed, worker_rss


def _files(listing: pa.Table, index: int, batch_files: int) -> list[SourceFile]:
    rows = listing.slice(index * batch_files, batch_files).to_pylist()
    return [SourceFile(r["relative"], r["size"], r["modified"]) for r in rows]


def _origin(job: str) -> str:
    try:
        return check_origin(f"backfill-{job}")
    except CatalogError:
        raise CatalogJobError(
            f"{job[:40]!r} is not a usable job name: expected lower-case letters, "
            "digits, '.', '_' or '-', starting with a letter or digit"
        ) from None


def _canonical(source: str) -> str:
    """One spelling of a source: an absolute path, or the URL as given."""
    if "://" in source:
        return source.rstrip("/")
    return os.path.abspath(source)


LISTING_SCHEMA = pa.schema(
    [
        pa.field("relative", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("modified", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass(slots=True)
class _Checkpoint:
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
    ) -> _Checkpoint:
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
            source=_canonical(source.location),
            reference=reference,
            batch_files=batch_files,
            # A shard is whole batches: a batch's items never straddle two.
            shard_files=max(1, shard_files // batch_files) * batch_files,
            max_pixels=max_pixels,
            files=len(files),
            listing_sha256=hashlib.sha256(data).hexdigest(),
            created_at=datetime.now(UTC).isoformat(),
        )
        _write_atomically(store, checkpoint._listing_path, data)
        checkpoint.save()
        logger.info("backfill job %s: %d files listed", job, len(files))
        return checkpoint

    @classmethod
    def load(cls, store: CatalogStore, job: str) -> _Checkpoint | None:
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
            ("source", _canonical(source), self.source),
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
        _write_atomically(self.store, f"{JOBS_DIR}/{self.job}.json", data)

    @property
    def _listing_path(self) -> str:
        return f"{JOBS_DIR}/{self.job}.listing.parquet"


def _write_atomically(store: CatalogStore, relative: str, data: bytes) -> None:
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


# ------------------------------------------------------------------- Ray


def _ray_results(
    batches: Sequence[tuple[int, Sequence[SourceFile]]],
    *,
    source: str,
    reference: ReferenceMode,
    max_pixels: int,
    address: str,
    workers: int | None,
) -> Iterator[BatchResult]:
    """Hash the batches on Ray Data, yielding results in batch order."""
    import ray
    import ray.data
    from ray.data import TaskPoolStrategy

    started = False
    if not ray.is_initialized():
        try:
            if address == "local":
                ray.init(
                    num_cpus=workers or os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                    # Ray's own start-up notes are not the operator's concern.
                    logging_level=logging.ERROR,
                )
            else:
                ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise CatalogJobError(
                f"cannot start or join Ray at {address[:200]!r} ({error}); "
                "expected 'local' or a running cluster's address (ray://host:10001)"
            ) from None
        started = True
    try:
        # Untyped in Ray; one pool slot per CPU of the cluster.
        cpus = ray.cluster_resources().get("CPU", 1)  # type: ignore[no-untyped-call]
        size = workers or max(1, int(cpus))
        rows = [
            {
                "index": index,
                "relative": [f.relative for f in files],
                "size": [f.size for f in files],
                "modified": [_micros(f.modified) for f in files],
            }
            for index, files in batches
        ]
        task = functools.partial(
            _ray_task, source=source, reference=reference, max_pixels=max_pixels
        )
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map(
            task,
            compute=TaskPoolStrategy(size=size),
            # Each task takes one CPU; a task whose worker dies is run again
            # (Ray Data's default: tasks are retried on system failures).
            num_cpus=1,
        )
        # Shards are cut in listing order; Ray Data may otherwise reorder.
        dataset.context.execution_options.preserve_order = True
        dataset.context.enable_progress_bars = False
        for row in dataset.iter_rows():
            yield _from_row(row)
    finally:
        if started:
            ray.shutdown()


def _ray_task(
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


def _from_row(row: dict[str, Any]) -> BatchResult:
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
