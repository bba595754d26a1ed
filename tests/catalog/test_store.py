"""The sharded Parquet store: atomic shards, names, any filesystem."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reclaim.catalog.errors import CatalogError
from reclaim.catalog.items import CatalogItem, from_table, to_table
from reclaim.catalog.store import CatalogStore, Shard

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def items(count: int, start: int = 0) -> list[CatalogItem]:
    return [
        CatalogItem(f"post-{n}", NOW, md5=n.to_bytes(16, "big"))
        for n in range(start, start + count)
    ]


@pytest.mark.parametrize("where", ["directory", "memory"])
def test_shards_are_written_whole_and_listed_in_order(
    tmp_path: Path, where: str
) -> None:
    import uuid

    root = (
        str(tmp_path / "c") if where == "directory" else f"memory://{uuid.uuid4().hex}"
    )
    store = CatalogStore(root)
    assert store.shards() == [] and store.next_number("uploads") == 0
    second = store.write("uploads", 3, to_table(items(2, 3)))
    first = store.write("uploads", 0, to_table(items(3)))
    backfill = store.write("backfill-a", 0, to_table(items(1)))
    assert store.shards() == [backfill, first, second]
    assert store.shards(origin="uploads") == [first, second]
    assert store.next_number("uploads") == 5
    assert from_table(store.read(second)) == items(2, 3)
    gapped = store.write("uploads", 10, to_table(items(2)), last=20)
    assert gapped.name == "uploads-000000000010-000000000020.parquet"
    assert store.nbytes() > 0


def test_half_written_files_and_strangers_are_not_shards(tmp_path: Path) -> None:
    store = CatalogStore(str(tmp_path))
    store.write("uploads", 0, to_table(items(1)))
    (tmp_path / ".writing-abc-uploads-000000000001-000000000001.parquet").write_bytes(
        b"half"
    )
    (tmp_path / "notes.txt").write_text("hello")
    assert [s.name for s in store.shards()] == [
        "uploads-000000000000-000000000000.parquet"
    ]
    assert Shard.parse("uploads-1-2.parquet") is None


def test_bad_input_gets_one_clear_error(tmp_path: Path) -> None:
    store = CatalogStore(str(tmp_path))
    with pytest.raises(CatalogError, match="no items"):
        store.write("uploads", 0, to_table([]))
    with pytest.raises(CatalogError, match="not a usable origin"):
        store.write("Up loads", 0, to_table(items(1)))
    with pytest.raises(CatalogError, match="cannot hold"):
        store.write("uploads", 0, to_table(items(3)), last=1)
    damaged = tmp_path / "uploads-000000000000-000000000000.parquet"
    damaged.write_bytes(b"not parquet")
    with pytest.raises(CatalogError, match="backfilled again"):
        store.read(Shard.parse(damaged.name))  # type: ignore[arg-type]
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(CatalogError, match="cannot create the catalog"):
        CatalogStore(str(blocked / "catalog"))
    with pytest.raises(CatalogError, match="cannot open the catalog"):
        CatalogStore("nosuchscheme-xyz://bucket/catalog")


def test_a_shard_reads_back_a_row_group_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reclaim.catalog import store as module

    monkeypatch.setattr(module, "ROW_GROUP", 2)
    store = CatalogStore(str(tmp_path))
    shard = store.write("uploads", 0, to_table(items(5)))
    parts = list(store.batches(shard, columns=["reference"]))
    assert [len(p) for p in parts] == [2, 2, 1]
    assert [r for p in parts for r in p.column(0).to_pylist()] == [
        f"post-{n}" for n in range(5)
    ]
