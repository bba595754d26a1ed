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

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reclaim.hashing.jarosz import GRID, sample_positions, window_size
from reclaim.hashing.orientation import Orientation

Float32Array = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class _BoxPlan:
    """The reference's sequence of adds and subtracts for one box pass.

    The running sum takes `sign[i] * input[index[i]]` at step i; output o is
    read after step `read_at[o]` and divided by `count[o]`.
    """

    index: npt.NDArray[np.intp]
    sign: Float32Array
    read_at: npt.NDArray[np.intp]
    count: Float32Array


def _box_plan(length: int, window: int) -> _BoxPlan:
    half = (window + 2) // 2
    inner = length - window
    # Steps: add the first `window` inputs; then add one and drop one,
    # `inner` times; then drop `half - 1` more.
    entering = np.arange(window, length)
    leaving = np.arange(inner)
    middle = np.stack([entering, leaving], axis=1).ravel()
    tail = np.arange(inner, inner + half - 1)
    index = np.concatenate([np.arange(window), middle, tail]).astype(np.intp)
    sign = np.concatenate(
        [np.ones(window), np.tile([1.0, -1.0], inner), -np.ones(half - 1)]
    ).astype(np.float32)
    read_at = np.concatenate(
        [
            np.arange(half - 1, window),
            window + 2 * np.arange(inner) + 1,
            window + 2 * inner + np.arange(half - 1),
        ]
    ).astype(np.intp)
    count = np.concatenate(
        [
            np.arange(half, window + 1),
            np.full(inner, window),
            np.arange(window - 1, window - half, -1),
        ]
    ).astype(np.float32)
    return _BoxPlan(index, sign, read_at, count)


def _box(values: Float32Array, window: int, axis: int) -> Float32Array:
    """One reference box pass along `axis`, rounding like the reference."""
    plan = _box_plan(values.shape[axis], window)
    out: Float32Array
    if axis == 1:
        ops = values[:, plan.index] * plan.sign[None, :]
        # cumsum accumulates strictly in order, rounding to float32 each step.
        sums = np.cumsum(ops, axis=1, dtype=np.float32)
        out = sums[:, plan.read_at] / plan.count[None, :]
    else:
        ops = values[plan.index, :] * plan.sign[:, None]
        sums = np.cumsum(ops, axis=0, dtype=np.float32)
        out = sums[plan.read_at, :] / plan.count[:, None]
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
    for _ in range(2):
        luma = _box(luma, along_rows, axis=1)
        luma = _box(luma, along_cols, axis=0)
    rows, cols = sample_positions(height), sample_positions(width)
    grid: Float32Array = np.ascontiguousarray(luma[np.ix_(rows, cols)], np.float32)
    assert grid.shape == (GRID, GRID)
    return grid
