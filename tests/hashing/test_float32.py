"""The exact float32 path against a literal step-by-step loop."""

from __future__ import annotations

import numpy as np
import pytest

from reclaim.hashing.float32 import luma_grid_float32
from reclaim.hashing.jarosz import sample_positions, window_size
from reclaim.hashing.pdq import luma_grid

f32 = np.float32


def loop_box(values: np.ndarray, window: int) -> np.ndarray:
    """box1DFloat over each row, one float32 operation at a time."""
    rows, n = values.shape
    half = (window + 2) // 2
    out = np.empty_like(values)
    for r in range(rows):
        x = values[r]
        total, size, right, left, o = f32(0), 0, 0, 0, 0
        for _ in range(half - 1):
            total, size, right = f32(total + x[right]), size + 1, right + 1
        for _ in range(window - half + 1):
            total, size, right = f32(total + x[right]), size + 1, right + 1
            out[r, o], o = f32(total / f32(size)), o + 1
        for _ in range(n - window):
            total = f32(f32(total + x[right]) - x[left])
            right, left = right + 1, left + 1
            out[r, o], o = f32(total / f32(size)), o + 1
        for _ in range(half - 1):
            total, size, left = f32(total - x[left]), size - 1, left + 1
            out[r, o], o = f32(total / f32(size)), o + 1
    return out


@pytest.mark.parametrize("shape", [(37, 91), (130, 260), (64, 64), (5, 200)])
def test_vectorised_float32_equals_loop(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0])
    pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    luma = (
        pixels[..., 0] * 0.299 + pixels[..., 1] * 0.587 + pixels[..., 2] * 0.114
    ).astype(np.float32)
    h, w = shape
    for _ in range(2):
        luma = loop_box(luma, window_size(w))
        luma = loop_box(luma.T.copy(), window_size(h)).T.copy()
    expected = luma[np.ix_(sample_positions(h), sample_positions(w))]
    assert np.array_equal(luma_grid_float32(pixels), expected)


def test_fast_grid_is_within_the_sensitivity_margin() -> None:
    from reclaim.hashing.sensitivity import GRID_MARGIN

    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (700, 1000, 3), dtype=np.uint8)
    error = np.abs(luma_grid(pixels).astype(np.float64) - luma_grid_float32(pixels))
    assert error.max() < GRID_MARGIN / 2
