"""A process's own memory: what it holds (VmData) and a ceiling on it.

`RLIMIT_DATA` bounds a process's heap and private maps, where numpy, Pillow
and FFmpeg put pixels, and not the libraries it maps or the address space
it only reserves (as `RLIMIT_AS` would). Past it an allocation fails: Python
raises MemoryError and the decoders report their own errors, instead of the
device swapping or the kernel killing something. Processes started inside a
ceiling inherit it. Linux only (`/proc`); elsewhere nothing is limited.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager


def data_bytes() -> int | None:
    """This process's private data size (VmData), or None without /proc."""
    try:
        with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@contextmanager
def memory_ceiling(extra: int) -> Iterator[int | None]:
    """Allow `extra` bytes of data beyond what this process holds now.

    Yields what it held at the start (None where that cannot be read, and
    then nothing is limited). The soft limit is put back afterwards.
    """
    held = data_bytes()
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if held is None:
        yield None
        return
    limit = held + extra
    if soft != resource.RLIM_INFINITY:
        limit = min(limit, soft)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    try:
        yield held
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
