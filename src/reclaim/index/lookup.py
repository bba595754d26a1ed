"""Exact look-up of listed PDQ hashes by value, for the matchable list's updates.

Finding a record to remove (or telling whether an added one is listed
already) needs an exact look-up by hash, and a list runs to millions, so
this keeps 16 bytes a hash: the first 8 bytes of each code, sorted, with
their positions, plus a small dict of recent additions that is merged in
now and then. A hit is only a candidate; the caller compares the whole code.
Writer-owned: readers of the matchable list never touch it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from reclaim.index.codes import Codes

#: Recent additions kept in the dict before they are merged into the arrays.
_MERGE_AT = 1 << 16


def prefixes(codes: Codes) -> npt.NDArray[np.uint64]:
    """The first 8 bytes of each code as one unsigned integer."""
    if not len(codes):
        return np.empty(0, np.uint64)
    head = np.ascontiguousarray(codes[:, :8])
    return head.view(">u8").reshape(-1).astype(np.uint64)


class PrefixLookup:
    """Positions by code prefix: sorted arrays plus a dict of recent ones."""

    __slots__ = ("_keys", "_positions", "_recent")

    def __init__(self) -> None:
        self._keys = np.empty(0, np.uint64)
        self._positions = np.empty(0, np.int64)
        self._recent: dict[int, list[int]] = {}

    def add(self, codes: Codes, first_position: int) -> None:
        """Record `codes` at positions `first_position`, `first_position + 1`, ..."""
        keys = prefixes(codes)
        if len(keys) + len(self._recent) >= _MERGE_AT:
            self._merge(keys, np.arange(first_position, first_position + len(keys)))
            return
        for offset, key in enumerate(keys.tolist()):
            self._recent.setdefault(key, []).append(first_position + offset)

    def _merge(
        self, keys: npt.NDArray[np.uint64], positions: npt.NDArray[np.int64]
    ) -> None:
        recent_keys = np.fromiter(
            (k for k, ps in self._recent.items() for _ in ps), np.uint64
        )
        recent_positions = np.fromiter(
            (p for ps in self._recent.values() for p in ps), np.int64
        )
        all_keys = np.concatenate([self._keys, recent_keys, keys])
        all_positions = np.concatenate([self._positions, recent_positions, positions])
        order = np.argsort(all_keys, kind="stable")
        self._keys, self._positions = all_keys[order], all_positions[order]
        self._recent = {}

    def candidates(self, codes: Codes) -> list[list[int]]:
        """For each code, the positions whose prefix is the same."""
        keys = prefixes(codes)
        low = np.searchsorted(self._keys, keys, side="left")
        high = np.searchsorted(self._keys, keys, side="right")
        found: list[list[int]] = []
        for key, a, b in zip(keys.tolist(), low.tolist(), high.tolist(), strict=True):
            hits = self._positions[a:b].tolist() if b > a else []
            found.append(hits + self._recent.get(key, []))
        return found
