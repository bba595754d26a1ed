"""vPDQ speed, end to end from a file, on one core and on all, against Meta's vpdq.

Run with `make bench` (or `python bench/video_speed.py`). It makes once two
60 s 1080p 30 fps H.264 videos from real photographs (scikit-image's,
upscaled with sensor-like noise) that pan and zoom, with a cut every 5 s, and
caches them in bench/.cache: one with x264's default keyframes (an IDR frame
at each cut), one with an IDR frame every second, as phones record. Then, on
one core (the process pinned to it) and on all the cores it may use, it
times on each file, interleaved, in this one process:

* `vpdq.computeHash(path, seconds_per_hash=1, thread_count=N)`: Meta's C++;
* `reclaim.hashing.video_hash(path, threads=N)`: ours, MD5 of the bytes
  included (on 2+ cores, groups of pictures are decoded side by side);
* the floor: decoding alone, on FFmpeg's own N threads, the packets
  video_hash must decode (no colour conversion, hashing or MD5).

Each is run REPEATS times (vpdq VPDQ_REPEATS); the median wall time is
reported with the CPU time, the real-time factor (video seconds per second
of hashing), the ratio against vpdq and ours against the floor (the goal:
at least 90% of the floor on all cores). The load average is printed before
and after: the figures mean little on a busy machine. Checks, which make it
exit non-zero: the hashes on all cores equal those on one core (frames,
bars), and the frames equal vpdq's (the same frame numbers, hashes 0 bits
apart; a few bits are allowed where two decoders' colour conversions differ).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import av  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
import vpdq  # noqa: E402
from PIL import Image  # noqa: E402

from reclaim.hashing import video_hash  # noqa: E402
from reclaim.hashing.video import VideoHash, default_threads  # noqa: E402
from reclaim.hashing.video_packets import NalSyntax, Sampler  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
WIDTH, HEIGHT, FPS, SECONDS = 1920, 1080, 30, 60
SHOT_SECONDS = 5
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "cat")
REPEATS = 5
#: vpdq is slow on one core: its median is of fewer runs.
VPDQ_REPEATS = 3

#: On all cores, video_hash should reach this share of the floor's speed.
GOAL = 0.9


def _canvas(name: str, rng: np.random.Generator) -> Image.Image:
    """A photo upscaled to 1.5x the frame, with noise, to pan and zoom over."""
    photo = Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
    big = photo.resize((WIDTH * 3 // 2, HEIGHT * 3 // 2), Image.Resampling.BICUBIC)
    noisy = np.asarray(big).astype(np.float32)
    noisy += rng.normal(0, 3, noisy.shape).astype(np.float32)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def _frame(canvas: Image.Image, t: float) -> np.ndarray:
    """The view at shot time t (0-1): a pan across, zooming in by up to 25%."""
    zoom = 1.0 + 0.25 * t
    view_w, view_h = canvas.width / 1.5 / zoom, canvas.height / 1.5 / zoom
    left = (canvas.width - view_w) * t
    top = (canvas.height - view_h) * (0.5 + 0.4 * np.sin(2 * np.pi * t)) / 1.0
    top = min(max(top, 0.0), canvas.height - view_h)
    box = (left, top, left + view_w, top + view_h)
    return np.asarray(
        canvas.resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR, box=box)
    )


#: The two videos: x264's own keyframe choice, and a keyframe every second.
KEYFRAMES = {
    "x264 default keyframes": "",
    "a keyframe every second": "keyint=30:min-keyint=30:scenecut=0",
}


def make_video(x264_params: str) -> Path:
    """Write (once) a benchmark video; cached across runs."""
    CACHE.mkdir(exist_ok=True)
    suffix = "-gop30" if x264_params else ""
    path = CACHE / f"pan-zoom-cuts-{WIDTH}x{HEIGHT}-{SECONDS}s{suffix}.mp4"
    if path.exists():
        return path
    print(f"making {path.name} (once; cached in {CACHE})", flush=True)
    rng = np.random.default_rng(5)
    partial = path.with_suffix(".part.mp4")
    per_shot = SHOT_SECONDS * FPS
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        if x264_params:
            stream.options = {**stream.options, "x264-params": x264_params}
        canvas = _canvas(PHOTOS[0], rng)
        for index in range(SECONDS * FPS):
            shot, at = divmod(index, per_shot)
            if at == 0:
                canvas = _canvas(PHOTOS[shot % len(PHOTOS)], rng)
            frame = av.VideoFrame.from_ndarray(_frame(canvas, at / per_shot), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.rename(path)
    return path


def replay(path: Path, threads: int) -> tuple[int, int]:
    """Decode only what video_hash must (its sampler, replayed) on FFmpeg's
    own `threads`: how many packets that is, of how many.

    Timed, this is the floor: no colour conversion, hashing or MD5. No exact
    method can be faster with FFmpeg's decoder on one core, because vPDQ's
    frame numbers fix which frames are hashed, and those need every frame
    they are predicted from.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = threads
        codec = stream.codec_context
        syntax = NalSyntax.for_codec(codec.name, codec.extradata)
        sampler: Sampler[Any] = Sampler(FPS, syntax=syntax)
        kept = total = 0
        for packet in container.demux(stream):
            if packet.size:
                total += 1
                chosen = sampler.push(packet.pts, bytes(packet), packet)
            else:
                chosen = [*sampler.finish(), packet]
            for each in chosen:
                kept += bool(each.size)
                each.decode()
    return kept, total


