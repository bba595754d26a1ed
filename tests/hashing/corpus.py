"""Transformed copies of real photographs, for comparing against the oracle."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageEnhance


def _jpeg_round_trip(array: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def variants(
    name: str, photo: np.ndarray, seed: int
) -> Iterator[tuple[str, np.ndarray]]:
    """About 16 edits of one photo: crops, resizes, rotations, noise, recompression."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(photo)
    h, w = photo.shape[:2]
    yield f"{name}/original", photo
    for i in range(3):
        top, left = int(rng.integers(0, h // 4)), int(rng.integers(0, w // 4))
        bottom = h - int(rng.integers(0, h // 4))
        right = w - int(rng.integers(0, w // 4))
        yield f"{name}/crop{i}", np.ascontiguousarray(photo[top:bottom, left:right])
    for size in ((97, 61), (333, 517), (1280, 720), (1201, 1603), (64, 64), (6, 300)):
        resample = (Image.Resampling.BILINEAR, Image.Resampling.LANCZOS)[len(size) % 2]
        yield f"{name}/resize{size}", np.asarray(image.resize(size, resample))
    for angle in (3.0, 90.0, 17.0):
        rotated = image.rotate(angle, Image.Resampling.BICUBIC, expand=True)
        yield f"{name}/rotate{angle:g}", np.asarray(rotated)
    noisy = photo.astype(np.int16) + rng.normal(0, 12, photo.shape).astype(np.int16)
    yield f"{name}/noise", np.clip(noisy, 0, 255).astype(np.uint8)
    yield f"{name}/jpeg30", _jpeg_round_trip(photo, 30)
    yield f"{name}/dark", np.asarray(ImageEnhance.Brightness(image).enhance(0.35))
    yield f"{name}/grey", np.asarray(image.convert("L").convert("RGB"))
