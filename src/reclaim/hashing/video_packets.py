"""Which compressed video packets the frame sampler can leave undecoded.

vPDQ numbers frames in presentation order and hashes one frame in
`frame_mod`. In H.264 and H.265 two kinds of frame need not be decoded:

* a frame that is not sampled and that no other frame predicts from (H.264:
  its slices all have `nal_ref_idc == 0`, as encoders write most B-frames;
  H.265: sub-layer non-reference pictures of the top temporal layer);
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

T = TypeVar("T")

#: H.264 NAL unit types that carry picture slices (non-IDR, partitions, IDR).
_H264_SLICES = frozenset({1, 2, 3, 4, 5})
_H264_IDR = 5

#: H.265 picture NAL types below 32; the even ones up to 14 are "sub-layer
#: non-reference": no picture of the same temporal layer predicts from them.
_HEVC_VCL_END = 32
_HEVC_NON_REFERENCE = frozenset({0, 2, 4, 6, 8, 10, 12, 14})
_HEVC_IDR = frozenset({19, 20})


@dataclass(frozen=True, slots=True)
class NalSyntax:
    """How to read one codec's access units: H.264 or H.265 (HEVC).

    `length_size` is the bytes in each NAL length prefix (MP4's `avcC` or
    `hvcC`), or 0 for start codes. `top_layer` is HEVC's highest temporal
    layer when the stream says (only its non-reference pictures are
    unreferenced by all others), else None.
    """

    hevc: bool
    length_size: int
    top_layer: int | None = None

    @classmethod
    def for_codec(cls, name: str, extradata: bytes | None) -> NalSyntax | None:
        """The syntax of a decoder's stream, or None for other codecs."""
        data = extradata or b""
        if name == "h264":
            boxed = len(data) >= 5 and data[0] == 1  # avcC
            return cls(False, (data[4] & 3) + 1 if boxed else 0)
        if name == "hevc":
            if not (len(data) >= 23 and data[0] == 1):  # not hvcC: start codes
                return cls(True, 0)
            layers = data[21] >> 3 & 7
            return cls(True, (data[21] & 3) + 1, layers - 1 if layers else None)
        return None

    def _headers(self, data: bytes) -> list[bytes]:
        """The header bytes (1 for H.264, 2 for H.265) of every NAL unit."""
        width = 2 if self.hevc else 1
        headers: list[bytes] = []
        if self.length_size:
            at = 0
            while at + self.length_size < len(data):
                size = int.from_bytes(data[at : at + self.length_size], "big")
                at += self.length_size
                if size < width or at + size > len(data):
                    return []  # malformed: let the decoder see it
                headers.append(data[at : at + width])
                at += size
            return headers
        at = data.find(b"\x00\x00\x01")
        while at != -1 and at + 3 + width <= len(data):
            headers.append(data[at + 3 : at + 3 + width])
            at = data.find(b"\x00\x00\x01", at + 3)
        return headers

    def _pictures(self, data: bytes) -> list[tuple[int, int]]:
        """(NAL type, temporal layer) of each picture-carrying NAL unit."""
        if self.hevc:
            units = [(h[0] >> 1 & 0x3F, (h[1] & 7) - 1) for h in self._headers(data)]
            return [(kind, layer) for kind, layer in units if kind < _HEVC_VCL_END]
        units = [(h[0], 0) for h in self._headers(data)]
        return [(h, 0) for h, _ in units if h & 0x1F in _H264_SLICES]

    def disposable(self, data: bytes) -> bool:
        """Whether the access unit is a picture no other picture refers to."""
        pictures = self._pictures(data)
        if not pictures:
            return False
        if self.hevc:
            return self.top_layer is not None and all(
                kind in _HEVC_NON_REFERENCE and layer == self.top_layer
                for kind, layer in pictures
            )
        return all(header & 0x60 == 0 for header, _ in pictures)

    def idr(self, data: bytes) -> bool:
        """Whether the access unit is an IDR picture (a clean start)."""
        if self.hevc:
            return any(kind in _HEVC_IDR for kind, _ in self._pictures(data))
        return any(header & 0x1F == _H264_IDR for header, _ in self._pictures(data))


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

    def __init__(self, frame_mod: int, *, syntax: NalSyntax | None) -> None:
        # syntax None: a codec we cannot read, so nothing is known skippable.
        self.frame_mod = frame_mod
        self.syntax = syntax or NalSyntax(False, 0)
        self.skipping = syntax is not None and frame_mod > 1
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
        idr = self.syntax.idr(data)
        released = self._release(whole_group=True) if idr else []
        reference = not self.syntax.disposable(data)
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
