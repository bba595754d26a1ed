"""PDQ speed, end to end from a file path, against Meta's C++ in this process.

Run with `make bench` (or `python bench/pdq_speed.py`). It pins itself to one
core and one BLAS thread, writes real photographs (scikit-image's, upscaled
with sensor-like noise) as 12 MP JPEG, 1080p JPEG and 512 px PNG files, then
times, per file:

* reference: Pillow decode + convert("RGB"), then `pdqhash.compute`;
* ours (default): `reclaim.hashing` decode (JPEG DCT-domain draft) + hash;
* ours (exact): full decode + hash, bit-identical to the reference.

Decode and hash are timed separately (median of several runs). Results are
checked: exact must equal the reference bit for bit with equal quality, and
default must stay within mean 3 / max 8 bits of exact. Exits non-zero if a
check fails.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pdqhash  # noqa: E402
from PIL import Image  # noqa: E402

from photos import photo_file  # noqa: E402
from reclaim.hashing import decode  # noqa: E402
from reclaim.hashing.images import _features  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "cat")
SETS = {
    "12 MP JPEG": ((4000, 3000), "jpg"),
    "1080p JPEG": ((1920, 1080), "jpg"),
    "512 px PNG": ((512, 512), "png"),
}
REPEATS = 5


def make_files() -> dict[str, list[Path]]:
    """Write (once) the benchmark photos; they are real decodes every run."""
    return {
        label: [photo_file(name, size, ext) for name in PHOTOS]
        for label, (size, ext) in SETS.items()
    }


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def reference(path: Path) -> tuple[float, float, tuple[int, int]]:
    decode_s, pixels = timed(lambda: np.asarray(Image.open(path).convert("RGB")))
    hash_s, (bits, quality) = timed(lambda: pdqhash.compute(pixels))
    value = int("".join("1" if b else "0" for b in bits), 2)
    return decode_s, hash_s, (value, int(quality))


def ours(path: Path, *, exact: bool) -> tuple[float, float, tuple[int, int]]:
    decode_s, image = timed(lambda: decode(path, exact=exact))
    hash_s, features = timed(lambda: _features(image, dihedral=False))
    h = features.hash()
    return decode_s, hash_s, (h.value, h.quality)


def median_run(run: Callable[[], tuple[float, float, Any]]) -> tuple[float, float, Any]:
    runs = [run() for _ in range(REPEATS)]
    return (
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        runs[0][2],
    )


def main() -> int:
    files = make_files()
    failures: list[str] = []
    print(f"PDQ end to end from a file, one core, median of {REPEATS} runs per file")
    print(f"{len(PHOTOS)} photos per set; times are per file, in milliseconds\n")
    columns = ("decode", "hash", "total")
    header = f"{'set':<11} {'method':<16} " + " ".join(f"{c:>8}" for c in columns)
    header += f" {'× ref':>7}"
    print(header)
    print("-" * len(header))
    for label, paths in files.items():
        totals: dict[str, list[tuple[float, float]]] = {"ref": [], "def": [], "ex": []}
        distances = []
        for path in paths:
            ref = median_run(lambda p=path: reference(p))
            default = median_run(lambda p=path: ours(p, exact=False))
            exact = median_run(lambda p=path: ours(p, exact=True))
            if exact[2] != ref[2]:
                failures.append(f"{path.name}: exact hash differs from pdqhash")
            distances.append(hamming_values(default[2][0], exact[2][0]))
            totals["ref"].append(ref[:2])
            totals["def"].append(default[:2])
            totals["ex"].append(exact[:2])
        ref_total = mean_total(totals["ref"])
        for key, name in (
            ("ref", "pdqhash (C++)"),
            ("def", "reclaim"),
            ("ex", "reclaim --exact"),
        ):
            dec = 1000 * statistics.mean(t[0] for t in totals[key])
            hsh = 1000 * statistics.mean(t[1] for t in totals[key])
            ratio = ref_total / mean_total(totals[key])
            row = f"{label:<11} {name:<16} {dec:8.1f} {hsh:8.1f} {dec + hsh:8.1f}"
            print(f"{row} {ratio:6.2f}×")
        mean_d, max_d = statistics.mean(distances), max(distances)
        print(f"{'':<11} default vs exact: mean {mean_d:.2f} bits, max {max_d} bits\n")
        if mean_d > 3 or max_d > 8:
            failures.append(f"{label}: default mode is {mean_d:.2f}/{max_d} bits off")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


def hamming_values(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def mean_total(times: list[tuple[float, float]]) -> float:
    return statistics.mean(d + h for d, h in times)


if __name__ == "__main__":
    sys.exit(main())
