"""Streaming cryptographic digests (MD5, SHA-256) of a file's exact bytes."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from reclaim.hashing.types import Md5Hash

#: Files are read in chunks of this size, so any size fits in little memory.
CHUNK_SIZE = 1 << 20


@dataclass(frozen=True, slots=True)
class FileDigests:
    """MD5 and SHA-256 of a file, and how many bytes it has."""

    md5: Md5Hash
    sha256: str
    size: int


def file_digests(path: str | os.PathLike[str]) -> FileDigests:
    """MD5 and SHA-256 of a file, read once in `CHUNK_SIZE` chunks."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return FileDigests(Md5Hash(md5.hexdigest()), sha256.hexdigest(), size)


def file_md5(path: str | os.PathLike[str]) -> Md5Hash:
    """MD5 of a file alone, read in `CHUNK_SIZE` chunks."""
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            md5.update(chunk)
    return Md5Hash(md5.hexdigest())