@dataclass
class Timing:
    """Wall and CPU seconds of each run of one method."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run(self, job: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = job()
        self.cpu.append(time.process_time() - cpu)
        self.wall.append(time.perf_counter() - wall)
        return result

    @property
    def seconds(self) -> float:
        return statistics.median(self.wall)


def bench(label: str, path: Path, threads: int) -> tuple[list[str], VideoHash]:
    """Time the three on one file on `threads` cores; print a table."""
    failures: list[str] = []
    theirs_t, ours_t, floor_t = Timing(), Timing(), Timing()
    theirs: list[Any] = []
    ours: Any = None
    counts = (0, 0)
    for repeat in range(REPEATS):
        if repeat < VPDQ_REPEATS:
            theirs = theirs_t.run(
                lambda: vpdq.computeHash(
                    str(path), seconds_per_hash=1, thread_count=threads
                )
            )
        ours = ours_t.run(lambda: video_hash(path, threads=threads))
        counts = floor_t.run(lambda: replay(path, threads))
    kept, total = counts
    t_theirs, t_floor = theirs_t.seconds, floor_t.seconds
    cores = "1 core" if threads == 1 else f"{threads} cores"
    print(f"{label}, {cores}: decodes {kept} of {total} frames")
    header = (
        f"  {'method':<30} {'seconds':>8} {'CPU s':>7} {'× real time':>12} "
        f"{'× vpdq':>7} {'of floor':>9}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    thread_word = "thread" if threads == 1 else "threads"
    for name, timing in (
        (f"vpdq 0.2.5 (C++, {threads} {thread_word})", theirs_t),
        ("reclaim video_hash", ours_t),
        ("floor: decoding alone", floor_t),
    ):
        spent = timing.seconds
        print(
            f"  {name:<30} {spent:8.2f} {statistics.median(timing.cpu):7.2f} "
            f"{SECONDS / spent:12.1f} {t_theirs / spent:7.2f} "
            f"{t_floor / spent:8.0%}"
        )
    if threads > 1:
        share = t_floor / ours_t.seconds
        verdict = "met" if share >= GOAL else "NOT met"
        print(
            f"  goal: {GOAL:.0%} of the floor, {GOAL * SECONDS / t_floor:.1f}× "
            f"real time: {share:.0%}, {SECONDS / ours_t.seconds:.1f}× ({verdict})"
        )
    failures += _check(label, ours, theirs)
    return failures, ours


def _check(label: str, ours: VideoHash, theirs: list[Any]) -> list[str]:
    """Our frames against vpdq's: numbers equal, hashes (nearly) equal."""
    failures: list[str] = []
    reference = {f.frame_number: f for f in theirs}
    frames = ours.frames
    numbers = [f.frame_number for f in frames]
    if numbers != sorted(reference):
        failures.append(
            f"{label}: frames differ: ours {len(numbers)}, vpdq's {len(reference)}"
        )
    common = [f for f in frames if f.frame_number in reference]
    distances = [
        (f.pdq.value ^ int(reference[f.frame_number].hex, 16)).bit_count()
        for f in common
    ]
    same_quality = sum(f.quality == reference[f.frame_number].quality for f in common)
    print(
        f"  check: {len(frames)} frames (vpdq {len(reference)}), "
        f"{sum(d == 0 for d in distances)} identical, mean "
        f"{statistics.mean(distances or [0]):.2f} bits, max {max(distances or [0])} "
        f"bits, {same_quality} with equal quality\n"
    )
    if not distances or max(distances) > 8 or statistics.mean(distances) > 1:
        failures.append(f"{label}: frame hashes are further from vpdq's than allowed")
    return failures


def _load() -> str:
    if not hasattr(os, "getloadavg"):
        return "unknown"
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    paths = {label: make_video(params) for label, params in KEYFRAMES.items()}
    cores = default_threads()
    everywhere = os.sched_getaffinity(0) if hasattr(os, "sched_setaffinity") else None
    print(
        f"vPDQ end to end, {SECONDS} s {WIDTH}x{HEIGHT} {FPS} fps H.264, one "
        f"frame a second, median of {REPEATS} runs ({VPDQ_REPEATS} of vpdq); "
        f"load average {_load()}\n"
    )
    failures: list[str] = []
    for threads in sorted({1, cores}):
        if everywhere is not None:
            # One core: pinned to it. All cores: free to move, as on a device.
            one = {min(everywhere)}
            os.sched_setaffinity(0, one if threads == 1 else everywhere)
        hashes: dict[str, VideoHash] = {}
        for label, path in paths.items():
            found, hashes[label] = bench(label, path, threads)
            failures += found
            if threads > 1 and hashes[label] != video_hash(path, threads=1):
                failures.append(f"{label}: {threads} cores hash unlike one core")
    print(f"load average after: {_load()}")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
