"""Decoding a video's groups of pictures in parallel, one thread per group.

An H.264 or H.265 stream starts afresh at each IDR picture: no picture after
it refers to one before it, and every picture before it is shown first. The
packets from one IDR picture to the next (a group) therefore decode on their
own, in a decoder of their own, and give the same frames in the same order as
one decoder fed everything (groups under `_TASK_PACKETS` packets go to the
same decoder as the next). This thread reads the packets and runs the
`Sampler` (which leaves out what need not be decoded); each group goes to a
worker thread, which decodes it, converts the sampled frames to RGB and
hashes them (FFmpeg and most of numpy's work run without the GIL). Results
are taken in group order, so frame numbers, budgets, errors and progress are
those of the one-decoder path in `video.py`.

Frame numbers are vPDQ's (decoded frames before, plus skipped frames shown
before); each group checks at its end that its frames came out one per kept
packet and numbered as the whole group says. Any surprise (a damaged packet,
a missing timestamp, groups shown out of order) raises `GroupsUnsuitable`,
and the caller decodes the video again on one decoder.
"""

from __future__ import annotations

import bisect
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from reclaim.hashing.errors import MediaTooLargeError
from reclaim.hashing.letterbox import Letterbox, hash_frame
from reclaim.hashing.types import PdqHash
from reclaim.hashing.video_packets import NalSyntax, Sampler
from reclaim.hashing.vpdq_format import MAX_VPDQ_FRAMES, VpdqFrame

if TYPE_CHECKING:
    _Packet = av.Packet[av.video.stream.VideoStream]

#: Memory the parallel decoders may hold between them (reference frames).
DECODER_MEMORY = 768 * 1024 * 1024

#: Reference frames a decoder may hold, plus the frame being decoded.
_FRAMES_PER_DECODER = 18

#: Frames of later groups held back (pixels) while the bars are undecided.
_BARS_HOLD = 6

#: Packets a worker's task holds at least: short groups (all-intra video)
#: go to one decoder together, as the thread handoff costs more than them.
_TASK_PACKETS = 24

#: Packet chunks queued for a group's worker before the reader waits.
_QUEUED_CHUNKS = 4


