"""Video hashing: MD5 of the bytes, and vPDQ-compatible frame hashes (PyAV).

Frames are sampled as Meta's vPDQ does: with `frame_mod = int(seconds_per_hash
* fps)`, decoded frame i is hashed when `i % frame_mod == 0`, and its timestamp
is `i / fps`. Only sampled frames are converted to RGB, decoding is threaded,
and each sampled frame is hashed with our PDQ. If every sampled frame shows
the same solid bars (letterbox, pillarbox), the picture inside the bars is
hashed as well (`cropped`), so a letterboxed copy still matches its original.

A `frame_budget` bounds the work a hostile file can ask for (the matcher sets
one; the CLI hashes a person's own videos exactly). A video whose header says
it has at most that many frames (duration x frame rate) is hashed exactly as
above. A longer one is sampled instead: `sample_frames` evenly spaced times,
each hashed at the keyframe at or before it (one seek and one decoded frame
per sample; `VideoHash.sampled` is then true). Such frames carry their own
frame numbers and times, but they are not vPDQ's every-`frame_mod` frames, so
a sampled hash matches a listed video by the frames they share: a copy of
the whole video still does, and the share of matched frames is lower.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import av
import numpy as np

from reclaim.hashing.borders import Box, find_borders
from reclaim.hashing.digest import file_md5
from reclaim.hashing.errors import (
    ImageShapeError,
    MediaTooLargeError,
    UnreadableMediaError,
)
from reclaim.hashing.pdq import MIN_DIMENSION, features_of_grid, luma_grid
from reclaim.hashing.types import Md5Hash, PdqHash
from reclaim.hashing.video_packets import NalSyntax, Sampler
from reclaim.hashing.vpdq_format import MAX_VPDQ_FRAMES, VpdqFrame, VpdqHash

if TYPE_CHECKING:  # PyAV's stubs make Packet generic; the class is not.
    _Packet = av.Packet[av.video.stream.VideoStream]

#: Longest video accepted (matches the longest vPDQ hash at one frame a second).
MAX_DURATION_SECONDS = 10 * 3600

#: Largest frame accepted, in pixels (8K is 33 MP).
MAX_FRAME_PIXELS = 40_000_000

#: Decoding gives up after this many packets the decoder refuses.
MAX_BAD_PACKETS = 100

#: Decoding gives up after this many seconds of wall time.
DECODE_TIME_LIMIT = 600.0


@dataclass(frozen=True, slots=True)
class VideoHash:
    """A video's hashes: MD5 of the file, and vPDQ frames."""

    md5: Md5Hash
    frames: tuple[VpdqFrame, ...]
    fps: float
    cropped: tuple[VpdqFrame, ...] = ()
    crop: Box | None = None
    #: Past the frame budget: keyframes at evenly spaced times, not vPDQ's.
    sampled: bool = False

    @property
    def vpdq(self) -> VpdqHash:
        """The frames as a vPDQ hash (Meta's text format via `.to_text()`)."""
        return VpdqHash(self.frames)

    @property
    def cropped_vpdq(self) -> VpdqHash | None:
        """The frames inside the bars, if the video has bars."""
        return VpdqHash(self.cropped) if self.cropped else None


