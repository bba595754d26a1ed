"""Hashing an uploaded file in memory: MD5, and PDQ (images) or vPDQ (videos).

Uploads are never written to disk: images decode from bytes, and videos are
read by PyAV from an anonymous in-memory file (`memfd_create`), which has no
name in any directory and vanishes when closed.

Bytes that start like an image (`looks_like_image`) are an image, whole or
cut short, and never read as a video (FFmpeg would take a JPEG for a
one-frame video). A truncated image is hashed as a browser shows it: what
arrived, the rest filled in by the decoder (`truncated_images`). The HTTP
API runs `hash_upload` in decode workers (`decode_pool.py`) with the
`[decode]` budgets; `reclaim matcher match` calls `hash_image` directly.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from reclaim.hashing import (
    DIHEDRAL_NAMES,
    Md5Hash,
    PdqHash,
    UnreadableMediaError,
    VideoHash,
    pdq_hash,
    query_hashes,
    video_hash,
)
from reclaim.hashing.decoder import check_pixels, looks_like_image, truncated_images
from reclaim.matcher.config import DecodeConfig


@dataclass(frozen=True, slots=True)
class MediaHashes:
    """What an upload is matched by."""

    md5: Md5Hash
    pdq: tuple[PdqHash, ...] = ()  # one hash, or the query views (see below)
    video: VideoHash | None = None
    labels: tuple[str, ...] = ()  # what each PDQ hash is a hash of


def hash_image(data: bytes, *, dihedral: bool = True) -> MediaHashes:
    """MD5 and the query side of an image held in memory.

    This is how every upload is looked up, over HTTP or from `reclaim matcher
    match`: `query_hashes` (the 8 rotations and mirrors, the picture inside
    bars or screenshot chrome, small and edge crops), or with `dihedral=False`
    the plain PDQ hash alone. UnreadableMediaError if it is not an image; a
    truncated image is hashed as a browser shows it.
    """
    md5 = Md5Hash(hashlib.md5(data, usedforsecurity=False).hexdigest())
    with truncated_images():
        if not dihedral:
            return MediaHashes(md5, (pdq_hash(data),), labels=("original",))
        hashes = tuple(query_hashes(data))
    names = DIHEDRAL_NAMES + ("inner",) * (len(hashes) - len(DIHEDRAL_NAMES))
    return MediaHashes(md5, hashes, labels=tuple(names[: len(hashes)]))


def hash_upload(
    data: bytes, *, dihedral: bool = True, limits: DecodeConfig | None = None
) -> MediaHashes:
    """Hash an image or video held in memory; MediaError if it is neither.

    `limits` (default: `DecodeConfig()`) gives the pixel budget of images and
    the frame and duration budgets of videos (MediaTooLargeError past them).
    """
    limits = limits or DecodeConfig()
    if looks_like_image(data):
        check_pixels(data, max_pixels=limits.max_pixels)
        return hash_image(data, dihedral=dihedral)
    md5 = Md5Hash(hashlib.md5(data, usedforsecurity=False).hexdigest())
    return MediaHashes(md5, (), _video(data, limits, md5))


def _video(data: bytes, limits: DecodeConfig, md5: Md5Hash) -> VideoHash:
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
            return video_hash(
                f"/proc/self/fd/{descriptor}",
                md5=md5,
                time_limit=limits.timeout_seconds,
                max_seconds=limits.video_max_seconds,
                frame_budget=limits.video_max_frames,
                sample_frames=limits.video_sample_frames,
                # One thread an upload: the decode pool runs uploads side by
                # side, and a worker's CPU limit is then one upload's.
                threads=1,
            )
        except UnreadableMediaError as error:
            raise UnreadableMediaError(
                f"the upload is neither an image nor a video that can be hashed: "
                f"{error}"
            ) from None
    finally:
        os.close(descriptor)
