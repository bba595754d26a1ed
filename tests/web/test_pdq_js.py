"""Our PDQ in JavaScript (static/pdq.js), run in Chromium, against the Python hash.

The same (H, W, 3) uint8 pixels are hashed by `reclaim.hashing` (exact) and,
as RGBA with alpha 255, by `pdq.js` in headless Chromium (the session-wide
`browser` of tests/web/conftest.py: skipped without /usr/bin/chromium, failed
under CI=true). The module is served over HTTP from `src/reclaim/web/static`
by a small server on 127.0.0.1, which also hands the page each test's pixels
as raw bytes. `pytest -rP` shows the agreement figures.
"""

from __future__ import annotations

import csv
import functools
import http.server
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reclaim.hashing import (
    DegenerateImageError,
    ImageShapeError,
    PdqHash,
    pdq_hash,
    pdq_hash_dihedral,
)
from reclaim.hashing.pdq import _DCT32
from tests.conftest import require_shared
from tests.hashing.corpus import variants

STATIC = Path(__file__).resolve().parents[2] / "src" / "reclaim" / "web" / "static"

#: Photos (of tests/conftest.py's PHOTO_NAMES) whose corpus variants are hashed.
PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "coins", "hubble_deep_field")

#: How many random arrays are hashed.
RANDOM_ARRAYS = 50

#: What the page runs: fetch the pixels, hash them as an ImageData.
HASH_SCRIPT = """async ({key, width, height}) => {
    const pdq = await import("/pdq.js");
    const response = await fetch(`/__pixels/${key}`);
    const data = new Uint8ClampedArray(await response.arrayBuffer());
    try {
        const image = new ImageData(data, width, height);
        return {hash: pdq.pdqHashImageData(image), dihedral: pdq.pdqDihedral(image)};
    } catch (error) {
        return {error: String(error && error.message)};
    }
}"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, plus one-shot pixel buffers and a blank page."""

    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
    }

    def __init__(self, *args: object, pixels: dict[str, bytes], **kwargs: object):
        self.pixels = pixels
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/__blank":
            self._reply(b"<!doctype html><title>pdq.js</title>", "text/html")
        elif self.path.startswith("/__pixels/"):
            body = self.pixels.pop(self.path.removeprefix("/__pixels/"), None)
            if body is None:
                self.send_error(404)
            else:
                self._reply(body, "application/octet-stream")
        else:
            super().do_GET()

    def _reply(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="session")
def static_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """The static folder over HTTP on 127.0.0.1, and its pixel mailbox."""
    pixels: dict[str, bytes] = {}
    handler = functools.partial(_Handler, pixels=pixels, directory=str(STATIC))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pixels
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@dataclass
class JsPdq:
    """Hashes arrays with pdq.js in one open page."""

    page: object
    pixels: dict[str, bytes]
    keys: Iterator[int] = field(default_factory=itertools.count)

    def run(self, array: np.ndarray, *, alpha: np.ndarray | None = None) -> dict:
        """{hash, dihedral} as the page returns them, or {error: message}."""
        height, width = array.shape[:2]
        if alpha is None:
            alpha = np.full((height, width), 255, np.uint8)
        rgba = np.concatenate([array, alpha[..., None]], axis=2)
        key = str(next(self.keys))
        self.pixels[key] = np.ascontiguousarray(rgba, np.uint8).tobytes()
        args = {"key": key, "width": width, "height": height}
        return dict(self.page.evaluate(HASH_SCRIPT, args))  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def js_pdq(browser, static_server) -> Iterator[JsPdq]:  # type: ignore[no-untyped-def]
    """A blank page on the static server with pdq.js ready to import."""
    url, pixels = static_server
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/__blank")
    page.evaluate("import('/pdq.js').then(() => true)")
    yield JsPdq(page, pixels)
    context.close()


