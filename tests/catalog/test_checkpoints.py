"""Backfill checkpoints: the frozen listing, shard bookkeeping, refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reclaim.catalog.checkpoints import Checkpoint
from reclaim.catalog.errors import CatalogJobError
from reclaim.catalog.items import CatalogItem
from reclaim.catalog.sources import MediaSource
from reclaim.catalog.store import CatalogStore

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    for number in range(11):
        path = root / f"d{number % 3}" / f"{number:02d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([number]) * (number + 1))
    return root


def start(source: Path, store: CatalogStore, **sizes: int) -> Checkpoint:
    return Checkpoint.start(
        store,
        "job",
        MediaSource(str(source)),
        reference="path",
        batch_files=sizes.get("batch_files", 2),
        shard_files=sizes.get("shard_files", 5),
        max_pixels=1000,
    )


def test_the_listing_is_frozen_in_order(source: Path, tmp_path: Path) -> None:
    store = CatalogStore(str(tmp_path / "catalog"))
    checkpoint = start(source, store)
    (source / "d0" / "late.bin").write_bytes(b"added after the listing")
    listing = Checkpoint.load(store, "job").listing()  # type: ignore[union-attr]
    relatives = listing.column("relative").to_pylist()
    assert relatives == sorted(relatives) and len(relatives) == 11 == checkpoint.files
    assert listing.column("size").to_pylist()[0] == 1


def test_shards_are_whole_batches(source: Path, tmp_path: Path) -> None:
    checkpoint = start(source, CatalogStore(str(tmp_path / "c")), shard_files=5)
    # 5 files a shard rounds down to 2 batches of 2: 11 files, 6 batches, 3 shards.
    assert (checkpoint.shard_files, checkpoint.batches) == (4, 6)
    assert checkpoint.pending() == [0, 1, 2]
    assert [list(checkpoint.shard_batches(s)) for s in range(3)] == [
        [0, 1],
        [2, 3],
        [4, 5],
    ]
    assert [checkpoint.shard_of(b) for b in range(6)] == [0, 0, 1, 1, 2, 2]
    assert [checkpoint.batch_size(b) for b in range(6)] == [2, 2, 2, 2, 2, 1]


def test_finished_shards_are_recorded_and_reloaded(
    source: Path, tmp_path: Path
) -> None:
    store = CatalogStore(str(tmp_path / "c"))
    checkpoint = start(source, store, shard_files=4)
    items = [CatalogItem(f"r{n}", WHEN, md5=bytes(16)) for n in range(3)]
    checkpoint.finish(2, "backfill-job", items, bad=0)  # the last shard: 3 files
    checkpoint.finish(1, "backfill-job", [], bad=4)  # every file bad: no shard
    again = Checkpoint.load(store, "job")
    assert again is not None
    assert again.pending() == [0]
    assert (again.items, again.bad, again.shards, again.files_done) == (3, 4, 1, 7)
    assert [s.name for s in store.shards()] == [
        "backfill-job-000000000008-000000000010.parquet"
    ]
    record = json.loads((tmp_path / "c" / "jobs" / "job.json").read_text())
    assert record["complete"] is False
    assert [s["shard"] for s in record["shards"]] == [
        None,
        "backfill-job-000000000008-000000000010.parquet",
    ]
    # No temporary file is left beside the record.
    assert sorted(p.name for p in (tmp_path / "c" / "jobs").iterdir()) == [
        "job.json",
        "job.listing.parquet",
    ]


def test_a_job_resumes_only_as_it_started(source: Path, tmp_path: Path) -> None:
    store = CatalogStore(str(tmp_path / "c"))
    checkpoint = start(source, store)
    same = {"batch_files": 2, "shard_files": 5, "max_pixels": 1000}
    checkpoint.check(str(source), reference="path", **same)
    checkpoint.check(
        str(source),
        reference="path",
        batch_files=None,
        shard_files=None,
        max_pixels=None,
    )
    for change, message in [
        ({"shard_files": 8}, "another shard size"),
        ({"batch_files": 3}, "another batch size"),
        ({"max_pixels": 10}, "another pixel budget"),
    ]:
        with pytest.raises(CatalogJobError, match=message):
            checkpoint.check(str(source), reference="path", **{**same, **change})
    with pytest.raises(CatalogJobError, match="another source"):
        checkpoint.check(str(tmp_path), reference="path", **same)
    with pytest.raises(CatalogJobError, match="another reference mode"):
        checkpoint.check(str(source), reference="name", **same)


def test_damage_is_refused_with_the_fix(source: Path, tmp_path: Path) -> None:
    store = CatalogStore(str(tmp_path / "c"))
    start(source, store)
    jobs = tmp_path / "c" / "jobs"
    listing = jobs / "job.listing.parquet"
    listing.write_bytes(listing.read_bytes()[:-1] + b"!")
    with pytest.raises(CatalogJobError, match="delete jobs/job.\\* under the catalog"):
        Checkpoint.load(store, "job").listing()  # type: ignore[union-attr]
    record = json.loads((jobs / "job.json").read_text())
    (jobs / "job.json").write_text(json.dumps({**record, "version": 99}))
    with pytest.raises(CatalogJobError, match="checkpoint of version 99"):
        Checkpoint.load(store, "job")
    (jobs / "job.json").write_text("{not json")
    with pytest.raises(CatalogJobError, match="cannot read the checkpoint"):
        Checkpoint.load(store, "job")
    assert Checkpoint.load(store, "other") is None


def test_sizes_must_be_positive(source: Path, tmp_path: Path) -> None:
    with pytest.raises(CatalogJobError, match="a batch size of 0: expected at least 1"):
        start(source, CatalogStore(str(tmp_path / "c")), batch_files=0)