def _rate(stream: av.video.stream.VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(Fraction(rate))
            if 0 < value < 1000:
                return value
    return 30.0


def _hash_frame(pixels: np.ndarray) -> PdqHash | None:
    try:
        return features_of_grid(luma_grid(pixels)).hash()
    except Exception:  # noqa: BLE001 - a flat frame (fade to black) has no hash
        return None


class _Letterbox:
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

    def add(self, index: int, timestamp: float, pixels: np.ndarray) -> None:
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
        pdq = _hash_frame(self.box.crop(pixels))
        if pdq is not None:
            self.frames.append(VpdqFrame(index, timestamp, pdq))

    def result(self) -> tuple[Box | None, tuple[VpdqFrame, ...]]:
        if not self.decided and self.boxes:
            height, width = self.pending[0][2].shape[:2]
            self._decide(Box(0, height, 0, width))
        if self.box is None or self.disagree > 0.1 * max(self.seen, 1):
            return None, ()
        return self.box, tuple(self.frames)


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


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return str(text).split(": '")[0][:200]


def _check_limits(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    *,
    max_seconds: float,
) -> None:
    if stream.codec_context is None:
        raise UnreadableMediaError(
            "the video track uses a codec this device cannot decode: convert the "
            "video to H.264 MP4 (for example `ffmpeg -i VIDEO out.mp4`) and hash that"
        )
    width, height = stream.codec_context.width, stream.codec_context.height
    if min(width, height) < MIN_DIMENSION:
        raise ImageShapeError(
            f"frames of {width}x{height} pixels are too small: PDQ needs at least "
            f"{MIN_DIMENSION} pixels a side"
        )
    if width * height > MAX_FRAME_PIXELS:
        raise MediaTooLargeError(
            f"frames of {width}x{height} pixels are over the "
            f"{MAX_FRAME_PIXELS // 1_000_000} MP limit"
        )
    if container.duration is not None:
        seconds = container.duration / 1_000_000
        if seconds > max_seconds:
            raise MediaTooLargeError(
                f"the video lasts {seconds / 3600:.2f} hours: over the "
                f"{max_seconds / 3600:g} hour limit; cut it into parts"
            )


def _sampler(
    stream: av.video.stream.VideoStream, frame_mod: int, *, skip: bool
) -> Sampler[_Packet]:
    codec = stream.codec_context
    syntax = NalSyntax.for_codec(codec.name, codec.extradata) if skip else None
    return Sampler(frame_mod, syntax=syntax)


def _sampled_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    sampler: Sampler[_Packet],
    *,
    deadline: float,
    time_limit: float,
) -> Iterator[tuple[int, av.VideoFrame]]:
    """Decode what the sampler keeps; yield (frame number, frame) of sampled ones.

    A packet the decoder refuses is passed over (up to `MAX_BAD_PACKETS`); a
    container that breaks off (truncated) ends the video after the frames the
    decoder still holds.
    """
    packets = container.demux(stream)
    bad = 0
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError:
            sampler.damaged = True
            for held in sampler.finish():
                yield from _decoded(held, sampler)
            yield from _numbered(sampler, _flush(stream, sampler))
            return
        if time.monotonic() > deadline:
            raise MediaTooLargeError(
                f"decoding took over {time_limit:.0f} s: the video is too "
                "long or too complex to hash here"
            )
        if packet.size:
            chosen = sampler.push(packet.pts, bytes(packet), packet)
        else:  # the end: decode what is held, then drain the decoder
            chosen = [*sampler.finish(), packet]
        for kept in chosen:
            try:
                frames = kept.decode()
            except av.error.FFmpegError:
                sampler.damaged = True
                bad += 1
                if bad > MAX_BAD_PACKETS:
                    raise
                continue
            yield from _numbered(sampler, frames)
        if not packet.size:
            return  # the decoder is drained


def _keyframes(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    *,
    fps: float,
    samples: int,
    deadline: float,
    time_limit: float,
) -> Iterator[tuple[int, av.VideoFrame]]:
    """The keyframe at or before each of `samples` evenly spaced times.

    One seek and (usually) one decoded frame per sample, however long the
    video: this is how a video past the frame budget is hashed.
    """
    seconds = (container.duration or 0) / 1_000_000
    base = float(stream.time_base or Fraction(1, 1_000_000))
    start = stream.start_time or 0
    last = -1
    for number in range(samples):
        if time.monotonic() > deadline:
            raise MediaTooLargeError(
                f"sampling the video took over {time_limit:.0f} s: it is too "
                "complex to hash here"
            )
        target = start + int(number * seconds / samples / base)
        container.seek(target, stream=stream, backward=True, any_frame=False)
        frame = next(iter(container.decode(stream)), None)
        if frame is None or frame.pts is None:
            continue
        index = max(0, round((frame.pts - start) * base * fps))
        if index > last:
            last = index
            yield index, frame


def _decoded(
    packet: _Packet, sampler: Sampler[_Packet]
) -> Iterator[tuple[int, av.VideoFrame]]:
    try:
        yield from _numbered(sampler, packet.decode())
    except av.error.FFmpegError:
        sampler.damaged = True


def _numbered(
    sampler: Sampler[_Packet], frames: list[av.VideoFrame]
) -> Iterator[tuple[int, av.VideoFrame]]:
    for frame in frames:
        index = sampler.number(frame.pts)
        if index % sampler.frame_mod == 0:
            yield index, frame


def _flush(
    stream: av.video.stream.VideoStream, sampler: Sampler[_Packet]
) -> list[av.VideoFrame]:
    """The frames the decoder still holds, or none if it fails on them too."""
    try:
        return stream.codec_context.decode(None)
    except av.error.FFmpegError:
        sampler.damaged = True
        return []


