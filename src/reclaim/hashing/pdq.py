"""PDQ, Meta's 256-bit perceptual image hash, computed from RGB pixels.

The steps follow Meta's reference (ThreatExchange `pdq/cpp`): RGB to luma
(0.299, 0.587, 0.114), the Jarosz tent filter and decimation to 64x64
(`jarosz.py`), the quality metric on that grid, the 16x16 corner of the 2-D
DCT, and one bit per coefficient: set when it is above the median. The eight
dihedral variants come from sign flips and transposes of the same DCT.

The reference keeps its buffers in float32. Here the filter and DCT sums are
done in float64 and the intermediate grids are rounded to float32 where the
reference stores them, so that quality and median ties are decided on the
same kind of numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reclaim.hashing.errors import DegenerateImageError, ImageShapeError
from reclaim.hashing.jarosz import GRID, SampleWeights, sample_weights
from reclaim.hashing.orientation import Orientation
from reclaim.hashing.types import PdqHash

#: The reference returns an empty hash for images narrower than this.
MIN_DIMENSION = 5

#: Luma coefficients (ITU-R BT.601), used in float64 as Meta's binding does.
LUMA = np.array([0.299, 0.587, 0.114], np.float64)

_DCT_SIZE = 16


def _dct_matrix() -> npt.NDArray[np.float64]:
    """Rows 1..16 of the 64-point DCT-II basis, rounded to float32 like Meta's."""
    i = np.arange(1, _DCT_SIZE + 1, dtype=np.float64)[:, None]
    j = np.arange(GRID, dtype=np.float64)[None, :]
    # The reference keeps the scale factor in a float, then multiplies in double.
    scale = float(np.float32(np.sqrt(2.0 / GRID)))
    matrix = scale * np.cos((np.pi / 2.0 / GRID) * i * (2.0 * j + 1.0))
    return matrix.astype(np.float32).astype(np.float64)


_DCT32 = _dct_matrix().astype(np.float32)
_ODD32 = np.where(np.arange(_DCT_SIZE) % 2 == 1, 1.0, -1.0).astype(np.float32)
_CHECKER32 = _ODD32[:, None] * _ODD32[None, :]

#: Names of the dihedral variants, in the order the reference outputs them.
DIHEDRAL_NAMES = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flip_plus1",
    "flip_minus1",
)


@dataclass(frozen=True, slots=True)
class PdqFeatures:
    """What PDQ computes before thresholding: the DCT corner and the quality."""

    dct: npt.NDArray[np.float32]
    quality: int

    def hash(self) -> PdqHash:
        """The hash of the image itself."""
        return PdqHash(_threshold(self.dct), self.quality)

    def variants(self) -> list[npt.NDArray[np.float32]]:
        """DCT corners of the 8 rotations and mirrors, in `DIHEDRAL_NAMES` order."""
        a = self.dct
        odd = _ODD32
        return [
            a,
            (a * odd[None, :]).T,
            a * _CHECKER32,
            (a * odd[:, None]).T,
            a * odd[:, None],
            a * odd[None, :],
            a.T,
            (a * _CHECKER32).T,
        ]

    def dihedral(self) -> list[PdqHash]:
        """Hashes of the 8 rotations and mirrors, in `DIHEDRAL_NAMES` order."""
        return [PdqHash(_threshold(v), self.quality) for v in self.variants()]


