"""Video budgets: exact vPDQ within the frame budget, keyframe samples past it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reclaim.hashing import MediaTooLargeError, video_hash, video_match
from tests.bombs import long_video


@pytest.fixture(scope="module")
def five_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """7,500 frames of 64x64 at 25 fps, a keyframe every 10 s."""
    folder = tmp_path_factory.mktemp("long")
    return long_video(folder / "five.mp4", seconds=300)


def test_within_the_budget_the_hash_is_exact(five_minutes: Path) -> None:
    exact = video_hash(five_minutes)
    budgeted = video_hash(five_minutes, frame_budget=7_500)
    assert budgeted.frames == exact.frames and not budgeted.sampled
    assert [f.frame_number for f in exact.frames[:3]] == [0, 25, 50]


def test_past_the_budget_keyframes_are_sampled(five_minutes: Path) -> None:
    exact = video_hash(five_minutes)
    started = time.perf_counter()
    sampled = video_hash(five_minutes, frame_budget=1_000, sample_frames=30)
    took = time.perf_counter() - started
    assert sampled.sampled and len(sampled.frames) == 30
    # Keyframes every 250 frames: each sample is the one at or before it.
    assert [f.frame_number for f in sampled.frames[:3]] == [0, 250, 500]
    assert sampled.frames[1].timestamp == pytest.approx(10.0)
    # Every sampled frame is in the exact hash, so it matches that way round.
    assert video_match(sampled, exact).query_match_percent == 100.0
    # One seek and one frame each, not 7,500 frames decoded.
    assert took < 0.5 * _seconds(lambda: video_hash(five_minutes))


def test_a_video_longer_than_allowed_is_refused(five_minutes: Path) -> None:
    with pytest.raises(MediaTooLargeError, match=r"lasts 0.08 hours: over the 0.05"):
        video_hash(five_minutes, max_seconds=180)


def test_a_video_longer_than_its_header_says_is_refused(tmp_path: Path) -> None:
    # A stream with no duration in its header: the budget counts frames.
    path = long_video(tmp_path / "raw.mp4", seconds=40)
    raw = tmp_path / "raw.h264"
    _strip_container(path, raw)
    with pytest.raises(MediaTooLargeError, match="over the budget of 400 decoded"):
        video_hash(raw, frame_budget=400)


def test_budgets_must_be_positive(five_minutes: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        video_hash(five_minutes, frame_budget=0)


def _seconds(job: Callable[[], object]) -> float:
    started = time.perf_counter()
    job()
    return time.perf_counter() - started


def _strip_container(source: Path, target: Path) -> None:
    """The bare H.264 stream of an MP4 (no index, no duration)."""
    import av

    with av.open(str(source)) as inside, av.open(str(target), "w", "h264") as out:
        stream = inside.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for packet in inside.demux(stream):
            if packet.dts is not None:
                packet.stream = copy
                out.mux(packet)
