"""Video hashing: frame hashes equal Meta's vpdq on the same videos."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from reclaim.hashing.borders import find_borders
from reclaim.hashing.errors import UnreadableMediaError
from reclaim.hashing.video import video_hash
from tests.conftest import require_shared

pytestmark = pytest.mark.conformance


def _vpdq():  # type: ignore[no-untyped-def]
    try:
        import vpdq
    except ImportError as error:
        reason = f"Meta's vpdq package is not installed ({error}): make test builds it"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return vpdq


def test_frames_equal_the_vpdq_oracle() -> None:
    vpdq = _vpdq()

    folder = require_shared("vpdq", "tmk", "sample-videos")
    videos = sorted(folder.glob("*.mp4"))
    assert len(videos) >= 10
    compared = 0
    for path in videos[:6]:
        ours = video_hash(path)
        theirs = {
            f.frame_number: f for f in vpdq.computeHash(str(path), seconds_per_hash=1)
        }
        assert [f.frame_number for f in ours.frames] == sorted(theirs)
        for frame in ours.frames:
            reference = theirs[frame.frame_number]
            assert frame.pdq.hex == reference.hex, path.name
            assert frame.quality == reference.quality
            assert abs(frame.timestamp - reference.timestamp) < 1e-3
            compared += 1
    assert compared > 50


def test_pillarbox_bars_are_found_and_cropped() -> None:
    folder = require_shared("vpdq", "tmk", "sample-videos")
    hashed = video_hash(folder / "chair-19-sd-bar.mp4")
    assert hashed.crop is not None and hashed.crop.left > 20
    assert len(hashed.cropped) == len(hashed.frames)
    assert hashed.md5.hex == "0a21c8f8" + hashed.md5.hex[8:]


def test_borders_on_images() -> None:
    rng = np.random.default_rng(0)
    picture = rng.integers(40, 255, (200, 300, 3), dtype=np.uint8)
    boxed = np.zeros((260, 300, 3), np.uint8)
    boxed[30:230] = picture
    box = find_borders(boxed)
    assert box is not None
    # Sampled every other row: the box may sit one pixel inside the bars.
    assert 30 <= box.top <= 31 and 229 <= box.bottom <= 230
    assert (box.left, box.right) == (0, 300)
    assert find_borders(picture) is None
    assert find_borders(np.zeros((100, 100, 3), np.uint8)) is None


def test_bad_videos(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableMediaError, match="empty"):
        video_hash(empty)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(UnreadableMediaError):
        video_hash(junk)
