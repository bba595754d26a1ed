"""PDQ's 64x64 grid computed in float32, step for step as Meta's reference.

`pdq.luma_grid` is fast and accurate to about 1e-3, but the reference's own
float32 running sums are off by up to ~6e-4, and a hash bit or the quality
can flip when a value lands that close to a threshold. When the fast grid is
that close (see `sensitivity.py`), this module recomputes the grid with the
reference's arithmetic: luma rounded to float32 once, then four
box passes whose running sums are rounded to float32 after every add and
subtract, in the same order. It is vectorised (one `cumsum` per pass), but it
touches every pixel of the full-size image several times, so it is the slow
path: about 10x the fast one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from reclaim.hashing.jarosz import GRID, sample_positions, window_size
from reclaim.hashing.orientation import Orientation

Float32Array = npt.NDArray[np.float32]


def _box_plan(length: int, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference's sequence of adds/subtracts for one box pass.

    Returns (input index, sign) of every operation on the running sum, the
    position in that sequence after which each output is read, and the
    window count each output is divided by.
    """
    half = (window + 2) // 2
    index: list[int] = []
    sign: list[float] = []
    read_at: list[int] = []
    count: list[int] = []
    right = left = 0
    size = 0
    for _ in range(half - 1):
        index.append(right), sign.append(1.0)
        right, size = right + 1, size + 1
    for _ in range(window - half + 1):
        index.append(right), sign.append(1.0)
        right, size = right + 1, size + 1
        read_at.append(len(index) - 1), count.append(size)
    for _ in range(length - window):
        index.append(right), sign.append(1.0)
        index.append(left), sign.append(-1.0)
        right, left = right + 1, left + 1
        read_at.append(len(index) - 1), count.append(size)
    for _ in range(half - 1):
        index.append(left), sign.append(-1.0)
        left, size = left + 1, size - 1
        read_at.append(len(index) - 1), count.append(size)
    return (
        np.array(index, np.intp),
        np.array(sign, np.float32),
        np.array(read_at, np.intp),
        np.array(count, np.float32),
    )  # type: ignore[return-value]


def _box(values: Float32Array, window: int, axis: int) -> Float32Array:
    """One reference box pass along `axis`, rounding like the reference."""
    index, sign, read_at, count = _box_plan(values.shape[axis], window)  # type: ignore[misc]
    if axis == 1:
        ops = values[:, index] * sign[None, :]
        sums = np.cumsum(ops, axis=1, dtype=np.float32)
        return sums[:, read_at] / count[None, :]
    ops = values[index, :] * sign[:, None]
    sums = np.cumsum(ops, axis=0, dtype=np.float32)
    return sums[read_at, :] / count[:, None]


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
    for _ in range(2):
        luma = _box(luma, along_rows, axis=1)
        luma = _box(luma, along_cols, axis=0)
    rows, cols = sample_positions(height), sample_positions(width)
    grid: Float32Array = np.ascontiguousarray(luma[np.ix_(rows, cols)], np.float32)
    assert grid.shape == (GRID, GRID)
    return grid
