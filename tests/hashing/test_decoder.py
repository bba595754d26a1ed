"""Decoding every supported format, and refusing every kind of bad input."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reclaim.hashing import (
    MAX_PIXELS,
    DegenerateImageError,
    ImageShapeError,
    MediaTooLargeError,
    UnreadableMediaError,
    decode,
    hamming,
    pdq_hash,
    pdq_hash_dihedral,
)
from tests.conftest import encode, reference_pdq

LOSSLESS = [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("WEBP", {"lossless": True})]
LOSSY = [
    ("JPEG", {"quality": 90}),
    ("WEBP", {"quality": 90}),
    ("HEIF", {"quality": 90}),
    ("AVIF", {"quality": 90}),
]


@pytest.fixture
def photo(photos: dict[str, np.ndarray]) -> np.ndarray:
    return photos["astronaut"][64:448, 32:480]


@pytest.mark.parametrize(("fmt", "options"), LOSSLESS)
def test_lossless_formats_hash_exactly(
    photo: np.ndarray, fmt: str, options: dict
) -> None:
    expected, quality = reference_pdq(photo)
    ours = pdq_hash(encode(photo, fmt, **options))
    assert (ours.value, ours.quality) == (expected, quality)


@pytest.mark.parametrize(("fmt", "options"), LOSSY)
def test_lossy_formats_decode_close_to_the_original(
    photo: np.ndarray, fmt: str, options: dict
) -> None:
    data = encode(photo, fmt, **options)
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    expected, _ = reference_pdq(decoded)
    assert pdq_hash(data, exact=True).value == expected
    assert hamming(pdq_hash(data), pdq_hash(photo)) <= 16


def test_gif_uses_the_first_frame(photo: np.ndarray, tmp_path: Path) -> None:
    first = Image.fromarray(photo).convert("P")
    second = Image.fromarray(np.ascontiguousarray(photo[::-1])).convert("P")
    path = tmp_path / "anim.gif"
    first.save(path, save_all=True, append_images=[second], duration=100)
    expected = np.asarray(first.convert("RGB"))
    assert pdq_hash(path).value == reference_pdq(expected)[0]


def test_sources_agree(photo: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    by_path = pdq_hash(path)
    assert pdq_hash(str(path)) == by_path
    assert pdq_hash(path.read_bytes()) == by_path
    assert pdq_hash(Image.open(path)) == by_path
    assert pdq_hash(photo) == by_path
    assert pdq_hash_dihedral(path)[0] == by_path


def test_greyscale_and_palette_images(photo: np.ndarray) -> None:
    grey = Image.fromarray(photo).convert("L")
    expected, _ = reference_pdq(np.asarray(grey.convert("RGB")))
    assert pdq_hash(encode(np.asarray(grey), "PNG")).value == expected
    palette = Image.fromarray(photo).convert("P")
    buffer = io.BytesIO()
    palette.save(buffer, "PNG")
    expected, _ = reference_pdq(np.asarray(palette.convert("RGB")))
    assert pdq_hash(buffer.getvalue()).value == expected


# ---- bad input: each gets a clear reason, nothing crashes ---------------------


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(UnreadableMediaError, match="empty"):
        pdq_hash(path)
    with pytest.raises(UnreadableMediaError, match="empty"):
        pdq_hash(b"")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableMediaError, match="cannot read"):
        pdq_hash(tmp_path / "nope.jpg")


@pytest.mark.parametrize(
    "data",
    [b"hello, this is text\n" * 10, bytes(range(256)) * 8, b"%PDF-1.4\n%\xe2\xe3\n"],
)
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(UnreadableMediaError, match="not a readable image"):
        pdq_hash(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("exact", [False, True])
def test_truncated(photo: np.ndarray, fmt: str, exact: bool) -> None:
    big = np.asarray(Image.fromarray(photo).resize((1400, 1200)))
    data = encode(big, fmt)
    with pytest.raises(UnreadableMediaError, match="truncated or corrupt"):
        pdq_hash(data[: len(data) // 2], exact=exact)


def test_corrupt_header() -> None:
    data = bytearray(encode(np.zeros((20, 20, 3), np.uint8), "PNG"))
    data[16:24] = b"\xff" * 8  # IHDR width/height
    with pytest.raises((UnreadableMediaError, MediaTooLargeError)):
        pdq_hash(bytes(data))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size, with almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (10_001, 10_000)])
def test_decompression_bomb_refused_before_decoding(width: int, height: int) -> None:
    assert width * height > MAX_PIXELS
    with pytest.raises(MediaTooLargeError, match="over the 100 MP limit"):
        pdq_hash(_png_header_only(width, height))


def test_large_but_allowed_header_is_decoded_not_refused() -> None:
    # 95 MP is under our limit (and over Pillow's warning level): no warning
    # escapes, and the (bogus) data is reported as corrupt.
    with pytest.raises(UnreadableMediaError, match="truncated or corrupt"):
        pdq_hash(_png_header_only(10_000, 9_500))


def test_one_pixel_strip(tmp_path: Path) -> None:
    path = tmp_path / "strip.png"
    Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (1, 100_000, 3), np.uint8)
    ).save(path)
    with pytest.raises(ImageShapeError, match="100000x1 pixels: PDQ needs at least 5"):
        pdq_hash(path)


def test_flat_image_is_degenerate() -> None:
    with pytest.raises(DegenerateImageError, match="flat colour"):
        pdq_hash(np.full((300, 200, 3), 77, np.uint8))


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros((10,), np.uint8),
    ],
)
def test_bad_arrays(array: np.ndarray) -> None:
    with pytest.raises(ImageShapeError, match="expected \\(H, W, 3\\) RGB"):
        decode(array)


def test_unsupported_source_type() -> None:
    with pytest.raises(TypeError, match="expected a path, bytes"):
        decode(12345)  # type: ignore[arg-type]


def test_unsupported_format(tmp_path: Path) -> None:
    path = tmp_path / "x.ico"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(path)
    with pytest.raises(UnreadableMediaError, match="ICO images are not supported"):
        pdq_hash(path)
