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
from av.video.reformatter import VideoReformatter

from reclaim.hashing.borders import Box
from reclaim.hashing.digest import file_md5
from reclaim.hashing.errors import (
    ImageShapeError,
    MediaTooLargeError,
    UnreadableMediaError,
)
from reclaim.hashing.letterbox import Letterbox, hash_frame
from reclaim.hashing.pdq import MIN_DIMENSION
from reclaim.hashing.types import Md5Hash
from reclaim.hashing.video_groups import (
    GroupPlan,
    GroupsUnsuitable,
    Limits,
    hash_groups,
    rgb_pixels,
)
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


def default_threads() -> int:
    """The cores this process may run on (all of the device's by default)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _progress(
    on_progress: Callable[[float], None] | None, total: float
) -> Callable[[int], None] | None:
    """Progress by frame number, as the share of the frames the header says."""
    if on_progress is None or total <= 0:
        return None
    report = on_progress
    return lambda index: report(min(index / total, 1.0))


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
    threads: int | None = None,
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

    `threads` (default: every core this process may use) is how many cores
    decode. With two or more, an H.264/H.265 video with several keyframes
    has its groups of pictures decoded side by side (`video_groups.py`); the
    frames and hashes are the same as with `threads=1`.
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
    if threads is None:
        threads = default_threads()
    if threads < 1:
        raise ValueError(f"threads={threads}: expected 1 or more cores to decode on")
    if md5 is None:
        md5 = file_md5(name)
    deadline = time.monotonic() + time_limit
    skip = threaded = True
    parallel = threads > 1
    longest = MAX_DURATION_SECONDS if max_seconds is None else max_seconds
    budget = _Budget(longest, frame_budget, sample_frames)
    while True:
        try:
            fps, frames, bars, sampler = _hash_frames(
                name,
                seconds_per_hash=seconds_per_hash,
                skip=skip,
                threaded=threaded,
                threads=threads,
                parallel=parallel,
                deadline=deadline,
                time_limit=time_limit,
                letterbox=letterbox,
                on_progress=on_progress,
                budget=budget,
            )
        except GroupsUnsuitable:
            parallel = False  # decode it again in one decoder
            continue
        if threaded and sampler.damaged:
            # Frame threads drop the frames queued behind a decoding error:
            # decode a damaged file again on one thread, losing only the bad.
            threaded = False
        elif not sampler.consistent():
            skip = False  # a skipped frame was one to sample: decode everything
            parallel = False
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

    @property
    def limit(self) -> int:
        """The highest frame number allowed (a quarter over the budget)."""
        return 0 if self.frames is None else self.frames + self.frames // 4

    def over(self, index: int, estimate: float) -> None:
        """Refuse a video that turns out longer than its header said."""
        if self.sampled or self.frames is None:
            return
        if index <= self.limit:
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
    threads: int,
    parallel: bool,
) -> tuple[float, list[VpdqFrame], Letterbox, Sampler[_Packet]]:
    try:
        container = av.open(name, metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as error:
        raise UnreadableMediaError(
            f"not a readable video ({_reason(error)}): the file is damaged, cut "
            "short or not a video at all"
        ) from None
    frames: list[VpdqFrame] = []
    bars = Letterbox()
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
        plan = None
        if parallel and threaded and not budget.sampled:
            plan = GroupPlan.choose(stream, threads=threads)
        if plan is not None:
            limits = Limits(
                deadline,
                time_limit,
                lambda index: budget.over(index, total),
                None if budget.frames is None else budget.limit + frame_mod,
                _progress(on_progress, total),
            )
            shown = bars if letterbox else None
            frames = hash_groups(
                container,
                stream,
                sampler,
                plan=plan,
                fps=fps,
                bars=shown,
                limits=limits,
            )
            return fps, frames, bars, sampler
        # Keyframes one by one: frame threads would only add latency.
        stream.thread_type = "AUTO" if threaded and not budget.sampled else "NONE"
        if threaded and not budget.sampled:
            stream.codec_context.thread_count = threads
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
        reformatter = VideoReformatter()
        try:
            for index, frame in chosen:
                decoded = True
                budget.over(index, total)
                if len(frames) >= MAX_VPDQ_FRAMES:
                    raise MediaTooLargeError(
                        f"over {MAX_VPDQ_FRAMES} sampled frames: hash fewer frames "
                        "per second"
                    )
                pixels = rgb_pixels(frame, reformatter)
                pdq = hash_frame(pixels)
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
