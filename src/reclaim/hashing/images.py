"""The public image-hashing calls: PDQ of a file, bytes, PIL image or array."""

from __future__ import annotations

from reclaim.hashing.decoder import DecodedImage, ImageSource, decode
from reclaim.hashing.float32 import luma_grid_float32
from reclaim.hashing.pdq import PdqFeatures, features_of_grid, luma_grid
from reclaim.hashing.sensitivity import median_is_uncertain, quality_is_uncertain
from reclaim.hashing.types import PdqHash


def _features(image: DecodedImage, *, dihedral: bool = True) -> PdqFeatures:
    """Features of a decoded image, exact to the reference when full-size.

    `dihedral` says whether all 8 variants will be used, so all 8 medians
    must be certain, or only the original's.
    """
    grid = luma_grid(
        image.pixels,
        orientation=image.orientation,
        scale=image.scale,
        full_size=image.full_size,
    )
    features = features_of_grid(grid)
    if image.scale == 1 and (
        quality_is_uncertain(grid)
        or median_is_uncertain(features.variants() if dihedral else [features.dct])
    ):
        # Too close to a threshold to trust the fast grid: redo it exactly as
        # the reference computes it (slower, rare on real photos).
        exact_grid = luma_grid_float32(image.pixels, orientation=image.orientation)
        features = features_of_grid(exact_grid)
    return features


def pdq_features(
    source: ImageSource, *, exact: bool = False, dihedral: bool = True
) -> PdqFeatures:
    """Decode an image and compute its PDQ features (DCT corner and quality).

    With `dihedral=False` only the original hash is guaranteed to match the
    reference (a little faster in rare near-tie cases); the variants may not.
    """
    return _features(decode(source, exact=exact), dihedral=dihedral)


def pdq_hash(source: ImageSource, *, exact: bool = False) -> PdqHash:
    """The PDQ hash of an image, with its quality.

    `source` is a path, the file's bytes, a PIL image or an (H, W, 3) uint8 RGB
    array. Files are turned upright by their EXIF orientation. By default large
    JPEGs are decoded at reduced size for speed (a few bits from the exact
    hash); `exact=True` decodes every pixel and equals Meta's reference.
    Arrays and PIL images are always hashed exactly.
    """
    return pdq_features(source, exact=exact, dihedral=False).hash()


def pdq_hash_dihedral(source: ImageSource, *, exact: bool = False) -> list[PdqHash]:
    """PDQ hashes of the image's 8 rotations and mirrors, from one DCT.

    The order is Meta's: original, rotate90, rotate180, rotate270, flipx,
    flipy, flip_plus1, flip_minus1.
    """
    return pdq_features(source, exact=exact).dihedral()
