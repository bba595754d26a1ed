"""A hashing job that kills its worker process on one file, for batch tests."""

from __future__ import annotations

import os

from reclaim.hashing.files import FileHashes, hash_file


def crash_on_marked_files(path: str) -> FileHashes:
    """Hash normally, but die like a segfaulting decoder on '*crash*' files."""
    if "crash" in os.path.basename(path):
        os._exit(139)
    return hash_file(path)
