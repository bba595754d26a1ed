"""Derived views of a photo (crops, small turns) made by exact integer rules.

A view is a named way to cut or turn the picture. The same view must give the
same pixels in Python and in the browser (`static/expansion.js`), so:

* Views are made from a *working image*: the upright RGB picture, shrunk when
  its long side exceeds `WORKING_SIDE` by an integer factor ``n = ceil(long /
  WORKING_SIDE)``, each output pixel the rounded mean of an n x n block
  (``(sum + n*n // 2) // (n*n)`` per channel; leftover rows and columns at the
  bottom and right are dropped). A view is a small change, so it need not be
  hashed at full size, and this keeps the cost per view near constant.
* A crop is an integer box: `permille` thousandths of the width (or height),
  rounded down, come off one side; a centre crop takes half that, rounded
  down, off each of the four sides.
* A turn is `rotate.rotate` with the angle's fixed-point cosine and sine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from reclaim.hashing.decoder import DecodedImage
from reclaim.hashing.rotate import Turn, rotate, turn

#: The working image's long side is at most this many pixels.
WORKING_SIDE = 256

Side = Literal["left", "right", "top", "bottom", "centre"]


@dataclass(frozen=True, slots=True)
class Crop:
    """Cut `permille`/1000 of the picture off one side (or around the centre)."""

    side: Side
    permille: int

    @property
    def name(self) -> str:
        """A short stable label, e.g. ``crop-left-100``."""
        return f"crop-{self.side}-{self.permille}"

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) of what is kept, in pixels."""
        across, down = width * self.permille // 1000, height * self.permille // 1000
        if self.side == "left":
            return 0, height, across, width
        if self.side == "right":
            return 0, height, 0, width - across
        if self.side == "top":
            return down, height, 0, width
        if self.side == "bottom":
            return 0, height - down, 0, width
        return down // 2, height - down // 2, across // 2, width - across // 2

    def apply(self, pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """The kept pixels."""
        top, bottom, left, right = self.box(pixels.shape[1], pixels.shape[0])
        return np.ascontiguousarray(pixels[top:bottom, left:right])


@dataclass(frozen=True, slots=True)
class Rotation:
    """Turn the picture by `degrees` (counter-clockwise when positive)."""

    degrees: float

    @property
    def name(self) -> str:
        """A short stable label, e.g. ``rotate-2``."""
        return f"rotate-{self.degrees:g}"

    @property
    def angle(self) -> Turn:
        """The fixed-point cosine and sine used to sample."""
        return turn(self.degrees)

    def apply(self, pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """The turned picture, cropped to the largest same-shape box inside."""
        return rotate(pixels, self.angle)


View = Crop | Rotation


def upright_rgb(image: DecodedImage) -> npt.NDArray[np.uint8]:
    """The decoded pixels turned upright (EXIF) as (H, W, 3) RGB."""
    pixels = image.pixels
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    orientation = image.orientation
    if orientation.transposes:
        pixels = pixels.transpose(1, 0, 2)
    if orientation.flips_rows:
        pixels = pixels[::-1]
    if orientation.flips_cols:
        pixels = pixels[:, ::-1]
    return np.ascontiguousarray(pixels)


def working_image(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The (H, W, 3) picture shrunk by block means to `WORKING_SIDE` at most."""
    height, width = pixels.shape[:2]
    factor = -(-max(height, width) // WORKING_SIDE)
    if factor <= 1:
        return pixels
    rows, cols = height // factor, width // factor
    blocks = pixels[: rows * factor, : cols * factor].astype(np.uint32)
    sums = blocks.reshape(rows, factor, cols, factor, -1).sum(axis=(1, 3))
    area = factor * factor
    means: npt.NDArray[np.uint8] = ((sums + area // 2) // area).astype(np.uint8)
    return means
