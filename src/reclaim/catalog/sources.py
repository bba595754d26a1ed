"""Where a backfill reads the platform's stored media: a directory or a URL.

A source is a local directory (or one file), or any URL that pyarrow or
fsspec opens: `s3://bucket/media` (S3-compatible object storage), `gs://…`,
`file:///srv/media`, `memory://…` in tests. It is opened the way the
catalog's own root is (`store.open_root`), and named by the same string in
every process, so a Ray worker reopens it by name instead of receiving an
open filesystem.

Files are listed recursively, sorted by their POSIX path relative to the
source root: the order a backfill numbers them in, the same on every run.
Each file's catalog `reference` (what the platform removes) is that
relative path, or with `reference="name"` the file name without extension,
for a platform that names stored files by content id.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Literal, TypeAlias

import pyarrow.fs as pafs

from reclaim.catalog.errors import CatalogError, CatalogSourceError
from reclaim.catalog.store import open_root

#: How a file's catalog reference is made from its path (`reference_of`).
ReferenceMode: TypeAlias = Literal["path", "name"]
REFERENCE_MODES: tuple[ReferenceMode, ...] = ("path", "name")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One stored file: its path under the source root, size and time.

    `modified` is the file's modification time in UTC, to the microsecond,
    or the time it was listed where the filesystem keeps none (memory://,
    some object stores): a backfill takes it as the upload time.
    """

    relative: str
    size: int
    modified: datetime


def reference_mode(value: str) -> ReferenceMode:
    """Parse a reference mode ("path" or "name"); CatalogSourceError otherwise."""
    for mode in REFERENCE_MODES:
        if value == mode:
            return mode
    raise CatalogSourceError(
        f"{str(value)[:20]!r} is not a reference mode: expected 'path' (the path "
        "under the source) or 'name' (the file name without extension)"
    )


def reference_of(relative: str, mode: ReferenceMode) -> str:
    """A file's catalog reference: its relative path, or its bare file name.

    "name" drops the directories and the last extension only
    (`ab/cd/0f3e.jpg` -> `0f3e`, `clip.final.mp4` -> `clip.final`).
    """
    if mode == "name":
        stem, _ = posixpath.splitext(posixpath.basename(relative))
        return stem
    return relative


def canonical(location: str) -> str:
    """One spelling of a source: an absolute path, or the URL as given."""
    if "://" in location:
        return location.rstrip("/")
    return os.path.abspath(location)


class MediaSource:
    """A directory tree or object-store prefix of media, read file by file."""

    def __init__(self, location: str) -> None:
        self.location = location
        try:
            self.filesystem, root = open_root(location)
        except CatalogError as error:
            raise CatalogSourceError(
                f"cannot open the media source {location[:200]!r}: "
                f"{_cause(error)}; expected a directory or a filesystem URL such "
                "as s3://bucket/media"
            ) from None
        self.root = root
        info = self._info(root)
        if info.type == pafs.FileType.NotFound:
            raise CatalogSourceError(
                f"the media source {location[:200]!r} does not exist: expected a "
                "directory (or file) of stored media; check the path or URL"
            )
        # A single file is a source of one file, named by its base name.
        self.single: str | None = None
        if info.type == pafs.FileType.File:
            self.root, self.single = posixpath.split(root)

    def files(self) -> Iterator[SourceFile]:
        """Every file under the root, sorted by relative path."""
        if self.single is not None:
            infos = [self._info(self._resolve(self.single))]
        else:
            try:
                infos = self.filesystem.get_file_info(
                    pafs.FileSelector(self.root, recursive=True)
                )
            except OSError as error:
                raise self._unreachable(error) from None
        listed = datetime.now(UTC)
        found = [
            SourceFile(
                relative=self._relative(info.path),
                size=info.size or 0,
                modified=_modified(info) or listed,
            )
            for info in infos
            if info.type == pafs.FileType.File
        ]
        found.sort(key=lambda f: f.relative)
        return iter(found)

    def open(self, relative: str) -> IO[bytes]:
        """A binary stream of one file's bytes (OSError if it cannot be read)."""
        stream: IO[bytes] = self.filesystem.open_input_stream(self._resolve(relative))
        return stream

    def read(self, relative: str) -> bytes:
        """One file's bytes (OSError if it cannot be read)."""
        with self.open(relative) as stream:
            return stream.read()

    def _resolve(self, relative: str) -> str:
        """The path of a file under the root; OSError for one that would
        leave it (a listing is read back from the catalog's folder, which
        someone else may be able to write)."""
        parts = relative.split("/")
        if not relative or relative.startswith("/") or ".." in parts:
            raise OSError(
                f"{relative[:100]!r} is not a path under the source: expected a "
                "relative path without '..'"
            )
        return f"{self.root}/{relative}" if self.root else relative

    def _relative(self, path: str) -> str:
        prefix = f"{self.root}/" if self.root else ""
        if prefix and path.startswith(prefix):
            return path[len(prefix) :]
        return path.lstrip("/")

    def _info(self, path: str) -> pafs.FileInfo:
        try:
            info: pafs.FileInfo = self.filesystem.get_file_info(path)
        except OSError as error:
            raise self._unreachable(error) from None
        return info

    def _unreachable(self, error: OSError) -> CatalogSourceError:
        return CatalogSourceError(
            f"cannot list the media source {self.location[:200]!r}: "
            f"{_cause(error)}; check that it is reachable and readable "
            "(credentials, network, permissions)"
        )


def _cause(error: Exception) -> str:
    """The first line of an error's message, short enough for one line."""
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def _modified(info: pafs.FileInfo) -> datetime | None:
    """A listed file's time in UTC, truncated to the microsecond (None if unknown).

    From the nanoseconds, not pyarrow's datetime, which rounds: the same
    file must give the same time however it is listed.
    """
    nanoseconds = info.mtime_ns
    if nanoseconds is None:
        return None
    return _EPOCH + timedelta(microseconds=nanoseconds // 1000)
