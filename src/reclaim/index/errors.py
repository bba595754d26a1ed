"""Errors of the PDQ index.

ReclaimError
 +-- IndexArgumentError   a radius or position the index cannot use

Bad hashes raise `reclaim.hashing.InvalidHashError`, as everywhere else.
"""

from __future__ import annotations

from reclaim.errors import ReclaimError


class IndexArgumentError(ReclaimError, ValueError):
    """A radius or position passed to the index is out of range."""
