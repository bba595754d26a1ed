"""Rescans in this process and on a real two-node Ray cluster agree, and a
node lost mid-job loses and doubles no hit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from reclaim.catalog.errors import CatalogError, CatalogJobError
from reclaim.catalog.items import CatalogItem, to_table
from reclaim.catalog.reverse import CatalogHit, ListedQuery
from reclaim.catalog.runner import rescan
from reclaim.catalog.store import CatalogStore
from reclaim.hashing import SignalType
from reclaim.index import RULE, ListRecord
from reclaim.index.codes import code_to_hex
from tests.catalog.test_reverse import flip

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SHARDS = 8
PER_SHARD = 3_000


def fill(root: Path) -> tuple[CatalogStore, ListedQuery]:
    """Shards of random items; listed hashes near 40 of them, and an MD5."""
    rng = np.random.default_rng(7)
    store = CatalogStore(str(root))
    codes = rng.integers(0, 256, (SHARDS * PER_SHARD, 4, 32), dtype=np.uint8)
    records = []
    for n in range(SHARDS):
        items = [
            CatalogItem(
                f"post-{k}",
                NOW + timedelta(seconds=k),
                md5=k.to_bytes(16, "big"),
                pdq=codes[k].tobytes(),
                quality=90,
            )
            for k in range(n * PER_SHARD, (n + 1) * PER_SHARD)
        ]
        store.write("uploads", n * PER_SHARD, to_table(items))
    for k in rng.choice(len(codes), size=40, replace=False).tolist():
        near = flip(codes[k, k % 4], 10, rng)
        records.append(ListRecord(SignalType.PDQ, code_to_hex(near), "adult"))
    records.append(ListRecord(SignalType.MD5, (5).to_bytes(16, "big").hex(), "minor"))
    return store, ListedQuery.of(records, rule=RULE)


def keyed(hits: list[CatalogHit]) -> list[tuple[str, str, int]]:
    return sorted((h.reference, h.record.value, h.distance) for h in hits)


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[object]:
    """A head and a worker node, each a real raylet with one CPU."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_a_two_node_cluster_finds_what_one_process_finds(
    tmp_path: Path, two_nodes: tuple[object, object]
) -> None:
    cluster, _ = two_nodes
    store, listed = fill(tmp_path)
    here = rescan(store, listed)
    assert len(here.hits) == 41 and here.items == SHARDS * PER_SHARD
    seen: list[tuple[int, int, int]] = []
    there = rescan(
        store,
        listed,
        address=cluster.address,  # type: ignore[attr-defined]
        progress=lambda done, total, hits: seen.append((done, total, hits)),
    )
    assert keyed(there.hits) == keyed(here.hits)
    assert there.items == here.items and there.shards == SHARDS
    assert there.nodes == 2, "both nodes should have matched shards"
    assert [done for done, _, _ in seen] == list(range(1, SHARDS + 1))
    assert seen[-1] == (SHARDS, SHARDS, 41)


def test_a_backfill_on_the_two_node_cluster_writes_what_one_process_writes(
    tmp_path: Path, two_nodes: tuple[object, object], photos: dict[str, np.ndarray]
) -> None:
    from reclaim.catalog.backfill import backfill
    from reclaim.catalog.items import from_table
    from tests.catalog.media import media_tree

    cluster, _ = two_nodes
    media_tree(tmp_path / "media", photos)
    catalogs = []
    for name, address in (("here", None), ("there", cluster.address)):  # type: ignore[attr-defined]
        store = CatalogStore(str(tmp_path / name))
        backfill(
            str(tmp_path / "media"),
            store,
            job="b",
            address=address,
            batch_files=2,
            shard_files=4,
        )
        catalogs.append([(s.name, from_table(store.read(s))) for s in store.shards()])
    assert catalogs[0] == catalogs[1] and len(catalogs[0]) > 1


def test_a_node_lost_mid_job_loses_and_doubles_no_hit(
    tmp_path: Path, two_nodes: tuple[object, object]
) -> None:
    cluster, worker = two_nodes
    store, listed = fill(tmp_path)
    here = rescan(store, listed)
    removed: list[bool] = []

    def lose_the_worker(done: int, total: int, hits: int) -> None:
        if not removed:
            cluster.remove_node(worker)  # type: ignore[attr-defined]
            removed.append(True)

    there = rescan(
        store,
        listed,
        address=cluster.address,  # type: ignore[attr-defined]
        progress=lose_the_worker,
    )
    assert removed
    assert keyed(there.hits) == keyed(here.hits)
    assert there.items == here.items


def test_a_damaged_shard_fails_the_job_naming_it(
    tmp_path: Path, two_nodes: tuple[object, object]
) -> None:
    cluster, _ = two_nodes
    store, listed = fill(tmp_path)
    damaged = store.shards()[3]
    (tmp_path / damaged.name).write_bytes(b"not parquet")
    for address in (None, cluster.address):  # type: ignore[attr-defined]
        with pytest.raises(CatalogError, match=damaged.name):
            rescan(store, listed, address=address)


def test_an_unreachable_cluster_is_one_clear_error(tmp_path: Path) -> None:
    import ray

    ray.shutdown()  # leave the module's cluster, if this process is on it
    store, listed = fill(tmp_path)
    with pytest.raises(CatalogJobError, match="cannot reach the Ray cluster"):
        rescan(store, listed, address="127.0.0.1:1")


def test_an_address_that_is_not_one_says_so(tmp_path: Path) -> None:
    store, listed = fill(tmp_path)
    with pytest.raises(CatalogJobError, match="is not a Ray address"):
        rescan(store, listed, address="somewhere")
