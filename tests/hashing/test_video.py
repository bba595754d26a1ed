"""Video hashing: frame hashes equal Meta's vpdq on the same videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reclaim.hashing.borders import find_borders
from reclaim.hashing.errors import UnreadableMediaError
from reclaim.hashing.video import video_hash
from tests.conftest import require_shared, vpdq_oracle

pytestmark = pytest.mark.conformance


def test_frames_equal_the_vpdq_oracle() -> None:
    vpdq = vpdq_oracle()

    folder = require_shared("vpdq", "tmk", "sample-videos")
    videos = sorted(folder.glob("*.mp4"))
    assert len(videos) >= 10
    compared = 0
    for path in videos[::2]:  # 7 of the 14 (all 14 pass, in twice the time)
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


@pytest.mark.parametrize("seconds", [0.25, 2.5])
def test_other_sampling_rates_equal_the_oracle(seconds: float) -> None:
    """Skipping undecoded frames keeps vpdq's numbering at any rate."""
    vpdq = vpdq_oracle()
    path = require_shared("vpdq", "tmk", "sample-videos", "pattern-hd-no-bar.mp4")
    ours = video_hash(path, seconds_per_hash=seconds, letterbox=False)
    theirs = vpdq.computeHash(str(path), seconds_per_hash=seconds)
    assert [(f.frame_number, f.pdq.hex, f.quality) for f in ours.frames] == [
        (f.frame_number, f.hex, f.quality) for f in theirs
    ]


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


# ---- bad input: one line each, never a hang ------------------------------------


def _encode(path: Path, frames: list[np.ndarray], **options: str) -> Path:
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture
def clip(photos: dict[str, np.ndarray]) -> list[np.ndarray]:
    picture = photos["coffee"][:240, :320]
    return [np.ascontiguousarray(np.roll(picture, i * 4, axis=1)) for i in range(40)]


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and 10 < len(text) < 300
    return text


