"""Which edited copies of a video still match it, and our hashes against vpdq's.

A short clip is made with PyAV from real photographs (scikit-image's): six
2-second shots that pan and zoom, with cuts between them (12 s, 15 fps, 12
sampled frames). Each copy is made
the way a re-uploader makes one: decode the original, change the frames,
encode again. `python -m tests.hashing.test_video_robustness` prints the
table that docs/video.md shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from reclaim.hashing import VideoHash, VpdqFrame, VpdqHash, video_hash, video_match
from reclaim.hashing.types import PdqHash
from tests.conftest import vpdq_oracle

WIDTH, HEIGHT, FPS = 320, 240, 15
SHOT_FRAMES = 2 * FPS
SHOTS = ("astronaut", "coffee", "chelsea", "rocket", "coins", "camera")
# Not "cat": scikit-image's cat is chelsea.
OTHER_SHOTS = ("immunohistochemistry", "hubble_deep_field", "retina", "moon")
OTHER_SHOTS += ("horse", "clock")

Frames = list[np.ndarray]


def _shot(photo: np.ndarray, count: int) -> Iterator[np.ndarray]:
    """A photo filling the frame, panning across and zooming in by 20%.

    The pan crosses a third of the frame width in the shot: fast motion, the
    hard case for one hash a second.
    """
    canvas = Image.fromarray(photo).resize(
        (WIDTH * 3 // 2, HEIGHT * 3 // 2), Image.Resampling.BICUBIC
    )
    for index in range(count):
        t = index / count
        zoom = 1.0 + 0.2 * t
        view_w, view_h = WIDTH / zoom, HEIGHT / zoom
        left = (canvas.width - view_w) * t
        top = (canvas.height - view_h) * (0.3 + 0.4 * t)
        box = (left, top, left + view_w, top + view_h)
        yield np.asarray(canvas.resize((WIDTH, HEIGHT), box=box))


def make_frames(photos: dict[str, np.ndarray], names: tuple[str, ...]) -> Frames:
    """The clip's frames: one shot per photo, cut from one to the next."""
    return [frame for name in names for frame in _shot(photos[name], SHOT_FRAMES)]


def encode(path: Path, frames: Frames, *, fps: int = FPS, crf: int = 18) -> Path:
    """Write frames as H.264 (yuv420p) with libx264 at a constant quality."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decode(path: Path) -> Frames:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _resize(frames: Frames, width: int, height: int) -> Frames:
    return [
        np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.LANCZOS))
        for f in frames
    ]


def _pad(frames: Frames, *, rows: int, cols: int) -> Frames:
    """Black bars: `rows` above and below, `cols` left and right."""
    return [np.pad(f, ((rows, rows), (cols, cols), (0, 0))) for f in frames]


def _crop(frames: Frames, share: float) -> Frames:
    height, width = frames[0].shape[:2]
    dy, dx = int(height * share) // 2 * 2, int(width * share) // 2 * 2
    return [f[dy : height - dy, dx : width - dx] for f in frames]


@dataclass(frozen=True)
class Edit:
    """One way of making a copy, and whether the copy must still match."""

    name: str
    make: Callable[[Frames], Frames]
    crf: int = 18
    fps: int = FPS
    must_match: bool | None = True  # None: no claim either way


EDITS = (
    Edit("re-encoded at low quality (crf 38)", lambda f: f, crf=38),
    Edit("scaled down to 160x120", lambda f: _resize(f, 160, 120)),
    Edit("scaled up to 640x480", lambda f: _resize(f, 640, 480)),
    Edit("first 2 s cut off", lambda f: f[2 * FPS :]),
    Edit("last 2 s cut off", lambda f: f[: -2 * FPS]),
    Edit(
        "first 0.5 s cut off (samples fall between)",
        lambda f: f[FPS // 2 :],
        must_match=None,
    ),
    Edit(
        "letterboxed (40 px bars above and below)", lambda f: _pad(f, rows=40, cols=0)
    ),
    Edit("pillarboxed (60 px bars left and right)", lambda f: _pad(f, rows=0, cols=60)),
    Edit("cropped 10% (no bars)", lambda f: _crop(f, 0.1), must_match=None),
    Edit(
        "at 30 fps (frames doubled)", lambda f: [x for x in f for _ in (0, 1)], fps=30
    ),
    Edit("mirrored", lambda f: [x[:, ::-1] for x in f], must_match=False),
    Edit("first half only", lambda f: f[: len(f) // 2], must_match=None),
)


def oracle_hash(path: Path) -> VpdqHash:
    """Meta's vpdq hashes of a file, as our value type."""
    vpdq = vpdq_oracle()
    return VpdqHash(
        tuple(
            VpdqFrame(
                f.frame_number,
                f.timestamp,
                PdqHash.parse(f.hex, quality=f.quality),
            )
            for f in vpdq.computeHash(str(path), seconds_per_hash=1)
        )
    )


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    edit: str
    ours: tuple[float, float, bool]
    theirs: tuple[float, float, bool]
    ours_vs_vpdq: tuple[float, float]


