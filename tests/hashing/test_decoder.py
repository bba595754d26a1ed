"""Decoding every supported format, and refusing every kind of bad input."""

from __future__ import annotations

import io
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
from reclaim.hashing.decoder import check_pixels, looks_like_image, truncated_images
from tests.bombs import png_header_only
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


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (10_001, 10_000)])
def test_decompression_bomb_refused_before_decoding(width: int, height: int) -> None:
    assert width * height > MAX_PIXELS
    with pytest.raises(MediaTooLargeError, match="over the 100 MP limit"):
        pdq_hash(png_header_only(width, height))


def test_large_but_allowed_header_is_decoded_not_refused() -> None:
    # 95 MP is under our limit (and over Pillow's warning level): no warning
    # escapes, and the (bogus) data is reported as corrupt.
    with pytest.raises(UnreadableMediaError, match="truncated or corrupt"):
        pdq_hash(png_header_only(10_000, 9_500))


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


def test_image_signatures_are_recognised_even_when_cut_short(
    photo: np.ndarray,
) -> None:
    for fmt in ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "HEIF", "AVIF"):
        data = encode(photo, fmt)
        assert looks_like_image(data[:64]), fmt
    for data in (b"", b"hello", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 32):
        assert not looks_like_image(data)


def test_pixel_budget_is_checked_from_the_header() -> None:
    check_pixels(png_header_only(4000, 3000), max_pixels=12_000_000)
    with pytest.raises(MediaTooLargeError, match=r"4001x3000 pixels \(12.0 MP\)"):
        check_pixels(png_header_only(4001, 3000), max_pixels=12_000_000)
    check_pixels(b"not an image", max_pixels=1)  # the caller decides what it is


def test_truncated_images_decode_as_browsers_show_them(photo: np.ndarray) -> None:
    data = encode(photo, "JPEG", quality=90)
    cut = data[: len(data) * 98 // 100]
    with pytest.raises(UnreadableMediaError, match="truncated"):
        pdq_hash(cut)
    with truncated_images():
        assert hamming(pdq_hash(cut), pdq_hash(data)) <= 31
    with pytest.raises(UnreadableMediaError, match="truncated"):
        pdq_hash(cut)  # only inside the block
