"""A copy turned inside its own frame: the angle, read from its dark corners.

Turning a picture without enlarging the canvas (what Pillow's `rotate` and
many editors do) leaves four dark triangles in the corners, and the picture
hashes far from the original. Each triangle's legs along the two edges it
touches give the turn: ``tan(angle) = short leg / long leg``, and which edge
carries the long leg gives its direction. With the angle, the largest
same-shape box inside the turned picture is exactly what `views.Rotation`
keeps of the original turned by that angle, so the matcher can hash it (and
turn it back) as one more query view. Only used on the matching side.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from reclaim.hashing.borders import Box

#: A pixel whose brightest channel is at most this is part of a dark corner.
DARK = 24
#: Turns smaller than this leave corners too thin to read; larger ones are
#: not "small turns" (the views cover up to 10 degrees).
MIN_DEGREES, MAX_DEGREES = 0.5, 12.0
#: At least three corners' readings must lie within this many degrees.
AGREEMENT = 1.5


def _dark_run(line: npt.NDArray[np.uint8]) -> int:
    """How many pixels from the start of `line` (pixels x channels) are dark."""
    dark = line.max(axis=-1) <= DARK
    return len(dark) if bool(dark.all()) else int(np.argmin(dark))


def find_turn(pixels: npt.NDArray[np.uint8]) -> float | None:
    """The angle (degrees, counter-clockwise positive, as Pillow's `rotate`) of
    a picture turned inside its frame, or None when there are no such corners.
    """
    if pixels.ndim != 3 or min(pixels.shape[:2]) < 32:
        return None
    height, width = pixels.shape[:2]
    readings = []
    for flip_rows in (False, True):
        for flip_cols in (False, True):
            view = pixels[::-1] if flip_rows else pixels
            view = view[:, ::-1] if flip_cols else view
            along_top = _dark_run(view[0])
            along_side = _dark_run(view[:, 0])
            if not (2 < along_top < width - 1 and 2 < along_side < height - 1):
                continue  # no dark triangle here (or a dark picture edge)
            angle = math.degrees(
                math.atan(min(along_top, along_side) / max(along_top, along_side))
            )
            # Counter-clockwise: the top-left triangle's long leg is on the top.
            clockwise = (along_top > along_side) == (flip_rows != flip_cols)
            readings.append(-angle if clockwise else angle)
    # Dark picture content at a corner lengthens a leg: trust the corners
    # that agree, if at least three do.
    if len(readings) < 3:
        return None
    middle = float(np.median(readings))
    agreeing = [r for r in readings if abs(r - middle) <= AGREEMENT / 2]
    if len(agreeing) < 3:
        return None
    angle = float(np.median(agreeing))
    return angle if MIN_DEGREES <= abs(angle) <= MAX_DEGREES else None


def turned_box(height: int, width: int, degrees: float) -> Box:
    """The largest centred box of the picture's shape inside it turned by
    `degrees`: what a phone's "straighten" keeps."""
    theta = math.radians(abs(degrees))
    c, s = math.cos(theta), math.sin(theta)
    k = min(width / (width * c + height * s), height / (width * s + height * c))
    kept_w, kept_h = int(width * k), int(height * k)
    top, left = (height - kept_h) // 2, (width - kept_w) // 2
    return Box(top, top + kept_h, left, left + kept_w)
