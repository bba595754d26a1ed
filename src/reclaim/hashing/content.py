"""The picture inside busy surroundings: screenshot chrome, captions on a plain band.

`borders.find_borders` removes bars where every pixel is the border colour. A
screenshot's chrome is mostly that colour but carries a clock, icons, a user
name and a caption, so its rows are not solid. Here a row (or column) at the
edge counts as surroundings while no more than `MAX_BUSY` of its pixels
differ from the background colour, and the picture is what is left once such
rows and columns are trimmed from all four sides. Only used on the matching
side, as one more set of query hashes: a wrong box costs a few hashes, never
a missed match.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from reclaim.hashing.borders import MIN_BAR, MIN_KEEP, TOLERANCE, Box

#: A row or column with at most this share of non-background pixels is chrome.
MAX_BUSY = 0.4


def _trim(busy: npt.NDArray[np.float64]) -> tuple[int, int]:
    """How many quiet lines there are at the start and at the end."""
    quiet = busy <= MAX_BUSY
    n = len(quiet)
    if quiet.all():
        return n, n
    return int(np.argmin(quiet)), int(np.argmin(quiet[::-1]))


def find_content(
    pixels: npt.NDArray[np.uint8], *, tolerance: int = TOLERANCE
) -> Box | None:
    """The picture inside mostly plain surroundings, or None if there are none."""
    image = pixels if pixels.ndim == 3 else pixels[..., None]
    height, width = image.shape[:2]
    if height < 16 or width < 16:
        return None
    corners = np.stack([image[0, 0], image[0, -1], image[-1, 0], image[-1, -1]])
    colour = np.median(corners, axis=0).astype(np.int16)
    far = np.abs(image.astype(np.int16) - colour).max(axis=2) > tolerance
    top, bottom = _trim(far.mean(axis=1))
    if top + bottom >= height:
        return None
    inner = far[top : height - bottom]
    left, right = _trim(inner.mean(axis=0))
    if left + right >= width:
        return None
    box = Box(top, height - bottom, left, width - right)
    if (box.bottom - box.top) < MIN_KEEP * height or (
        box.right - box.left
    ) < MIN_KEEP * width:
        return None
    thick = max(top, bottom) >= MIN_BAR * height or max(left, right) >= MIN_BAR * width
    return box if thick else None
