"""Submission views and query hashes: order, gates, exact sampling, robustness."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from reclaim.hashing import (
    MATCH_DISTANCE,
    MIN_QUALITY,
    PdqHash,
    hamming,
    pdq_hash,
    pdq_hash_dihedral,
    query_hashes,
    submission_hashes,
)
from reclaim.hashing.content import find_content
from reclaim.hashing.decoder import decode
from reclaim.hashing.expansion import EDGE_CUTS, SUBMISSION_VIEWS, view_hashes
from reclaim.hashing.rotate import ONE, rotate, turn, turned_size
from reclaim.hashing.views import WORKING_SIDE, Crop, Rotation, working_image


def _closest(queries: list[PdqHash], registered: list[PdqHash]) -> int:
    return min(hamming(q, r) for q in queries for r in registered)


def test_whole_image_hash_comes_first(photos: dict[str, np.ndarray]) -> None:
    photo = photos["astronaut"]
    hashes = submission_hashes(photo)
    assert hashes[0] == pdq_hash(photo)
    assert len(hashes) > 1


def test_deterministic_and_without_repeats(photos: dict[str, np.ndarray]) -> None:
    photo = photos["coffee"]
    first, second = submission_hashes(photo), submission_hashes(photo)
    assert first == second
    assert len({h.value for h in first}) == len(first)


def test_repeated_views_give_one_hash(photos: dict[str, np.ndarray]) -> None:
    view = Crop("left", 100)
    hashes = submission_hashes(photos["chelsea"], views=(view, view, view))
    assert len(hashes) == 2


def test_quality_gate_drops_views_not_the_whole(photos: dict[str, np.ndarray]) -> None:
    photo = photos["rocket"]
    kept = submission_hashes(photo)
    assert all((h.quality or 0) >= MIN_QUALITY for h in kept[1:])
    assert submission_hashes(photo, min_quality=101) == [pdq_hash(photo)]


def test_views_too_small_to_hash_are_left_out() -> None:
    array = np.random.default_rng(0).integers(0, 256, (5, 250, 3), dtype=np.uint8)
    names = [name for name, _ in view_hashes(decode(array))]
    # A 20% crop off the top or bottom, or any turn, leaves fewer than 5 rows.
    assert "crop-left-200" in names and "crop-top-160" in names
    assert "crop-top-200" not in names and "crop-bottom-200" not in names
    assert not any(name.startswith("rotate") for name in names)


def test_working_image_is_a_block_mean() -> None:
    array = np.arange(1030 * 600 * 3, dtype=np.uint32).reshape(1030, 600, 3) % 251
    work = working_image(array.astype(np.uint8))
    factor = -(-1030 // WORKING_SIDE)
    assert work.shape[:2] == (1030 // factor, 600 // factor)
    block = array[:factor, :factor].reshape(-1, 3).sum(axis=0)
    area = factor * factor
    assert work[0, 0].tolist() == ((block + area // 2) // area).tolist()


def test_zero_turn_is_the_identity(photos: dict[str, np.ndarray]) -> None:
    photo = photos["coins"]
    assert turn(0.0).cos == ONE and turn(0.0).sin == 0
    assert np.array_equal(rotate(photo, turn(0.0)), photo)


@pytest.mark.parametrize("degrees", [3.0, -3.0])
def test_turn_agrees_with_pillow(photos: dict[str, np.ndarray], degrees: float) -> None:
    photo = photos["astronaut"]
    ours = rotate(photo, turn(degrees))
    width, height = turned_size(512, 512, turn(degrees))
    assert ours.shape == (height, width, 3)
    turned = np.asarray(
        Image.fromarray(photo).rotate(degrees, Image.Resampling.BICUBIC)
    )
    top, left = (512 - height) // 2, (512 - width) // 2
    pillow = np.ascontiguousarray(turned[top : top + height, left : left + width])
    assert hamming(pdq_hash(ours), pdq_hash(pillow)) <= 10


def test_turn_refuses_large_angles() -> None:
    with pytest.raises(ValueError, match="out of range"):
        turn(60.0)


def test_view_names_are_stable() -> None:
    assert Crop("centre", 60).name == "crop-centre-60"
    assert Rotation(-2).name == "rotate--2"
    assert len(SUBMISSION_VIEWS) == 43


# Held-out photos of bench/robustness.py (not used to choose the views).
@pytest.mark.parametrize("name", ["camera", "chelsea"])
def test_a_crop_on_a_view_step_matches_through_the_views_alone(
    photos: dict[str, np.ndarray], name: str
) -> None:
    # What any platform gets from the list with a plain single-hash lookup.
    photo = photos[name]
    copy = np.ascontiguousarray(photo[:, photo.shape[1] * 12 // 100 :])
    assert hamming(pdq_hash(copy), pdq_hash(photo)) > MATCH_DISTANCE
    assert _closest([pdq_hash(copy)], submission_hashes(photo)) <= MATCH_DISTANCE


@pytest.mark.parametrize("name", ["camera", "chelsea"])
def test_a_crop_between_view_steps_matches_through_views_and_nudges(
    photos: dict[str, np.ndarray], name: str
) -> None:
    photo = photos[name]
    copy = np.ascontiguousarray(photo[:, photo.shape[1] // 10 :])
    listed = submission_hashes(photo)
    assert _closest(query_hashes(copy), [pdq_hash(photo)]) > MATCH_DISTANCE
    assert _closest(query_hashes(copy, crops=EDGE_CUTS), listed) > MATCH_DISTANCE
    assert _closest(query_hashes(copy), listed) <= 16  # with NUDGES


@pytest.mark.parametrize("name", ["camera", "chelsea"])
def test_a_three_degree_tilt_matches_through_the_views(
    photos: dict[str, np.ndarray], name: str
) -> None:
    photo = photos[name]
    height, width = photo.shape[:2]
    turned = np.asarray(Image.fromarray(photo).rotate(3.4, Image.Resampling.BICUBIC))
    w, h = turned_size(width, height, turn(3.4))
    top, left = (height - h) // 2, (width - w) // 2
    copy = np.ascontiguousarray(turned[top : top + h, left : left + w])
    assert hamming(pdq_hash(copy), pdq_hash(photo)) > MATCH_DISTANCE
    assert _closest([pdq_hash(copy)], submission_hashes(photo)) <= MATCH_DISTANCE


def test_query_hashes_find_mirrors_and_letterboxed_copies(
    photos: dict[str, np.ndarray],
) -> None:
    photo = photos["chelsea"]
    original = pdq_hash(photo)
    mirrored = np.ascontiguousarray(photo[:, ::-1])
    assert hamming(pdq_hash(mirrored), original) > MATCH_DISTANCE
    assert _closest(query_hashes(mirrored), [original]) <= MATCH_DISTANCE
    boxed = np.zeros((photo.shape[0] + 160, photo.shape[1], 3), np.uint8)
    boxed[80:-80] = photo
    assert hamming(pdq_hash(boxed), original) > MATCH_DISTANCE
    found = query_hashes(boxed)
    assert found[:8] == pdq_hash_dihedral(boxed) and len(found) > 8
    assert _closest(found, [original]) <= 8


def test_screenshot_chrome_is_trimmed(photos: dict[str, np.ndarray]) -> None:
    photo = photos["coffee"]
    height, width = photo.shape[:2]
    screen = Image.new("RGB", (width, height + 200), (255, 255, 255))
    screen.paste(Image.fromarray(photo), (0, 90))
    draw = ImageDraw.Draw(screen)
    draw.text((10, 8), "9:41", fill=(0, 0, 0), font=ImageFont.load_default(size=18))
    draw.ellipse((10, 40, 50, 80), fill=(200, 80, 120))
    draw.text((10, height + 120), "caption under the photo", fill=(0, 0, 0))
    pixels = np.asarray(screen)
    box = find_content(pixels)
    assert box is not None
    assert abs(box.top - 90) <= 2 and abs(box.bottom - (90 + height)) <= 2
    assert (box.left, box.right) == (0, width)
    assert find_content(photo) is None
    assert _closest(query_hashes(pixels), [pdq_hash(photo)]) <= 8


def test_a_meme_bar_is_cut_off(photos: dict[str, np.ndarray]) -> None:
    from reclaim.hashing.content import find_bands
    from reclaim.hashing.expansion import query_views

    original = photos["coffee"]
    height, width = original.shape[:2]
    canvas = Image.new("RGB", (width, height + 90), (255, 255, 255))
    canvas.paste(Image.fromarray(original), (0, 90))
    ImageDraw.Draw(canvas).text((10, 20), "WHEN SHE THOUGHT", fill=(0, 0, 0))
    copy = np.asarray(canvas)
    box = find_bands(copy)
    assert box is not None and (box.top, box.bottom) == (90, height + 90)
    views = dict(query_views(copy))
    assert (views["bands/original"].value ^ pdq_hash(original).value).bit_count() < 16
