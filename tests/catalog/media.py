"""A small tree of stored media for backfill tests: real images and the odd ones."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from tests.conftest import ROOT, SHARED, encode

#: Every file's modification time (2024-05-01 12:00:00 UTC): its upload time.
MTIME = 1_714_564_800
#: A directory name long enough that its files' references are refused.
LONG = "x" * 101

#: What each file is: "image" (MD5 + PDQ), "md5" (MD5 only, no complaint),
#: "corrupt" (MD5 only, one bad line), "bad" (one bad line, no item).
KINDS = {
    "a.jpg": "image",
    "nested/deeper/b.png": "image",
    "nested/c.webp": "image",
    "nested/truncated.jpg": "image",
    "samples/astronaut-exif-rotated.jpg": "image",
    "samples/coffee.heic": "image",
    "corrupt.jpg": "corrupt",
    "notes.txt": "md5",
    "videos/clip.mp4": "md5",
    "empty.bin": "bad",
    f"{LONG}/d.jpg": "bad",
}
CONFORMANCE = "bridge-mods/aaa-orig.jpg"


def media_tree(root: Path, photos: dict[str, np.ndarray]) -> dict[str, str]:
    """Write the tree under `root`; the kinds of its files, by relative path."""
    kinds = dict(KINDS)
    jpeg = encode(photos["astronaut"], "JPEG", quality=90)
    files = {
        "a.jpg": jpeg,
        "nested/deeper/b.png": encode(photos["coffee"], "PNG"),
        "nested/c.webp": encode(photos["chelsea"], "WEBP", quality=80),
        # Cut short: hashed as a browser shows it, the rest grey.
        "nested/truncated.jpg": encode(photos["rocket"], "JPEG", quality=90)[
            : len(jpeg) // 3
        ],
        "corrupt.jpg": jpeg[:4] + bytes(range(256)) * 8,
        "notes.txt": b"not media at all\n",
        "videos/clip.mp4": b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096),
        "empty.bin": b"",
        f"{LONG}/d.jpg": jpeg,
    }
    for name in ("astronaut-exif-rotated.jpg", "coffee.heic"):
        files[f"samples/{name}"] = (ROOT / "samples" / name).read_bytes()
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    conformance = SHARED / "pdq" / "pdq" / "data" / CONFORMANCE
    if conformance.exists():
        shutil.copyfile(conformance, root / "conformance.jpg")
        kinds["conformance.jpg"] = "image"
    for relative in kinds:
        os.utime(root / relative, (MTIME, MTIME))
    return kinds
