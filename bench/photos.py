"""Benchmark photos: scikit-image photographs, upscaled, with sensor-like noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

CACHE = Path(__file__).resolve().parent / ".cache"


def photo_file(name: str, size: tuple[int, int], ext: str) -> Path:
    """Write (once) a scikit-image photo at `size` as JPEG q90 or PNG."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{name}-{size[0]}x{size[1]}.{ext}"
    if not path.exists():
        rng = np.random.default_rng(len(name))
        photo = Image.fromarray(np.asarray(getattr(skimage.data, name)()))
        photo = photo.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        noisy = np.asarray(photo).astype(np.float64)
        noisy += rng.normal(0, 3, noisy.shape)
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
        if ext == "jpg":
            image.save(path, quality=90)
        else:
            image.save(path)
    return path
