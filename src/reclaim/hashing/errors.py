"""Errors raised while decoding media, hashing it or parsing hashes.

ReclaimError
 +-- HashingError
      +-- InvalidHashError        a hash string or value is malformed
      +-- MediaError              a file or image cannot be hashed
           +-- UnreadableMediaError   corrupt, truncated, empty or not an image
           +-- MediaTooLargeError     over the pixel budget (decompression bomb)
           +-- ImageShapeError        too small, or an array of the wrong shape
           +-- DegenerateImageError   hashable, but the hash would mean nothing

Messages name the value, what was expected and what to do. They never contain
pixel data or hash values of a person's media.
"""

from __future__ import annotations

from reclaim.errors import ReclaimError


class HashingError(ReclaimError):
    """Base class of the hashing layer's errors."""


class InvalidHashError(HashingError, ValueError):
    """A hash given as text or numbers does not have the expected form."""


class MediaError(HashingError):
    """A piece of media cannot be turned into a hash."""


class UnreadableMediaError(MediaError):
    """The bytes are not a decodable image: corrupt, truncated, empty or unknown."""


class MediaTooLargeError(MediaError):
    """The media is larger than the decoder is allowed to expand in memory."""


class ImageShapeError(MediaError):
    """The image or array has dimensions that PDQ cannot hash."""


class DegenerateImageError(MediaError):
    """The image hashes, but to a value that would match unrelated images."""