def _triple(
    a: VideoHash | VpdqHash, b: VideoHash | VpdqHash
) -> tuple[float, float, bool]:
    found = video_match(a, b)
    return found.query_match_percent, found.compared_match_percent, found.is_match


def measure(photos: dict[str, np.ndarray], folder: Path) -> tuple[list[Row], Row]:
    """Hash the original and every copy with ours and vpdq's; score each."""
    original = encode(folder / "original.mp4", make_frames(photos, SHOTS))
    ours_original, theirs_original = video_hash(original), oracle_hash(original)
    decoded = decode(original)
    rows = []
    for number, edit in enumerate(EDITS):
        path = encode(
            folder / f"copy-{number}.mp4",
            edit.make(decoded),
            fps=edit.fps,
            crf=edit.crf,
        )
        ours, theirs = video_hash(path), oracle_hash(path)
        same = video_match(ours.vpdq, theirs)
        rows.append(
            Row(
                edit.name,
                _triple(ours, ours_original),
                _triple(theirs, theirs_original),
                (same.query_match_percent, same.compared_match_percent),
            )
        )
    other = encode(folder / "other.mp4", make_frames(photos, OTHER_SHOTS))
    ours_other, theirs_other = video_hash(other), oracle_hash(other)
    unrelated = Row(
        "a different video (other photos)",
        _triple(ours_other, ours_original),
        _triple(theirs_other, theirs_original),
        (100.0, 100.0),
    )
    return rows, unrelated


@pytest.fixture(scope="module")
def table(
    photos: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Row], Row]:
    return measure(photos, tmp_path_factory.mktemp("robustness"))


def test_our_hashes_equal_vpdqs_on_every_copy(table: tuple[list[Row], Row]) -> None:
    rows, _ = table
    for row in rows:
        assert row.ours_vs_vpdq == (100.0, 100.0), row.edit


@pytest.mark.parametrize("edit", EDITS, ids=[e.name for e in EDITS])
def test_copies_match_as_claimed(edit: Edit, table: tuple[list[Row], Row]) -> None:
    row = next(r for r in table[0] if r.edit == edit.name)
    if edit.must_match is not None:
        assert row.ours[2] is edit.must_match, row


def test_a_different_video_does_not_match(table: tuple[list[Row], Row]) -> None:
    _, unrelated = table
    assert not unrelated.ours[2]
    assert max(unrelated.ours[:2]) < 20


def markdown(rows: list[Row], unrelated: Row) -> str:
    """The table as docs/video.md shows it."""

    def cell(triple: tuple[float, float, bool]) -> str:
        query, compared, matched = triple
        return f"{'**yes**' if matched else 'no'} ({query:.0f}% / {compared:.0f}%)"

    lines = [
        "| copy of the clip | matches (ours) | matches (vpdq's hashes) "
        "| ours vs vpdq, same file |",
        "|---|---|---|---|",
    ]
    for row in [*rows, unrelated]:
        same = f"{row.ours_vs_vpdq[0]:.0f}% / {row.ours_vs_vpdq[1]:.0f}%"
        lines.append(f"| {row.edit} | {cell(row.ours)} | {cell(row.theirs)} | {same} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import tempfile

    from tests.conftest import PHOTO_NAMES, _load_photo

    with tempfile.TemporaryDirectory() as folder:
        print(
            markdown(*measure({n: _load_photo(n) for n in PHOTO_NAMES}, Path(folder)))
        )
