"""Which compressed video packets the frame sampler can leave undecoded.

vPDQ numbers frames in presentation order and hashes one frame in
`frame_mod`. In H.264 two kinds of frame need not be decoded at all:

* a frame that is not sampled and that no other frame predicts from (its
  slices all have `nal_ref_idc == 0`, as encoders write most B-frames);
* any frame after the last sampled one, in decode order, before the next IDR
  frame: nothing decoded later can refer back across an IDR.

The `Sampler` holds the packets of one IDR-to-IDR group (up to
`MAX_GROUP` of them), then releases those to decode. It numbers the frames
that come out of the decoder as if every frame had: the frames output
before, plus the skipped frames shown before. The numbering therefore equals
Meta's vpdq, which decodes everything. `consistent()` checks afterwards that
no skipped frame would have been sampled (possible only in a stream that
sends a frame after a later-shown one across a long group); if one would,
the caller decodes again without skipping.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

#: Packets held back at most, looking for the next IDR frame (memory bound).
MAX_GROUP = 300

#: An IDR picture: decoding starts afresh, nothing refers back past it.
_IDR = 5

T = TypeVar("T")

#: H.264 NAL unit types that carry picture slices (non-IDR, partitions, IDR).
_SLICE_TYPES = frozenset({1, 2, 3, 4, 5})


def h264_length_size(extradata: bytes | None) -> int:
    """Bytes in each NAL length prefix (MP4 `avcC`), or 0 for start codes."""
    if extradata and len(extradata) >= 5 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    return 0


def _nal_headers(data: bytes, length_size: int) -> list[int]:
    """The first byte of every NAL unit in an H.264 access unit."""
    headers: list[int] = []
    if length_size:
        at = 0
        while at + length_size < len(data):
            size = int.from_bytes(data[at : at + length_size], "big")
            at += length_size
            if size == 0 or at + size > len(data):
                return []  # malformed: let the decoder see it
            headers.append(data[at])
            at += size
        return headers
    at = data.find(b"\x00\x00\x01")
    while at != -1 and at + 3 < len(data):
        headers.append(data[at + 3])
        at = data.find(b"\x00\x00\x01", at + 3)
    return headers


def _slices(data: bytes, length_size: int) -> list[int]:
    return [h for h in _nal_headers(data, length_size) if h & 0x1F in _SLICE_TYPES]


def is_disposable(data: bytes, length_size: int) -> bool:
    """Whether an H.264 access unit is a picture no other picture refers to."""
    slices = _slices(data, length_size)
    return bool(slices) and all(h & 0x60 == 0 for h in slices)


def is_idr(data: bytes, length_size: int) -> bool:
    """Whether an H.264 access unit is an IDR picture (a clean start)."""
    return any(h & 0x1F == _IDR for h in _slices(data, length_size))


@dataclass(frozen=True, slots=True)
class _Held(Generic[T]):
    pts: int
    reference: bool
    item: T


class Sampler(Generic[T]):
    """Decides which packets to decode, and numbers the frames that come out.

    `push` takes packets in decode order and returns those to decode now
    (`T` is whatever the caller decodes: a PyAV packet); `finish` returns the
    rest at the end of the stream.
    """

    def __init__(self, frame_mod: int, *, length_size: int | None) -> None:
        # length_size None: not H.264, so nothing is known to be skippable.
        self.frame_mod = frame_mod
        self.length_size = length_size if length_size is not None else 0
        self.skipping = length_size is not None and frame_mod > 1
        self.seen: list[int] = []
        self.skipped: list[int] = []
        self.held: list[_Held[T]] = []
        self.output = 0
        #: Set by the decoding loop when a packet or the container was damaged.
        self.damaged = False

    def push(self, pts: int | None, data: bytes, item: T) -> Sequence[T]:
        """Take the next packet; return the packets to decode now, in order."""
        if not self.skipping:
            return [item]
        if pts is None or self._repeated(pts):
            # Frames cannot be placed without distinct timestamps: decode all.
            self.skipping = False
            return [*self._release(whole_group=False), item]
        bisect.insort(self.seen, pts)
        idr = is_idr(data, self.length_size)
        released = self._release(whole_group=True) if idr else []
        reference = not is_disposable(data, self.length_size)
        self.held.append(_Held(pts, reference, item))
        if len(self.held) > MAX_GROUP:
            released += self._release(whole_group=False)
        return released

    def finish(self) -> Sequence[T]:
        """At the end of the stream (or where it breaks off): the held packets."""
        return self._release(whole_group=True)

    def _repeated(self, pts: int) -> bool:
        at = bisect.bisect_left(self.seen, pts)
        return at < len(self.seen) and self.seen[at] == pts

    def _release(self, *, whole_group: bool) -> list[T]:
        """Decide the held packets. A whole group ends before an IDR frame (or
        the stream's end), so frames after its last sampled one can go too."""
        held, self.held = self.held, []
        ranks = [bisect.bisect_left(self.seen, h.pts) for h in held]
        sampled = [i for i, rank in enumerate(ranks) if rank % self.frame_mod == 0]
        last = max(sampled, default=-1) if whole_group else len(held) - 1
        kept: list[T] = []
        for position, (entry, rank) in enumerate(zip(held, ranks, strict=True)):
            if position <= last and (entry.reference or rank % self.frame_mod == 0):
                kept.append(entry.item)
            else:
                bisect.insort(self.skipped, entry.pts)
        return kept

    def number(self, pts: int | None) -> int:
        """The frame number of the next decoded frame, as if none were skipped."""
        before = (
            len(self.skipped) if pts is None else bisect.bisect_left(self.skipped, pts)
        )
        index = self.output + before
        self.output += 1
        return index

    def consistent(self) -> bool:
        """Whether no skipped frame turned out to be one the sampler needed."""
        return all(
            bisect.bisect_left(self.seen, pts) % self.frame_mod for pts in self.skipped
        )
