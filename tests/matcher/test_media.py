"""Hashing an upload: images whole or cut short, videos within their budgets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reclaim.hashing import (
    MediaTooLargeError,
    UnreadableMediaError,
    hamming,
    video_hash,
)
from reclaim.matcher.config import DecodeConfig
from reclaim.matcher.media import hash_upload
from tests.bombs import long_video, png_header_only
from tests.conftest import encode


@pytest.fixture(scope="module")
def two_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return long_video(tmp_path_factory.mktemp("clip") / "two.mp4", seconds=120)


def test_a_truncated_jpeg_is_an_image_hashed_as_browsers_show_it(
    photos: dict[str, np.ndarray],
) -> None:
    data = encode(photos["astronaut"], "JPEG", quality=90)
    whole = hash_upload(data)
    cut = hash_upload(data[: len(data) * 98 // 100])
    assert cut.video is None and cut.labels[0] == "original"
    assert hamming(cut.pdq[0], whole.pdq[0]) <= 31


def test_a_broken_image_is_refused_as_an_image_not_read_as_a_video(
    photos: dict[str, np.ndarray],
) -> None:
    data = encode(photos["coins"], "JPEG")
    with pytest.raises(UnreadableMediaError) as raised:
        hash_upload(data[:200])  # the header, cut inside
    assert "video" not in str(raised.value)


def test_the_pixel_budget_refuses_from_the_header() -> None:
    with pytest.raises(MediaTooLargeError, match=r"8000x6000 pixels \(48.0 MP\)"):
        hash_upload(png_header_only(8000, 6000))  # default budget: 40 MP
    with pytest.raises(MediaTooLargeError, match="over the 1 MP budget"):
        hash_upload(png_header_only(1001, 1000), limits=DecodeConfig(max_pixels=10**6))


def test_videos_within_the_budget_are_exact_and_past_it_sampled(
    two_minutes: Path,
) -> None:
    data = two_minutes.read_bytes()
    exact = hash_upload(data)
    assert exact.video is not None and not exact.video.sampled
    assert exact.video.frames == video_hash(two_minutes).frames
    sampled = hash_upload(
        data, limits=DecodeConfig(video_max_frames=1000, video_sample_frames=10)
    ).video
    assert sampled is not None and sampled.sampled and len(sampled.frames) == 10


def test_a_video_over_the_duration_budget_is_too_large_not_unreadable(
    two_minutes: Path,
) -> None:
    with pytest.raises(MediaTooLargeError, match="hour limit"):
        hash_upload(two_minutes.read_bytes(), limits=DecodeConfig(video_max_seconds=60))
