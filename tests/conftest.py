"""Shared fixtures: the reference data in ../shared, and real test photographs."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "conformance"


def require_shared(*parts: str) -> Path:
    """Path into ../shared/conformance; skip without it, but fail under CI."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = (
            f"{path} is missing: Meta's reference data lives in ../shared beside "
            "the project checkout (CI has it; a plain clone does not)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


#: scikit-image's bundled photographs (no download needed).
PHOTO_NAMES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "cat",
    "camera",
    "coins",
    "moon",
    "page",
    "horse",
    "grass",
    "gravel",
    "brick",
    "clock",
    "text",
)


def _load_photo(name: str) -> np.ndarray:
    import skimage.data

    array = np.asarray(getattr(skimage.data, name)())
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return np.ascontiguousarray(array[..., :3])


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """scikit-image's bundled photographs as (H, W, 3) uint8 RGB arrays."""
    return {name: _load_photo(name) for name in PHOTO_NAMES}


def encode(array: np.ndarray, fmt: str, **options: object) -> bytes:
    """Encode an RGB array in a Pillow format, in memory."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def write_image(tmp_path: Path) -> Callable[..., Path]:
    """Write an RGB array as an image file under tmp_path and return its path."""

    def write(array: np.ndarray, name: str, **options: object) -> Path:
        path = tmp_path / name
        Image.fromarray(array).save(path, **options)
        return path

    return write


def reference_pdq(array: np.ndarray) -> tuple[int, int]:
    """Meta's C++ PDQ (pdqhash package) as (256-bit value, quality)."""
    import pdqhash

    bits, quality = pdqhash.compute(np.ascontiguousarray(array))
    return _bits_to_int(bits), int(quality)


def reference_pdq_dihedral(array: np.ndarray) -> tuple[list[int], int]:
    """Meta's 8 dihedral hashes, in the reference's output order, and quality."""
    import pdqhash

    vectors, quality = pdqhash.compute_dihedral(np.ascontiguousarray(array))
    return [_bits_to_int(v) for v in vectors], int(quality)


def _bits_to_int(bits: np.ndarray) -> int:
    # pdqhash returns the most significant bit first (as python-threatexchange
    # reads it when it builds the hex string).
    return int("".join("1" if b else "0" for b in bits), 2)
