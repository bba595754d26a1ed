"""Hashing one file on disk: digests, and PDQ for images or vPDQ for videos.

This is what `reclaim hash` runs for each file, in worker processes. It never
raises for a bad file: the reason goes into `FileHashes.error`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from reclaim.hashing.digest import FileDigests, file_digests
from reclaim.hashing.distance import MIN_QUALITY
from reclaim.hashing.errors import MediaError
from reclaim.hashing.expansion import submission_hashes
from reclaim.hashing.images import pdq_features
from reclaim.hashing.types import PdqHash
from reclaim.hashing.video import VideoHash, video_hash

#: File name endings hashed as videos (MD5 + vPDQ) rather than images.
VIDEO_SUFFIXES = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".webm",
        ".mkv",
        ".avi",
        ".3gp",
        ".3g2",
        ".mpg",
        ".mpeg",
        ".wmv",
        ".flv",
        ".ts",
    }
)


#: Why a file has no hashes when hashing it needed more memory than allowed.
NO_MEMORY = (
    "not enough memory to hash this file (a decompression bomb, or a very "
    "large image or video): shrink it first, or hash it on a larger device"
)


@dataclass(frozen=True, slots=True)
class FileHashes:
    """Everything `reclaim hash` reports for one file."""

    path: str
    digests: FileDigests | None = None
    pdq: PdqHash | None = None
    dihedral: tuple[PdqHash, ...] = ()
    error: str | None = None
    video: VideoHash | None = None
    #: Derived views for submission (`submission_hashes` after the first).
    views: tuple[PdqHash, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the file was hashed without error."""
        return self.error is None

    @property
    def unfit_reason(self) -> str | None:
        """Why this PDQ hash should not be submitted, or None if it is fit."""
        if self.pdq is None or self.pdq.quality is None:
            return None
        if self.pdq.quality < MIN_QUALITY:
            return (
                f"quality {self.pdq.quality} is below {MIN_QUALITY}: such hashes "
                "match unrelated images; use a sharper or larger copy"
            )
        return None


def hash_file(
    path: str | os.PathLike[str],
    *,
    dihedral: bool = False,
    exact: bool = False,
    expand: bool = False,
) -> FileHashes:
    """Digest a file and PDQ-hash it as an image; errors are captured, not raised.

    `expand=True` also hashes an image's derived views (`submission_hashes`),
    which a registry lists beside the whole-image hash so that cropped or
    turned copies still match.
    """
    name = os.fspath(path)
    try:
        if os.path.getsize(name) == 0:
            return FileHashes(
                name, error="the file is empty (0 bytes): nothing to hash"
            )
        digests = file_digests(name)
    except OSError as error:
        return FileHashes(
            name, error=f"cannot read the file: {error.strerror or error}"
        )
    if os.path.splitext(name)[1].lower() in VIDEO_SUFFIXES:
        try:
            video = video_hash(name, md5=digests.md5)
            return FileHashes(name, digests, video=video)
        except MediaError as error:
            return FileHashes(name, digests, error=str(error))
        except MemoryError:
            return FileHashes(name, digests, error=NO_MEMORY)
    try:
        if expand and not dihedral:
            whole, *views = submission_hashes(name, exact=exact)
            return FileHashes(name, digests, whole, views=tuple(views))
        features = pdq_features(name, exact=exact, dihedral=dihedral)
    except MediaError as error:
        return FileHashes(name, digests, error=str(error))
    except MemoryError:  # past the process's memory ceiling, after decoding
        return FileHashes(name, digests, error=NO_MEMORY)
    variants = tuple(features.dihedral()) if dihedral else ()
    return FileHashes(name, digests, features.hash(), variants)
