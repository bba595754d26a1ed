"""EXIF orientation: we hash the upright image, as a browser shows it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from reclaim.hashing import Orientation, decode, hamming, pdq_hash
from tests.conftest import reference_pdq


def _with_orientation(
    array: np.ndarray, path: Path, orientation: int, fmt: str
) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(array).save(path, fmt, exif=exif.tobytes(), quality=92)
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exact_hash_is_the_reference_hash_of_the_upright_image(
    photos: dict[str, np.ndarray], tmp_path: Path, orientation: int, fmt: str
) -> None:
    photo = photos["chelsea"][:, :397]  # not square, odd width
    path = _with_orientation(photo, tmp_path / f"o{orientation}", orientation, fmt)
    assert decode(path).orientation == orientation
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    expected, quality = reference_pdq(upright)
    ours = pdq_hash(path, exact=True)
    assert (ours.value, ours.quality) == (expected, quality)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_default_mode_applies_orientation_too(
    photos: dict[str, np.ndarray], tmp_path: Path, orientation: int
) -> None:
    big = np.asarray(Image.fromarray(photos["coffee"]).resize((2400, 1600)))
    path = _with_orientation(big, tmp_path / "big.jpg", orientation, "JPEG")
    assert hamming(pdq_hash(path), pdq_hash(path, exact=True)) <= 8


def test_orientation_flags_match_pillow() -> None:
    stored = np.arange(6 * 4).reshape(6, 4).astype(np.uint8)
    for tag in range(1, 9):
        image = Image.fromarray(stored)
        exif = image.getexif()
        exif[0x0112] = tag
        image.info["exif"] = exif.tobytes()
        upright = np.asarray(ImageOps.exif_transpose(image))
        o = Orientation(tag)
        view = stored.T if o.transposes else stored
        view = view[::-1] if o.flips_rows else view
        view = view[:, ::-1] if o.flips_cols else view
        assert np.array_equal(view, upright), tag


@pytest.mark.parametrize("value", [None, 0, 9, "6", 1.5])
def test_bad_tags_mean_normal(value: object) -> None:
    assert Orientation.from_tag(value) is Orientation.NORMAL
