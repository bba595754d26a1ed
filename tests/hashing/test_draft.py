"""Default mode (JPEG decoded at reduced size) stays within bounds of exact."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reclaim.hashing import hamming, pdq_hash
from reclaim.hashing.decoder import draft_scale
from tests.conftest import encode

SIZES = [(4000, 3000), (3024, 4032), (1920, 1080), (1280, 960)]


@pytest.mark.parametrize("size", SIZES)
def test_default_mode_is_close_to_exact(
    photos: dict[str, np.ndarray], size: tuple
) -> None:
    rng = np.random.default_rng(size[0])
    distances = []
    for name in (
        "astronaut",
        "coffee",
        "chelsea",
        "rocket",
        "hubble_deep_field",
        "camera",
    ):
        image = Image.fromarray(photos[name]).resize(size, Image.Resampling.LANCZOS)
        # Sensor-like noise, so the upscaled photo has real fine detail.
        noisy = np.asarray(image).astype(np.int16) + rng.normal(0, 3, (*size[::-1], 3))
        data = encode(np.clip(noisy, 0, 255).astype(np.uint8), "JPEG", quality=90)
        distances.append(hamming(pdq_hash(data), pdq_hash(data, exact=True)))
    assert np.mean(distances) <= 3, distances
    assert max(distances) <= 8, distances


def test_draft_scale_policy() -> None:
    assert draft_scale(4000, 3000) == 4
    assert draft_scale(1920, 1080) == 2
    assert draft_scale(1000, 1000) == 1
    assert draft_scale(8000, 6000) == 8


def test_small_jpegs_are_hashed_exactly(photos: dict[str, np.ndarray]) -> None:
    data = encode(photos["coffee"], "JPEG", quality=85)
    assert pdq_hash(data) == pdq_hash(data, exact=True)
