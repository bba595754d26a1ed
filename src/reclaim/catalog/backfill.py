"""The backfill: hash a platform's stored media into the content catalog.

A job lists its source once (`sources.MediaSource`), freezes that listing
in the catalog root (`jobs/<job>.listing.parquet`, with its SHA-256 in
`jobs/<job>.json`), and cuts it into batches of `batch_files` files and
shards of `shard_files` files (a whole number of batches). `hash_batch`
(`batches`) turns one batch into catalog items and bad-file lines; it is
pure, and runs the same in this process or in a Ray worker. The driver
gathers a shard's batches in listing order, writes the shard
(`CatalogStore.write`, origin `backfill-<job>`, first item number = the
shard's first file number), and only then records it done in the job's
checkpoint (`checkpoints`). So:

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
per batch, a fixed pool of actors, results streamed back in order), and the
batches of an actor that dies run again (Ray Data restarts actors and
retries their tasks on system failures); a batch hashed twice gives the
same items, so nothing doubles.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from reclaim.catalog.batches import (
    MAX_PIXELS,
    BatchHasher,
    BatchResult,
    from_row,
    hash_batch,
    peak_rss,
    to_row,
)
from reclaim.catalog.checkpoints import Checkpoint
from reclaim.catalog.errors import CatalogError, CatalogJobError
from reclaim.catalog.items import CatalogItem
from reclaim.catalog.ray_session import ray_session
from reclaim.catalog.sources import (
    MediaSource,
    ReferenceMode,
    SourceFile,
    canonical,
    reference_mode,
)
from reclaim.catalog.store import CatalogStore, check_origin

__all__ = ["BackfillStats", "BatchResult", "Progress", "backfill", "hash_batch"]

logger = logging.getLogger(__name__)

#: Files a batch holds: a task's unit of work, of retry and of progress.
BATCH_FILES = 64
#: Files a shard covers (rounded down to whole batches): the unit of a
#: checkpoint, and of reverse matching's work.
SHARD_FILES = 100_000


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


def job_name(source: str, reference: ReferenceMode = "path") -> str:
    """The default job name of a source: the same source gives the same job.

    A digest, not the path, so the name leaks nothing about the media.
    """
    key = f"{canonical(source)}\n{reference}".encode()
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
    if address is not None and canonical(source).startswith("memory://"):
        raise CatalogJobError(
            f"the source {source[:200]!r} lives in this process's memory: Ray "
            "workers cannot read it; run without an address"
        )
    checkpoint = Checkpoint.load(store, name)
    if checkpoint is None:
        checkpoint = Checkpoint.start(
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
    indices = [
        i for shard in checkpoint.pending() for i in checkpoint.shard_batches(shard)
    ]

    def files(index: int) -> list[SourceFile]:
        return _files(listing, index, checkpoint.batch_files)

    results: Generator[BatchResult, None, None]
    if address is None or not indices:
        results = (
            hash_batch(
                source,
                files(index),
                index=index,
                reference=reference,
                max_pixels=checkpoint.max_pixels,
            )
            for index in indices
        )
    else:
        results = _ray_results(
            [(index, files(index)) for index in indices],
            source=source,
            reference=reference,
            max_pixels=checkpoint.max_pixels,
            address=address,
            workers=workers,
        )
    # Closed even when a callback stops the job: Ray is shut down at once.
    with contextlib.closing(results):
        hashed, worker_rss = _drive(
            checkpoint,
            origin,
            indices,
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
        peak_rss=peak_rss(),
        worker_peak_rss=worker_rss,
    )


def _drive(
    checkpoint: Checkpoint,
    origin: str,
    indices: Sequence[int],
    results: Iterable[BatchResult],
    *,
    in_process: bool,
    on_progress: Callable[[Progress], None] | None,
    on_bad_file: Callable[[str], None] | None,
) -> tuple[int, int]:
    """Gather results into shards, write each, then record it done."""
    expected = iter(indices)
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
        hashed += checkpoint.batch_size(result.index)
        done += checkpoint.batch_size(result.index)
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


def _ray_results(
    batches: Sequence[tuple[int, Sequence[SourceFile]]],
    *,
    source: str,
    reference: ReferenceMode,
    max_pixels: int,
    address: str,
    workers: int | None,
) -> Generator[BatchResult, None, None]:
    """Hash the batches on Ray Data, yielding results in batch order."""
    with ray_session(address, cpus=workers):
        yield from _actor_results(
            batches,
            source=source,
            reference=reference,
            max_pixels=max_pixels,
            workers=workers,
        )


def _actor_results(
    batches: Sequence[tuple[int, Sequence[SourceFile]]],
    *,
    source: str,
    reference: ReferenceMode,
    max_pixels: int,
    workers: int | None,
) -> Generator[BatchResult, None, None]:
    """The batches through a fixed pool of hashing actors, in batch order."""
    import ray
    import ray.data
    from ray.data import ActorPoolStrategy

    # Untyped in Ray; one pool slot per CPU of the cluster.
    cpus = ray.cluster_resources().get("CPU", 1)  # type: ignore[no-untyped-call]
    size = workers or max(1, int(cpus))
    rows = [to_row(index, files) for index, files in batches]
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map(
        # Ray Data takes a class here and makes the actors of it.
        BatchHasher,  # type: ignore[arg-type]
        fn_constructor_kwargs={
            "source": source,
            "reference": reference,
            "max_pixels": max_pixels,
        },
        # A fixed pool, one actor a CPU, each with one batch queued. An
        # actor that dies is restarted and its batches run again (Ray
        # Data's defaults for actor pools).
        compute=ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=2),
        num_cpus=1,
    )
    # Shards are cut in listing order; Ray Data may otherwise reorder.
    dataset.context.execution_options.preserve_order = True
    dataset.context.enable_progress_bars = False
    try:
        for row in dataset.iter_rows():
            yield from_row(row)
    except ray.exceptions.RayError as error:
        # A task that failed for good (a worker lost past its retries, a
        # source the workers cannot open): the job stops, a rerun resumes.
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CatalogJobError(
            f"the backfill failed on Ray ({first[:300]}); fix the cause and "
            "rerun the same job to resume from its last checkpoint"
        ) from None
