"""The root of every exception reclaim raises on purpose.

ReclaimError
 +-- reclaim.hashing.errors.HashingError   (see that module for its tree)
"""

from __future__ import annotations


class ReclaimError(Exception):
    """Base class of all errors raised by reclaim itself."""
