"""A video's bars (letterbox, pillarbox): decided from its first sampled frames.

If every sampled frame shows the same solid bars, the picture inside them is
hashed as well (`VideoHash.cropped`), so a letterboxed copy still matches its
original. The decision uses the first `Letterbox.DECIDE_AFTER` sampled frames
that show any picture, in frame order; frames decoded out of order (groups of
pictures decoded in parallel) are put in order by `video_groups.OrderedBars`.
"""

from __future__ import annotations

import numpy as np

from reclaim.hashing.borders import Box, find_borders
from reclaim.hashing.pdq import features_of_grid, luma_grid
from reclaim.hashing.types import PdqHash
from reclaim.hashing.vpdq_format import VpdqFrame


def hash_frame(pixels: np.ndarray) -> PdqHash | None:
    """The PDQ hash of an RGB frame, or None for a flat one (no detail)."""
    try:
        return features_of_grid(luma_grid(pixels)).hash()
    except Exception:  # noqa: BLE001 - a flat frame (fade to black) has no hash
        return None


class Letterbox:
    """Decides the bars from the first sampled frames, then crops the rest.

    Bars must be the same in every sampled frame that shows any picture; a
    frame with picture where the bars were (a fade, a title) counts against
    them, and more than 10% such frames drops the cropped hashes.
    """

    DECIDE_AFTER = 3

    def __init__(self) -> None:
        self.box: Box | None = None
        self.decided = False
        self.pending: list[tuple[int, float, np.ndarray]] = []
        self.boxes: list[Box] = []
        self.frames: list[VpdqFrame] = []
        self.disagree = 0
        self.seen = 0

    @property
    def settled_without_bars(self) -> bool:
        """Decided, and no bars: later frames cannot change the result."""
        return self.decided and self.box is None

    def add(self, index: int, timestamp: float, pixels: np.ndarray) -> None:
        """Take the next sampled frame (in frame order until decided)."""
        if self.settled_without_bars:
            return  # saves looking for borders in every later frame
        found = find_borders(pixels)
        height, width = pixels.shape[:2]
        full = Box(0, height, 0, width)
        if found is None and _is_flat(pixels):
            return  # a blank frame says nothing about bars
        self.seen += 1
        box = found or full
        if not self.decided:
            self.boxes.append(box)
            self.pending.append((index, timestamp, pixels))
            if len(self.boxes) >= self.DECIDE_AFTER:
                self._decide(full)
            return
        if self.box is None:
            return
        if not _inside(self.box, box):
            self.disagree += 1
        self._hash(index, timestamp, pixels)

    def _decide(self, full: Box) -> None:
        self.decided = True
        union = Box(
            min(b.top for b in self.boxes),
            max(b.bottom for b in self.boxes),
            min(b.left for b in self.boxes),
            max(b.right for b in self.boxes),
        )
        self.box = None if union == full else union
        if self.box is not None:
            for index, timestamp, pixels in self.pending:
                self._hash(index, timestamp, pixels)
        self.pending.clear()

    def _hash(self, index: int, timestamp: float, pixels: np.ndarray) -> None:
        assert self.box is not None
        pdq = hash_frame(self.box.crop(pixels))
        if pdq is not None:
            self.frames.append(VpdqFrame(index, timestamp, pdq))

    def result(self) -> tuple[Box | None, tuple[VpdqFrame, ...]]:
        """The bars and the hashes inside them, or (None, ()) without bars."""
        if not self.decided and self.boxes:
            height, width = self.pending[0][2].shape[:2]
            self._decide(Box(0, height, 0, width))
        if self.box is None or self.disagree > 0.1 * max(self.seen, 1):
            return None, ()
        frames = sorted(self.frames, key=lambda frame: frame.frame_number)
        return self.box, tuple(frames)


def _inside(bars: Box, frame: Box) -> bool:
    """Whether a frame's own borders are at least the video's bars."""
    return (
        frame.top >= bars.top
        and frame.bottom <= bars.bottom
        and frame.left >= bars.left
        and frame.right <= bars.right
    )


def _is_flat(pixels: np.ndarray) -> bool:
    return int(pixels.max()) - int(pixels.min()) <= 24
