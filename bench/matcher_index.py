"""PDQ index speed, recall and memory: ours against faiss flat and pytx's index.

Run with `make bench` (or `python bench/matcher_index.py [--sizes 1000000 ...]`).
It pins itself to one core and one OpenMP thread, then for each list size:

1. generates random PDQ codes (balanced bits), 10% of them clustered
   near-duplicates of others (0-24 bits away), and 10,000 queries: 70%
   planted near-duplicates of stored hashes at exact distances spread over
   0-31, 15% just over the radius (32-40) and 15% unrelated;
2. builds our `PdqIndex`, faiss `IndexBinaryFlat`, and (at sizes up to
   --pytx-max) python-threatexchange's own `PDQIndex` (the index its
   `PdqSignal` uses: faiss `IndexBinaryMultiHash`, 16 tables);
3. times queries at radius 31. Ours answers all queries; faiss flat and pytx
   answer a stated subset (they are slower), and faiss flat's answers on its
   subset are the brute-force ground truth.

Recall is measured, not assumed: ours must return exactly faiss flat's
(position, distance) set for every ground-truth query, and every planted
near-duplicate within 31 bits among all queries. Memory is bytes per stored
hash: for ours the index's arrays (`nbytes`, raw hashes included) and the
process RSS growth while building; for the others the RSS growth. Exits
non-zero if recall is below 100%.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    # The last core: other benchmarks pin themselves to the first.
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import gc  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import TypeVar  # noqa: E402

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from reclaim.index import Matches, PdqIndex  # noqa: E402

faiss.omp_set_num_threads(1)

RADIUS = 31
SEED = 20261130
T = TypeVar("T")


@dataclass
class Row:
    size: int
    name: str
    build_s: float
    bytes_per_hash: float
    queries: int
    qps_cpu: float
    qps_wall: float
    recall: str


def timed(function: Callable[[], T]) -> tuple[T, float, float]:
    """Result, CPU seconds of this process and wall seconds of `function()`.

    Other engineers' jobs share the cores, so wall time measures them too;
    the process's CPU time (one thread: numpy, and faiss with one OpenMP
    thread) is the per-core cost.
    """
    cpu, wall = time.process_time(), time.perf_counter()
    result = function()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def rss_bytes() -> int:
    """Resident memory of this process, from /proc (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def flip_bits(
    rng: np.random.Generator, codes: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Copies of `codes` with exactly counts[i] distinct bits flipped in row i."""
    out = np.empty_like(codes)
    step = 1 << 15
    for first in range(0, len(codes), step):
        block = codes[first : first + step]
        k = counts[first : first + step]
        # The k smallest of 256 random keys pick k distinct bits.
        ranks = np.argsort(rng.random((len(block), 256)), axis=1).argsort(axis=1)
        mask = np.packbits(ranks < k[:, None], axis=1)
        out[first : first + step] = block ^ mask
    return out


def make_data(
    size: int, queries: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stored codes, query codes, and each query's planted source and distance.

    A query that was not planted has source -1.
    """
    stored = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
    dups = size // 10
    centres = rng.integers(0, size - dups, size=dups)
    # Up to 24 bits flipped (drawn with replacement, so some coincide).
    flips = rng.integers(0, 256, size=(dups, 24))
    flips[np.arange(24)[None, :] >= rng.integers(0, 25, size=(dups, 1))] = 256
    masks = np.zeros((dups, 257), dtype=np.uint8)
    np.put_along_axis(masks, flips, 1, axis=1)
    stored[size - dups :] = stored[centres] ^ np.packbits(masks[:, :256], axis=1)
    planted = int(queries * 0.70)
    over = int(queries * 0.15)
    sources = np.full(queries, -1, dtype=np.int64)
    distances = np.full(queries, -1, dtype=np.int64)
    sources[: planted + over] = rng.integers(0, size, size=planted + over)
    distances[:planted] = rng.integers(0, RADIUS + 1, size=planted)
    distances[planted : planted + over] = rng.integers(RADIUS + 1, 41, size=over)
    asked = rng.integers(0, 256, size=(queries, 32), dtype=np.uint8)
    near = planted + over
    asked[:near] = flip_bits(rng, stored[sources[:near]], distances[:near])
    order = rng.permutation(queries)
    return stored, asked[order], sources[order], distances[order]


def as_pairs(positions: np.ndarray, distances: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(positions.tolist(), distances.tolist(), strict=True))


def truth_from_faiss(lims: np.ndarray, dist: np.ndarray, ids: np.ndarray) -> list:
    return [
        as_pairs(ids[lims[i] : lims[i + 1]], dist[lims[i] : lims[i + 1]].astype(int))
        for i in range(len(lims) - 1)
    ]


def recall_text(found: int, expected: int, exact: bool, note: str) -> str:
    share = 100.0 * found / expected if expected else 100.0
    return f"{share:.2f}% ({found}/{expected}{', exact' if exact else ''}) {note}"


def run_size(
    size: int, n_queries: int, flat_queries: int, pytx_queries: int, pytx_max: int
) -> tuple[list[Row], bool]:
    """Every index on one list size; the rows, and whether recall was 100%."""
    rng = np.random.default_rng(SEED + size)
    start = time.perf_counter()
    stored, queries, sources, planted = make_data(size, n_queries, rng)
    print(f"\n{size:,} stored hashes: data made in {time.perf_counter() - start:.1f}s")

    ours, ours_row = run_ours(stored, queries)

    # Every planted near-duplicate within the radius must be found.
    within = np.flatnonzero((planted >= 0) & (planted <= RADIUS))
    missed = sum(
        1
        for q in within
        if (int(sources[q]), int(planted[q]))
        not in as_pairs(ours[q].positions, ours[q].distances)
    )
    print(f"  planted pairs within {RADIUS}: {len(within) - missed:,}/{len(within):,}")

    # faiss flat: the brute-force ground truth, on a subset at large sizes.
    flat = faiss.IndexBinaryFlat(256)
    _, flat_build, _ = timed(lambda: flat.add(stored))
    subset = min(flat_queries, n_queries)
    (lims, dist, ids), flat_cpu, flat_wall = timed(
        lambda: flat.range_search(queries[:subset], RADIUS + 1)
    )
    flat_row = Row(
        size,
        "faiss IndexBinaryFlat",
        flat_build,
        flat.xb.size() / size,  # its own copy of the codes
        subset,
        subset / flat_cpu,
        subset / flat_wall,
        "100% (ground truth)",
    )
    flat.reset()  # frees its copy of the codes
    truth = truth_from_faiss(lims, dist, ids)
    got = [as_pairs(ours[q].positions, ours[q].distances) for q in range(subset)]
    expected = sum(len(t) for t in truth)
    found = sum(len(t & g) for t, g in zip(truth, got, strict=True))
    exact = truth == got
    note = "" if subset == n_queries else f"[truth for the first {subset:,}]"
    ours_row.recall = recall_text(found, expected, exact, note)
    rows = [ours_row, flat_row]
    del ours
    gc.collect()

    if size <= pytx_max:
        rows.append(run_pytx(stored, queries, truth, pytx_queries))
    else:
        print(f"  pytx PDQIndex skipped above {pytx_max:,} hashes (--pytx-max)")
    return rows, exact and missed == 0


def run_ours(stored: np.ndarray, queries: np.ndarray) -> tuple[list[Matches], Row]:
    """Build our index and answer every query with it."""
    size = len(stored)
    gc.collect()
    before, peak = rss_bytes(), peak_rss_bytes()
    index, build_cpu, build_wall = timed(lambda: PdqIndex.build(stored))
    grown = rss_bytes() - before
    peak_grown = max(0, peak_rss_bytes() - max(peak, before))
    found, cpu, wall = timed(lambda: index.query(queries, radius=RADIUS))
    print(
        f"  ours {index.structures}: {index.nbytes / size:.1f} B/hash in its arrays "
        f"(32 of them the caller's codes, shared); RSS +{grown / size:.1f} B/hash "
        f"after the build, peak +{peak_grown / size:.1f} B/hash during it; build "
        f"{build_cpu:.1f}s CPU, {build_wall:.1f}s wall"
    )
    row = Row(
        size,
        "ours PdqIndex",
        build_cpu,
        index.nbytes / size,
        len(queries),
        len(queries) / cpu,
        len(queries) / wall,
        "",
    )
    return found, row


def run_pytx(stored: np.ndarray, queries: np.ndarray, truth: list, count: int) -> Row:
    """python-threatexchange's PDQIndex, through its own API, one query a call."""
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    hexes = [bytes(row).hex() for row in stored]
    asked = [bytes(row).hex() for row in queries[: min(count, len(truth))]]
    gc.collect()
    before = rss_bytes()
    index, build_cpu, _ = timed(
        lambda: PDQIndex(zip(hexes, range(len(hexes)), strict=True))
    )
    grown = rss_bytes() - before
    results, cpu, wall = timed(lambda: [index.query(h) for h in asked])
    found = expected = 0
    exact = True
    for q, matches in enumerate(results):
        got = {(m.metadata, m.similarity_info.distance) for m in matches}
        expected += len(truth[q])
        found += len(truth[q] & got)
        exact = exact and got == truth[q]
    return Row(
        len(stored),
        "pytx PDQIndex (MultiHash)",
        build_cpu,
        grown / len(stored),
        len(asked),
        len(asked) / cpu,
        len(asked) / wall,
        recall_text(found, expected, exact, f"[first {len(asked):,} queries]"),
    )


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'hashes':>11} {'index':<26} {'build s':>8} {'B/hash':>7} {'queries':>8} "
        f"{'q/s/core':>9} {'vs flat':>8} {'wall q/s':>9}  recall"
    )
    print("\n" + header)
    print("-" * len(header))
    flat = {r.size: r.qps_cpu for r in rows if r.name.startswith("faiss")}
    for r in rows:
        print(
            f"{r.size:>11,} {r.name:<26} {r.build_s:>8.1f} {r.bytes_per_hash:>7.1f} "
            f"{r.queries:>8,} {r.qps_cpu:>9.1f} {r.qps_cpu / flat[r.size]:>7.1f}x "
            f"{r.qps_wall:>9.1f}  {r.recall}"
        )
    print(
        "build s and q/s/core are CPU time of this process, pinned to one core; "
        "wall q/s includes time other jobs took the core.\nB/hash: ours = its "
        "arrays (codes included); faiss = its copy of the codes; pytx = RSS growth."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument(
        "--flat-queries",
        type=int,
        nargs="+",
        default=[10_000, 1_000],
        help="queries faiss flat answers (ground truth), per size",
    )
    parser.add_argument("--pytx-queries", type=int, default=1_000)
    parser.add_argument("--pytx-max", type=int, default=1_000_000)
    args = parser.parse_args()
    print(
        f"PDQ index at radius {RADIUS}, one core ({os.sched_getaffinity(0)}), "
        f"{args.queries:,} queries per size"
    )
    rows: list[Row] = []
    ok = True
    for i, size in enumerate(args.sizes):
        flat_queries = args.flat_queries[min(i, len(args.flat_queries) - 1)]
        got, size_ok = run_size(
            size, args.queries, flat_queries, args.pytx_queries, args.pytx_max
        )
        rows.extend(got)
        ok = ok and size_ok
        print_table(rows)
    if not ok:
        print("FAIL: ours missed or added a match", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
