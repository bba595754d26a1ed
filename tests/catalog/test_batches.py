"""One batch into catalog items: pure, the same packed for Ray and back."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from reclaim.catalog import batches
from reclaim.catalog.batches import (
    BatchHasher,
    from_row,
    hash_batch,
    ray_task,
    to_row,
)
from reclaim.catalog.sources import MediaSource
from tests.conftest import encode


def test_hash_batch_is_pure(media: tuple[Path, dict[str, str]]) -> None:
    root = media[0]
    files = list(MediaSource(str(root)).files())
    first = hash_batch(str(root), files, index=7)
    again = hash_batch(MediaSource(str(root)), files, index=7)
    assert first.index == again.index == 7
    assert (first.items, first.bad) == (again.items, again.bad)
    assert first.peak_rss > 0


def test_a_ray_row_round_trips_the_result(media: tuple[Path, dict[str, str]]) -> None:
    root = media[0]
    files = list(MediaSource(str(root)).files())
    row = to_row(3, files)
    # What a worker receives is plain strings and integers.
    assert all(isinstance(v, int) for v in row["size"] + row["modified"])
    packed = ray_task(row, source=str(root), reference="path", max_pixels=10**8)
    by_actor = BatchHasher(str(root), "path", 10**8)(row)
    assert by_actor | {"peak_rss": 0} == packed | {"peak_rss": 0}
    back = from_row(packed)
    direct = hash_batch(str(root), files, index=3)
    assert (back.index, back.items, back.bad) == (3, direct.items, direct.bad)


def test_an_image_past_the_pixel_budget_keeps_its_md5(
    tmp_path: Path, photos: dict[str, np.ndarray]
) -> None:
    data = encode(photos["astronaut"], "PNG")  # 512 x 512
    (tmp_path / "big.png").write_bytes(data)
    files = list(MediaSource(str(tmp_path)).files())
    result = hash_batch(str(tmp_path), files, max_pixels=100_000)
    (item,) = result.items
    assert item.md5 == hashlib.md5(data).digest() and item.pdq is None
    (line,) = result.bad
    assert line.startswith("big.png: the image is 512x512 pixels")
    assert line.endswith("kept by its MD5 only")


def test_an_image_too_big_to_hold_is_hashed_by_md5_in_chunks(
    tmp_path: Path, photos: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = encode(photos["astronaut"], "PNG")
    (tmp_path / "huge.png").write_bytes(data)
    monkeypatch.setattr(batches, "MAX_IMAGE_BYTES", 1000)
    monkeypatch.setattr(batches, "CHUNK_BYTES", 256)
    files = list(MediaSource(str(tmp_path)).files())
    result = hash_batch(str(tmp_path), files)
    (item,) = result.items
    assert item.md5 == hashlib.md5(data).digest() and item.pdq is None
    assert "MiB the backfill decodes; kept by its MD5 only" in result.bad[0]


def test_a_vanished_file_is_one_line_and_no_item(tmp_path: Path) -> None:
    (tmp_path / "gone.jpg").write_bytes(b"\xff\xd8\xff")
    files = list(MediaSource(str(tmp_path)).files())
    (tmp_path / "gone.jpg").unlink()
    result = hash_batch(str(tmp_path), files)
    assert result.items == ()
    (line,) = result.bad
    assert line.startswith("gone.jpg: cannot read the file")
