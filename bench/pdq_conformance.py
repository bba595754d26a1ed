"""How often our PDQ equals Meta's C++ (`pdqhash`), on many images.

Prints the share of images whose 8 dihedral hashes are all bit-identical, the
largest distance seen, and quality agreement, for: transformed scikit-image
photographs (tests/hashing/corpus.py) and random arrays from smooth to noisy.
Also counts how often the exact float32 path had to be taken.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import PHOTO_NAMES, _load_photo, reference_pdq_dihedral  # noqa: E402
from tests.hashing.corpus import variants  # noqa: E402

from reclaim.hashing import DegenerateImageError, pdq_features  # noqa: E402
from reclaim.hashing.pdq import features_of_grid, luma_grid  # noqa: E402
from reclaim.hashing.sensitivity import (  # noqa: E402
    median_is_uncertain,
    quality_is_uncertain,
)

RANDOM_ARRAYS = 1000


def photographs() -> Iterator[np.ndarray]:
    for seed, name in enumerate(PHOTO_NAMES):
        for _, array in variants(name, _load_photo(name), seed):
            yield array


def random_arrays() -> Iterator[np.ndarray]:
    rng = np.random.default_rng(2026)
    for i in range(RANDOM_ARRAYS):
        h, w = (int(v) for v in rng.integers(5, 600, 2))
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        kind = i % 4
        if kind == 0:
            yield rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            continue
        if kind == 1:
            base = rng.uniform(-2, 2) * x + rng.uniform(-2, 2) * y
            base = base[..., None] + rng.normal(0, 4, (h, w, 3))
        elif kind == 2:
            cells = rng.uniform(0, 255, (6, 9, 3))
            base = cells[(y * 6 // h).astype(int), (x * 9 // w).astype(int)]
        else:
            period = rng.uniform(2, 60)
            wave = np.sin(x / period + y / (1.7 * period)) * 120 + 128
            base = np.repeat(wave[..., None], 3, axis=2)
        yield np.clip(base - base.min(), 0, 255).astype(np.uint8)


def report(label: str, arrays: Iterator[np.ndarray]) -> None:
    total = identical = same_quality = slow = degenerate = 0
    worst = 0
    for array in arrays:
        expected, quality = reference_pdq_dihedral(array)
        try:
            features = pdq_features(array)
        except DegenerateImageError:
            degenerate += 1
            continue
        grid = luma_grid(array)
        fast = features_of_grid(grid)
        slow += quality_is_uncertain(grid) or median_is_uncertain(fast.variants())
        distance = max(
            (h.value ^ e).bit_count()
            for h, e in zip(features.dihedral(), expected, strict=True)
        )
        total += 1
        identical += distance == 0
        worst = max(worst, distance)
        same_quality += features.quality == quality
    print(
        f"{label:<26} {total:5d} images  identical {identical / total:7.2%}  "
        f"max {worst} bits  quality equal {same_quality / total:7.2%}  "
        f"exact path {slow / total:6.1%}  degenerate {degenerate}"
    )


if __name__ == "__main__":
    print("PDQ against pdqhash (Meta's C++), all 8 dihedral hashes per image")
    report("transformed photographs", photographs())
    report("random arrays", random_arrays())
