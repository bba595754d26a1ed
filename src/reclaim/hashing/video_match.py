"""Matching two videos by their vPDQ frames, with Meta's brute-force rule.

The rule is python-threatexchange's `match_VPDQ_hash_brute` (what HMA runs):

1. in each video, drop frames whose hash repeats an earlier frame's exactly,
   then drop frames below `quality`;
2. a frame of one video is matched when some frame of the other is within
   `distance` bits (inclusive, as for PDQ);
3. `query_match_percent` is the share of the first video's remaining frames
   that are matched, `compared_match_percent` the share of the second's.

The videos match when both shares reach their thresholds. Meta's C++
`matchTwoHashBrute` differs slightly (strict `< distance`, no de-duplication);
we follow the Python, which the oracle test checks. When no frame is left on
either side, both shares are 0 (the C++ choice; the Python divides by zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reclaim.hashing.distance import MATCH_DISTANCE, MIN_QUALITY
from reclaim.hashing.video import VideoHash
from reclaim.hashing.vpdq_format import VpdqFrame, VpdqHash

#: Default share (percent) of each video's frames that must be matched.
MATCH_PERCENT = 80.0

#: Distances are computed in blocks of this many query rows (bounds memory).
_BLOCK = 512


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """How much of two videos' frames match, and whether that is a match."""

    query_match_percent: float
    compared_match_percent: float
    is_match: bool


def _usable(frames: Sequence[VpdqFrame], quality: int) -> npt.NDArray[np.uint64]:
    """Unique (first occurrence), good-enough frames as rows of 4 uint64 words."""
    seen: set[int] = set()
    kept: list[bytes] = []
    for frame in frames:
        value = frame.pdq.value
        if value in seen:
            continue
        seen.add(value)
        if frame.quality >= quality:
            kept.append(frame.pdq.to_bytes())
    packed = np.frombuffer(b"".join(kept), np.uint8).reshape(-1, 32)
    return packed.view(np.uint64)


def _matched(
    rows: npt.NDArray[np.uint64], others: npt.NDArray[np.uint64], distance: int
) -> npt.NDArray[np.bool_]:
    """For each row, whether some row of `others` is within `distance` bits."""
    found = np.zeros(len(rows), bool)
    for start in range(0, len(rows), _BLOCK):
        block = rows[start : start + _BLOCK]
        bits = np.bitwise_count(block[:, None, :] ^ others[None, :, :]).sum(
            axis=2, dtype=np.int32
        )
        found[start : start + _BLOCK] = (bits <= distance).any(axis=1)
    return found


def _score(
    query: Sequence[VpdqFrame],
    compared: Sequence[VpdqFrame],
    *,
    distance: int,
    quality: int,
    query_threshold: float,
    compared_threshold: float,
) -> VideoMatch:
    a, b = _usable(query, quality), _usable(compared, quality)
    if len(a) == 0 or len(b) == 0:
        return VideoMatch(0.0, 0.0, False)
    query_percent = int(_matched(a, b, distance).sum()) * 100 / len(a)
    compared_percent = int(_matched(b, a, distance).sum()) * 100 / len(b)
    return VideoMatch(
        query_percent,
        compared_percent,
        query_percent >= query_threshold and compared_percent >= compared_threshold,
    )


def _variants(video: VpdqHash | VideoHash) -> list[tuple[VpdqFrame, ...]]:
    if isinstance(video, VideoHash):
        return [video.frames, video.cropped] if video.cropped else [video.frames]
    if isinstance(video, VpdqHash):
        return [video.frames]
    raise TypeError(
        f"{type(video).__name__} is not a video hash: expected a VpdqHash "
        "(VpdqHash.parse(text)) or a VideoHash (video_hash(path))"
    )


def video_match(
    a: VpdqHash | VideoHash,
    b: VpdqHash | VideoHash,
    *,
    distance: int = MATCH_DISTANCE,
    quality: int = MIN_QUALITY,
    query_threshold: float = MATCH_PERCENT,
    compared_threshold: float = MATCH_PERCENT,
) -> VideoMatch:
    """Match video `a` (the query) against video `b` with the vPDQ rule.

    A `VideoHash` with bars also offers the frames hashed inside them: every
    pairing of variants is scored and the best is returned (a match first,
    then the higher of the two shares' minimum).
    """
    results = [
        _score(
            query,
            compared,
            distance=distance,
            quality=quality,
            query_threshold=query_threshold,
            compared_threshold=compared_threshold,
        )
        for query in _variants(a)
        for compared in _variants(b)
    ]
    return max(
        results,
        key=lambda r: (
            r.is_match,
            min(r.query_match_percent, r.compared_match_percent),
            r.query_match_percent + r.compared_match_percent,
        ),
    )
