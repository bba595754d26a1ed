"""Media sources: directories, file:// and memory:// URLs, listed and read."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import pytest

from reclaim.catalog.errors import CatalogSourceError
from reclaim.catalog.sources import MediaSource, reference_mode, reference_of
from tests.catalog.media import MTIME


def test_a_directory_lists_every_file_sorted_with_size_and_time(
    media: tuple[Path, dict[str, str]],
) -> None:
    root, kinds = media
    files = list(MediaSource(str(root)).files())
    assert [f.relative for f in files] == sorted(kinds)
    for file in files:
        assert file.size == (root / file.relative).stat().st_size
        assert file.modified == datetime.fromtimestamp(MTIME, UTC)
    # Directories are walked, not listed as files.
    assert "nested" not in {f.relative for f in files}


def test_a_file_url_lists_the_same(media: tuple[Path, dict[str, str]]) -> None:
    root, _ = media
    assert list(MediaSource(root.as_uri()).files()) == list(
        MediaSource(str(root)).files()
    )


def test_sub_second_times_are_kept_to_the_microsecond(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"x")
    os.utime(tmp_path / "f.bin", ns=(0, 1_700_000_000_123_456_789))
    (file,) = MediaSource(str(tmp_path)).files()
    assert file.modified == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)


def test_read_gives_the_bytes_and_a_vanished_file_is_an_oserror(
    media: tuple[Path, dict[str, str]],
) -> None:
    root, _ = media
    source = MediaSource(str(root))
    assert source.read("nested/c.webp") == (root / "nested/c.webp").read_bytes()
    (root / "notes.txt").unlink()
    with pytest.raises(OSError):
        source.read("notes.txt")


def test_a_memory_url_is_opened_through_fsspec(
    memory: fsspec.AbstractFileSystem,
) -> None:
    memory.pipe("/bucket/media/z/2.jpg", b"two")
    memory.pipe("/bucket/media/1.jpg", b"one")
    source = MediaSource("memory://bucket/media")
    files = list(source.files())
    assert [(f.relative, f.size) for f in files] == [("1.jpg", 3), ("z/2.jpg", 3)]
    # memory:// keeps no times: the listing's own time stands in.
    assert all(abs(datetime.now(UTC) - f.modified).total_seconds() < 60 for f in files)
    assert source.read("z/2.jpg") == b"two"


def test_one_file_is_a_source_of_one_file(media: tuple[Path, dict[str, str]]) -> None:
    root, _ = media
    source = MediaSource(str(root / "nested" / "c.webp"))
    (file,) = source.files()
    assert file.relative == "c.webp"
    assert source.read("c.webp") == (root / "nested/c.webp").read_bytes()


@pytest.mark.parametrize("location", ["/no/such/media", "memory://nothing/here"])
def test_a_missing_source_is_one_clear_line(location: str) -> None:
    with pytest.raises(CatalogSourceError) as caught:
        MediaSource(location)
    message = str(caught.value)
    assert location in message and "does not exist" in message
    assert "\n" not in message


def test_an_unknown_scheme_is_one_clear_line() -> None:
    with pytest.raises(CatalogSourceError) as caught:
        MediaSource("nosuchscheme://bucket/media")
    assert "cannot open the media source 'nosuchscheme://bucket/media'" in str(
        caught.value
    )


def test_references_are_the_path_or_the_bare_name() -> None:
    assert reference_of("ab/cd/0f3e.jpg", "path") == "ab/cd/0f3e.jpg"
    assert reference_of("ab/cd/0f3e.jpg", "name") == "0f3e"
    assert reference_of("clip.final.mp4", "name") == "clip.final"
    assert reference_of("README", "name") == "README"
    assert reference_mode("name") == "name"
    with pytest.raises(CatalogSourceError, match="'url' is not a reference mode"):
        reference_mode("url")


def test_a_listing_cannot_reach_outside_the_source(tmp_path: Path) -> None:
    from reclaim.catalog.sources import MediaSource

    (tmp_path / "media").mkdir()
    (tmp_path / "secret.txt").write_text("not media")
    source = MediaSource(str(tmp_path / "media"))
    for relative in ("../secret.txt", "/etc/hostname", "a/../../secret.txt", ""):
        with pytest.raises(OSError, match="not a path under the source"):
            source.read(relative)
