"""On-device hashing: PDQ for images, MD5 and vPDQ for videos, hash value types.

Everything here runs on a person's own device and imports only numpy, Pillow
(+ pillow-heif), PyAV and the standard library.
"""

from __future__ import annotations

from reclaim.hashing.decoder import MAX_PIXELS, DecodedImage, ImageSource, decode
from reclaim.hashing.distance import MATCH_DISTANCE, MIN_QUALITY, hamming, is_match
from reclaim.hashing.errors import (
    DegenerateImageError,
    HashingError,
    ImageShapeError,
    InvalidHashError,
    MediaError,
    MediaTooLargeError,
    UnreadableMediaError,
)
from reclaim.hashing.expansion import query_hashes, submission_hashes
from reclaim.hashing.images import pdq_features, pdq_hash, pdq_hash_dihedral
from reclaim.hashing.orientation import Orientation
from reclaim.hashing.pdq import DIHEDRAL_NAMES, PdqFeatures
from reclaim.hashing.types import Md5Hash, PdqHash, SignalType
from reclaim.hashing.video import VideoHash, video_hash
from reclaim.hashing.video_match import VideoMatch, video_match
from reclaim.hashing.vpdq_format import VpdqFrame, VpdqHash

__all__ = [
    "DIHEDRAL_NAMES",
    "DecodedImage",
    "DegenerateImageError",
    "HashingError",
    "ImageShapeError",
    "ImageSource",
    "InvalidHashError",
    "MATCH_DISTANCE",
    "MAX_PIXELS",
    "MIN_QUALITY",
    "Md5Hash",
    "MediaError",
    "MediaTooLargeError",
    "Orientation",
    "PdqFeatures",
    "PdqHash",
    "SignalType",
    "UnreadableMediaError",
    "VideoHash",
    "VideoMatch",
    "VpdqFrame",
    "VpdqHash",
    "decode",
    "hamming",
    "is_match",
    "pdq_features",
    "pdq_hash",
    "pdq_hash_dihedral",
    "query_hashes",
    "submission_hashes",
    "video_hash",
    "video_match",
]
