"""Hamming distance between PDQ hashes and the thresholds that go with it."""

from __future__ import annotations

from reclaim.hashing.types import PdqHash

#: Meta's recommended match threshold: hashes at distance <= 31 are a match.
MATCH_DISTANCE = 31

#: Hashes of images below this quality match unrelated images too often.
MIN_QUALITY = 50


def hamming(a: PdqHash, b: PdqHash) -> int:
    """The number of bits in which two PDQ hashes differ (0-256)."""
    return (a.value ^ b.value).bit_count()


def is_match(a: PdqHash, b: PdqHash, *, threshold: int = MATCH_DISTANCE) -> bool:
    """Whether two hashes are within `threshold` bits of each other."""
    return hamming(a, b) <= threshold
