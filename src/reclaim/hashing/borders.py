"""Solid borders (letterbox and pillarbox bars, frames) around a picture.

A copy with black bars added, or a photo put on a solid background, hashes
far from the original. Finding the bars lets us hash the picture inside them
as well. A row or column is border when every pixel in it is within
`tolerance` of the border colour (taken from the image's edge), and the
picture left inside must keep at least `MIN_KEEP` of each dimension.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Largest per-channel difference from the border colour still counted as bar.
TOLERANCE = 24

#: Crop only if the picture inside keeps at least this share of each side.
MIN_KEEP = 0.3

#: Ignore borders thinner than this share of the side (compression noise).
MIN_BAR = 0.02


@dataclass(frozen=True, slots=True)
class Box:
    """The picture inside the borders: rows [top, bottom), columns [left, right)."""

    top: int
    bottom: int
    left: int
    right: int

    def crop(self, pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """The pixels inside the box."""
        return np.ascontiguousarray(
            pixels[self.top : self.bottom, self.left : self.right]
        )


def _leading(
    lines: npt.NDArray[np.uint8], colour: npt.NDArray[np.int16], tolerance: int
) -> int:
    """How many of `lines` (axis 0), from the first, are all border colour.

    Reads lines in growing blocks and stops at the first line with picture,
    so a frame without bars costs a few lines, not the whole image.
    """
    count, at, block = len(lines), 0, 8
    while at < count:
        chunk = lines[at : at + block].astype(np.int16)
        far = (np.abs(chunk - colour).max(axis=-1) > tolerance).any(axis=1)
        if far.any():
            return at + int(np.argmax(far))
        at += block
        block *= 2
    return count


def edge_colour(
    pixels: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int16]] | None:
    """(pixels as H x W x C, the colour of its corners), or None when the
    image is too small to have borders worth finding."""
    image = pixels if pixels.ndim == 3 else pixels[..., None]
    height, width = image.shape[:2]
    if height < 16 or width < 16:
        return None
    corners = np.stack([image[0, 0], image[0, -1], image[-1, 0], image[-1, -1]])
    return image, np.median(corners, axis=0).astype(np.int16)


def worth_cropping(box: Box, height: int, width: int) -> Box | None:
    """`box` if it keeps enough of the picture and trims a visible border."""
    top, bottom = box.top, height - box.bottom
    left, right = box.left, width - box.right
    kept_h, kept_w = box.bottom - box.top, box.right - box.left
    if kept_h < MIN_KEEP * height or kept_w < MIN_KEEP * width:
        return None
    thick = max(top, bottom) >= MIN_BAR * height or max(left, right) >= MIN_BAR * width
    return box if thick else None


def find_borders(
    pixels: npt.NDArray[np.uint8], *, tolerance: int = TOLERANCE
) -> Box | None:
    """The picture inside solid borders, or None if there are none to remove."""
    found = edge_colour(pixels)
    if found is None:
        return None
    image, colour = found
    height, width = image.shape[:2]
    # Every other row and column is enough to find bars; the box is then
    # pulled in by one step so no bar pixel can remain inside it.
    step = 2 if min(height, width) >= 64 else 1
    sample = image[::step, ::step]
    rows, cols = sample.shape[:2]
    top = _leading(sample, colour, tolerance)
    if top >= rows:
        return None  # the whole image is one colour
    bottom = _leading(sample[::-1], colour, tolerance)
    across = sample.transpose(1, 0, 2)
    left = _leading(across, colour, tolerance)
    right = _leading(across[::-1], colour, tolerance)
    inward = step - 1
    box = Box(
        min(top * step + (inward if top else 0), height),
        max((rows - bottom) * step - (inward if bottom else 0), 0),
        min(left * step + (inward if left else 0), width),
        max((cols - right) * step - (inward if right else 0), 0),
    )
    return worth_cropping(box, height, width)
