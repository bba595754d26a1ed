"""Hashing an uploaded file in memory: MD5, and PDQ (images) or vPDQ (videos).

Uploads are never written to disk: images decode from bytes, and videos are
read by PyAV from an anonymous in-memory file (`memfd_create`), which has no
name in any directory and vanishes when closed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from reclaim.hashing import (
    Md5Hash,
    MediaError,
    PdqHash,
    UnreadableMediaError,
    VideoHash,
    pdq_hash,
    pdq_hash_dihedral,
    video_hash,
)


@dataclass(frozen=True, slots=True)
class MediaHashes:
    """What an upload is matched by."""

    md5: Md5Hash
    pdq: tuple[PdqHash, ...] = ()  # one hash, or the 8 dihedral variants
    video: VideoHash | None = None


def hash_upload(data: bytes, *, dihedral: bool = True) -> MediaHashes:
    """Hash an image or video held in memory; MediaError if it is neither."""
    md5 = Md5Hash(hashlib.md5(data, usedforsecurity=False).hexdigest())
    try:
        hashes = pdq_hash_dihedral(data) if dihedral else [pdq_hash(data)]
        return MediaHashes(md5, tuple(hashes))
    except UnreadableMediaError:
        pass  # not an image: try it as a video
    return MediaHashes(md5, (), _video(data))


def _video(data: bytes) -> VideoHash:
    if not hasattr(os, "memfd_create"):
        raise UnreadableMediaError(
            "not a readable image, and videos can only be hashed in memory on "
            "Linux here: hash the video on the device and send its vPDQ hash"
        )
    descriptor = os.memfd_create("upload", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            written = os.write(descriptor, view)
            view = view[written:]
        try:
            return video_hash(f"/proc/self/fd/{descriptor}")
        except MediaError as error:
            raise UnreadableMediaError(
                f"the upload is neither an image nor a video that can be hashed: "
                f"{error}"
            ) from None
    finally:
        os.close(descriptor)
