"""Deciding whether the fast grid is close enough to a threshold to be unsure.

The fast path (`pdq.luma_grid`) differs from the reference's float32 grid by
at most 8.3e-4 per value on the photos we measured, up to 12 MP (and its DCT
corner by 1.5e-3). A result can only differ from the reference's when something lands
within that distance of a threshold: a quality gradient term near an integer
(the reference truncates), or two DCT coefficients around the median of any
dihedral variant. Then `images.py` recomputes the grid in exact float32.
The margins below are about 2.5 times the largest error measured.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Largest error we allow for in one value of the 64x64 grid.
GRID_MARGIN = 2e-3

#: Largest error we allow for in one DCT coefficient.
DCT_MARGIN = 4e-3

_HALF = 128


def quality_is_uncertain(grid: npt.NDArray[np.float32]) -> bool:
    """Whether float noise of `GRID_MARGIN` could change the quality score."""
    g = grid.astype(np.float64)
    terms = np.abs(
        np.concatenate(
            [
                ((g[:-1, :] - g[1:, :]) * 100 / 255).ravel(),
                ((g[:, :-1] - g[:, 1:]) * 100 / 255).ravel(),
            ]
        )
    )
    margin = 2 * GRID_MARGIN * 100 / 255
    total = int(np.floor(terms).sum())
    fraction = terms - np.floor(terms)
    # A term just above an integer may truncate one lower in the reference;
    # one just below may truncate one higher.
    lowest = total - int(np.count_nonzero((fraction < margin) & (terms >= 1)))
    highest = total + int(np.count_nonzero(fraction > 1 - margin))
    return min(lowest // 90, 100) != min(highest // 90, 100)


def median_is_uncertain(variants: list[npt.NDArray[np.float32]]) -> bool:
    """Whether any variant's top half could change under `DCT_MARGIN` noise."""
    for corner in variants:
        ordered = np.sort(corner.astype(np.float64).ravel())
        if ordered[_HALF] - ordered[_HALF - 1] <= 2 * DCT_MARGIN:
            return True
    return False
