"""vPDQ in the browser (static/video.js) against Python's video_hash.

The same video file is hashed by `reclaim.hashing.video_hash` and, in headless
Debian Chromium, by `video.js` (Mediabunny demuxes, WebCodecs decodes, pdq.js
hashes): the frames sampled, their numbers and times, the bars found must be
the same, and `video_match` must say the two hashes match. The conformance
videos (../shared: skipped without it, failed under CI=true) are H.264 MP4;
where this Chromium cannot decode H.264 they are transcoded to VP9 WebM first
(and Python hashes the same transcode). VP9 WebM and odd frame rates are
covered on files made here with PyAV. `pytest -rP` prints the figures.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from reclaim.hashing.video import VideoHash, video_hash
from reclaim.hashing.video_match import video_match
from reclaim.hashing.vpdq_format import VpdqHash
from tests.conftest import require_shared
from tests.web.test_app_flow import (
    choose_program_and_files,
    message,
    wait_until_hashed,
)

STATIC = Path(__file__).resolve().parents[2] / "src" / "reclaim" / "web" / "static"

#: What the page runs: fetch the file, hash it as the worker would.
HASH_SCRIPT = """async (key) => {
    const {videoHash} = await import("/video.js");
    const {vpdqText, vpdqCompact} = await import("/vpdq.js");
    const blob = await (await fetch(`/__video/${key}`)).blob();
    try {
        const r = await videoHash(blob);
        return {fps: r.fps, box: r.box, text: vpdqText(r.frames, r.fps),
                compact: vpdqCompact(r.frames, r.fps),
                cropped: r.cropped.length ? vpdqText(r.cropped, r.fps) : null};
    } catch (error) {
        return {error: `${error.code}: ${error.message}`};
    }
}"""

CODECS_SCRIPT = """async () => {
    const out = {};
    for (const codec of ["avc1.4d401f", "vp09.00.10.08"]) {
        const r = await VideoDecoder.isConfigSupported(
            {codec, codedWidth: 1280, codedHeight: 720}).catch(() => ({}));
        out[codec] = Boolean(r.supported);
    }
    return out;
}"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, plus the videos to hash and a blank page."""

    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
    }

    def __init__(self, *args: object, videos: dict[str, Path], **kwargs: object):
        self.videos = videos
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/__blank":
            self._reply(b"<!doctype html><title>video.js</title>", "text/html")
        elif self.path.startswith("/__video/"):
            path = self.videos.get(self.path.removeprefix("/__video/"))
            if path is None:
                self.send_error(404)
            else:
                self._reply(path.read_bytes(), "application/octet-stream")
        else:
            super().do_GET()

    def _reply(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Hasher:
    """Hashes videos in the browser, served by a small local server."""

    page: object
    videos: dict[str, Path]

    def hash(self, path: Path) -> dict[str, object]:
        key = str(len(self.videos))
        self.videos[key] = path
        result = self.page.evaluate(HASH_SCRIPT, key)  # type: ignore[attr-defined]
        return dict(result)

    def supports(self) -> dict[str, bool]:
        return dict(self.page.evaluate(CODECS_SCRIPT))  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def hasher(browser) -> Iterator[Hasher]:  # type: ignore[no-untyped-def]
    videos: dict[str, Path] = {}
    handler = functools.partial(_Handler, directory=str(STATIC), videos=videos)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"http://127.0.0.1:{server.server_address[1]}/__blank")
    yield Hasher(page, videos)
    context.close()
    server.shutdown()
    server.server_close()


@dataclass
class Agreement:
    """How a browser hash compares with Python's on one video."""

    name: str
    frames: int
    identical: int
    within16: int
    matched: bool
    percents: tuple[float, float]
    same_bars: bool