def _threshold(dct: npt.NDArray[np.float32]) -> int:
    """One bit per coefficient, set when it is above the (lower) median."""
    flat = np.ascontiguousarray(dct, np.float32).reshape(-1)
    # Torben's median as the reference uses it: the 128th smallest of 256.
    median = np.partition(flat, flat.size // 2 - 1)[flat.size // 2 - 1]
    bits = np.packbits(flat > median, bitorder="little")
    return int.from_bytes(bits.tobytes(), "little")


def quality_of(grid: npt.NDArray[np.float32]) -> int:
    """Meta's quality metric: how many significant gradients the 64x64 has.

    Computed in float32 with truncation toward zero, as the reference does.
    """
    scale = np.float32(100.0)
    divisor = np.float32(255.0)
    down = ((grid[:-1, :] - grid[1:, :]) * scale / divisor).astype(np.int64)
    across = ((grid[:, :-1] - grid[:, 1:]) * scale / divisor).astype(np.int64)
    total = int(np.abs(down).sum() + np.abs(across).sum())
    return min(total // 90, 100)


def _reduce_rows(pixels: np.ndarray, rows: SampleWeights) -> np.ndarray:
    """Apply the row weights band by band: (H, ...) -> (64, prod(...)) float64.

    `einsum` without `optimize` runs numpy's own loops: BLAS would start its
    thread pool for each of the 64 small products, which costs more than the
    work (10x slower on 2 cores when OpenBLAS threads are left on).
    """
    height = pixels.shape[0]
    flat = pixels.reshape(height, -1)
    out = np.empty((GRID, flat.shape[1]), np.float64)
    for k in range(GRID):
        start, stop = int(rows.starts[k]), int(rows.stops[k])
        band = flat[start:stop].astype(np.float64, copy=False)
        out[k] = np.einsum("l,lw->w", rows.dense[k, start:stop], band, optimize=False)
    return out


def luma_grid(
    pixels: npt.NDArray[np.uint8],
    *,
    orientation: Orientation = Orientation.NORMAL,
    scale: int = 1,
    full_size: tuple[int, int] | None = None,
) -> npt.NDArray[np.float32]:
    """The 64x64 filtered luma grid of an (H, W, 3) or (H, W) uint8 image.

    `orientation` says how the stored pixels are turned for display (EXIF);
    the grid is that of the turned image, computed without moving pixels.
    When the pixels were decoded at 1/`scale` of the stored `full_size`
    (height, width), the full-size filter is applied through folded weights.
    """
    height, width = full_size if full_size is not None else pixels.shape[:2]
    shown_h, shown_w = (width, height) if orientation.transposes else (height, width)
    if min(shown_h, shown_w) < MIN_DIMENSION:
        raise ImageShapeError(
            f"the image is {shown_w}x{shown_h} pixels: PDQ needs at least "
            f"{MIN_DIMENSION} pixels on each side"
        )
    down = sample_weights(shown_h)
    across = sample_weights(shown_w)
    if orientation.flips_rows:
        down = down.reversed()
    if orientation.flips_cols:
        across = across.reversed()
    # Weights along the stored image's own rows and columns.
    along_h, along_w = (across, down) if orientation.transposes else (down, across)
    stored_h, stored_w = pixels.shape[0], pixels.shape[1]
    along_h = along_h.folded(scale, stored_h)
    along_w = along_w.folded(scale, stored_w)
    reduced = _reduce_rows(pixels, along_h)
    if pixels.ndim == 3:
        channels = reduced.reshape(GRID, stored_w, pixels.shape[2])
        reduced = np.einsum("kwc,c->kw", channels, LUMA, optimize=False)
    grid = _reduce_rows(np.ascontiguousarray(reduced.T), along_w).T
    if orientation.transposes:
        grid = grid.T
    return np.ascontiguousarray(grid, np.float32)


def dct_corner(grid: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The 16x16 DCT corner D A D^T, summed in float32 in the reference's order.

    Each output is accumulated over k = 0..63 with a rounding after every
    multiply and add, exactly as Meta's `dct64To16` does, so equal grids give
    equal coefficients and the median never splits differently.
    """
    a = grid.astype(np.float32, copy=False)
    d = _DCT32
    partial = np.zeros((_DCT_SIZE, GRID), np.float32)
    for k in range(GRID):
        partial += d[:, k, None] * a[None, k, :]
    corner = np.zeros((_DCT_SIZE, _DCT_SIZE), np.float32)
    for k in range(GRID):
        corner += partial[:, k, None] * d[None, :, k]
    return corner


def features_of_grid(grid: npt.NDArray[np.float32]) -> PdqFeatures:
    """Quality and DCT corner of a 64x64 luma grid."""
    if grid.shape != (GRID, GRID):
        raise ImageShapeError(f"grid shape {grid.shape} is not (64, 64)")
    quality = quality_of(grid)
    corner = dct_corner(grid)
    if float(np.max(np.abs(corner))) < 1e-3:
        raise DegenerateImageError(
            "the image is one flat colour: it has no detail to fingerprint, and "
            "its hash would match every other flat image"
        )
    return PdqFeatures(corner, quality)
