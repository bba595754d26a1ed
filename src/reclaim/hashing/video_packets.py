"""Which compressed video packets the frame sampler can leave undecoded.

vPDQ numbers frames in presentation order and hashes one frame in
`frame_mod`. A frame that is neither sampled nor used by the decoder to
predict other frames (an H.264 picture whose slices all have
`nal_ref_idc == 0`, as encoders write most B-frames) need not be decoded at
all: skipping its packet changes no other picture. The `Sampler` decides this
packet by packet, in decode order, and numbers the frames that do come out of
the decoder as if every frame had: the frames output before, plus the skipped
frames shown before. The numbering therefore equals Meta's vpdq, which decodes
everything. `consistent()` checks afterwards that no skipped frame would have
been sampled (a stream that sends a frame after a later-shown non-reference
frame); if one would, the caller decodes again without skipping.
"""

from __future__ import annotations

import bisect

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


def is_disposable(data: bytes, length_size: int) -> bool:
    """Whether an H.264 access unit is a picture no other picture refers to."""
    slices = [h for h in _nal_headers(data, length_size) if h & 0x1F in _SLICE_TYPES]
    return bool(slices) and all(h & 0x60 == 0 for h in slices)


class Sampler:
    """Decides which packets to decode, and numbers the frames that come out."""

    def __init__(self, frame_mod: int, *, length_size: int | None) -> None:
        # length_size None: not H.264, so nothing is known to be disposable.
        self.frame_mod = frame_mod
        self.length_size = length_size
        self.skipping = length_size is not None and frame_mod > 1
        self.seen: list[int] = []
        self.skipped: list[int] = []
        self.output = 0
        #: Set by the decoding loop when a packet or the container was damaged.
        self.damaged = False

    def keep(self, pts: int | None, data: bytes) -> bool:
        """Whether to decode this packet (called in decode order)."""
        if not self.skipping:
            return True
        if pts is None:
            self.skipping = False  # cannot place frames without timestamps
            return True
        rank = bisect.bisect_left(self.seen, pts)
        if rank < len(self.seen) and self.seen[rank] == pts:
            self.skipping = False  # repeated timestamps: numbering unsure
            return True
        self.seen.insert(rank, pts)
        assert self.length_size is not None
        if rank % self.frame_mod == 0 or not is_disposable(data, self.length_size):
            return True
        bisect.insort(self.skipped, pts)
        return False

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
