"""Turning a file, bytes, a PIL image or an array into pixels PDQ can hash.

This is the one place that decides what "the image" is, so the browser code
can mirror it:

* Formats: JPEG, PNG, GIF (first frame), WebP, TIFF (first page), BMP, and
  HEIC/HEIF (pillow-heif) and AVIF (Pillow).
* Size is checked from the header before any pixel is decoded: more than
  `MAX_PIXELS` is refused as a decompression bomb (`check_pixels` applies a
  lower budget, as the matcher does to uploads).
* A truncated or corrupt image is refused, except inside `truncated_images()`,
  where it is decoded as a browser shows it: the pixels that arrived, the
  rest filled in by the decoder (libjpeg: grey; PNG: black). The matcher
  hashes uploads that way, so cutting a file short does not hide it.
* Colour: any mode is converted to 8-bit RGB with Pillow's `convert("RGB")`;
  alpha is dropped, not composited (as Meta's reference hashes RGBA files).
  8-bit greyscale is hashed as grey.
* EXIF orientation is applied, as browsers do when they draw a photo: the
  upright image is hashed. It is applied to the filter weights, not by
  copying pixels (see `Orientation`).
* Default mode decodes a large JPEG's luma plane only, at 1/2, 1/4 or 1/8
  size in the DCT domain (Pillow `draft`), and applies the full-size filter
  through folded weights (`SampleWeights.folded`). `exact=True` decodes every
  pixel to RGB and matches Meta's reference bit for bit.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TypeAlias

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, ImageFile, UnidentifiedImageError

from reclaim.hashing.errors import (
    ImageShapeError,
    MediaTooLargeError,
    UnreadableMediaError,
)
from reclaim.hashing.orientation import Orientation

pillow_heif.register_heif_opener()

#: Images with more pixels than this are refused before decoding.
MAX_PIXELS = 100_000_000

#: In default mode a JPEG is decoded at the smallest of 1/2, 1/4, 1/8 that
#: keeps its short side at least this long (measured: at most 2 bits from the
#: exact hash on 12 MP and 1080p photos, see docs/hashing.md).
JPEG_DRAFT_MIN_SIDE = 512

#: Pillow modes that a JPEG decoder can hand back as luma only.
_DRAFTABLE_MODES = frozenset({"RGB", "L"})

#: Pillow format names reclaim accepts as images.
IMAGE_FORMATS = frozenset(
    {"JPEG", "MPO", "PNG", "GIF", "WEBP", "TIFF", "BMP", "HEIF", "AVIF"}
)

_EXIF_ORIENTATION = 0x0112

#: Guards Pillow's process-wide LOAD_TRUNCATED_IMAGES (see `truncated_images`).
_truncated_lock = threading.Lock()
_truncated_users = 0

ImageSource: TypeAlias = "str | os.PathLike[str] | bytes | Image.Image | np.ndarray"


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """Pixels ready for PDQ, and how they relate to the upright image.

    `pixels` is (H, W, 3) RGB or (H, W) grey uint8, as stored (not yet turned
    by `orientation`). When `scale` > 1 the pixels were decoded at 1/`scale`
    of `full_size` (height, width).
    """

    pixels: npt.NDArray[np.uint8]
    orientation: Orientation
    scale: int
    full_size: tuple[int, int]


def decode(source: ImageSource, *, exact: bool = False) -> DecodedImage:
    """Decode any supported image source into pixels for hashing."""
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, Image.Image):
        return _from_pil(source, exact=True)
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) == 0:
            raise UnreadableMediaError("the data is empty (0 bytes): nothing to hash")
        with _open(io.BytesIO(source)) as image:
            return _from_pil(image, exact=exact)
    if isinstance(source, str | os.PathLike):
        try:
            size = os.stat(source).st_size
        except OSError as error:
            raise UnreadableMediaError(
                f"cannot read the file: {error.strerror or error}"
            ) from None
        if size == 0:
            raise UnreadableMediaError("the file is empty (0 bytes): nothing to hash")
        try:
            handle = open(source, "rb")  # noqa: SIM115 (closed by the with below)
        except OSError as error:
            raise UnreadableMediaError(
                f"cannot open the file: {error.strerror or error}"
            ) from None
        with handle, _open(handle) as image:
            return _from_pil(image, exact=exact)
    raise TypeError(
        f"{type(source).__name__} is not an image source: expected a path, bytes, "
        "a PIL image or an (H, W, 3) uint8 array"
    )


def looks_like_image(data: bytes) -> bool:
    """Whether `data` starts with the signature of a supported image format.

    True even when the rest is cut off or corrupt: such bytes are a broken
    image, never a video (FFmpeg would read a JPEG as a one-frame video).
    """
    Image.init()
    prefix = bytes(data[:16])
    for name in sorted(IMAGE_FORMATS):
        accept = Image.OPEN.get(name, (None, None))[1]
        try:
            if accept is not None and accept(prefix):
                return True
        except Exception:  # noqa: BLE001 - a plugin's check refusing odd bytes
            continue
    return False


def check_pixels(data: bytes, *, max_pixels: int) -> None:
    """Refuse an image over `max_pixels` from its header, decoding no pixel.

    MediaTooLargeError names the size and the budget; bytes that are not an
    image pass (the caller decides what else they may be).
    """
    try:
        with _open(io.BytesIO(data)) as image:
            width, height = image.size
    except UnreadableMediaError:
        return
    if width * height > max_pixels:
        raise MediaTooLargeError(
            f"the image is {width}x{height} pixels ({width * height / 1e6:.1f} MP): "
            f"over the {max_pixels / 1e6:g} MP budget for uploads here; refused "
            "before decoding to protect memory; shrink it first"
        )


@contextmanager
def truncated_images() -> Iterator[None]:
    """Decode truncated images as browsers show them, while inside this block.

    Pillow's switch is process-wide: other threads decoding at the same time
    see it too. The matcher uses it in its decode workers, one job at a time.
    """
    global _truncated_users
    with _truncated_lock:
        _truncated_users += 1
        ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        yield
    finally:
        with _truncated_lock:
            _truncated_users -= 1
            if _truncated_users == 0:
                ImageFile.LOAD_TRUNCATED_IMAGES = False


def _open(stream: IO[bytes]) -> Image.Image:
    """Read only the header, refusing non-images and decompression bombs."""
    try:
        with warnings.catch_warnings():
            # We apply our own, lower, pixel limit below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream)
    except UnidentifiedImageError:
        raise UnreadableMediaError(
            "not a readable image: expected JPEG, PNG, GIF, WebP, TIFF, BMP, "
            "HEIC/HEIF or AVIF"
        ) from None
    except Image.DecompressionBombError:
        raise _too_large() from None
    except (OSError, SyntaxError, ValueError) as error:
        raise UnreadableMediaError(
            f"the image is truncated or corrupt: its header cannot be read ({error})"
        ) from None
    if image.format not in IMAGE_FORMATS:
        fmt = image.format
        image.close()
        raise UnreadableMediaError(
            f"{fmt} images are not supported: expected JPEG, PNG, GIF, WebP, "
            "TIFF, BMP, HEIC/HEIF or AVIF"
        )
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise _too_large(width, height)
    return image


def _too_large(
    width: int | None = None, height: int | None = None
) -> MediaTooLargeError:
    size = f"{width}x{height} pixels, " if width and height else ""
    return MediaTooLargeError(
        f"the image is {size}over the {MAX_PIXELS // 1_000_000} MP limit: refused "
        "before decoding to protect memory; shrink it first"
    )


def _no_memory(width: int, height: int) -> MediaTooLargeError:
    return MediaTooLargeError(
        f"not enough memory to decode a {width}x{height} image: shrink it "
        "first, or allow the decoder more memory"
    )


def draft_scale(width: int, height: int) -> int:
    """How much smaller than full size a JPEG of this size is decoded by default."""
    for scale in (8, 4, 2):
        if min(width, height) // scale >= JPEG_DRAFT_MIN_SIDE:
            return scale
    return 1


def _orientation(image: Image.Image) -> Orientation:
    """The EXIF orientation tag of an image, NORMAL when absent or unreadable."""
    try:
        return Orientation.from_tag(image.getexif().get(_EXIF_ORIENTATION))
    except (OSError, SyntaxError, ValueError, TypeError, KeyError):
        return Orientation.NORMAL


def _from_pil(image: Image.Image, *, exact: bool) -> DecodedImage:
    """Decode a PIL image (first frame) into RGB or grey uint8 pixels."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _too_large(width, height)
    try:
        orientation = _orientation(image)  # a PNG's EXIF may follow its pixels
    except MemoryError:
        raise _no_memory(width, height) from None
    scale = 1
    if not exact and image.format in {"JPEG", "MPO"} and image.mode in _DRAFTABLE_MODES:
        scale = draft_scale(width, height)
        if scale > 1:
            image.draft("L", (width // scale, height // scale))
            scale = max(1, round(width / image.size[0]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)
            image.load()
            if image.mode not in {"RGB", "L"}:
                image = image.convert("RGB")
            pixels = np.asarray(image)
    except MemoryError:
        raise _no_memory(width, height) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise UnreadableMediaError(
            f"the image is truncated or corrupt: {error}"
        ) from None
    return DecodedImage(pixels, orientation, scale, (height, width))


def _from_array(array: np.ndarray) -> DecodedImage:
    """Check an in-memory array: (H, W, 3) or (H, W) uint8, no orientation."""
    if (
        array.dtype != np.uint8
        or array.ndim not in (2, 3)
        or (array.ndim == 3 and array.shape[2] != 3)
    ):
        raise ImageShapeError(
            f"an array of shape {array.shape} and dtype {array.dtype} is not an "
            "image: expected (H, W, 3) RGB or (H, W) grey, dtype uint8"
        )
    height, width = array.shape[0], array.shape[1]
    if height * width > MAX_PIXELS:
        raise _too_large(width, height)
    pixels = np.ascontiguousarray(array)
    return DecodedImage(pixels, Orientation.NORMAL, 1, (height, width))