def _compare(
    name: str, browser: dict[str, object], python: VideoHash, *, bars: bool = True
) -> Agreement:
    """Check the browser's hash against Python's; `bars=False` lets the bars
    differ (a transcode's soft bar edge can land a pixel either side of the
    tolerance under the two decoders' colour conversions)."""
    assert "error" not in browser, f"{name}: {browser.get('error')}"
    js = VpdqHash.parse(str(browser["text"]))
    # The compact form the page sends carries the same frames.
    assert VpdqHash.parse(str(browser["compact"])) == js
    assert browser["fps"] == pytest.approx(python.fps, rel=1e-12), name
    assert [f.frame_number for f in js.frames] == [
        f.frame_number for f in python.frames
    ], name
    assert [f"{f.timestamp:.3f}" for f in js.frames] == [
        f"{f.timestamp:.3f}" for f in python.frames
    ], name
    box = browser["box"]
    crop = python.crop
    expected = None if crop is None else dataclasses.asdict(crop)
    same_bars = box == expected
    assert same_bars or not bars, f"{name}: bars {box} in the browser, {crop} in Python"
    cropped = VpdqHash.parse(str(browser["cropped"])) if browser["cropped"] else None
    if same_bars:
        assert len(cropped.frames if cropped else ()) == len(python.cropped), name
    distances = [
        (a.pdq.value ^ b.pdq.value).bit_count()
        for a, b in zip(js.frames, python.frames, strict=True)
    ]
    match = video_match(js, python.vpdq)
    assert match.is_match, f"{name}: {match}"
    if cropped is not None and python.cropped:
        assert video_match(cropped, VpdqHash(python.cropped)).is_match, name
    return Agreement(
        name,
        len(distances),
        sum(d == 0 for d in distances),
        sum(d <= 16 for d in distances),
        match.is_match,
        (match.query_match_percent, match.compared_match_percent),
        same_bars,
    )


def _report(title: str, rows: list[Agreement]) -> tuple[int, int, int]:
    frames = sum(r.frames for r in rows)
    identical = sum(r.identical for r in rows)
    within = sum(r.within16 for r in rows)
    print(f"\n{title}: {len(rows)} videos, {frames} frames")
    for r in rows:
        print(
            f"  {r.name}: {r.frames} frames, {r.identical} identical, "
            f"{r.within16} within 16 bits, match {r.percents[0]:.0f}%/"
            f"{r.percents[1]:.0f}%{'' if r.same_bars else ', bars differ'}"
        )
    print(
        f"  all: {identical / frames:.1%} identical, {within / frames:.1%} within "
        f"16 bits; every video matches; bars agree on "
        f"{sum(r.same_bars for r in rows)} of {len(rows)}"
    )
    return frames, identical, within


def transcode(
    source: Path, target: Path, *, codec: str = "libvpx-vp9", rate: object = None
) -> Path:
    """Re-encode a video's frames (same size, same rate) with PyAV."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        stream_in = src.streams.video[0]
        stream = out.add_stream(codec, rate=rate or stream_in.average_rate)
        stream.width, stream.height = stream_in.width, stream_in.height
        stream.pix_fmt = "yuv420p"
        if codec.startswith("libvpx"):
            stream.options = {"deadline": "realtime", "cpu-used": "8", "crf": "30"}
            stream.bit_rate = 0
        for frame in src.decode(stream_in):
            picture = frame.to_ndarray(format="rgb24")
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return target


@pytest.mark.conformance
def test_conformance_videos_match_python(hasher: Hasher, tmp_path: Path) -> None:
    folder = require_shared("vpdq", "tmk", "sample-videos")
    videos = sorted(folder.glob("*.mp4"))
    assert len(videos) >= 10
    h264 = hasher.supports()["avc1.4d401f"]
    rows = []
    for path in videos:
        if not h264:  # this Chromium has no H.264 decoder: compare on VP9
            path = transcode(path, tmp_path / f"{path.stem}.webm")
        browser = hasher.hash(path)
        rows.append(_compare(path.name, browser, video_hash(path), bars=h264))
    codec = "H.264 MP4" if h264 else "VP9 WebM transcodes (no H.264 in this Chromium)"
    frames, identical, within = _report(f"conformance videos, {codec}", rows)
    assert within / frames >= 0.95


def _clip(
    path: Path, *, codec: str, rate: Fraction, seconds: float, keyint: int = 0
) -> Path:
    """A panning photo with letterbox bars, at an odd frame rate."""
    import av
    import skimage.data

    picture = np.zeros((360, 640, 3), np.uint8)
    photo = skimage.data.astronaut()[::2, ::2]  # 256x256
    backdrop = np.repeat(skimage.data.camera()[:256, :440, None], 3, axis=2)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        if codec.startswith("libvpx"):
            # Fixed quality, not realtime (which varies with the machine's speed).
            stream.options = {"deadline": "good", "cpu-used": "5", "crf": "12"}
            stream.bit_rate = 8_000_000
        if keyint:
            stream.options = {"x264-params": f"keyint={keyint}:min-keyint={keyint}"}
        for index in range(int(seconds * rate)):
            picture[52:308, 100:540] = backdrop
            left = 100 + (index * 3) % 184
            picture[52:308, left : left + 256] = photo
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.mark.parametrize(
    ("codec", "suffix", "rate"),
    [
        ("libvpx-vp9", "webm", Fraction(25)),
        ("libvpx", "webm", Fraction(30000, 1001)),
        ("libx264", "mp4", Fraction(30000, 1001)),
        ("libx264", "mov", Fraction(24000, 1001)),
    ],
)
def test_made_videos_match_python(
    hasher: Hasher, tmp_path: Path, codec: str, suffix: str, rate: Fraction
) -> None:
    if codec == "libx264" and not hasher.supports()["avc1.4d401f"]:
        pytest.skip("this Chromium has no H.264 decoder (VP9 WebM is tested)")
    path = _clip(tmp_path / f"clip.{suffix}", codec=codec, rate=rate, seconds=6)
    python = video_hash(path)
    assert python.crop is not None  # the bars are found on both sides
    row = _compare(path.name, hasher.hash(path), python)
    _report(f"{codec} at {float(rate):.3f} fps in {suffix}", [row])
    assert row.within16 == row.frames


def test_vpdq_text_rounds_as_python(hasher: Hasher) -> None:
    """Timestamps to the millisecond as Python's "%.3f" (ties to even)."""
    values = [0.0625, 0.1875, 1 / 3, 2.0005, 10.0115, 7 / 16, 12345 / 29.97]
    got = hasher.page.evaluate(  # type: ignore[attr-defined]
        """async (values) => {
            const {millisOf} = await import("/vpdq.js");
            return values.map(millisOf);
        }""",
        values,
    )
    assert got == [int(f"{v:.3f}".replace(".", "")) for v in values]


