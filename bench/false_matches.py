"""False matches over >= 10M unrelated pairs: plain PDQ against reclaim's matching.

Run with `make bench` or alone: `.venv/bin/python bench/false_matches.py`
(`--quick` for a smoke run). It pins itself to one core; hashing takes 11-14
minutes the first time and is cached under bench/.cache (keyed by the
corpus, the hashing code and the sizes), so a rerun takes under a minute.

Pictures: `corpus.load()` (bench/corpus.py), distinct real photographs.
Items (what a person lists): each picture whole, then random crops of it
(50-100% of each side), some re-encoded or recoloured; an item's hashes are
`submission_hashes(item)`. Uploads: each picture through the edits of
`robustness_edits.EDITS` in turn, random amounts; an upload's hashes are
`query_hashes(upload)`. Every (upload, item) pair from different scenes is
unrelated; pairs from one scene (frames of one video, or one picture) are
left out.

Rules: plain PDQ compares the two whole-image hashes (both quality >= 50).
Reclaim's matching counts a pair once when `robust_match(upload's hashes,
item's hashes)` finds any pair of hashes within the distance (the published
`RULE`, its derived-hash radius capped at each column's distance). The pair counts
come from an exact vectorized search (faiss's flat binary index, or numpy
popcount without faiss).

Checks (exit 1 on failure): the search finds the same hash pairs as a numpy
brute force on a slice of uploads; the per-pair counts agree with
`robust_match` (and a plain Hamming distance) called pair by pair on a random
sample and on every pair the search counted; counts grow with the distance;
the first hash of `query_hashes` and `submission_hashes` is `pdq_hash`.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import hashlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import beta  # noqa: E402

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from corpus import CACHE, Corpus, load  # noqa: E402
from reclaim.hashing import (  # noqa: E402
    MATCH_DISTANCE,
    MIN_QUALITY,
    PdqHash,
    pdq_hash,
    query_hashes,
    submission_hashes,
)
from reclaim.index import RULE, MatchRule, robust_match  # noqa: E402
from robustness_edits import EDITS, colour, recompress  # noqa: E402

THRESHOLDS = (16, 24, MATCH_DISTANCE)
SEED = 13
#: Bump when the way items or uploads are made changes (invalidates the cache).
GENERATION = 2
HASHING = Path(__file__).resolve().parents[1] / "src/reclaim/hashing"


@dataclass(frozen=True)
class Side:
    """The hashes of one side (items or uploads), flattened.

    Row r is hash number `position[r]` of `owner[r]`'s list, with its quality
    (-1: none) and whether the match rule lets it take part.
    """

    codes: np.ndarray  # (n, 32) uint8
    quality: np.ndarray  # (n,) int16
    position: np.ndarray  # (n,) int16
    owner: np.ndarray  # (n,) int32
    takes: np.ndarray  # (n,) bool
    picture: np.ndarray  # (owners,) int32: the corpus picture each owner came from

    def hashes(self, owner: int) -> list[PdqHash]:
        """Owner's hash list, as the hashing functions returned it."""
        rows = np.flatnonzero(self.owner == owner)
        return [
            PdqHash.from_bytes(
                self.codes[r].tobytes(),
                quality=None if self.quality[r] < 0 else int(self.quality[r]),
            )
            for r in rows
        ]

    def whole(self) -> tuple[np.ndarray, np.ndarray]:
        """Each owner's first hash (its whole-image PDQ) and its quality."""
        first = np.flatnonzero(self.position == 0)
        return self.codes[first], self.quality[first]


def _crop(rng: np.random.Generator, array: np.ndarray, low: float) -> np.ndarray:
    """A random box keeping `low` to all of each side."""
    h, w = array.shape[:2]
    kh = max(64, int(h * rng.uniform(low, 1.0)))
    kw = max(64, int(w * rng.uniform(low, 1.0)))
    top, left = int(rng.integers(0, h - kh + 1)), int(rng.integers(0, w - kw + 1))
    return np.ascontiguousarray(array[top : top + kh, left : left + kw])


def make_item(
    rng: np.random.Generator, array: np.ndarray, copy: int, picture: int
) -> np.ndarray:
    """A picture's copy 0 is the picture itself; later copies are crops, a
    third of them re-encoded and a third recoloured."""
    if copy == 0:
        return array
    item = _crop(rng, array, 0.5)
    choice = int(rng.integers(3))
    if choice == 1:
        item = recompress(rng, item)
    elif choice == 2:
        item = colour(rng, item)
    return item


