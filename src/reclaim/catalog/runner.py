"""Where catalog jobs run: in this process, or on Ray Data.

`address=None` (the default) runs a job here, shard after shard, and never
imports Ray: no cluster to start. `address="local"` starts Ray on this
machine (every core); any other address joins that cluster (`ray start`'s
head, `ray://host:10001`, or "auto"). The work is the same function either
way (`reverse.match_shard` for rescans).

On Ray, the shard names are a Ray Data dataset, mapped one shard a task,
spread over the nodes; the new hashes (and their index, when built) go to
the object store once and every task reads them from there without a copy.
A task whose worker or node is lost is run again by Ray Data (its tasks
retry system failures without limit); each shard's result comes back as one
row naming its shard, so a shard done twice counts once, and a shard still
missing at the end fails the job: no hit is lost or doubled. A shard that
cannot be read comes back as an error row and fails the job with that
shard's name: retrying a damaged file would not mend it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from reclaim.catalog.errors import CatalogError, CatalogJobError
from reclaim.catalog.items import SCHEMA
from reclaim.catalog.ray_session import ray_session
from reclaim.catalog.reverse import (
    HIT_SCHEMA,
    CatalogHit,
    ListedQuery,
    match_shard,
    merge,
)
from reclaim.catalog.store import CatalogStore, Shard

#: Progress: (shards done, shards in all, hits so far).
Progress = Callable[[int, int, int], None]
_COLUMNS = list(SCHEMA.names)


@dataclass(frozen=True, slots=True)
class RescanResult:
    """What a rescan found, and how much it looked through."""

    hits: list[CatalogHit]
    shards: int
    items: int
    seconds: float
    #: The machines (Ray nodes) that matched shards; 1 in this process.
    nodes: int = 1


def rescan(
    store: CatalogStore,
    listed: ListedQuery,
    *,
    shards: Sequence[Shard] | None = None,
    since: datetime | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    extra: Sequence[pa.Table] = (),
) -> RescanResult:
    """Every catalogued item the listed hashes match, from every shard (or
    these), optionally only items uploaded at or after `since`.

    `extra` are items not yet in shards (the matcher's spool), matched here
    in this process after the shards.
    """
    import time

    started = time.monotonic()
    chosen = list(store.shards() if shards is None else shards)
    if not len(listed) or (not chosen and not any(len(t) for t in extra)):
        return RescanResult([], len(chosen), 0, time.monotonic() - started)
    report = progress or (lambda done, total, hits: None)
    tables: list[pa.Table]
    nodes = 1
    if not chosen:
        tables, items = [], 0
    elif address is None:
        tables, items = _here(store, listed, chosen, since, report)
    else:
        tables, items, nodes = _on_ray(store, listed, chosen, since, address, report)
    for table in extra:
        kept = _since(table, since)
        tables.append(match_shard(listed, kept))
        items += len(kept)
    hits = merge(listed, tables)
    return RescanResult(hits, len(chosen), items, time.monotonic() - started, nodes)


def shard_hits(
    store: CatalogStore, listed: ListedQuery, shard: Shard, since: datetime | None
) -> tuple[pa.Table, int]:
    """A shard's hits, matched a row group at a time (bounded memory)."""
    found: list[pa.Table] = []
    items = 0
    for part in store.batches(shard, columns=_COLUMNS):
        table = _since(pa.Table.from_batches([part]), since)
        found.append(match_shard(listed, table))
        items += len(table)
    return (pa.concat_tables(found) if found else HIT_SCHEMA.empty_table()), items


def _since(table: pa.Table, since: datetime | None) -> pa.Table:
    """The items uploaded at or after `since` (all when None)."""
    if since is None:
        return table
    moment = pa.scalar(since, SCHEMA.field("uploaded_at").type)
    return table.filter(pc.greater_equal(table.column("uploaded_at"), moment))


def _here(
    store: CatalogStore,
    listed: ListedQuery,
    shards: list[Shard],
    since: datetime | None,
    report: Progress,
) -> tuple[list[pa.Table], int]:
    tables: list[pa.Table] = []
    items = hits = 0
    for done, shard in enumerate(shards, start=1):
        found, count = shard_hits(store, listed, shard, since)
        tables.append(found)
        items += count
        hits += len(found)
        report(done, len(shards), hits)
    return tables, items


def _on_ray(
    store: CatalogStore,
    listed: ListedQuery,
    shards: list[Shard],
    since: datetime | None,
    address: str,
    report: Progress,
) -> tuple[list[pa.Table], int, int]:
    import threading

    building: threading.Thread | None = None
    if not listed.scans(4 * sum(s.items for s in shards), built=False):
        # Built once here and shared by every task (so each shard then
        # weighs the index as built); a scan wins on every shard otherwise.
        # Built while Ray starts: that is mostly waiting on its processes.
        building = threading.Thread(target=listed.index, name="reclaim-index")
        building.start()
    try:
        with ray_session(address):
            if building is not None:
                building.join()
            return _on_session(store, listed, shards, since, report)
    finally:
        if building is not None:
            building.join()


def _on_session(
    store: CatalogStore,
    listed: ListedQuery,
    shards: list[Shard],
    since: datetime | None,
    report: Progress,
) -> tuple[list[pa.Table], int, int]:
    import ray

    shared = ray.put(listed)
    names = {s.name: s for s in shards}
    dataset = ray.data.from_items([{"shard": s.name} for s in shards])
    task: Any = _shard_task  # Ray's stubs expect a batch in, a batch out
    mapped = dataset.map_batches(
        task,
        batch_size=1,
        fn_kwargs={"root": store.root, "listed": shared, "since": since},
        batch_format="pyarrow",
    )
    tables: dict[str, pa.Table] = {}
    nodes: set[str] = set()
    items = hits = 0
    try:
        batches: Any = mapped.iter_batches(batch_format="pyarrow", batch_size=None)
        for batch in batches:
            for name, blob, count, node, failure in zip(
                batch.column("shard").to_pylist(),
                batch.column("hits").to_pylist(),
                batch.column("items").to_pylist(),
                batch.column("node").to_pylist(),
                batch.column("error").to_pylist(),
                strict=True,
            ):
                if failure:
                    raise CatalogJobError(failure)
                if name in tables or name not in names:
                    continue  # a shard done twice counts once
                nodes.add(node)
                found = ipc.open_stream(io.BytesIO(blob)).read_all()
                tables[name] = found
                items += count
                hits += len(found)
                report(len(tables), len(shards), hits)
    except ray.exceptions.RayError as error:
        raise CatalogJobError(
            f"the rescan failed on Ray: {str(error).splitlines()[0][:300]}; fix "
            "the cause and run it again (it is safe to repeat)"
        ) from None
    missing = sorted(set(names) - set(tables))
    if missing:
        raise CatalogJobError(
            f"{len(missing)} shards came back without results ({missing[0]}, …); "
            "run the rescan again (it is safe to repeat)"
        )
    return list(tables.values()), items, len(nodes)


def _shard_task(
    batch: pa.Table, *, root: str, listed: Any, since: datetime | None
) -> pa.Table:  # noqa: N802 - Ray Data calls it like a class
    """One shard on a Ray worker: its hits as an Arrow stream in one row."""
    import ray

    query: ListedQuery = (
        ray.get(listed) if isinstance(listed, ray.ObjectRef) else listed
    )
    store = CatalogStore(root)
    names: list[str] = []
    blobs: list[bytes] = []
    counts: list[int] = []
    errors: list[str] = []
    node = ray.get_runtime_context().get_node_id()
    for name in batch.column("shard").to_pylist():
        shard = Shard.parse(name)
        sink = io.BytesIO()
        try:
            if shard is None:
                raise CatalogJobError(f"{name!r} is not a catalog shard name")
            found, count = shard_hits(store, query, shard, since)
        except CatalogError as error:
            found, count = HIT_SCHEMA.empty_table(), 0
            errors.append(str(error))
        else:
            errors.append("")
        with ipc.new_stream(sink, found.schema) as writer:
            writer.write_table(found)
        names.append(name)
        blobs.append(sink.getvalue())
        counts.append(count)
    return pa.table(
        {
            "shard": names,
            "hits": pa.array(blobs, pa.binary()),
            "items": counts,
            "node": [node] * len(names),
            "error": errors,
        }
    )
