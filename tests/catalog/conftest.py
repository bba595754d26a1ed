"""Fixtures of the catalog tests: a tree of stored media, a memory filesystem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest

from tests.catalog.media import media_tree


@pytest.fixture
def media(tmp_path: Path, photos: dict[str, np.ndarray]) -> tuple[Path, dict[str, str]]:
    """`media_tree` under tmp_path/media: its root and its files' kinds."""
    root = tmp_path / "media"
    return root, media_tree(root, photos)


@pytest.fixture
def memory() -> Iterator[fsspec.AbstractFileSystem]:
    """fsspec's process-wide memory filesystem, emptied afterwards."""
    filesystem = fsspec.filesystem("memory")
    yield filesystem
    for entry in filesystem.ls("/", detail=False):
        filesystem.rm(entry, recursive=True)