class GroupsUnsuitable(Exception):  # noqa: N818 - a signal, not a user error
    """This video cannot be decoded group by group: decode it in one decoder."""


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """How to decode in parallel: `workers` groups at once, each decoder on
    `decoder_threads` threads (FFmpeg's own, for videos with few groups)."""

    workers: int
    decoder_threads: int

    @classmethod
    def choose(
        cls, stream: av.video.stream.VideoStream, *, threads: int
    ) -> GroupPlan | None:
        """The plan for `threads` cores, or None where one decoder is as fast.

        The container's index (MP4, MKV) says how many keyframes there are
        without reading the file; without one, or with fewer than two
        keyframes, groups would not run side by side. Only H.264 and H.265
        are split (their IDR pictures are known to start afresh).
        """
        codec = stream.codec_context
        if NalSyntax.for_codec(codec.name, codec.extradata) is None:
            return None  # only H.264 and H.265 say where a group starts
        keyframes = sum(1 for entry in stream.index_entries if entry.is_keyframe)
        pixels = max(codec.width * codec.height, 1)
        affordable = DECODER_MEMORY // (pixels * 3 // 2 * _FRAMES_PER_DECODER)
        workers = min(threads, keyframes, max(affordable, 1))
        if workers < 2:
            return None
        return cls(workers, max(1, threads // workers))


@dataclass(frozen=True, slots=True)
class Limits:
    """What the caller checks: the time limit, the frame budget, progress."""

    deadline: float
    time_limit: float
    #: Raises MediaTooLargeError for a frame number past the frame budget.
    over_budget: Callable[[int], None]
    #: Packets past which a sampled frame must be over the budget (or None).
    budget_packets: int | None
    on_progress: Callable[[int], None] | None

    def check_time(self) -> None:
        """Raise if decoding has run past the time limit."""
        if time.monotonic() > self.deadline:
            raise MediaTooLargeError(
                f"decoding took over {self.time_limit:.0f} s: the video is too "
                "long or too complex to hash here"
            )


@dataclass(slots=True)
class _Chunk:
    packets: list[_Packet]
    skipped: list[int]


@dataclass(slots=True)
class _Group:
    """The packets of one IDR-to-IDR group, streamed to its worker."""

    number: int
    #: Frames (decoded or skipped) of the groups before this one.
    base: int
    chunks: queue.Queue[_Chunk | None] = field(
        default_factory=lambda: queue.Queue(_QUEUED_CHUNKS)
    )
    kept: int = 0
    total: int = 0
    lowest_pts: int | None = None
    highest_pts: int | None = None

    def received(self, stop: threading.Event) -> Iterator[_Chunk]:
        while True:
            try:
                chunk = self.chunks.get(timeout=0.05)
            except queue.Empty:
                if stop.is_set():
                    raise _Cancelled from None
                continue
            if chunk is None:
                return
            yield chunk

    def put(self, item: _Chunk | None, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.chunks.put(item, timeout=0.05)
                return
            except queue.Full:
                continue


class _Cancelled(Exception):  # noqa: N818 - internal: another group failed first
    pass


@dataclass(frozen=True, slots=True)
class _Sampled:
    index: int
    pdq: PdqHash | None


class OrderedBars:
    """Feeds a `Letterbox` in frame order from groups hashed out of order.

    Until the bars are decided, a frame of the lowest unfinished group goes
    straight in (everything before it is in); frames of later groups wait,
    at most `hold` of them, and their workers pause beyond that. Once the
    bars are decided, order no longer matters.
    """

    def __init__(self, bars: Letterbox, *, stop: threading.Event, hold: int) -> None:
        self._bars = bars
        self._stop = stop
        self._hold = hold
        self._ready = threading.Condition()
        self._lowest = 0
        self._finished: set[int] = set()
        self._held: dict[int, list[tuple[int, float, np.ndarray]]] = {}
        self._holding = 0

    def add(self, group: int, index: int, timestamp: float, pixels: np.ndarray) -> None:
        """Take a sampled frame of `group` (frames of one group come in order)."""
        with self._ready:
            while not self._in_order(group) and self._holding >= self._hold:
                if self._stop.is_set():
                    raise _Cancelled
                self._ready.wait(0.05)
            if self._bars.settled_without_bars:
                return
            if self._in_order(group):
                self._bars.add(index, timestamp, pixels)
                self._release_if_decided()
            else:
                self._held.setdefault(group, []).append((index, timestamp, pixels))
                self._holding += 1

    def finished(self, group: int) -> None:
        """Say that `group` has no more frames."""
        with self._ready:
            self._finished.add(group)
            while self._lowest in self._finished:
                self._lowest += 1
                for frame in self._held.pop(self._lowest, []):
                    self._holding -= 1
                    self._bars.add(*frame)
            self._release_if_decided()
            self._ready.notify_all()

    def _in_order(self, group: int) -> bool:
        return self._bars.decided or group == self._lowest

    def _release_if_decided(self) -> None:
        if self._bars.decided and self._held:
            for group in sorted(self._held):
                for frame in self._held.pop(group):
                    self._bars.add(*frame)
            self._holding = 0
            self._ready.notify_all()


@dataclass(frozen=True, slots=True)
class _Shared:
    """What every worker needs to know."""

    codec_name: str
    extradata: bytes | None
    decoder_threads: int
    frame_mod: int
    fps: float
    limits: Limits
    bars: OrderedBars | None
    stop: threading.Event


def rgb_pixels(frame: av.VideoFrame, reformatter: VideoReformatter) -> np.ndarray:
    """A decoded frame as (H, W, 3) RGB, converted as vpdq does (swscale).

    One reformatter per thread keeps its swscale context across frames; its
    own threads are off, as the caller already runs one thread per core.
    """
    rgb = reformatter.reformat(frame, format="rgb24", threads=1)
    return rgb.to_ndarray()


_local = threading.local()


def _reformatter() -> VideoReformatter:
    """This thread's reformatter: its swscale context lasts across groups."""
    reformatter: VideoReformatter | None = getattr(_local, "reformatter", None)
    if reformatter is None:
        reformatter = _local.reformatter = VideoReformatter()
    return reformatter


def _decode_group(group: _Group, shared: _Shared) -> list[_Sampled]:
    """Decode one group; convert and hash its sampled frames."""
    try:
        return _decode(group, shared)
    finally:
        if shared.bars is not None:
            shared.bars.finished(group.number)


def _decode(group: _Group, shared: _Shared) -> list[_Sampled]:
    codec: Any = av.CodecContext.create(shared.codec_name, "r")
    codec.extradata = shared.extradata
    if shared.decoder_threads > 1:
        codec.thread_type = "AUTO"
        codec.thread_count = shared.decoder_threads
    else:
        codec.thread_type = "NONE"
    reformatter = _reformatter()
    skipped: list[int] = []
    numbered: list[tuple[int, int]] = []  # (frame number, pts) of each output
    sampled: list[_Sampled] = []

    def take(frames: list[av.VideoFrame]) -> None:
        for frame in frames:
            if frame.pts is None:
                raise GroupsUnsuitable("a decoded frame has no timestamp")
            index = group.base + len(numbered) + bisect.bisect_left(skipped, frame.pts)
            numbered.append((index, frame.pts))
            if index % shared.frame_mod:
                continue
            shared.limits.over_budget(index)
            pixels = rgb_pixels(frame, reformatter)
            sampled.append(_Sampled(index, hash_frame(pixels)))
            if shared.bars is not None:
                shared.bars.add(group.number, index, index / shared.fps, pixels)

    for chunk in group.received(shared.stop):
        for pts in chunk.skipped:
            bisect.insort(skipped, pts)
        for packet in chunk.packets:
            if shared.stop.is_set():
                raise _Cancelled
            shared.limits.check_time()
            take(codec.decode(packet))
    take(codec.decode(None))
    # Every kept packet gave one frame, numbered as the whole group says.
    if len(numbered) != group.kept:
        raise GroupsUnsuitable("a group gave more or fewer frames than packets")
    for position, (index, pts) in enumerate(numbered):
        if index != group.base + position + bisect.bisect_left(skipped, pts):
            raise GroupsUnsuitable("a skipped frame was shown among later ones")
    return sampled


class _Reader:
    """Reads packets in this thread, runs the sampler, and cuts groups."""

    def __init__(
        self,
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
        sampler: Sampler[tuple[_Packet, bool]],
        syntax: NalSyntax,
        limits: Limits,
    ) -> None:
        self.container = container
        self.stream = stream
        self.sampler = sampler
        self.syntax = syntax
        self.limits = limits
        self.pending: list[int] = []  # pts pushed, not yet released or skipped
        self.packets = 0
        self.truncated = False

    def chunks(self) -> Iterator[tuple[bool, _Chunk]]:
        """(starts a group, chunk) in decode order, to the end of the stream."""
        skipping = self.sampler.skipping
        try:
            for packet in self.container.demux(self.stream):
                self.limits.check_time()
                if not packet.size:
                    break
                if packet.pts is None:
                    raise GroupsUnsuitable("a packet has no timestamp")
                data = bytes(packet)
                self.pending.append(packet.pts)
                self.packets += 1
                chosen = self.sampler.push(
                    packet.pts, data, (packet, self.syntax.idr(data))
                )
                if self.sampler.skipping != skipping:
                    raise GroupsUnsuitable("packets with repeated timestamps")
                yield from self._cut(chosen)
                budget = self.limits.budget_packets
                if budget is not None and self.packets > budget:
                    self.truncated = True  # a sampled frame is past the budget
                    break
        except av.error.FFmpegError as error:
            raise GroupsUnsuitable("the container is damaged") from error
        yield from self._cut(self.sampler.finish())

    def _cut(self, chosen: Any) -> Iterator[tuple[bool, _Chunk]]:
        if not chosen and len(self.sampler.held) == len(self.pending):
            return
        held = {entry.pts for entry in self.sampler.held}
        kept = {packet.pts for packet, _ in chosen}
        skipped = [p for p in self.pending if p not in held and p not in kept]
        self.pending = [p for p in self.pending if p in held]
        if not chosen:  # all skipped: they belong to the group being read
            yield False, _Chunk([], skipped)
            return
        starts = [idr for _, idr in chosen]
        if any(starts[1:]):
            raise GroupsUnsuitable("an IDR picture inside a released chunk")
        yield starts[0], _Chunk([packet for packet, _ in chosen], skipped)


def hash_groups(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    sampler: Sampler[Any],
    *,
    plan: GroupPlan,
    fps: float,
    bars: Letterbox | None,
    limits: Limits,
) -> list[VpdqFrame]:
    """vPDQ frames of the whole video, its groups decoded `plan.workers` at once.

    Raises `GroupsUnsuitable` where the one-decoder path must be used, and
    MediaTooLargeError for the time limit and the budgets, as that path does.
    """
    codec = stream.codec_context
    syntax = NalSyntax.for_codec(codec.name, codec.extradata)
    if syntax is None:
        raise GroupsUnsuitable(f"{codec.name} is not H.264 or H.265")
    stop = threading.Event()
    shared = _Shared(
        codec.name,
        codec.extradata,
        plan.decoder_threads,
        sampler.frame_mod,
        fps,
        limits,
        OrderedBars(bars, stop=stop, hold=_BARS_HOLD) if bars is not None else None,
        stop,
    )
    reader = _Reader(container, stream, sampler, syntax, limits)
    frames: list[VpdqFrame] = []
    window: deque[tuple[_Group, Future[list[_Sampled]]]] = deque()
    groups: list[_Group] = []
    with ThreadPoolExecutor(plan.workers, thread_name_prefix="vpdq-group") as pool:
        try:
            current: _Group | None = None
            for starts, chunk in reader.chunks():
                if current is None or (starts and current.total >= _TASK_PACKETS):
                    if current is not None:
                        current.put(None, stop)
                    while len(window) >= 2 * plan.workers:
                        _collect(*window.popleft(), frames, fps, limits)
                    base = 0 if current is None else current.base + current.total
                    current = _Group(len(groups), base)
                    groups.append(current)
                    window.append(
                        (current, pool.submit(_decode_group, current, shared))
                    )
                _account(current, chunk)
                current.put(chunk, stop)
            if current is not None:
                current.put(None, stop)
            while window:
                _collect(*window.popleft(), frames, fps, limits)
        except BaseException:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            stop.set()
    _check_order(groups)
    if reader.truncated:
        limits.over_budget(reader.packets)
    return frames


def _account(group: _Group, chunk: _Chunk) -> None:
    group.kept += len(chunk.packets)
    group.total += len(chunk.packets) + len(chunk.skipped)
    every = [packet.pts for packet in chunk.packets if packet.pts is not None]
    every += chunk.skipped
    if every:
        low, high = min(every), max(every)
        if group.lowest_pts is None or low < group.lowest_pts:
            group.lowest_pts = low
        if group.highest_pts is None or high > group.highest_pts:
            group.highest_pts = high


def _check_order(groups: list[_Group]) -> None:
    """Each group is shown after the one before (else numbers would differ)."""
    for before, after in zip(groups, groups[1:], strict=False):
        if (
            before.highest_pts is not None
            and after.lowest_pts is not None
            and after.lowest_pts <= before.highest_pts
        ):
            raise GroupsUnsuitable("a group is shown before the one decoded first")


def _collect(
    group: _Group,
    future: Future[list[_Sampled]],
    frames: list[VpdqFrame],
    fps: float,
    limits: Limits,
) -> None:
    """Take one group's hashes, in order, with vPDQ's frame limit and progress."""
    try:
        sampled = future.result()
    except av.error.FFmpegError as error:
        raise GroupsUnsuitable("a packet could not be decoded") from error
    except MemoryError as error:
        # Several decoders at once need more memory than one: try with one.
        raise GroupsUnsuitable("out of memory with groups side by side") from error
    for frame in sampled:
        if len(frames) >= MAX_VPDQ_FRAMES:
            raise MediaTooLargeError(
                f"over {MAX_VPDQ_FRAMES} sampled frames: hash fewer frames per second"
            )
        if frame.pdq is not None:
            frames.append(VpdqFrame(frame.index, frame.index / fps, frame.pdq))
    if sampled and limits.on_progress is not None:
        limits.on_progress(sampled[-1].index)
