"""hash_file: digests for every file, PDQ for images, errors captured."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from reclaim.hashing import pdq_hash
from reclaim.hashing.digest import CHUNK_SIZE, file_digests
from reclaim.hashing.files import hash_file


def test_digests_stream_large_files(tmp_path: Path) -> None:
    data = np.random.default_rng(1).bytes(CHUNK_SIZE * 3 + 17)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    digests = file_digests(path)
    assert digests.md5.hex == hashlib.md5(data).hexdigest()
    assert digests.sha256 == hashlib.sha256(data).hexdigest()
    assert digests.size == len(data)


def test_image_file(photos: dict[str, np.ndarray], tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(photos["rocket"]).save(path)
    result = hash_file(path, dihedral=True)
    assert result.ok and result.pdq == pdq_hash(path)
    assert len(result.dihedral) == 8 and result.dihedral[0] == result.pdq
    assert result.digests is not None
    assert result.digests.md5.hex == hashlib.md5(path.read_bytes()).hexdigest()
    assert result.unfit_reason is None


def test_low_quality_is_marked_unfit(tmp_path: Path) -> None:
    y, x = np.mgrid[0:300, 0:300]
    smooth = np.stack([(x * y * 255 // (299 * 299)).astype(np.uint8)] * 3, axis=-1)
    path = tmp_path / "gradient.png"
    Image.fromarray(smooth).save(path)
    result = hash_file(path)
    assert result.ok and result.pdq is not None and result.pdq.quality is not None
    assert result.pdq.quality < 50
    assert result.unfit_reason is not None and "below 50" in result.unfit_reason


def test_non_image_keeps_digests_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a picture")
    result = hash_file(path)
    assert not result.ok and "not a readable image" in (result.error or "")
    assert result.digests is not None and result.pdq is None


def test_empty_and_missing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert "empty (0 bytes)" in (hash_file(empty).error or "")
    assert "cannot read" in (hash_file(tmp_path / "missing.png").error or "")
