"""PDQ's 64x64 grid computed in float32, step for step as Meta's reference.

`pdq.luma_grid` is fast and accurate to about 1e-3, but the reference's own
float32 running sums are off by up to ~6e-4, and a hash bit or the quality
can flip when a value lands that close to a threshold. When the fast grid is
that close (see `sensitivity.py`), this module recomputes the grid with the
reference's arithmetic: luma rounded to float32 once, then four
box passes whose running sums are rounded to float32 after every add and
subtract, in the same order. It is vectorised (one `cumsum` per pass), but it
touches every pixel of the full-size image several times, so it is the slow
path: about 10x the fast one, taken only in rare near-tie cases.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from reclaim.hashing.jarosz import GRID, sample_positions, window_size
from reclaim.hashing.orientation import Orientation

Float32Array = npt.NDArray[np.float32]


def _box_down(values: Float32Array, window: int) -> Float32Array:
    """One reference box pass down the columns (axis 0), rounding like it.

    The running sum's steps are laid out as rows of one array: the first
    `window` inputs, then (add one, drop one) pairs, then the last drops.
    `cumsum` then accumulates strictly in order, rounding to float32 after
    every step, and each output is read after its step.
    """
    length = values.shape[0]
    half = (window + 2) // 2
    inner = length - window
    tail = half - 1
    steps = np.empty((window + 2 * inner + tail, values.shape[1]), np.float32)
    steps[:window] = values[:window]
    middle = steps[window : window + 2 * inner]
    middle[0::2] = values[window:]
    np.negative(values[:inner], out=middle[1::2])
    np.negative(values[inner : inner + tail], out=steps[window + 2 * inner :])
    np.cumsum(steps, axis=0, out=steps)
    out = np.empty_like(values)
    head = window - half + 1
    counts = np.arange(half, window + 1, dtype=np.float32)[:, None]
    np.divide(steps[half - 1 : window], counts, out=out[:head])
    np.divide(middle[1::2], np.float32(window), out=out[head : head + inner])
    counts = np.arange(window - 1, window - half, -1, dtype=np.float32)[:, None]
    np.divide(steps[window + 2 * inner :], counts, out=out[head + inner :])
    return out


def _luma(pixels: npt.NDArray[np.uint8]) -> Float32Array:
    # Meta's Python binding (the `pdqhash` package) forms luma in float64
    # and rounds it to float32 once; its C++ core takes it from there.
    if pixels.ndim == 2:
        return pixels.astype(np.float32)
    red, green, blue = (pixels[..., c].astype(np.float64) for c in range(3))
    luma = red * 0.299 + green * 0.587
    luma += blue * 0.114
    return luma.astype(np.float32)


def _upright(pixels: npt.NDArray[np.uint8], orientation: Orientation) -> np.ndarray:
    view = pixels.swapaxes(0, 1) if orientation.transposes else pixels
    if orientation.flips_rows:
        view = view[::-1]
    if orientation.flips_cols:
        view = view[:, ::-1]
    return np.ascontiguousarray(view)


def luma_grid_float32(
    pixels: npt.NDArray[np.uint8], *, orientation: Orientation = Orientation.NORMAL
) -> Float32Array:
    """The reference's exact float32 64x64 grid of a full-size image."""
    luma = _luma(_upright(pixels, orientation))
    height, width = luma.shape
    along_rows, along_cols = window_size(width), window_size(height)
    rows, cols = sample_positions(height), sample_positions(width)
    # Passes alternate along rows and down columns; working on the transpose
    # keeps every pass a fast pass down axis 0. The last pass only needs the
    # 64 sampled columns.
    across = np.ascontiguousarray(luma.T)
    across = _box_down(across, along_rows)
    luma = _box_down(np.ascontiguousarray(across.T), along_cols)
    across = _box_down(np.ascontiguousarray(luma.T), along_rows)
    luma = _box_down(np.ascontiguousarray(across[cols].T), along_cols)
    grid: Float32Array = np.ascontiguousarray(luma[rows], np.float32)
    assert grid.shape == (GRID, GRID)
    return grid
