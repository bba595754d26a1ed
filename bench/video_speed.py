"""vPDQ speed, end to end from a file, against Meta's `vpdq` in this process.

Run with `make bench` (or `python bench/video_speed.py`). It pins itself to
one core (and one BLAS thread), makes once two 60 s 1080p 30 fps H.264 videos
from real photographs (scikit-image's, upscaled with sensor-like noise) that
pan and zoom, with a cut every 5 s, and caches them in bench/.cache: one with
x264's default keyframes (an IDR frame at each cut), one with an IDR frame
every second, as phones record. Then it times, on each file:

* `vpdq.computeHash(path, seconds_per_hash=1, thread_count=1)`: Meta's C++;
* `reclaim.hashing.video_hash(path)`: ours, MD5 of the bytes included.
* the floor: decoding alone the packets video_hash must decode (no colour
  conversion, hashing or MD5), the most any exact method could reach.

Each is run a few times and the median is reported, with the real-time factor
(video seconds per second of hashing) and the ratio against vpdq. The frames
are checked against vpdq's: the same frame numbers, and hashes 0 bits apart
(a few bits are allowed where two decoders' colour conversions differ; the
mean and max are printed). Exits non-zero if a check fails.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import av  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
import vpdq  # noqa: E402
from PIL import Image  # noqa: E402

from reclaim.hashing import video_hash  # noqa: E402
from reclaim.hashing.video_packets import NalSyntax, Sampler  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
WIDTH, HEIGHT, FPS, SECONDS = 1920, 1080, 30, 60
SHOT_SECONDS = 5
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "cat")
REPEATS = 3


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


def replay(path: Path) -> tuple[int, int, float]:
    """Decode only what video_hash must (its sampler, replayed): how many
    packets that is, of how many, and the seconds it took.

    The seconds are the floor: no colour conversion, hashing or MD5. No exact
    method can be faster with FFmpeg's decoder, because vPDQ's frame numbers
    fix which frames are hashed, and those need every frame they are
    predicted from.
    """
    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
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
    return kept, total, time.perf_counter() - start


def bench(label: str, path: Path) -> list[str]:
    """Time both on one file, print a table; return what failed."""
    failures: list[str] = []
    theirs_s, ours_s = [], []
    theirs: list[Any] = []
    ours: Any = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        theirs = vpdq.computeHash(str(path), seconds_per_hash=1, thread_count=1)
        theirs_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        ours = video_hash(path)
        ours_s.append(time.perf_counter() - start)
    t_theirs, t_ours = statistics.median(theirs_s), statistics.median(ours_s)
    replays = [replay(path) for _ in range(REPEATS)]
    kept, total, _ = replays[0]
    t_floor = statistics.median(seconds for _, _, seconds in replays)
    print(f"{label}: decodes {kept} of {total} frames")
    header = f"  {'method':<26} {'seconds':>8} {'× real time':>12} {'× vpdq':>8}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for name, spent in (
        ("vpdq 0.2.5 (C++, 1 thread)", t_theirs),
        ("reclaim video_hash", t_ours),
        ("floor: decoding alone", t_floor),
    ):
        print(
            f"  {name:<26} {spent:8.2f} {SECONDS / spent:12.1f} {t_theirs / spent:8.2f}"
        )
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


def main() -> int:
    paths = {label: make_video(params) for label, params in KEYFRAMES.items()}
    print(
        f"vPDQ end to end, {SECONDS} s {WIDTH}x{HEIGHT} {FPS} fps H.264, one "
        f"frame a second, one core, median of {REPEATS} runs\n"
    )
    failures = [
        failure for label, path in paths.items() for failure in bench(label, path)
    ]
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
