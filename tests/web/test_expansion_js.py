"""The browser's derived views (static/expansion.js) against Python's, hash for hash.

Same pattern as test_pdq_js.py (whose server and page fixtures are reused):
the same RGB pixels are expanded by `reclaim.hashing.submission_hashes` and,
as RGBA, by expansion.js in headless Chromium; the lists must be equal.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reclaim.hashing import MIN_QUALITY, submission_hashes
from reclaim.hashing.decoder import decode
from reclaim.hashing.expansion import SUBMISSION_VIEWS, view_hashes
from reclaim.hashing.rotate import turn
from reclaim.hashing.views import WORKING_SIDE
from tests.web.test_pdq_js import JsPdq, js_pdq, static_server  # noqa: F401

EXPAND_SCRIPT = """async ({key, width, height}) => {
    const expansion = await import("/expansion.js");
    const response = await fetch(`/__pixels/${key}`);
    const data = new Uint8ClampedArray(await response.arrayBuffer());
    const image = {data, width, height};
    return {
        views: expansion.viewHashes(image),
        submitted: expansion.submissionHashes(image),
    };
}"""


def _expand_js(js: JsPdq, array: np.ndarray) -> dict:
    height, width = array.shape[:2]
    alpha = np.full((height, width, 1), 255, np.uint8)
    key = f"x{next(js.keys)}"
    js.pixels[key] = np.concatenate([array, alpha], axis=2).tobytes()
    args = {"key": key, "width": width, "height": height}
    return dict(js.page.evaluate(EXPAND_SCRIPT, args))  # type: ignore[attr-defined]


def _cases(photos: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    big = Image.fromarray(photos["coffee"]).resize(
        (1203, 802), Image.Resampling.BILINEAR
    )
    return [
        ("astronaut", photos["astronaut"]),
        ("chelsea", photos["chelsea"]),
        ("camera-grey", photos["camera"]),
        ("rocket-odd", np.ascontiguousarray(photos["rocket"][3:420, 5:631])),
        ("coffee-1203x802", np.asarray(big)),
        ("tall", np.ascontiguousarray(photos["hubble_deep_field"][:700, :90])),
    ]


def test_views_and_submission_hashes_are_identical(
    js_pdq: JsPdq,  # noqa: F811
    photos: dict[str, np.ndarray],
) -> None:
    compared = 0
    for label, array in _cases(photos):
        js = _expand_js(js_pdq, array)
        python_views = view_hashes(decode(array))
        js_views = [(v["name"], v["hex"], v["quality"]) for v in js["views"]]
        assert js_views == [(n, h.hex, h.quality) for n, h in python_views], label
        submitted = [(h["hex"], h["quality"]) for h in js["submitted"]]
        assert submitted == [(h.hex, h.quality) for h in submission_hashes(array)], (
            label
        )
        assert js["submitted"][0]["view"] == "whole"
        compared += len(js_views)
    print(f"{compared} view hashes bit-identical in JS and Python")
    assert compared > 200


def test_view_list_and_turns_match_python(js_pdq: JsPdq) -> None:  # noqa: F811
    names, turns, side, gate = js_pdq.page.evaluate(  # type: ignore[attr-defined]
        """import('/expansion.js').then((x) => [
            x.SUBMISSION_VIEWS.map((v) => v.name), x.TURNS, x.WORKING_SIDE,
            x.MIN_QUALITY])"""
    )
    assert names == [view.name for view in SUBMISSION_VIEWS]
    assert (side, gate) == (WORKING_SIDE, MIN_QUALITY)
    for degrees, (cos, sin) in turns.items():
        assert (turn(float(degrees)).cos, turn(float(degrees)).sin) == (cos, sin)


@pytest.mark.parametrize("size", [(5, 5), (7, 300), (600, 9)])
def test_small_images_drop_views_like_python(
    js_pdq: JsPdq,  # noqa: F811
    size: tuple[int, int],
) -> None:
    array = np.random.default_rng(1).integers(0, 256, (*size, 3), dtype=np.uint8)
    js = _expand_js(js_pdq, array)
    python = [(n, h.hex) for n, h in view_hashes(decode(array))]
    assert [(v["name"], v["hex"]) for v in js["views"]] == python


TIMING_SCRIPT = """async ({key, width, height}) => {
    const expansion = await import("/expansion.js");
    const pdq = await import("/pdq.js");
    const response = await fetch(`/__pixels/${key}`);
    const data = new Uint8ClampedArray(await response.arrayBuffer());
    const image = {data, width, height};
    const time = (run) => {
        run();
        const start = performance.now();
        for (let i = 0; i < 3; i++) run();
        return (performance.now() - start) / 3;
    };
    return {
        whole: time(() => pdq.pdqHashRGBA(image.data, width, height)),
        expanded: time(() => expansion.submissionHashes(image)),
    };
}"""


def test_browser_cost_is_reported(
    js_pdq: JsPdq,  # noqa: F811
    photos: dict[str, np.ndarray],
) -> None:
    photo = Image.fromarray(photos["astronaut"]).resize((1600, 1200))
    array = np.asarray(photo)
    key = f"t{next(js_pdq.keys)}"
    alpha = np.full((1200, 1600, 1), 255, np.uint8)
    js_pdq.pixels[key] = np.concatenate([array, alpha], axis=2).tobytes()
    args = {"key": key, "width": 1600, "height": 1200}
    ms = js_pdq.page.evaluate(TIMING_SCRIPT, args)  # type: ignore[attr-defined]
    print(
        f"browser, 1600x1200: whole-image PDQ {ms['whole']:.0f} ms, "
        f"submissionHashes {ms['expanded']:.0f} ms"
    )
    assert ms["expanded"] > 0