def video_hash(
    path: str | os.PathLike[str],
    *,
    seconds_per_hash: float = 1.0,
    time_limit: float = DECODE_TIME_LIMIT,
    letterbox: bool = True,
    on_progress: Callable[[float], None] | None = None,
    md5: Md5Hash | None = None,
    max_seconds: float | None = None,
    frame_budget: int | None = None,
    sample_frames: int = 600,
) -> VideoHash:
    """MD5 and vPDQ frame hashes of a video file.

    Pass `md5` when the file's MD5 is already known, to save reading it again.

    `seconds_per_hash=0` hashes every frame. `on_progress` gets the share of
    the video decoded so far (0-1) when the duration is known. Frames that are
    neither sampled nor referenced by others are not decoded at all
    (`video_packets.py`); the frame numbers stay those of Meta's vpdq.

    `frame_budget` (None: no budget) and `sample_frames` bound the decoding
    work (see the module docstring); `max_seconds` (default
    `MAX_DURATION_SECONDS`) refuses longer videos.
    """
    name = os.fspath(path)
    try:
        if os.path.getsize(name) == 0:
            raise UnreadableMediaError("the file is empty (0 bytes): nothing to hash")
    except OSError as error:
        raise UnreadableMediaError(f"cannot read the file: {error.strerror}") from None
    if seconds_per_hash < 0:
        raise ValueError("seconds_per_hash must be zero (every frame) or positive")
    if frame_budget is not None and (frame_budget < 1 or sample_frames < 1):
        raise ValueError("frame_budget and sample_frames must be positive")
    if md5 is None:
        md5 = file_md5(name)
    deadline = time.monotonic() + time_limit
    skip = threaded = True
    longest = MAX_DURATION_SECONDS if max_seconds is None else max_seconds
    budget = _Budget(longest, frame_budget, sample_frames)
    while True:
        fps, frames, bars, sampler = _hash_frames(
            name,
            seconds_per_hash=seconds_per_hash,
            skip=skip,
            threaded=threaded,
            deadline=deadline,
            time_limit=time_limit,
            letterbox=letterbox,
            on_progress=on_progress,
            budget=budget,
        )
        if threaded and sampler.damaged:
            # Frame threads drop the frames queued behind a decoding error:
            # decode a damaged file again on one thread, losing only the bad.
            threaded = False
        elif not sampler.consistent():
            skip = False  # a skipped frame was one to sample: decode everything
        else:
            break
    if not frames:
        raise UnreadableMediaError(
            "no frame of the video could be hashed (corrupt, or blank throughout)"
        )
    crop, cropped = bars.result() if letterbox else (None, ())
    return VideoHash(md5, tuple(frames), fps, cropped, crop, budget.sampled)


@dataclass(slots=True)
class _Budget:
    """How much decoding a video may cost, and whether it was sampled."""

    max_seconds: float
    frames: int | None
    samples: int
    sampled: bool = False

    def over(self, index: int, estimate: float) -> None:
        """Refuse a video that turns out longer than its header said."""
        if self.sampled or self.frames is None:
            return
        if index <= self.frames + self.frames // 4:
            return
        said = f"its header says about {estimate:.0f}" if estimate else "no length"
        raise MediaTooLargeError(
            f"the video has over {index} frames and {said}: over the budget of "
            f"{self.frames} decoded frames; re-encode it with a correct header"
        )


def _hash_frames(
    name: str,
    *,
    seconds_per_hash: float,
    skip: bool,
    threaded: bool,
    deadline: float,
    time_limit: float,
    letterbox: bool,
    on_progress: Callable[[float], None] | None,
    budget: _Budget,
) -> tuple[float, list[VpdqFrame], _Letterbox, Sampler[_Packet]]:
    try:
        container = av.open(name, metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as error:
        raise UnreadableMediaError(
            f"not a readable video ({_reason(error)}): the file is damaged, cut "
            "short or not a video at all"
        ) from None
    frames: list[VpdqFrame] = []
    bars = _Letterbox()
    with container:
        if not container.streams.video:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
            raise UnreadableMediaError(
                f"the file has no video track (it holds {kinds}): nothing to hash"
            )
        stream = container.streams.video[0]
        _check_limits(container, stream, max_seconds=budget.max_seconds)
        fps = _rate(stream)
        frame_mod = max(1, int(seconds_per_hash * fps))
        sampler = _sampler(stream, frame_mod, skip=skip)
        total = (container.duration or 0) / 1_000_000 * fps
        budget.sampled = budget.frames is not None and total > budget.frames
        # Keyframes one by one: frame threads would only add latency.
        stream.thread_type = "AUTO" if threaded and not budget.sampled else "NONE"
        chosen = (
            _keyframes(
                container,
                stream,
                fps=fps,
                samples=budget.samples,
                deadline=deadline,
                time_limit=time_limit,
            )
            if budget.sampled
            else _sampled_frames(
                container, stream, sampler, deadline=deadline, time_limit=time_limit
            )
        )
        decoded = False
        try:
            for index, frame in chosen:
                decoded = True
                budget.over(index, total)
                if len(frames) >= MAX_VPDQ_FRAMES:
                    raise MediaTooLargeError(
                        f"over {MAX_VPDQ_FRAMES} sampled frames: hash fewer frames "
                        "per second"
                    )
                pixels = frame.to_ndarray(format="rgb24")
                pdq = _hash_frame(pixels)
                if pdq is not None:
                    frames.append(VpdqFrame(index, index / fps, pdq))
                if letterbox:
                    bars.add(index, index / fps, pixels)
                if on_progress is not None and total > 0:
                    on_progress(min(index / total, 1.0))
        except av.error.FFmpegError as error:
            sampler.damaged = True
            if not decoded and not threaded:
                raise UnreadableMediaError(
                    f"the video cannot be decoded: {_reason(error)}"
                ) from None
            # A damaged file: keep what decoded before the damage.
    return fps, frames, bars, sampler
