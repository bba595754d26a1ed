"""Groups of pictures decoded in parallel give the hashes of one decoder."""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reclaim.hashing import MediaTooLargeError, video_groups, video_hash
from reclaim.hashing import video as video_module
from reclaim.hashing.video import VideoHash
from tests.bombs import long_video
from tests.conftest import require_shared, vpdq_oracle


def _clip(
    path: Path,
    photos: dict[str, np.ndarray],
    *,
    seconds: int = 6,
    fps: int = 10,
    keyint: int = 12,
    bars: int = 0,
) -> Path:
    """A 320x240 H.264 MP4 with B-frames and an IDR frame every `keyint`
    frames, panning over three photos in turn (optionally letterboxed)."""
    import av

    shots = [photos[name][: 240 - 2 * bars, :320] for name in ("coffee", "chelsea")]
    shots.append(photos["astronaut"][: 240 - 2 * bars, :320])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {
            "preset": "veryfast",
            "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=2",
        }
        for index in range(seconds * fps):
            shot = shots[index // (2 * fps) % len(shots)]
            picture = np.zeros((240, 320, 3), np.uint8)
            picture[bars : 240 - bars] = np.roll(shot, index * 3, axis=1)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture
def parallel_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """How each parallel attempt ended: 'parallel', or why it fell back."""
    runs: list[str] = []
    real = video_groups.hash_groups

    def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            frames = real(*args, **kwargs)
        except video_groups.GroupsUnsuitable as error:
            runs.append(f"fallback: {error}")
            raise
        except Exception as error:
            runs.append(type(error).__name__)
            raise
        runs.append("parallel")
        return frames

    monkeypatch.setattr(video_module, "hash_groups", watched)
    return runs


def _same(one: VideoHash, other: VideoHash) -> None:
    assert one.frames == other.frames
    assert one.cropped == other.cropped and one.crop == other.crop


@pytest.mark.parametrize("seconds", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("threads", [2, 3])
def test_groups_in_parallel_hash_as_one_decoder(
    tmp_path: Path,
    photos: dict[str, np.ndarray],
    parallel_runs: list[str],
    seconds: float,
    threads: int,
) -> None:
    path = _clip(tmp_path / "groups.mp4", photos)
    alone = video_hash(path, seconds_per_hash=seconds, threads=1)
    together = video_hash(path, seconds_per_hash=seconds, threads=threads)
    assert parallel_runs == ["parallel"]  # threads=1 never tries
    _same(alone, together)
    every = 1 if seconds == 0 else int(seconds * 10)
    assert [f.frame_number for f in together.frames] == list(range(0, 60, every))


def test_bars_are_decided_in_frame_order(
    tmp_path: Path, photos: dict[str, np.ndarray], parallel_runs: list[str]
) -> None:
    path = _clip(tmp_path / "bars.mp4", photos, bars=30, keyint=5)
    alone = video_hash(path, seconds_per_hash=0.2, threads=1)
    together = video_hash(path, seconds_per_hash=0.2, threads=4)
    assert parallel_runs == ["parallel"]
    assert together.crop is not None and together.crop.top >= 30
    assert len(together.cropped) == len(together.frames) == 30
    _same(alone, together)


def test_conformance_videos_hash_the_same_on_every_path(
    parallel_runs: list[str],
) -> None:
    vpdq = vpdq_oracle()
    folder = require_shared("vpdq", "tmk", "sample-videos")
    for path in sorted(folder.glob("*.mp4")):
        alone = video_hash(path, threads=1)
        together = video_hash(path, threads=4)
        _same(alone, together)
        theirs = vpdq.computeHash(str(path), seconds_per_hash=1)
        assert [(f.frame_number, f.pdq.hex, f.quality) for f in together.frames] == [
            (f.frame_number, f.hex, f.quality) for f in theirs
        ], path.name
    # All but one (a single keyframe: nothing to split) went in parallel.
    assert parallel_runs.count("parallel") >= 13, parallel_runs


def test_a_header_that_lies_about_the_length_is_over_budget(
    tmp_path: Path, parallel_runs: list[str]
) -> None:
    liar = _shorter_header(long_video(tmp_path / "long.mp4", seconds=40, keyint=100))
    expected = "the video has over 525 frames and its header says about 100"
    for threads in (1, 2):
        with pytest.raises(MediaTooLargeError, match=expected):
            video_hash(liar, frame_budget=400, threads=threads)
    # Raised in parallel, as in one decoder: not a reason to decode again.
    assert parallel_runs == ["MediaTooLargeError"]
    within = video_hash(liar, frame_budget=1_000, threads=2)
    assert len(within.frames) == 40 and not within.sampled
    assert parallel_runs[-1] == "parallel"


def test_the_time_limit_and_the_frame_limit_hold_in_parallel(
    tmp_path: Path,
    photos: dict[str, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = _clip(tmp_path / "groups.mp4", photos)
    with pytest.raises(MediaTooLargeError, match="decoding took over 0 s"):
        video_hash(path, time_limit=0, threads=2)
    monkeypatch.setattr(video_groups, "MAX_VPDQ_FRAMES", 4)
    monkeypatch.setattr(video_module, "MAX_VPDQ_FRAMES", 4)
    for threads in (1, 2):
        with pytest.raises(MediaTooLargeError, match="over 4 sampled frames"):
            video_hash(path, threads=threads)


def test_a_failing_worker_is_one_error_and_stops_the_others(
    tmp_path: Path,
    photos: dict[str, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = _clip(tmp_path / "groups.mp4", photos, seconds=12)
    expected = video_hash(path, seconds_per_hash=0.5, threads=1)
    before = set(threading.enumerate())
    monkeypatch.setattr(video_groups, "hash_frame", _fails_on_call(5, RuntimeError))
    with pytest.raises(RuntimeError, match="worker broke") as raised:
        video_hash(path, seconds_per_hash=0.5, threads=3)
    assert raised.value.__context__ is None  # one error, not a chain
    assert _group_threads(before) == []
    # Out of memory in a worker: decoded again in one decoder, same hashes.
    monkeypatch.setattr(video_groups, "hash_frame", _fails_on_call(5, MemoryError))
    _same(video_hash(path, seconds_per_hash=0.5, threads=3), expected)
    assert _group_threads(before) == []


def test_threads_must_be_positive(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    path = _clip(tmp_path / "groups.mp4", photos, seconds=2)
    with pytest.raises(ValueError, match="threads=0: expected 1 or more"):
        video_hash(path, threads=0)


def test_the_plan_fits_cores_keyframes_and_memory() -> None:
    class Entry:
        def __init__(self, key: bool) -> None:
            self.is_keyframe = key

    class Codec:
        name, extradata = "h264", None

        def __init__(self, width: int, height: int) -> None:
            self.width, self.height = width, height

    class Stream:
        def __init__(self, keyframes: int, width: int, height: int) -> None:
            self.index_entries = [Entry(i % 30 == 0) for i in range(30 * keyframes)]
            self.codec_context = Codec(width, height)

    def plan(keyframes: int, threads: int, size: tuple[int, int] = (1920, 1080)):
        stream: Any = Stream(keyframes, *size)
        return video_groups.GroupPlan.choose(stream, threads=threads)

    assert plan(12, 2) == video_groups.GroupPlan(2, 1)
    assert plan(3, 16) == video_groups.GroupPlan(3, 5)  # few groups: FFmpeg helps
    assert plan(1, 16) is None  # one group: one decoder with its own threads
    assert plan(0, 16) is None  # no index
    assert plan(60, 16, (7680, 4320)) is None  # 8K: one decoder's memory only
    Codec.name = "vp9"
    assert plan(12, 2) is None  # no IDR pictures to split at


def _fails_on_call(
    number: int, kind: type[BaseException]
) -> Callable[[np.ndarray], Any]:
    calls = iter(range(1, 1_000_000))
    real = video_groups.hash_frame
    lock = threading.Lock()

    def hash_frame(pixels: np.ndarray) -> Any:
        with lock:
            call = next(calls)
        if call == number:
            raise kind("worker broke")
        return real(pixels)

    return hash_frame


def _group_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [
        thread
        for thread in threading.enumerate()
        if thread not in before and thread.name.startswith("vpdq-group")
    ]


def _boxes(data: bytes, kind: bytes) -> Iterator[int]:
    at = data.find(kind)
    while at >= 0:
        yield at
        at = data.find(kind, at + 4)


def _shorter_header(path: Path) -> Path:
    """The same MP4 with its durations (mvhd, mdhd) cut to a tenth."""
    data = bytearray(path.read_bytes())
    for kind in (b"mvhd", b"mdhd"):
        for at in list(_boxes(bytes(data), kind)):
            assert data[at + 4] == 0  # version 0: 32-bit fields
            where = at + 4 + 4 + 4 + 4 + 4  # flags, created, modified, timescale
            (duration,) = struct.unpack(">I", data[where : where + 4])
            data[where : where + 4] = struct.pack(">I", duration // 10)
    liar = path.with_name("liar.mp4")
    liar.write_bytes(bytes(data))
    return liar


def test_bars_fed_out_of_order_decide_as_in_order(
    photos: dict[str, np.ndarray],
) -> None:
    from reclaim.hashing.letterbox import Letterbox

    def framed(name: str, shift: int) -> np.ndarray:
        picture = np.zeros((240, 320, 3), np.uint8)
        picture[30:210] = np.roll(photos[name][:180, :320], shift, axis=1)
        return picture

    # Groups 0 and 1: two sampled frames each; group 1 is hashed first.
    frames = [
        (i, float(i), framed(("coffee", "chelsea")[i // 2], 9 * i)) for i in range(4)
    ]
    in_order = Letterbox()
    for frame in frames:
        in_order.add(*frame)
    stop = threading.Event()
    bars = Letterbox()
    ordered = video_groups.OrderedBars(bars, stop=stop, hold=1)
    ordered.add(1, *frames[2])  # held: group 0 is not in yet
    assert not bars.decided and bars.seen == 0
    waiting = threading.Thread(target=ordered.add, args=(1, *frames[3]))
    waiting.start()  # past the hold: waits for group 0
    waiting.join(0.2)
    assert waiting.is_alive()
    ordered.add(0, *frames[0])
    ordered.add(0, *frames[1])
    ordered.finished(0)  # group 1 is now the lowest: its frames go in
    waiting.join(5)
    assert not waiting.is_alive()
    ordered.finished(1)
    assert bars.result() == in_order.result() and bars.result()[0] is not None


def test_hevc_groups_in_parallel_equal_the_oracle(
    tmp_path: Path, photos: dict[str, np.ndarray], parallel_runs: list[str]
) -> None:
    import av

    vpdq = vpdq_oracle()
    if "libx265" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx265 encoder to make an HEVC clip")
    path = tmp_path / "groups-hevc.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx265", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {
            "preset": "fast",
            "x265-params": "log-level=error:keyint=12:min-keyint=12:open-gop=0",
        }
        for index in range(60):
            shot = photos[("coffee", "chelsea", "astronaut")[index // 20]]
            picture = np.ascontiguousarray(np.roll(shot[:240, :320], index * 3, axis=1))
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, "rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    together = video_hash(path, seconds_per_hash=0.5, threads=3)
    assert parallel_runs == ["parallel"]
    _same(video_hash(path, seconds_per_hash=0.5, threads=1), together)
    theirs = vpdq.computeHash(str(path), seconds_per_hash=0.5)
    assert [(f.frame_number, f.pdq.hex, f.quality) for f in together.frames] == [
        (f.frame_number, f.hex, f.quality) for f in theirs
    ]