def test_audio_only(tmp_path: Path) -> None:
    import av

    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        for index in range(10):
            samples = np.zeros((1, 1024), np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, index * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(UnreadableMediaError) as raised:
        video_hash(path)
    assert "no video track (it holds audio)" in _one_line(raised.value)


def test_truncated_videos(tmp_path: Path, clip: list[np.ndarray]) -> None:
    # The index at the end (as cameras write): cut off, nothing can be read.
    whole = _encode(tmp_path / "whole.mp4", clip).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UnreadableMediaError) as raised:
        video_hash(cut)
    assert "cut short" in _one_line(raised.value)
    # The index first (web "fast start"): the frames before the cut are kept.
    fast = _encode(tmp_path / "fast.mp4", clip, movflags="faststart").read_bytes()
    cut.write_bytes(fast[: len(fast) * 3 // 4])
    kept = video_hash(cut)
    assert 1 <= len(kept.frames) < 4
    assert [f.frame_number for f in kept.frames] == [0, 10, 20][: len(kept.frames)]


def test_corrupt_bytes_inside(tmp_path: Path, clip: list[np.ndarray]) -> None:
    data = bytearray(
        _encode(tmp_path / "v.mp4", clip, movflags="faststart").read_bytes()
    )
    rng = np.random.default_rng(7)
    for at in rng.integers(len(data) // 4, len(data), 300):
        data[at] ^= 0xA5
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    try:
        result = video_hash(damaged)
    except UnreadableMediaError as error:
        _one_line(error)
    else:
        assert result.frames and result.frames[0].frame_number == 0


def test_unsupported_codec(tmp_path: Path, clip: list[np.ndarray]) -> None:
    data = _encode(tmp_path / "v.mkv", clip[:5]).read_bytes()
    # A codec name no decoder knows, as in a file from exotic software.
    unknown = tmp_path / "unknown.mkv"
    unknown.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_UNKNOWN/CODEC"))
    with pytest.raises(UnreadableMediaError) as raised:
        video_hash(unknown)
    assert "codec" in _one_line(raised.value) and "H.264" in str(raised.value)


def test_absurd_dimensions_and_durations(
    tmp_path: Path, clip: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    from reclaim.hashing import video
    from reclaim.hashing.errors import ImageShapeError, MediaTooLargeError

    tiny = _encode(tmp_path / "tiny.mp4", [np.full((4, 4, 3), 90, np.uint8)] * 3)
    with pytest.raises(ImageShapeError, match="4x4 pixels are too small"):
        video_hash(tiny)
    path = _encode(tmp_path / "v.mp4", clip)
    # The real limits (40 MP, 10 hours) are lowered to this 320x240, 4 s clip.
    monkeypatch.setattr(video, "MAX_FRAME_PIXELS", 320 * 240 - 1)
    with pytest.raises(MediaTooLargeError) as raised:
        video_hash(path)
    assert "320x240" in _one_line(raised.value)
    monkeypatch.setattr(video, "MAX_FRAME_PIXELS", 40_000_000)
    monkeypatch.setattr(video, "MAX_DURATION_SECONDS", 3)
    with pytest.raises(MediaTooLargeError) as raised:
        video_hash(path)
    assert "hour limit" in _one_line(raised.value)


def test_decoding_has_a_time_bound(tmp_path: Path, clip: list[np.ndarray]) -> None:
    from reclaim.hashing.errors import MediaTooLargeError

    path = _encode(tmp_path / "v.mp4", clip)
    with pytest.raises(MediaTooLargeError) as raised:
        video_hash(path, time_limit=0)
    assert "decoding took over 0 s" in _one_line(raised.value)


# ---- leaving frames undecoded ------------------------------------------------


def test_h264_reference_flags() -> None:
    from reclaim.hashing.video_packets import NalSyntax

    def avcc(*nals: bytes) -> bytes:
        return b"".join(len(n).to_bytes(4, "big") + n for n in nals)

    sei, ref_slice, nonref_slice = b"\x06\x05\x01", b"\x41\x9a\x00", b"\x01\x9e\x00"
    boxed = NalSyntax.for_codec("h264", b"\x01\x64\x00\x1f\xff\xe1")
    assert boxed == NalSyntax(False, 4)
    annex_b = NalSyntax.for_codec("h264", b"\x00\x00\x00\x01\x67")
    assert annex_b == NalSyntax(False, 0)
    assert NalSyntax.for_codec("vp9", None) is None
    assert boxed.disposable(avcc(sei, nonref_slice))
    assert not boxed.disposable(avcc(sei, ref_slice))
    assert not boxed.disposable(avcc(sei))  # no picture at all: keep it
    assert not boxed.disposable(b"\x00\x00\x00\x09" + nonref_slice)  # damaged
    assert boxed.idr(avcc(sei, b"\x65\x88")) and not boxed.idr(avcc(ref_slice))
    stream = b"\x00\x00\x00\x01" + sei + b"\x00\x00\x01" + nonref_slice
    assert annex_b.disposable(stream)


def test_hevc_reference_flags() -> None:
    from reclaim.hashing.video_packets import NalSyntax

    def hvcc(layers: int) -> bytes:
        return bytes([1] + [0] * 20 + [layers << 3 | 3, 0])

    def unit(kind: int, layer: int = 0) -> bytes:
        nal = bytes([kind << 1, layer + 1, 0xAF])
        return len(nal).to_bytes(4, "big") + nal

    flat = NalSyntax.for_codec("hevc", hvcc(1))
    assert flat == NalSyntax(True, 4, 0)
    assert flat.disposable(unit(0))  # TRAIL_N
    assert not flat.disposable(unit(1))  # TRAIL_R
    assert flat.idr(unit(19)) and flat.idr(unit(20)) and not flat.idr(unit(21))
    layered = NalSyntax.for_codec("hevc", hvcc(3))
    assert layered is not None and layered.top_layer == 2
    assert layered.disposable(unit(0, 2)) and not layered.disposable(unit(0, 1))
    unknown = NalSyntax.for_codec("hevc", hvcc(0))
    assert unknown is not None and not unknown.disposable(unit(0))
    assert NalSyntax.for_codec("hevc", None) == NalSyntax(True, 0)


def test_sampler_numbers_frames_as_if_all_were_decoded() -> None:
    from reclaim.hashing.video_packets import NalSyntax, Sampler

    idr, ref, nonref = (b"\x00\x00\x00\x01" + bytes([h]) for h in (0x65, 0x41, 0x01))
    h264 = NalSyntax(False, 4)
    # Decode order I0 P4 B2 b1 b3 P8 B6 b5 b7 | I9 P10 P11 (b: not a
    # reference); every 2nd frame is sampled: 0 2 4 6 8 10.
    order = [(0, idr), (4, ref), (2, ref), (1, nonref), (3, nonref), (8, ref)]
    order += [(6, ref), (5, nonref), (7, nonref), (9, idr), (10, ref), (11, ref)]
    sampler: Sampler[int] = Sampler(2, syntax=h264)
    kept = [k for pts, data in order for k in sampler.push(pts, data, pts)]
    kept += sampler.finish()
    # Gone: the b-frames, and 11 (after the last sampled frame of its group).
    assert kept == [0, 4, 2, 8, 6, 9, 10]
    numbers = [sampler.number(pts) for pts in sorted(kept)]
    assert numbers == [0, 2, 4, 6, 8, 9, 10]
    assert sampler.consistent()
    # Without an IDR ahead, only the non-reference frames can go.
    open_ended: Sampler[int] = Sampler(2, syntax=h264)
    kept = [k for pts, data in order[:5] for k in open_ended.push(pts, data, pts)]
    assert kept == [] and open_ended.finish() == [0, 4, 2]
    # Frames without timestamps stop the skipping.
    blind: Sampler[int] = Sampler(2, syntax=h264)
    assert blind.push(0, idr, 0) == [] and blind.push(None, nonref, 1) == [0, 1]
    # A frame shown before frames of an earlier group (a broken stream) moves
    # their numbers: a skipped frame may have been a sampled one. Caught.
    late: Sampler[int] = Sampler(2, syntax=h264)
    for pts, data in ((0, idr), (2, nonref), (3, idr), (1, nonref)):
        late.push(pts, data, pts)
    late.finish()
    assert not late.consistent()


def test_arguments_and_frame_budget(
    tmp_path: Path, clip: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    from reclaim.hashing import video
    from reclaim.hashing.errors import MediaTooLargeError

    with pytest.raises(UnreadableMediaError, match="cannot read the file"):
        video_hash(tmp_path / "missing.mp4")
    path = _encode(tmp_path / "v.mp4", clip)
    with pytest.raises(ValueError, match="zero"):
        video_hash(path, seconds_per_hash=-1)
    every = video_hash(path, seconds_per_hash=0)
    assert [f.frame_number for f in every.frames] == list(range(40))
    monkeypatch.setattr(video, "MAX_VPDQ_FRAMES", 3)
    with pytest.raises(MediaTooLargeError) as raised:
        video_hash(path, seconds_per_hash=0)
    assert "fewer frames" in _one_line(raised.value)


def test_hevc_frames_equal_the_oracle_with_frames_skipped(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    import av

    from reclaim.hashing.video_packets import NalSyntax, Sampler
    from tests.hashing.test_video_robustness import make_frames

    vpdq = vpdq_oracle()
    if "libx265" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx265 encoder to make an HEVC clip")
    path = tmp_path / "clip-hevc.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx265", rate=15)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"preset": "fast", "x265-params": "log-level=error"}
        for pixels in make_frames(photos, ("astronaut", "coffee", "chelsea")):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    ours = video_hash(path)
    theirs = vpdq.computeHash(str(path), seconds_per_hash=1)
    assert [(f.frame_number, f.pdq.hex, f.quality) for f in ours.frames] == [
        (f.frame_number, f.hex, f.quality) for f in theirs
    ]
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        codec = video.codec_context
        sampler: Sampler[int] = Sampler(
            15, syntax=NalSyntax.for_codec(codec.name, codec.extradata)
        )
        sizes = [(p.pts, bytes(p)) for p in container.demux(video) if p.size]
    decoded = sum(len(sampler.push(pts, data, 1)) for pts, data in sizes)
    decoded += len(sampler.finish())
    assert decoded < 0.7 * len(sizes)  # the B-frames nothing refers to are left


def test_a_known_md5_is_used_and_otherwise_computed(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    import hashlib

    from reclaim.hashing import Md5Hash
    from tests.conftest import write_video

    path = write_video(tmp_path / "clip.mp4", photos["coffee"])
    expected = hashlib.md5(path.read_bytes()).hexdigest()
    assert video_hash(path).md5.hex == expected
    given = Md5Hash("0" * 32)
    assert video_hash(path, md5=given).md5 == given
