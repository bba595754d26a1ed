"""Bucket directories and position lists: the compact parts of one MIH table.

A table sorts the stored positions by a short key; the directory says where
each key's bucket starts in that order. Both are stored as small as exactness
allows, because the index must stay within twice the raw hashes' size:

* `Directory` keeps a uint32 anchor every 2**shift buckets and a uint16
  offset from its anchor per bucket (2 bytes a bucket instead of 4), or plain
  uint32 starts when a group of buckets holds too many entries for uint16.
* `PositionList` keeps positions below 2**24 as 3 bytes (a uint16 and a
  uint8 array), or as uint32.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_UINT16_LIMIT = 1 << 16


class Directory:
    """Start of every bucket, for keys 0 .. 2**key_bits (the last is the end)."""

    __slots__ = ("_anchors", "_offsets", "_shift")

    def __init__(self, keys: npt.NDArray[np.uint32], key_bits: int) -> None:
        counts = np.bincount(keys, minlength=1 << key_bits)
        starts = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        shift = _widest_shift(starts, key_bits)
        self._shift = 0 if shift is None else shift
        if shift is None:
            self._anchors = starts.astype(np.uint32)
            self._offsets: npt.NDArray[np.uint16] | None = None
        else:
            self._anchors = starts[:: 1 << self._shift].astype(np.uint32)
            group = np.arange(len(starts)) >> self._shift
            self._offsets = (starts - self._anchors[group]).astype(np.uint16)

    @property
    def nbytes(self) -> int:
        offsets = 0 if self._offsets is None else self._offsets.nbytes
        return int(self._anchors.nbytes + offsets)

    def starts(self, keys: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]:
        """Where the buckets of these keys (0 .. 2**key_bits) start."""
        if self._offsets is None:
            return self._anchors[keys].astype(np.int64)
        anchors: npt.NDArray[np.int64] = self._anchors[keys >> self._shift].astype(
            np.int64
        )
        anchors += self._offsets[keys]
        return anchors


def _widest_shift(starts: npt.NDArray[np.int64], key_bits: int) -> int | None:
    """The largest group size (as a power of two) whose entries fit uint16."""
    for shift in range(key_bits, -1, -1):
        anchors = starts[:: 1 << shift]
        group = np.arange(len(starts)) >> shift
        if int((starts - anchors[group]).max()) < _UINT16_LIMIT:
            return shift
    return None


class PositionList:
    """Positions (each below 2**32) in a fixed order, read back by slot."""

    __slots__ = ("_high", "_low")

    def __init__(self, positions: npt.NDArray[np.int64]) -> None:
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

    def __getitem__(self, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        low = np.take(self._low, slots).astype(np.int64)
        if self._high is None:
            return low
        high = np.take(self._high, slots).astype(np.int64)
        high <<= 16
        high |= low
        return high
