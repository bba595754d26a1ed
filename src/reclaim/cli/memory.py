"""How much memory hashing may take on this device: a ceiling per process.

An image at the decoder's pixel limit (`MAX_PIXELS`, 100 MP) takes about 10
bytes a pixel at its peak, about 1 GB. `reclaim hash` caps each hashing
process at that plus a margin (`reclaim.memory.memory_ceiling` with
`PROCESS_BYTES`, which worker processes inherit), so a decompression bomb,
or any file that would take more, fails with one clear error ("not enough
memory to decode a WxH image") instead of pushing the device into swap; and
`affordable_workers` runs only as many processes as the device's memory
holds at that peak.
"""

from __future__ import annotations

import os

from reclaim.hashing import MAX_PIXELS

#: What one hashing process may allocate beyond what it holds at start.
PROCESS_BYTES = MAX_PIXELS * 10 + 256 * 2**20


def affordable_workers(requested: int, *, memory: int | None = None) -> int:
    """`requested`, or fewer: as many as 3/4 of `memory` (default: this
    device's) holds at `PROCESS_BYTES` each; at least one."""
    total = physical_memory() if memory is None else memory
    if total is None:
        return requested
    return max(1, min(requested, total * 3 // 4 // PROCESS_BYTES))


def physical_memory() -> int | None:
    """This device's memory in bytes, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
