"""In-browser PDQ speed: Chromium's decode and pdq.js on a 12 MP JPEG, vs Python.

Run with `.venv/bin/python bench/web_pdq.py`. It writes (once) a 4000x3000
JPEG of a scikit-image photo, upscaled with sensor-like noise as
`bench/pdq_speed.py` does, serves it and `src/reclaim/web/static` on
127.0.0.1, and in headless Chromium times, median of 5 runs:

* the browser's decode, as the app's worker does it: `createImageBitmap`
  (EXIF orientation from the image, no colour conversion), drawn on an
  `OffscreenCanvas`, `getImageData`;
* `pdqHashImageData` on those pixels.

In this process it times `reclaim.hashing.pdq_hash(path, exact=True)` (and the
default, reduced-JPEG mode) on the same file. Checks: pdq.js on the browser's
pixels must equal the Python hash of those same pixels (0 bits); the distance
to Python's exact hash of Pillow's pixels is reported (decoders may differ).
Exits non-zero if a check fails.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import functools  # noqa: E402
import http.server  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from photos import photo_file  # noqa: E402
from reclaim.hashing import pdq_hash  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "reclaim" / "web" / "static"
CACHE = Path(__file__).resolve().parent / ".cache"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHOTO = "astronaut"
SIZE = (4000, 3000)
REPEATS = 5
GOAL_MS = 400.0

#: Decode and hash in the page, REPEATS times; send the last pixels back.
PAGE_SCRIPT = """async (repeats) => {
    const pdq = await import("/pdq.js");
    const blob = await (await fetch("/__bench/photo.jpg")).blob();
    const decodeMs = [];
    const hashMs = [];
    let pixels = null;
    let result = null;
    for (let run = 0; run < repeats; run++) {
        const start = performance.now();
        const bitmap = await createImageBitmap(blob, {
            imageOrientation: "from-image", colorSpaceConversion: "none"});
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const context = canvas.getContext("2d", {willReadFrequently: true});
        context.drawImage(bitmap, 0, 0);
        bitmap.close();
        pixels = context.getImageData(0, 0, canvas.width, canvas.height);
        const decoded = performance.now();
        result = pdq.pdqHashImageData(pixels);
        hashMs.push(performance.now() - decoded);
        decodeMs.push(decoded - start);
    }
    await fetch("/__upload", {method: "POST", body: pixels.data});
    return {decodeMs, hashMs, result, width: pixels.width, height: pixels.height};
}"""


def make_photo() -> Path:
    """The 12 MP benchmark JPEG (the same file bench/pdq_speed.py uses)."""
    return photo_file(PHOTO, SIZE, "jpg")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, the photo, a blank page, and an upload mailbox."""

    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
    }

    def __init__(self, *args: Any, photo: Path, uploads: list[bytes], **kwargs: Any):
        self.photo = photo
        self.uploads = uploads
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/__blank":
            self._reply(b"<!doctype html><title>bench</title>", "text/html")
        elif self.path == "/__bench/photo.jpg":
            self._reply(self.photo.read_bytes(), "image/jpeg")
        else:
            super().do_GET()

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        self.uploads.append(self.rfile.read(length))
        self._reply(b"ok", "text/plain")

    def _reply(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextmanager
def serve(photo: Path, uploads: list[bytes]) -> Iterator[str]:
    handler = functools.partial(
        _Handler, photo=photo, uploads=uploads, directory=str(STATIC)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def median_ms(function: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def in_browser(url: str) -> tuple[dict[str, Any], str]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{url}/__blank")
            return dict(page.evaluate(PAGE_SCRIPT, REPEATS)), browser.version
        finally:
            browser.close()


def main() -> int:
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: install Debian's chromium", file=sys.stderr)
        return 2
    path = make_photo()
    exact_ms, exact = median_ms(lambda: pdq_hash(path, exact=True))
    default_ms, default = median_ms(lambda: pdq_hash(path))
    uploads: list[bytes] = []
    with serve(path, uploads) as url:
        page, version = in_browser(url)
    width, height = page["width"], page["height"]
    browser_rgb = np.frombuffer(uploads[-1], np.uint8).reshape(height, width, 4)
    browser_rgb = np.ascontiguousarray(browser_rgb[..., :3])
    on_browser_pixels = pdq_hash(browser_rgb)
    with Image.open(path) as image:
        pillow_rgb = np.asarray(image.convert("RGB"))

    js_value, js_quality = int(page["result"]["hex"], 16), page["result"]["quality"]
    same_pixels = (js_value ^ on_browser_pixels.value).bit_count()
    vs_pillow = (js_value ^ exact.value).bit_count()
    decode_ms = statistics.median(page["decodeMs"])
    hash_ms = statistics.median(page["hashMs"])
    total_ms = decode_ms + hash_ms
    differs = browser_rgb.astype(np.int16) - pillow_rgb.astype(np.int16)

    print(f"In-browser PDQ, {path.name} ({width}x{height}), Chromium {version}")
    print(f"headless, software canvas, main thread; median of {REPEATS} runs, ms\n")
    header = f"{'step':<34} {'ms':>8}"
    print(header)
    print("-" * len(header))
    print(f"{'browser decode (bitmap + canvas)':<34} {decode_ms:>8.1f}")
    print(f"{'pdq.js pdqHashImageData':<34} {hash_ms:>8.1f}")
    verdict = "met" if total_ms <= GOAL_MS else "MISSED"
    goal = f"goal <= {GOAL_MS:.0f}: {verdict}"
    print(f"{'total in the browser':<34} {total_ms:>8.1f}  {goal}")
    print(
        f"{'Python pdq_hash exact=True':<34} {exact_ms:>8.1f}  "
        f"browser / Python: {total_ms / exact_ms:.2f}x"
    )
    print(
        f"{'Python pdq_hash default (draft)':<34} {default_ms:>8.1f}  "
        f"browser / Python: {total_ms / default_ms:.2f}x"
    )
    print()
    print(
        f"pdq.js vs Python on the browser's pixels: {same_pixels} bits, quality ",
        end="",
    )
    print(f"{js_quality} vs {on_browser_pixels.quality}")
    print(
        f"pdq.js vs Python exact on Pillow's pixels: {vs_pillow} bits, quality ", end=""
    )
    print(f"{js_quality} vs {exact.quality}")
    print(f"Python default vs exact: {(default.value ^ exact.value).bit_count()} bits")
    print(
        f"browser vs Pillow pixels: {np.count_nonzero(differs)} of {differs.size} "
        f"channel values differ ({np.count_nonzero(differs) / differs.size:.2%}), "
        f"max |diff| {int(np.abs(differs).max())}"
    )
    if same_pixels != 0 or js_quality != on_browser_pixels.quality:
        print("FAIL: pdq.js differs from Python on the same pixels", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
