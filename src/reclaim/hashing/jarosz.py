"""The Jarosz tent filter of PDQ, evaluated only where PDQ samples it.

Meta's reference blurs the whole luma plane with two passes of a box filter in
each direction, then keeps a 64x64 grid of samples. The filter is linear and
separable, so each kept sample is a fixed weighted sum of the pixels around it.
`SampleWeights` holds those weights for one image dimension: the 64 sample rows
of the matrix (box o box), with each row's non-zero span. Applying them touches
every pixel once instead of four times, and needs no full-size float buffers.

The box is the reference's `box1DFloat`: output o averages the inputs in
[o - (w - h), o + h - 1], clipped to the vector, where h = (w + 2) // 2. At the
edges the average is over the clipped window, as in the reference.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: PDQ works on a 64x64 downsample of the image.
GRID = 64

FloatArray = npt.NDArray[np.float64]


def window_size(length: int) -> int:
    """The box window the reference uses to shrink `length` pixels to 64."""
    return (length + 2 * GRID - 1) // (2 * GRID)


def sample_positions(length: int) -> npt.NDArray[np.intp]:
    """The 64 pixel indices the reference keeps after filtering."""
    return np.array([int(((k + 0.5) * length) / GRID) for k in range(GRID)], np.intp)


@dataclass(frozen=True, slots=True)
class SampleWeights:
    """Weights of the 64 samples along one dimension of `length` pixels.

    `dense[k]` is the weight of each pixel in sample k; it is zero outside
    `[starts[k], stops[k])`.
    """

    dense: FloatArray
    starts: npt.NDArray[np.intp]
    stops: npt.NDArray[np.intp]

    @property
    def length(self) -> int:
        """How many pixels this dimension has."""
        return int(self.dense.shape[1])

    def reversed(self) -> SampleWeights:
        """The weights for the same samples when the pixels are read backwards.

        Used to hash a mirrored or rotated view of an image (EXIF orientation)
        without moving any pixels.
        """
        n = self.length
        return SampleWeights(
            np.ascontiguousarray(self.dense[:, ::-1]), n - self.stops, n - self.starts
        )

    def folded(self, scale: int, length: int) -> SampleWeights:
        """The weights for the same samples on pixels shrunk `scale` times.

        Pixel p of the shrunk image stands for pixels [scale*p, scale*p + scale)
        of this one (as a JPEG decoded at 1/scale does), so it gets their
        summed weight: the best linear stand-in for the full-size filter.
        """
        if scale == 1 and length == self.length:
            return self
        if length != -(-self.length // scale):
            raise ValueError(
                f"{length} pixels is not {self.length} pixels shrunk {scale} times"
            )
        padded = np.zeros((GRID, length * scale), np.float64)
        padded[:, : self.length] = self.dense
        dense = padded.reshape(GRID, length, scale).sum(axis=2)
        return SampleWeights(dense, self.starts // scale, -(-self.stops // scale))


def _box_windows(length: int, window: int) -> tuple[npt.NDArray[np.intp], ...]:
    """Inclusive-exclusive input window [lo, hi) of every box-filter output."""
    half = (window + 2) // 2
    outputs = np.arange(length)
    lo = np.maximum(outputs - (window - half), 0)
    hi = np.minimum(outputs + half, length)
    return lo, hi


@functools.lru_cache(maxsize=64)
def sample_weights(length: int) -> SampleWeights:
    """Weights of PDQ's 64 samples along a dimension of `length` pixels."""
    if length < 1:
        raise ValueError(f"dimension {length} is not positive")
    window = window_size(length)
    lo, hi = _box_windows(length, window)
    count = (hi - lo).astype(np.float64)
    dense = np.zeros((GRID, length), np.float64)
    for k, s in enumerate(sample_positions(length)):
        # Second pass: sample s averages first-pass outputs j in [lo[s], hi[s]);
        # first pass: output j averages pixels in [lo[j], hi[j]).
        outputs = np.arange(lo[s], hi[s])
        step = np.zeros(length + 1, np.float64)
        weight = 1.0 / (count[s] * count[outputs])
        np.add.at(step, lo[outputs], weight)
        np.add.at(step, hi[outputs], -weight)
        dense[k] = np.cumsum(step[:-1])
    positions = sample_positions(length)
    starts = lo[lo[positions]]
    stops = hi[hi[positions] - 1]
    for k in range(GRID):
        # Rounding in the running sum leaves ~1e-17 residues outside the span.
        dense[k, : starts[k]] = 0.0
        dense[k, stops[k] :] = 0.0
    dense.setflags(write=False)
    return SampleWeights(dense, starts, stops)
