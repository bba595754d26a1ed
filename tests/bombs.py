"""Decompression bombs made at test time: small files that decode to a lot.

Nothing here is downloaded. `bench/bombs.py` uses the same builders.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_bomb(width: int, height: int, *, grey: bool = False) -> bytes:
    """A valid PNG of one solid colour: a few hundred KB for 100 MP (RGB).

    Rows are compressed one at a time, so building it holds one row.
    """
    channels = 1 if grey else 3
    squeeze = zlib.compressobj(9)
    row = b"\x00" + b"\x80" * (width * channels)  # filter 0, mid-grey
    body = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if grey else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def png_stripes(width: int, height: int) -> bytes:
    """A valid RGB PNG of diagonal stripes: compresses well, and is not flat."""
    squeeze = zlib.compressobj(6)
    pattern = bytes((x * 7) % 256 for x in range(width * 3 + 600))
    body = b"".join(
        squeeze.compress(b"\x00" + pattern[i * 3 % 600 : i * 3 % 600 + width * 3])
        for i in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body + squeeze.flush())
        + _chunk(b"IEND", b"")
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size, with almost no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def long_video(
    path: Path, *, seconds: float, fps: int = 25, size: int = 64, keyint: int = 250
) -> Path:
    """A tiny H.264 MP4 that lasts long: a textured picture drifting slowly.

    At 64x64 it costs about 0.1 ms a frame to write; hashing every frame of
    it costs about as much again, which is what a frame budget bounds.
    """
    import av

    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    picture = np.ascontiguousarray(base.repeat(8, 0).repeat(8, 1))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(keyint)}
        for index in range(int(seconds * fps)):
            shifted = np.roll(picture, index // fps, axis=1)
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(shifted), format="rgb24"
            )
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
