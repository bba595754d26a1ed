"""Expanded tables for reverse matching: build time, memory, time per query.

Run with `python bench/expanded_index.py [--stored 88000 --queries 1000000
--radius 31]`. The stored side stands for the newly listed hashes (44,000
and their bit-transposes), the queries for a platform catalog streamed
through. Pinned to one core and one OpenMP thread, it prints the plan, the
build's CPU time, the index's bytes and the process's RSS growth, then
microseconds and candidates per query over random queries, and checks a
sample (random queries plus near-matches planted at every distance
0 .. radius + 2) against brute force. Exits non-zero on any difference.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from reclaim.index import PdqIndex  # noqa: E402
from reclaim.index.expanded import ExpandedSearch, plan_for  # noqa: E402
from reclaim.index.flat import search_numpy  # noqa: E402

_CHUNK = 100_000  # queries per `PdqIndex.search` call, as a catalog shard


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _planted(rng: np.random.Generator, stored: np.ndarray, radius: int) -> np.ndarray:
    rows = []
    for distance in range(radius + 3):
        bits = np.unpackbits(stored[rng.integers(len(stored))])
        bits[rng.choice(256, size=distance, replace=False)] ^= 1
        rows.append(np.packbits(bits))
    return np.array(rows, dtype=np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=88_000)
    parser.add_argument("--queries", type=int, default=1_000_000)
    parser.add_argument("--radius", type=int, default=31)
    args = parser.parse_args()
    rng = np.random.default_rng(16)
    stored = rng.integers(0, 256, size=(args.stored, 32), dtype=np.uint8)
    plan = plan_for(args.stored, radius=args.radius)
    if plan is None:
        print(f"no expanded plan fits {args.stored} codes at {args.radius}")
        return 1
    print(
        f"plan {plan.describe()}: estimated {plan.cost_ns(args.stored) / 1e3:.2f} "
        f"us/query, {plan.candidates(args.stored):.1f} candidates, "
        f"{plan.nbytes(args.stored) / 1e6:.0f} MB"
    )
    rss = _rss_mb()
    cpu = time.process_time()
    wall = time.perf_counter()
    index = PdqIndex.build(stored, structure="expanded", radius=args.radius)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    print(
        f"build: {cpu:.2f} s CPU ({wall:.2f} s wall), {index.structures[0]}, "
        f"{index.nbytes / 1e6:.0f} MB of arrays, peak RSS +{_rss_mb() - rss:.0f} MB"
    )
    queries = rng.integers(0, 256, size=(args.queries, 32), dtype=np.uint8)
    hits = 0
    cpu = time.process_time()
    for first in range(0, len(queries), _CHUNK):
        hits += len(index.search(queries[first : first + _CHUNK], radius=args.radius))
    cpu = time.process_time() - cpu
    search = index._segments[0].search  # the structure itself, for its counts
    assert isinstance(search, ExpandedSearch)
    sample = queries[:_CHUNK]
    print(
        f"search: {cpu / len(queries) * 1e6:.2f} us/query CPU over "
        f"{len(queries):,} random queries, "
        f"{search.candidates(sample) / len(sample):.1f} candidates/query, "
        f"{hits} hits"
    )
    check = np.concatenate([queries[:1000], _planted(rng, stored, args.radius)])
    for radius in (args.radius - 5, args.radius, args.radius + 2):
        got = index.search(check, radius=radius)
        want = search_numpy(stored, check, radius)
        key = sorted(zip(got.queries.tolist(), got.positions.tolist(), strict=True))
        ref = sorted(zip(want.queries.tolist(), want.positions.tolist(), strict=True))
        if key != ref:
            print(
                f"MISMATCH at radius {radius}: {len(key)} hits, brute force {len(ref)}"
            )
            return 1
    print(f"exact at radius {args.radius} -5, +0, +2 ({len(check)} queries checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
