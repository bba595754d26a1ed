"""The false-match corpus: distinct real pictures that need no download.

`load()` gathers photographs from what the project's own setup installs and
from ../shared when it is beside the checkout, in a fixed order:

- scikit-image's bundled photographs (`skimage.data`, 19; BSD-3, public
  domain or CC0 as skimage/data/README.txt says): the `dev` extra;
- GCompris's photographs (Debian's `gcompris-qt-data`: categorization,
  monuments, animals, music, erase, sea; ~270; licences per file in
  /usr/share/doc/gcompris-qt-data/copyright, mostly CC-BY-SA, CC-BY and
  public domain): `scripts/ensure-system-packages` installs it;
- Meta's PDQ test photos (11: the bridge, LabelMe scenes, pen and coaster, ...;
  BSD, ThreatExchange's LICENSE): ../shared/conformance;
- frames of the vPDQ sample videos (8 from each filmed scene: chair,
  doorknob, pattern; BSD): ../shared/conformance.

docs/corpus.md says more.

Each picture has a *scene*: frames of one filmed scene share one, so a
benchmark can leave out pairs of pictures that may show the same things.
Every other picture is its own scene.

Kept: pictures whose whole-image PDQ quality is >= 50, and of pictures whose
PDQ hashes are within 31 of each other, only the first (`Corpus.dropped`
says which went and why: today 7 of 326). GCompris shows some monuments in
two activities; those left after the hash check are different photographs
(checked by eye), and no two kept pictures match by `robust_match` except
Uranus and Neptune (two blue discs on black, left in on purpose).

Run it alone to list the corpus: `.venv/bin/python bench/corpus.py`.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from reclaim.hashing import MATCH_DISTANCE, MIN_QUALITY, pdq_hash

CACHE = Path(__file__).resolve().parent / ".cache"
CONFORMANCE = Path(__file__).resolve().parents[2] / "shared/conformance"

#: scikit-image's bundled photographs (no download). Left out: `cat` (chelsea
#: again), `motorcycle_right` (the left view again), `lfw_subset` (25 px
#: faces), and the drawn or synthetic ones (`logo`, `horse`, `colorwheel`,
#: `checkerboard`, `binary_blobs`, `shepp_logan_phantom`).
SKIMAGE = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "microaneurysms",
    "moon",
    "page",
    "retina",
    "rocket",
    "stereo_motorcycle",
    "text",
)

GCOMPRIS = Path("/usr/share/gcompris-qt/rcc")
#: GCompris activities (rcc file, path prefix inside it) whose images are
#: whole photographs. Others are drawings, cut-outs (fish sprites) or crops of
#: one picture (`details`, `paintings`, `babyshapes` puzzles).
GCOMPRIS_PHOTOS = (
    ("categorization", "/gcompris/src/activities/categorization/resource/images/"),
    ("explore_monuments", "/gcompris/src/activities/explore_monuments/resource/"),
    ("explore_world_animals", "/gcompris/src/activities/explore_world_animals/"),
    ("explore_farm_animals", "/gcompris/src/activities/explore_farm_animals/"),
    ("explore_world_music", "/gcompris/src/activities/explore_world_music/"),
    ("erase", "/gcompris/src/activities/erase/resource/"),
    ("solar_system", "/gcompris/src/activities/solar_system/resource/"),
    ("clickgame", "/gcompris/src/activities/clickgame/resource/sea"),
)

#: Meta's PDQ test photos, one file per photograph (the other files there are
#: edits, rotations or re-encodings of these).
PDQ_PHOTOS = (
    "pdq/pdq/data/bridge-mods/aaa-orig.jpg",
    "pdq/pdq/data/misc-images/c.png",
    "pdq/pdq/data/reg-test-input/pen-and-coaster.png",
    *(
        f"pdq/pdq/data/reg-test-input/labelme-subset/{name}.jpg"
        for name in ("q0003", "q0004", "q0122", "q0291", "q0746", "q1050", "q2821")
    ),
    "pdq/python-threatexchange/threatexchange/tests/hashing/resources/rgb.jpeg",
)

VIDEOS = CONFORMANCE / "vpdq/tmk/sample-videos"
#: Filmed scenes and their takes. The other sample videos are edits of these
#: (grey, sepia, logos, bars) or synthetic (test-padded-dimensions).
VIDEO_SCENES = (
    (
        "chair",
        ("chair-19-sd-bar.mp4", "chair-20-sd-bar.mp4", "chair-orig-22-sd-bar.mp4"),
    ),
    ("doorknob", ("doorknob-hd-no-bar.mp4",)),
    ("pattern", ("pattern-longer-no-bar.mp4",)),
)
FRAMES_PER_SCENE = 8
#: Frames of one scene are at least this far apart (PDQ bits).
FRAME_SPREAD = 60
FRAME_STEP = 5


@dataclass(frozen=True)
class Corpus:
    """The kept pictures, in order, and what was left out."""

    pictures: list[tuple[str, np.ndarray]]
    scenes: dict[str, str]
    dropped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        """A digest of every kept picture's name and pixels (for cache keys)."""
        digest = hashlib.sha256()
        for name, array in self.pictures:
            digest.update(name.encode())
            digest.update(str(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]

    def sources(self) -> dict[str, int]:
        """How many kept pictures each source gave."""
        counts: dict[str, int] = {}
        for name, _ in self.pictures:
            source = name.split("/", 1)[0]
            counts[source] = counts.get(source, 0) + 1
        return counts


def _rgb(image: Image.Image) -> np.ndarray:
    """RGB pixels; transparent parts shown on white, as a web page would."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
        canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, image)
    return np.asarray(image.convert("RGB"))


def _skimage() -> Iterator[tuple[str, np.ndarray]]:
    import skimage.data

    for name in SKIMAGE:
        array = getattr(skimage.data, name)()
        if isinstance(array, tuple):  # stereo_motorcycle: (left, right, disparity)
            array = array[0]
        array = np.asarray(array)
        if array.dtype != np.uint8:
            array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
        if array.ndim == 2:
            array = np.stack([array] * 3, axis=-1)
        yield f"skimage/{name}", np.ascontiguousarray(array[..., :3])


def rcc_files(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(path, content) of each file in a Qt resource bundle (.rcc, version 1-3).

    Layout: "qres", version, then offsets of the tree, the data and the names.
    A tree node is a name offset, flags (1 zlib, 2 directory, 4 zstd), then a
    child count and first child (directory) or locale and data offset (file).
    """
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource bundle: expected it to start 'qres'")
    version, tree, blobs, names = struct.unpack(">IIII", data[4:20])
    node_size = 14 if version == 1 else 22

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        start = names + offset + 6  # length, then a 4-byte hash
        return data[start : start + 2 * length].decode("utf-16-be")

    stack = [(0, "")]
    while stack:
        node, parent = stack.pop()
        at = tree + node * node_size
        name_offset, flags = struct.unpack(">IH", data[at : at + 6])
        path = f"{parent}/{name(name_offset)}" if node else ""
        if flags & 2:
            count, first = struct.unpack(">II", data[at + 6 : at + 14])
            stack.extend((first + k, path) for k in reversed(range(count)))
            continue
        (offset,) = struct.unpack(">I", data[at + 10 : at + 14])
        (size,) = struct.unpack(">I", data[blobs + offset : blobs + offset + 4])
        content = data[blobs + offset + 4 : blobs + offset + 4 + size]
        if flags & 4:  # zstd: not in Debian's build; skip rather than guess
            continue
        yield path, zlib.decompress(content[4:]) if flags & 1 else content


def _gcompris() -> Iterator[tuple[str, np.ndarray]]:
    for activity, prefix in GCOMPRIS_PHOTOS:
        bundle = GCOMPRIS / f"{activity}.rcc"
        files = sorted(
            (path, content)
            for path, content in rcc_files(bundle.read_bytes())
            if path.startswith(prefix) and path.endswith((".webp", ".jpg", ".png"))
        )
        for path, content in files:
            name = f"gcompris/{activity}/{path.removeprefix(prefix)}"
            with Image.open(io.BytesIO(content)) as image:
                yield name.rsplit(".", 1)[0], _rgb(image)


def _pdq_photos() -> Iterator[tuple[str, np.ndarray]]:
    for relative in PDQ_PHOTOS:
        with Image.open(CONFORMANCE / relative) as image:
            yield f"pdq/{Path(relative).stem}", _rgb(image)


def _frames(path: Path) -> list[tuple[int, np.ndarray]]:
    """Every FRAME_STEP-th frame of a video, borders cut, quality >= 50
    (decoded once, cached under bench/.cache)."""
    import av

    from reclaim.hashing.borders import find_borders

    stat = path.stat()
    cached = CACHE / f"frames-{path.stem}-{stat.st_size}-{FRAME_STEP}.npz"
    if cached.exists():
        with np.load(cached) as saved:
            return [(int(k.removeprefix("f")), saved[k]) for k in sorted(saved.files)]
    frames = []
    with av.open(str(path)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number % FRAME_STEP:
                continue
            array = frame.to_ndarray(format="rgb24")
            box = find_borders(array)
            array = np.ascontiguousarray(box.crop(array) if box else array)
            if (pdq_hash(array).quality or 0) >= MIN_QUALITY:
                frames.append((number, array))
    CACHE.mkdir(exist_ok=True)
    np.savez(cached, **{f"f{number:06d}": array for number, array in frames})
    return frames


def _video_frames() -> Iterator[tuple[str, np.ndarray]]:
    """Up to FRAMES_PER_SCENE frames of each scene, FRAME_SPREAD bits apart,
    spread over its takes and their lengths."""
    for scene, takes in VIDEO_SCENES:
        candidates = [
            (take, number, array)
            for take in takes
            for number, array in _frames(VIDEOS / take)
        ]
        # Visit frames in an order that spreads over takes and time: a stride
        # through the list, so the first picks are far apart.
        order = sorted(range(len(candidates)), key=lambda i: (i * 7919) % 9973)
        picked: list[np.ndarray] = []
        for i in order:
            take, number, array = candidates[i]
            bits = np.unpackbits(np.frombuffer(pdq_hash(array).to_bytes(), np.uint8))
            if all(np.count_nonzero(bits != p) > FRAME_SPREAD for p in picked):
                picked.append(bits)
                yield f"video/{scene}/{take.removesuffix('.mp4')}@{number}", array
            if len(picked) == FRAMES_PER_SCENE:
                break


def scene_of(name: str) -> str:
    """The scene a picture shows: its video's scene for frames, else itself."""
    return "/".join(name.split("/")[:2]) if name.startswith("video/") else name


def load() -> Corpus:
    """Every corpus picture this machine has, distinct and quality >= 50."""
    notes: list[str] = []
    sources = [_skimage()]
    if GCOMPRIS.is_dir():
        sources.append(_gcompris())
    else:
        notes.append(
            f"{GCOMPRIS} missing (Debian gcompris-qt-data, which "
            "scripts/ensure-system-packages installs): ~270 fewer pictures"
        )
    if CONFORMANCE.is_dir():
        sources += [_pdq_photos(), _video_frames()]
    else:
        notes.append(f"{CONFORMANCE} missing: no PDQ test photos or video frames")
    kept: list[tuple[str, np.ndarray]] = []
    kept_bits: list[np.ndarray] = []
    dropped: list[tuple[str, str]] = []
    names: list[str] = []
    for source in sources:
        for name, array in source:
            hashed = pdq_hash(array)
            if (hashed.quality or 0) < MIN_QUALITY:
                dropped.append((name, f"quality {hashed.quality} < {MIN_QUALITY}"))
                continue
            bits = np.unpackbits(np.frombuffer(hashed.to_bytes(), np.uint8))
            if kept_bits:
                distances = np.count_nonzero(np.stack(kept_bits) != bits, axis=1)
                nearest = int(np.argmin(distances))
                if distances[nearest] <= MATCH_DISTANCE:
                    dropped.append(
                        (name, f"within {distances[nearest]} of {names[nearest]}")
                    )
                    continue
            kept.append((name, array))
            kept_bits.append(bits)
            names.append(name)
    scenes = {name: scene_of(name) for name in names}
    return Corpus(pictures=kept, scenes=scenes, dropped=dropped, notes=notes)


def main() -> None:
    corpus = load()
    for note in corpus.notes:
        print(f"note: {note}")
    counts = ", ".join(f"{k} {v}" for k, v in corpus.sources().items())
    print(
        f"{len(corpus.pictures)} pictures, {len(set(corpus.scenes.values()))} "
        f"scenes ({counts}); fingerprint {corpus.fingerprint()}"
    )
    for name, reason in corpus.dropped:
        print(f"dropped {name}: {reason}")


if __name__ == "__main__":
    main()
