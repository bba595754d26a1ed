"""Small rotations of an image by an exact integer sampling rule.

Submission views include the photo turned by a few degrees, and the browser
must produce the very same pixels as Python, so the rule is integer-only
(no `cos` from two different maths libraries, no Pillow resampling):

* The angle is given by its cosine and sine as integers scaled by
  `ONE` = 2**16 (`turn(degrees)` rounds them once; `static/expansion.js`
  holds the same numbers).
* The output keeps the input's aspect ratio and is the largest such
  rectangle, centred, that fits inside the turned image (what a phone's
  "straighten" tool shows): ``k = min(W*ONE / (W*c + H*s), H*ONE / (W*s + H*c))``
  and the output is ``floor(W*k)`` by ``floor(H*k)``, in integers.
* Output pixel (x, y) has its centre at ``dx = 2x + 1 - w``, ``dy = 2y + 1 - h``
  half-pixels from the middle. It reads the input at
  ``U = c*dx - s*dy + (W - 1)*ONE`` and ``V = s*dx + c*dy + (H - 1)*ONE``, in
  units of 1 / (2*ONE) pixel: column ``floor(U / 2ONE)``, fraction
  ``(U mod 2ONE) >> 9`` (8 bits), and the same for rows. A positive angle turns
  the picture counter-clockwise, as Pillow's `rotate` does.
* Bilinear mix with 8-bit weights, rounded: ``(sum + 32768) >> 16``.
  Neighbours past the last row or column are clamped to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Fixed-point scale of the cosine and sine.
ONE = 1 << 16

_HALF = 2 * ONE
_FRACTION_SHIFT = 9  # (2 * ONE) >> 9 == 256: 8-bit bilinear weights


@dataclass(frozen=True, slots=True)
class Turn:
    """An angle as integer cosine and sine scaled by `ONE`."""

    cos: int
    sin: int


def turn(degrees: float) -> Turn:
    """The fixed-point cosine and sine of `degrees` (|degrees| < 45)."""
    if not -45.0 < degrees < 45.0:
        raise ValueError(f"{degrees} degrees is out of range: expected -45 to 45")
    radians = math.radians(degrees)
    return Turn(round(math.cos(radians) * ONE), round(math.sin(radians) * ONE))


def turned_size(width: int, height: int, angle: Turn) -> tuple[int, int]:
    """(width, height) of the largest centred same-shape box inside the turn."""
    c, s = angle.cos, abs(angle.sin)
    across = width * c + height * s  # the box's width as the turn sees it
    down = width * s + height * c
    # k = min(width / across, height / down) * ONE, compared by cross-multiplying.
    if width * down <= height * across:
        return width * width * ONE // across, height * width * ONE // across
    return width * height * ONE // down, height * height * ONE // down


def _split(
    coordinate: npt.NDArray[np.int64], size: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Index, next index (clamped) and 8-bit fraction of fixed-point positions."""
    index = coordinate // _HALF
    fraction = (coordinate - index * _HALF) >> _FRACTION_SHIFT
    index = np.clip(index, 0, size - 1)
    following = np.minimum(index + 1, size - 1)
    return index, following, fraction


def rotate(pixels: npt.NDArray[np.uint8], angle: Turn) -> npt.NDArray[np.uint8]:
    """The (H, W, C) image turned by `angle` and cropped to `turned_size`."""
    height, width = pixels.shape[:2]
    out_w, out_h = turned_size(width, height, angle)
    dx = np.arange(out_w, dtype=np.int64) * 2 + 1 - out_w
    dy = np.arange(out_h, dtype=np.int64) * 2 + 1 - out_h
    c, s = angle.cos, angle.sin
    u = c * dx[None, :] - s * dy[:, None] + (width - 1) * ONE
    v = s * dx[None, :] + c * dy[:, None] + (height - 1) * ONE
    x0, x1, fx = _split(u, width)
    y0, y1, fy = _split(v, height)
    flat = pixels.reshape(height * width, -1)
    gx, gy = 256 - fx, 256 - fy
    total = np.zeros((out_h * out_w, flat.shape[1]), np.int32)
    for rows, cols, weight in (
        (y0, x0, gx * gy),
        (y0, x1, fx * gy),
        (y1, x0, gx * fy),
        (y1, x1, fx * fy),
    ):
        taken = np.take(flat, (rows * width + cols).reshape(-1), axis=0)
        total += taken.astype(np.int32) * weight.reshape(-1, 1).astype(np.int32)
    out = ((total + 32768) >> 16).astype(np.uint8)
    shape = (out_h, out_w) if pixels.ndim == 2 else (out_h, out_w, pixels.shape[2])
    return out.reshape(shape)