def make_upload(
    rng: np.random.Generator, array: np.ndarray, copy: int, picture: int
) -> np.ndarray:
    """One of `EDITS` at random amounts; each picture starts at a different
    edit and goes through them in turn, so every edit is used evenly."""
    _, edit = EDITS[(copy + picture) % len(EDITS)]
    return edit(rng, array)


def _hash_side(
    corpus: Corpus,
    count: int,
    kind: int,
    make: Callable[[np.random.Generator, np.ndarray, int, int], np.ndarray],
    hasher: Callable[[np.ndarray], list[PdqHash]],
    takes: Callable[[int, PdqHash], bool],
) -> Side:
    pictures = corpus.pictures
    codes, quality, position, owner, take, picture = [], [], [], [], [], []
    start = time.perf_counter()
    for k in range(count):
        index, copy = k % len(pictures), k // len(pictures)
        name, array = pictures[index]
        rng = np.random.default_rng([SEED, kind, zlib.crc32(name.encode()), copy])
        hashes = hasher(make(rng, array, copy, index))
        for n, h in enumerate(hashes):
            codes.append(np.frombuffer(h.to_bytes(), np.uint8))
            quality.append(-1 if h.quality is None else h.quality)
            position.append(n)
            owner.append(k)
            take.append(takes(n, h))
        picture.append(index)
        if (k + 1) % 500 == 0:
            rate = (k + 1) / (time.perf_counter() - start)
            print(f"  {k + 1:,}/{count:,} hashed ({rate:.1f}/s)", flush=True)
    return Side(
        codes=np.stack(codes),
        quality=np.array(quality, np.int16),
        position=np.array(position, np.int16),
        owner=np.array(owner, np.int32),
        takes=np.array(take, bool),
        picture=np.array(picture, np.int32),
    )


