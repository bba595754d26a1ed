"""EXIF orientation: how stored pixels are turned before a person sees them.

Browsers draw photos upright by applying the EXIF orientation tag, so reclaim
hashes the upright image too. Each of the 8 tag values is a transpose
(optional) followed by flips of rows and/or columns of the stored pixels.
"""

from __future__ import annotations

import enum


class Orientation(enum.IntEnum):
    """The EXIF orientation tag (0x0112) values."""

    NORMAL = 1
    MIRROR = 2
    ROTATE_180 = 3
    FLIP = 4
    TRANSPOSE = 5
    ROTATE_90_CW = 6
    TRANSVERSE = 7
    ROTATE_90_CCW = 8

    @classmethod
    def from_tag(cls, value: object) -> Orientation:
        """Read a tag value; anything missing or out of range means NORMAL."""
        if isinstance(value, int) and 1 <= value <= 8:
            return cls(value)
        return cls.NORMAL

    @property
    def transposes(self) -> bool:
        """Whether rows and columns swap (the upright image is W tall)."""
        return self >= Orientation.TRANSPOSE

    @property
    def flips_rows(self) -> bool:
        """Whether the upright image's rows run bottom to top of the stored one."""
        return self in _FLIP_ROWS

    @property
    def flips_cols(self) -> bool:
        """Whether the upright image's columns run right to left."""
        return self in _FLIP_COLS


# Upright = flip(transpose?(stored)); e.g. 6 (turn 90 clockwise) is the
# transpose read right to left.
_FLIP_ROWS = frozenset(
    {
        Orientation.ROTATE_180,
        Orientation.FLIP,
        Orientation.TRANSVERSE,
        Orientation.ROTATE_90_CCW,
    }
)
_FLIP_COLS = frozenset(
    {
        Orientation.MIRROR,
        Orientation.ROTATE_180,
        Orientation.ROTATE_90_CW,
        Orientation.TRANSVERSE,
    }
)
