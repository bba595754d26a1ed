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

from reclaim.hashing.borders import TOLERANCE, Box, edge_colour, worth_cropping

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
    found = edge_colour(pixels)
    if found is None:
        return None
    image, colour = found
    height, width = image.shape[:2]
    far = np.abs(image.astype(np.int16) - colour).max(axis=2) > tolerance
    top, bottom = _trim(far.mean(axis=1))
    if top + bottom >= height:
        return None
    inner = far[top : height - bottom]
    left, right = _trim(inner.mean(axis=0))
    if left + right >= width:
        return None
    return worth_cropping(Box(top, height - bottom, left, width - right), height, width)


#: A line belongs to an edge band while at least this share of it is the
#: band's colour: a meme caption's bar, with its large letters, stays above it.
BAND_SHARE = 0.5
#: Bands thinner than this share of the side are noise, not a bar.
MIN_BAND = 0.03


def _band(lines: npt.NDArray[np.uint8], tolerance: int) -> int:
    """How many lines from the start are mostly the first line's colour.

    Reads lines in growing blocks and stops at the first that is not, so a
    picture without a band costs a few lines, not the whole image.
    """
    colour = np.median(lines[0].reshape(-1, lines.shape[-1]), axis=0).astype(np.int16)
    count, at, block = len(lines), 0, 8
    while at < count:
        chunk = lines[at : at + block].astype(np.int16)
        near = np.abs(chunk - colour).max(axis=-1) <= tolerance
        banded = near.mean(axis=1) >= BAND_SHARE
        if not banded.all():
            at += int(np.argmin(banded))
            break
        at += len(chunk)
        block *= 2
    return at if at >= MIN_BAND * count else 0


def find_bands(
    pixels: npt.NDArray[np.uint8], *, tolerance: int = TOLERANCE
) -> Box | None:
    """The picture without the plain bands on its edges, each side on its own.

    A meme bar (a white or black band with a caption above or below the
    picture) has a colour of its own, unlike the other edges, so
    `find_content`'s one background colour does not see it; here each side's
    band is judged by its own edge line.
    """
    image = pixels if pixels.ndim == 3 else pixels[..., None]
    height, width = image.shape[:2]
    if height < 16 or width < 16:
        return None
    across = image.transpose(1, 0, 2)
    top, bottom = _band(image, tolerance), _band(image[::-1], tolerance)
    left, right = _band(across, tolerance), _band(across[::-1], tolerance)
    if top + bottom >= height or left + right >= width:
        return None
    return worth_cropping(Box(top, height - bottom, left, width - right), height, width)