@dataclass
class Tally:
    """Hash-by-hash agreement between pdq.js and the Python hash."""

    compared: int = 0
    identical: int = 0
    max_bits: int = 0
    quality_differs: list[str] = field(default_factory=list)
    differs: list[tuple[str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, label: str, python: PdqHash, js: dict) -> None:
        bits = (python.value ^ int(js["hex"], 16)).bit_count()
        self.compared += 1
        self.identical += bits == 0
        self.max_bits = max(self.max_bits, bits)
        if bits:
            self.differs.append((label, bits))
        if python.quality != js["quality"]:
            self.quality_differs.append(f"{label}: {python.quality} vs {js['quality']}")

    def compare(self, label: str, array: np.ndarray, js_pdq: JsPdq) -> dict:
        """Hash one array both ways: the hash and its 8 dihedral variants."""
        js = js_pdq.run(array)
        try:
            single, dihedral = pdq_hash(array), pdq_hash_dihedral(array)
        except (DegenerateImageError, ImageShapeError) as error:
            if "error" not in js:
                self.errors.append(f"{label}: Python refused ({error}), JS hashed it")
            return js
        if "error" in js:
            self.errors.append(f"{label}: JS refused ({js['error']}), Python hashed it")
            return js
        self.add(label, single, js["hash"])
        for index, (ours, theirs) in enumerate(
            zip(dihedral, js["dihedral"], strict=True)
        ):
            self.add(f"{label}#{index}", ours, theirs)
        return js

    def check(self, what: str) -> None:
        share = self.identical / self.compared if self.compared else 0.0
        summary = (
            f"{what}: {self.identical}/{self.compared} hashes bit-identical "
            f"({share:.2%}), max {self.max_bits} bits apart, "
            f"{len(self.quality_differs)} quality differences; "
            f"first differences: {self.differs[:8]} {self.quality_differs[:8]}"
        )
        print(summary)  # shown by `pytest -rP`
        assert self.errors == [], f"{summary}; refusal mismatches: {self.errors[:8]}"
        assert self.compared > 0, summary
        assert share >= 0.99, summary
        assert self.max_bits <= 4, summary
        assert self.quality_differs == [], summary


@pytest.mark.conformance
def test_meta_reference_images(js_pdq: JsPdq) -> None:
    root = require_shared("pdq")
    with open(root / "expected" / "generated_pdq_hashes.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["file_in_this_folder"] == "yes"]
    assert len(rows) >= 45, "the reference listing lost rows"
    tally, reference = Tally(), Tally()
    for row in rows:
        with Image.open(root / row["repo_path"]) as image:
            array = np.asarray(image.convert("RGB"))
        js = tally.compare(row["repo_path"], array, js_pdq)
        expected = PdqHash.parse(
            row["pdqhash_convert_rgb_hash"],
            quality=int(row["pdqhash_convert_rgb_quality"]),
        )
        if "hash" in js:  # a refusal is already counted by `tally`
            reference.add(row["repo_path"], expected, js["hash"])
    tally.check(f"{len(rows)} reference images, JS vs Python")
    reference.check(f"{len(rows)} reference images, JS vs pdqhash_convert_rgb")


def test_photo_variants(js_pdq: JsPdq, photos: dict[str, np.ndarray]) -> None:
    tally = Tally()
    images = 0
    for seed, name in enumerate(PHOTOS):
        for label, array in variants(name, photos[name], seed):
            tally.compare(label, np.ascontiguousarray(array[..., :3]), js_pdq)
            images += 1
    tally.check(f"{images} photo variants")


def _random_array(rng: np.random.Generator, index: int) -> tuple[str, np.ndarray]:
    height, width = (int(v) for v in rng.integers(5, 601, 2))
    kind = ("noise", "gradient", "blocks", "smooth")[index % 4]
    if kind == "noise":
        array = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    elif kind == "gradient":
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(angle) * xs / width + np.sin(angle) * ys / height
        colours = rng.uniform(-200, 200, 3)
        values = 128 + ramp[..., None] * colours + rng.normal(0, 1, (height, width, 3))
        array = np.clip(values, 0, 255).astype(np.uint8)
    elif kind == "blocks":
        block = int(rng.integers(1, 40))
        small = rng.integers(0, 256, (-(-height // block), -(-width // block), 3))
        array = np.repeat(np.repeat(small, block, 0), block, 1)[:height, :width]
        array = array.astype(np.uint8)
    else:
        small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
        array = np.asarray(image)
    return f"{kind}{index}-{width}x{height}", np.ascontiguousarray(array)


def test_random_arrays(js_pdq: JsPdq) -> None:
    rng = np.random.default_rng(2024)
    tally = Tally()
    for index in range(RANDOM_ARRAYS):
        label, array = _random_array(rng, index)
        tally.compare(label, array, js_pdq)
    tally.check(f"{RANDOM_ARRAYS} random arrays")


def test_dct_matrix_is_the_reference_float32_matrix(js_pdq: JsPdq) -> None:
    # Math.cos in V8 and the C library's cos could in principle round apart.
    values = js_pdq.page.evaluate(  # type: ignore[attr-defined]
        "import('/pdq.js').then((pdq) => Array.from(pdq.pdqDctMatrix()))"
    )
    matrix = np.array(values, np.float64).astype(np.float32).reshape(16, 64)
    assert np.array_equal(matrix, _DCT32)


def test_alpha_is_ignored(js_pdq: JsPdq, photos: dict[str, np.ndarray]) -> None:
    photo = photos["chelsea"]
    alpha = np.random.default_rng(3).integers(0, 256, photo.shape[:2], np.uint8)
    opaque, translucent = js_pdq.run(photo), js_pdq.run(photo, alpha=alpha)
    assert translucent["hash"] == opaque["hash"]
    assert opaque["hash"]["hex"] == pdq_hash(photo).hex


@pytest.mark.parametrize("shape", [(4, 100), (100, 4), (4, 4), (1, 1)])
def test_too_small_is_refused_like_python(
    js_pdq: JsPdq, shape: tuple[int, int]
) -> None:
    array = np.random.default_rng(5).integers(0, 256, (*shape, 3), dtype=np.uint8)
    result = js_pdq.run(array)
    height, width = shape
    assert result.get("error") == (
        f"the image is {width}x{height} pixels: PDQ needs at least 5 pixels on "
        "each side"
    )
    with pytest.raises(ImageShapeError):
        pdq_hash(array)


@pytest.mark.parametrize("size", [(5, 5), (64, 64), (480, 640)])
def test_flat_is_refused_like_python(js_pdq: JsPdq, size: tuple[int, int]) -> None:
    array = np.empty((*size, 3), np.uint8)
    array[...] = (120, 50, 200)
    result = js_pdq.run(array)
    assert "error" in result, result
    assert result["error"].startswith("the image is one flat colour")
    with pytest.raises(DegenerateImageError):
        pdq_hash(array)


def test_short_pixel_data_is_refused(js_pdq: JsPdq) -> None:
    message = js_pdq.page.evaluate(  # type: ignore[attr-defined]
        """import('/pdq.js').then((pdq) => {
            try { pdq.pdqHashRGBA(new Uint8Array(10 * 10 * 4 - 1), 10, 10); }
            catch (error) { return error.message; }
            return 'no error';
        })"""
    )
    assert "a 10x10 RGBA image needs 400" in message
