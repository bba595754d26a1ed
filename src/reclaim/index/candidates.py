"""Candidate pairs from key tables: flip masks, key balls and the full check.

Both table structures (`mih` probes the query's neighbouring keys, `expanded`
stores each code under its neighbouring keys) find candidate (query, position)
pairs through short keys, then keep those within the radius over all 256
bits, each pair once. Those shared steps live here.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import numpy.typing as npt

from reclaim.index.hits import Hits


def ball_size(bits: int, radius: int) -> int:
    """How many `bits`-bit keys are within `radius` of a given one."""
    return sum(math.comb(bits, k) for k in range(min(radius, bits) + 1))


@functools.cache
def flip_masks(bits: int, radius: int) -> npt.NDArray[np.uint32]:
    """Every `bits`-bit mask with at most `radius` bits set, fewest first."""
    masks = [0]
    for k in range(1, min(radius, bits) + 1):
        for combo in itertools.combinations(range(bits), k):
            masks.append(sum(1 << b for b in combo))
    return np.array(masks, dtype=np.uint32)


_BYTE_SUM = np.uint32(0x01010101)


def within(
    xor: npt.NDArray[np.uint64], radius: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """The rows of (k, 4) XORed words with at most `radius` bits set, and
    their bit counts."""
    # Four per-word popcounts (each <= 64) are the bytes of one uint32;
    # multiplying by 0x01010101 adds them into the top byte, several times
    # faster than .sum(axis=1). Only a full 256 wraps, to 0: fixed below.
    words = np.bitwise_count(xor).view(np.uint32).ravel()
    sums = (words * _BYTE_SUM) >> 24
    rows = np.flatnonzero(sums <= radius)
    distances = sums[rows].astype(np.int32)
    distances[(distances == 0) & (words[rows] != 0)] = 256
    keep = distances <= radius
    return rows[keep], distances[keep]


def unique_pairs(hits: Hits, size: int) -> Hits:
    """Each (query, position) once: several tables can find the same pair."""
    if len(hits) < 2:
        return hits
    pair = hits.queries * size + hits.positions
    _, first = np.unique(pair, return_index=True)
    return Hits(hits.queries[first], hits.positions[first], hits.distances[first])
