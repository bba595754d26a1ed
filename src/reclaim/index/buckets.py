"""Bucket directories and position lists: the compact parts of one MIH table.

A table sorts the stored positions by a short key; the directory says where
each key's bucket starts in that order. Both are kept as small as exactness
allows, because the whole index must stay within twice the raw hashes:

* `Directory` keeps a uint32 anchor every 2**shift buckets and, per bucket,
  its start as an offset from that anchor in the narrowest type that holds
  every offset (uint8, else uint16), with the widest shift that fits: about
  1.1 bytes a bucket for evenly filled tables. Without a fitting shift (a
  bucket of 65,536 or more duplicates) it keeps plain uint32 starts.
* `PositionList` keeps positions below 2**24 as 3 bytes (a uint16 and a
  uint8 array), or as uint32.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

#: np.take mode for indices that are in range by construction: "clip" skips
#: the bounds check that "raise" makes, which halves the cost of a gather.
IN_RANGE: Literal["clip"] = "clip"

_OFFSET_TYPES: tuple[type[np.unsignedinteger], ...] = (np.uint8, np.uint16)


class Directory:
    """Start of every bucket, for keys 0 .. 2**key_bits (the last is the end)."""

    __slots__ = ("_anchors", "_offsets", "_shift")

    def __init__(self, keys: npt.NDArray[np.uint32], key_bits: int) -> None:
        counts = np.bincount(keys, minlength=1 << key_bits)
        starts = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        self._shift = 0
        self._offsets: npt.NDArray[np.unsignedinteger] | None = None
        self._anchors = starts.astype(np.uint32)
        for kind in _OFFSET_TYPES:
            shift = _widest_shift(starts, key_bits, int(np.iinfo(kind).max))
            if shift is not None:
                self._shift = shift
                self._anchors = starts[:: 1 << shift].astype(np.uint32)
                # Each group's anchor, repeated over its buckets.
                anchor = np.repeat(starts[:: 1 << shift], 1 << shift)
                self._offsets = (starts - anchor[: len(starts)]).astype(kind)
                break

    @property
    def nbytes(self) -> int:
        offsets = 0 if self._offsets is None else self._offsets.nbytes
        return int(self._anchors.nbytes + offsets)

    def spans(
        self, keys: npt.NDArray[np.uint32]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Start and length of the buckets of these keys (each < 2**key_bits)."""
        ends = self._starts(keys + 1)
        starts = self._starts(keys)
        ends -= starts
        return starts, ends

    def _starts(self, keys: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]:
        if self._offsets is None:
            return np.take(self._anchors, keys, mode=IN_RANGE).astype(np.int64)
        starts: npt.NDArray[np.int64] = np.take(
            self._anchors, keys >> self._shift, mode=IN_RANGE
        ).astype(np.int64)
        starts += np.take(self._offsets, keys, mode=IN_RANGE)
        return starts


def _widest_shift(
    starts: npt.NDArray[np.int64], key_bits: int, limit: int
) -> int | None:
    """The largest group size (a power of two, at least 2) whose offsets are
    <= limit; None if even pairs of buckets overflow it."""
    # Starts never decrease, so a group's largest offset is its last one's:
    # one subtraction per group, not per bucket (directories of 2**24
    # buckets are built in a fraction of the time).
    for shift in range(min(key_bits, 16), 0, -1):
        firsts = starts[:: 1 << shift]
        lasts = starts[(1 << shift) - 1 :: 1 << shift]
        widest = max(
            int((lasts - firsts[: len(lasts)]).max(initial=0)),
            int(starts[-1] - firsts[-1]),  # the last group, full or not
        )
        if widest <= limit:
            return shift
    return None


def directory_bytes(key_bits: int, size: int) -> float:
    """Expected directory size for `size` evenly spread codes (for planning)."""
    buckets = 2**key_bits
    mean = size / buckets
    for kind, width in ((np.uint8, 1), (np.uint16, 2)):
        limit = int(np.iinfo(kind).max)
        for shift in range(min(key_bits, 16), 0, -1):
            group = mean * 2**shift
            # A generous Poisson tail over every group keeps the estimate honest.
            if group + 6 * math.sqrt(group) + 1 <= limit:
                return float(buckets * (width + 4 / 2**shift))
    return float(4 * buckets)


def position_bytes(size: int) -> int:
    """Bytes a `PositionList` of positions below `size` keeps per position."""
    return 3 if size <= 1 << 24 else 4


class PositionList:
    """Positions (each below 2**32) in a fixed order, read back by slot."""

    __slots__ = ("_high", "_low")

    def __init__(
        self, positions: npt.NDArray[np.int64] | npt.NDArray[np.uint32]
    ) -> None:
        if len(positions) and int(positions.max()) >= 1 << 24:
            self._low: npt.NDArray[np.uint16] | npt.NDArray[np.uint32] = (
                positions.astype(np.uint32)
            )
            self._high: npt.NDArray[np.uint8] | None = None
        else:
            self._low = (positions & 0xFFFF).astype(np.uint16)
            self._high = (positions >> 16).astype(np.uint8)

    @property
    def nbytes(self) -> int:
        high = 0 if self._high is None else self._high.nbytes
        return int(self._low.nbytes + high)

    def take(self, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Positions at these slots of the order."""
        if self._high is None:
            return np.take(self._low, slots, mode=IN_RANGE).astype(np.int64)
        out: npt.NDArray[np.int64] = np.take(self._high, slots, mode=IN_RANGE).astype(
            np.int64
        )
        out <<= 16
        out |= np.take(self._low, slots, mode=IN_RANGE)
        return out
