"""The backfill: real media into catalog shards, resumed, and the same on Ray."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import numpy as np
import pytest

from reclaim.catalog.backfill import BackfillStats, Progress, backfill, job_name
from reclaim.catalog.errors import CatalogJobError
from reclaim.catalog.items import CatalogItem, from_table
from reclaim.catalog.store import CatalogStore
from reclaim.hashing import pdq_hash_dihedral
from reclaim.hashing.decoder import truncated_images
from tests.catalog.media import LONG, MTIME

SIZES = {"batch_files": 2, "shard_files": 4}


def catalog(root: str | Path) -> dict[str, list[CatalogItem]]:
    """Every shard's items, by shard name."""
    store = CatalogStore(str(root))
    return {s.name: from_table(store.read(s)) for s in store.shards()}


def run(
    source: str | Path,
    root: str | Path,
    *,
    bad: list[str] | None = None,
    **options: object,
) -> BackfillStats:
    lines = bad if bad is not None else []
    return backfill(
        str(source),
        str(root),
        on_bad_file=lines.append,
        **{**SIZES, **options},  # type: ignore[arg-type]
    )


def test_every_kind_of_file(media: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    source, kinds = media
    bad: list[str] = []
    stats = run(source, tmp_path / "catalog", bad=bad)
    items = [i for shard in catalog(tmp_path / "catalog").values() for i in shard]
    by_reference = {i.reference: i for i in items}

    # One item per file but the empty one and the one whose path is too long,
    # in listing order, each once.
    assert [i.reference for i in items] == sorted(
        r for r, kind in kinds.items() if kind != "bad"
    )
    for reference, kind in kinds.items():
        if kind == "bad":
            continue
        data = (source / reference).read_bytes()
        item = by_reference[reference]
        assert item.md5 == hashlib.md5(data).digest()
        assert item.uploaded_at == datetime.fromtimestamp(MTIME, UTC)
        if kind == "image":
            with truncated_images():
                expected = pdq_hash_dihedral(data)[:4]
            assert item.pdq == b"".join(h.to_bytes() for h in expected), reference
            assert item.quality == expected[0].quality
        else:
            assert item.pdq is None and item.quality is None, reference

    # One line per bad file, naming it; the job did not stop for them.
    assert sorted(line.split(": ", 1)[0] for line in bad) == sorted(
        r for r, kind in kinds.items() if kind in ("bad", "corrupt")
    )
    lines = {line.split(": ", 1)[0]: line for line in bad}
    assert "kept by its MD5 only" in lines["corrupt.jpg"]
    assert "empty" in lines["empty.bin"]
    assert "at most 100 bytes" in lines[f"{LONG}/d.jpg"]
    assert all("\n" not in line for line in bad)
    assert (stats.files, stats.items, stats.bad) == (len(kinds), len(items), len(bad))
    assert stats.hashed == stats.files and stats.files_per_second > 0


def test_shards_are_cut_by_file_number(
    media: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    source, kinds = media
    stats = run(source, tmp_path / "catalog")
    names = list(catalog(tmp_path / "catalog"))
    origin = f"backfill-{job_name(str(source))}"
    # Four files a shard: shard k starts at item number 4k.
    assert [n.split("-")[2] for n in names] == [
        f"{4 * k:012d}" for k in range(-(-len(kinds) // 4))
    ]
    assert all(n.startswith(origin + "-") for n in names)
    assert stats.shards == len(names)


def test_references_by_name(tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    source = tmp_path / "media"
    (source / "ab").mkdir(parents=True)
    (source / "ab" / "0f3e9a.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 64)
    (source / "77c1.mp4").write_bytes(b"video bytes")
    run(source, tmp_path / "catalog", reference="name")
    items = [i for s in catalog(tmp_path / "catalog").values() for i in s]
    assert [i.reference for i in items] == ["77c1", "0f3e9a"]


def test_an_interrupted_job_resumes_to_the_same_catalog(
    media: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    source, kinds = media
    whole = run(source, tmp_path / "whole")

    seen: list[Progress] = []

    def stop_after_three(progress: Progress) -> None:
        seen.append(progress)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(source, tmp_path / "resumed", on_progress=stop_after_three)
    # Two batches made the first shard; the third is lost with the stop.
    assert len(catalog(tmp_path / "resumed")) == 1

    after: list[Progress] = []
    resumed = run(source, tmp_path / "resumed", on_progress=after.append)
    assert after[0].files_done == 4 + 2  # the first shard, then one batch
    assert after[-1] == Progress(len(kinds), len(kinds), whole.items, whole.bad)
    assert catalog(tmp_path / "resumed") == catalog(tmp_path / "whole")
    assert resumed.hashed == len(kinds) - 4
    assert (resumed.files, resumed.items, resumed.bad, resumed.shards) == (
        whole.files,
        whole.items,
        whole.bad,
        whole.shards,
    )


def test_a_shard_written_but_not_recorded_is_written_again_the_same(
    media: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """A crash between writing a shard and its checkpoint doubles nothing."""
    source, _ = media
    root = tmp_path / "catalog"
    run(source, root)
    before = catalog(root)
    record = root / "jobs" / f"{job_name(str(source))}.json"
    state = json.loads(record.read_text())
    state["shards"] = state["shards"][:1]
    state["complete"] = False
    record.write_text(json.dumps(state))

    again = run(source, root)
    assert catalog(root) == before
    references = [i.reference for s in before.values() for i in s]
    assert len(references) == len(set(references)) == again.items
    assert json.loads(record.read_text())["complete"] is True


def test_a_finished_job_hashes_nothing_more(
    media: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    source, _ = media
    first = run(source, tmp_path / "catalog")
    (source / "new.txt").write_text("added after the listing")
    again = run(source, tmp_path / "catalog")
    assert again.hashed == 0
    assert (again.files, again.items) == (first.files, first.items)


def test_a_job_name_must_suit_a_shard_name(tmp_path: Path) -> None:
    with pytest.raises(CatalogJobError, match="'Bad Name' is not a usable job name"):
        run(tmp_path, tmp_path / "catalog", job="Bad Name")


def test_a_memory_source(
    memory: fsspec.AbstractFileSystem, photos: dict[str, np.ndarray], tmp_path: Path
) -> None:
    from tests.conftest import encode

    picture = encode(photos["chelsea"], "PNG")
    memory.pipe("/media/p/1.png", picture)
    memory.pipe("/media/v.mp4", b"not decoded here")
    stats = run("memory://media", "memory://catalog")
    items = [i for s in catalog("memory://catalog").values() for i in s]
    assert [i.reference for i in items] == ["p/1.png", "v.mp4"]
    expected = pdq_hash_dihedral(picture)[:4]
    assert items[0].pdq == b"".join(h.to_bytes() for h in expected)
    assert items[1].md5 == hashlib.md5(b"not decoded here").digest()
    assert stats.bad == 0
    with pytest.raises(CatalogJobError, match="Ray workers cannot read it"):
        run("memory://media", tmp_path / "other", address="local")


# Ray 2.60's own DataContext() sets fields it then calls deprecated.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")
def test_ray_local_gives_the_same_catalog(
    media: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    import ray

    source, _ = media
    here_bad: list[str] = []
    there_bad: list[str] = []
    here = run(source, tmp_path / "here", bad=here_bad)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        there = run(source, tmp_path / "there", bad=there_bad, address="local")
    finally:
        ray.shutdown()
    assert catalog(tmp_path / "there") == catalog(tmp_path / "here")
    assert there_bad == here_bad
    assert (there.items, there.bad, there.shards) == (here.items, here.bad, here.shards)
    assert 0 < there.worker_peak_rss < 2 * 1024**3