def _code_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(HASHING.glob("*.py")) + [BENCH / "robustness_edits.py"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _side(
    corpus: Corpus, name: str, count: int, hasher: str
) -> Side:  # one side's hashes, from the cache when its key matches
    key = f"{corpus.fingerprint()}-{_code_version()}-{GENERATION}-{SEED}"
    path = CACHE / f"false-matches-{name}-{key}-{count}.npz"
    if path.exists():
        print(f"{name} hashes from {path.relative_to(BENCH.parent)}")
        with np.load(path) as saved:
            return Side(**{f: saved[f] for f in saved.files})
    print(f"hashing {count:,} {name} ({hasher})", flush=True)
    if name == "items":
        side = _hash_side(
            corpus, count, 0, make_item, submission_hashes, RULE.takes_item
        )
    else:
        side = _hash_side(corpus, count, 1, make_upload, query_hashes, RULE.takes_query)
    CACHE.mkdir(exist_ok=True)
    np.savez(path, **vars(side))
    return side


def sides(corpus: Corpus, n_items: int, n_uploads: int) -> tuple[Side, Side]:
    """Items' and uploads' hashes (cached under bench/.cache)."""
    return (
        _side(corpus, "items", n_items, "submission_hashes"),
        _side(corpus, "uploads", n_uploads, "query_hashes"),
    )


def _words(codes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(codes).view(np.uint64)


def search_numpy(q: np.ndarray, s: np.ndarray, radius: int) -> np.ndarray:
    """(query row, stored row, distance) of every pair within `radius`, by
    popcount over 64-bit words."""
    qw, sw = _words(q), _words(s)
    found = []
    for start in range(0, len(qw), 64):
        block = qw[start : start + 64]
        d = np.zeros((len(block), len(sw)), np.int32)
        for word in range(4):
            d += np.bitwise_count(
                np.bitwise_xor(block[:, None, word], sw[None, :, word])
            )
        rows, cols = np.nonzero(d <= radius)
        found.append(np.stack([rows + start, cols, d[rows, cols]], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 3), np.int64)


def search(q: np.ndarray, s: np.ndarray, radius: int) -> np.ndarray:
    """As `search_numpy`, with faiss's flat binary index when installed."""
    try:
        import faiss
    except ImportError:
        return search_numpy(q, s, radius)
    faiss.omp_set_num_threads(1)
    index = faiss.IndexBinaryFlat(256)
    index.add(np.ascontiguousarray(s))
    lims, dist, ids = index.range_search(np.ascontiguousarray(q), radius + 1)
    rows = np.repeat(np.arange(len(q)), np.diff(lims).astype(np.int64))
    return np.stack([rows, ids.astype(np.int64), dist.astype(np.int64)], axis=1)


def pair_distances(items: Side, uploads: Side, hits: np.ndarray) -> dict[int, int]:
    """Smallest distance per (upload, item) pair, keyed upload * items + item,
    from hits between taking-part hashes."""
    it, up = np.flatnonzero(items.takes), np.flatnonzero(uploads.takes)
    u = uploads.owner[up[hits[:, 0]]].astype(np.int64)
    i = items.owner[it[hits[:, 1]]].astype(np.int64)
    keys = u * len(items.picture) + i
    order = np.lexsort((hits[:, 2], keys))
    keys, dist = keys[order], hits[order, 2]
    first = np.ones(len(keys), bool)
    first[1:] = keys[1:] != keys[:-1]
    return dict(zip(keys[first].tolist(), dist[first].tolist(), strict=True))


def plain_distances(items: Side, uploads: Side) -> np.ndarray:
    """(uploads, items) whole-hash distances; 999 where either is below quality 50."""
    ic, iq = items.whole()
    uc, uq = uploads.whole()
    uw, iw = _words(uc), _words(ic)
    table = np.zeros((len(uc), len(ic)), np.int32)
    for word in range(4):
        table += np.bitwise_count(np.bitwise_xor(uw[:, None, word], iw[None, :, word]))
    table[uq < MIN_QUALITY, :] = 999
    table[:, iq < MIN_QUALITY] = 999
    return table


def upper_bound(k: int, n: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound on a rate with k of n."""
    return 1.0 if k >= n else float(beta.ppf(0.95, k + 1, n - k))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--items", type=int, help="listed items (default 2,700)")
    parser.add_argument("--uploads", type=int, help="uploads (default 3,900)")
    args = parser.parse_args()
    n_items, n_uploads = (150, 120) if args.quick else (2_700, 3_900)
    n_items, n_uploads = args.items or n_items, args.uploads or n_uploads
    failures: list[str] = []

    corpus = load()
    for note in corpus.notes:
        print(f"note: {note}")
    names = [name for name, _ in corpus.pictures]
    scene_ids = {s: n for n, s in enumerate(dict.fromkeys(corpus.scenes.values()))}
    scene = np.array([scene_ids[corpus.scenes[name]] for name in names])
    sources = ", ".join(f"{k} {v}" for k, v in corpus.sources().items())
    print(
        f"corpus: {len(names)} pictures, {len(scene_ids)} scenes ({sources}); "
        f"{len(corpus.dropped)} dropped (quality < {MIN_QUALITY} or within "
        f"{MATCH_DISTANCE} of another)"
    )
    first = corpus.pictures[0][1]
    if submission_hashes(first)[0] != pdq_hash(first):
        failures.append("submission_hashes()[0] is not pdq_hash()")
    if query_hashes(first)[0] != pdq_hash(first):
        failures.append("query_hashes()[0] is not pdq_hash()")

    t0 = time.perf_counter()
    items, uploads = sides(corpus, n_items, n_uploads)
    t1 = time.perf_counter()
    unrelated = scene[uploads.picture][:, None] != scene[items.picture][None, :]
    pairs = int(unrelated.sum())

    # Plain PDQ: every pair's whole-hash distance.
    plain = plain_distances(items, uploads)
    plain[~unrelated] = 999
    # Reclaim: every hash pair within the widest threshold, then per pair.
    q, s = uploads.codes[uploads.takes], items.codes[items.takes]
    hits = search(q, s, max(THRESHOLDS))
    # The rule's own radii: the upload's derived hashes (after its first) may
    # have a smaller one (`MatchRule.derived`).
    derived = uploads.position[uploads.takes][hits[:, 0]] > 0
    hits = hits[~derived | (hits[:, 2] <= RULE.derived)]
    t2 = time.perf_counter()
    robust = pair_distances(items, uploads, hits)
    robust = {
        key: d
        for key, d in robust.items()
        if unrelated[key // len(items.picture), key % len(items.picture)]
    }

    # Check: the fast search against numpy brute force on a slice of uploads.
    some = np.flatnonzero(uploads.owner[uploads.takes] < max(1, n_uploads // 40))
    brute = search_numpy(q[some], s, max(THRESHOLDS))
    brute = brute[
        (uploads.position[uploads.takes][some[brute[:, 0]]] == 0)
        | (brute[:, 2] <= RULE.derived)
    ]
    fast = hits[np.isin(hits[:, 0], some)]
    fast_set = {(int(some_row), int(c), int(d)) for some_row, c, d in fast}
    brute_set = {(int(some[r]), int(c), int(d)) for r, c, d in brute}
    if fast_set != brute_set:
        failures.append(
            f"search disagrees with brute force: {len(fast_set ^ brute_set)} pairs"
        )
    # Check: per-pair distances against robust_match, pair by pair.
    rng = np.random.default_rng(SEED)
    sample = {
        (int(u), int(i))
        for u, i in zip(
            rng.integers(0, n_uploads, 400), rng.integers(0, n_items, 400), strict=True
        )
        if unrelated[u, i]
    }
    sample |= {divmod(key, len(items.picture)) for key in robust}
    for u, i in sorted(sample):
        qh, sh = uploads.hashes(u), items.hashes(i)
        for t in THRESHOLDS:
            got = robust.get(u * len(items.picture) + i, 999) <= t
            rule = MatchRule(distance=t, derived_distance=min(t, RULE.derived))
            want = robust_match(qh, sh, rule=rule) is not None
            if got != want:
                failures.append(f"upload {u}, item {i}, d<={t}: {got} != robust_match")
        a, b = qh[0], sh[0]
        gated = min(a.quality or 0, b.quality or 0) >= MIN_QUALITY
        want_plain = bin(a.value ^ b.value).count("1") if gated else 999
        if plain[u, i] != want_plain:
            failures.append(
                f"upload {u}, item {i}: plain {plain[u, i]} != {want_plain}"
            )

    robust_d = np.array(list(robust.values()), np.int32)
    plain_d = plain[plain <= max(THRESHOLDS)]
    item_hashes = np.bincount(items.owner[items.takes], minlength=n_items).mean()
    upload_hashes = np.bincount(uploads.owner[uploads.takes], minlength=n_uploads)
    print(
        f"items: {n_items:,} ({item_hashes:.1f} hashes each that take part); "
        f"uploads: {n_uploads:,} ({upload_hashes.mean():.1f} each); "
        f"hashes ready in {t1 - t0:.0f} s (cached or made), search {t2 - t1:.0f} s"
    )
    print(
        f"pairs: {pairs:,} unrelated (upload, item) pairs "
        f"({n_uploads:,} x {n_items:,}, same-scene pairs left out)"
    )
    print()
    print(
        "| method | d<=16 | d<=24 | d<=31 | rate /M pairs at 31 | 95% upper bound "
        "/M | uploads with one, at 31 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    keys = np.array(list(robust), np.int64)
    rows = (
        ("plain PDQ", plain_d, np.nonzero(plain <= MATCH_DISTANCE)[0]),
        (
            "reclaim (robust_match)",
            robust_d,
            keys[robust_d <= MATCH_DISTANCE] // len(items.picture),
        ),
    )
    counts = {}
    for label, distances, upload_rows in rows:
        row = [int((distances <= t).sum()) for t in THRESHOLDS]
        counts[label] = row
        if row != sorted(row):
            failures.append(f"{label}: counts fall as the distance grows")
        k = row[-1]
        print(
            f"| {label} | {' | '.join(f'{c:,}' for c in row)} | "
            f"{k * 1e6 / pairs:.3f} | {upper_bound(k, pairs) * 1e6:.3f} | "
            f"{len(np.unique(upload_rows)):,} of {n_uploads:,} |"
        )
    print()
    print(
        "Per upload, against a list of N unrelated items, the expected false "
        "matches are N x the rate (the bound: N x the upper bound)."
    )
    for label, _, _ in rows:
        if label.startswith("plain"):
            near = np.argwhere(plain <= MATCH_DISTANCE)
            pairs_seen = [(int(u), int(i), int(plain[u, i])) for u, i in near]
        else:
            pairs_seen = [
                (key // len(items.picture), key % len(items.picture), d)
                for key, d in robust.items()
                if d <= MATCH_DISTANCE
            ]
        pictures = {
            (names[uploads.picture[u]], names[items.picture[i]])
            for u, i, _ in pairs_seen
        }
        print(f"{label}: {len(pictures)} picture pairs with a false match at 31")
        for upload_name, item_name in sorted(pictures)[:12]:
            print(f"  upload of {upload_name} ~ item of {item_name}")
    plain_31, robust_31 = counts["plain PDQ"][-1], counts["reclaim (robust_match)"][-1]
    verdict = "meets" if robust_31 <= plain_31 else "MISSES"
    print(
        f"\ngoal (no more false matches than plain PDQ at 31): {verdict} "
        f"({robust_31} against {plain_31})"
    )
    print(f"checked {len(sample):,} pairs one by one against robust_match")
    for failure in failures[:20]:
        print(f"CHECK FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