def test_undecodable_video_sends_md5_only(
    page_factory, tmp_path: Path, app_url: str
) -> None:  # type: ignore[no-untyped-def]
    """MPEG-4 Part 2 has no WebCodecs decoder: the row says so, MD5 alone goes."""
    path = _clip(
        tmp_path / "old phone.mp4", codec="mpeg4", rate=Fraction(15), seconds=2
    )
    page = page_factory()
    posted: list[bytes] = []
    page.on(
        "request",
        lambda r: (
            posted.append(r.post_data_buffer or b"") if r.method == "POST" else None
        ),
    )
    page.goto("/")
    choose_program_and_files(page, [path])
    wait_until_hashed(page, 1)
    state = page.text_content("#file-list .state")
    assert state == message(page, "files.video_exact_only")
    assert state != message(page, "files.ready")
    page.click("#submit")
    page.wait_for_selector("#step-done:not([hidden])")
    hashes = json.loads(posted[0])["hashes"]
    assert [item["type"] for item in hashes] == ["md5"]


def test_pdq_pool_equals_this_thread(hasher: Hasher) -> None:
    """Frames hashed on helper workers equal those hashed on the video's own
    thread (the fallback where helpers cannot run), in the order given."""
    got = hasher.page.evaluate(  # type: ignore[attr-defined]
        """async () => {
            const {PdqPool} = await import("/pdq-pool.js");
            const frames = Array.from({length: 6}, (_, k) => {
                const pixels = new Uint8ClampedArray(96 * 80 * 4);
                for (let i = 0; i < pixels.length; i++) pixels[i] = (i * (k + 3)) % 251;
                return pixels;
            });
            const run = async (size) => {
                const pool = new PdqPool(size);
                const helpers = pool.workers.length;
                const hashes = await Promise.all(
                    frames.map((f) => pool.hash(f.slice(), 96, 80)));
                pool.close();
                return {helpers, hashes};
            };
            return [await run(2), await run(0)];
        }"""
    )
    helpers, here = got
    assert helpers["helpers"] == 2 and here["helpers"] == 0
    assert helpers["hashes"] == here["hashes"]
    assert len({h["hex"] for h in here["hashes"]}) == 6


def test_damaged_video_keeps_its_good_frames(hasher: Hasher, tmp_path: Path) -> None:
    """A packet the decoder refuses (its NAL length runs past its end): the
    decoder starts again at the next key frame, and every frame kept is a
    true frame of the video, as Python passes over bad packets."""
    import av

    if not hasher.supports()["avc1.4d401f"]:
        pytest.skip("this Chromium has no H.264 decoder")
    whole = _clip(
        tmp_path / "whole.mp4", codec="libx264", rate=Fraction(30), seconds=8, keyint=30
    )
    with av.open(str(whole)) as container:
        positions = [p.pos for p in container.demux(video=0) if p.size]
    data = bytearray(whole.read_bytes())
    at = positions[len(positions) // 2]
    data[at : at + 4] = b"\xff\xff\xff\xff"
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    browser = hasher.hash(damaged)
    assert "error" not in browser, browser.get("error")
    kept = VpdqHash.parse(str(browser["text"]))
    original = video_hash(whole)
    assert len(original.frames) // 2 < len(kept.frames) < len(original.frames)
    assert video_match(kept, original.vpdq).query_match_percent == 100.0
