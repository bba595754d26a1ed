"""The compact text form of a vPDQ hash: `vpdq1:` and base64url of packed frames.

Meta's text spends about 78 bytes a frame (64 hex digits, decimal numbers,
commas). Packed, a frame is the 32 hash bytes plus about 3 more:

    payload = varint(frame count), then per frame:
        varint(frame number - previous frame number)   first: the number itself
        byte(quality)                                  0-100
        32 bytes                                       the PDQ hash, big-endian
        zigzag varint(ms step - previous ms step)      ms step: timestamp change
                                                       in milliseconds

Frames sampled at a steady rate have steady steps, so the timestamp costs one
byte (0, or +-1 where the rounding to milliseconds wobbles). Base64url without
padding keeps it one line of URL- and JSON-safe text. The `1` in the prefix
is the layout version: a new layout gets a new prefix, old ones stay readable.
Values round-trip exactly with Meta's text, whose timestamps have 3 decimals.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator

from reclaim.hashing.errors import InvalidHashError

#: What every compact vPDQ hash starts with (the layout version is the digit).
PREFIX = "vpdq1:"

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_HASH_BYTES = 32
_MAX_VARINT_BYTES = 10

#: One frame: (frame number, quality, 256-bit hash value, timestamp in ms).
Row = tuple[int, int, int, int]


def is_compact(text: str) -> bool:
    """Whether `text` claims to be a compact vPDQ hash (any version)."""
    head = text.lstrip()[:8].lower()
    return head.startswith("vpdq") and ":" in head


def _varint(value: int, out: bytearray) -> None:
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)


def _zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def encode(rows: Iterable[Row]) -> str:
    """Pack frames, in order, into the compact text form."""
    body = bytearray()
    count = 0
    number_before = 0
    millis_before = 0
    step_before = 0
    for number, quality, value, millis in rows:
        if number < number_before or millis < 0 or not 0 <= quality <= 100:
            raise InvalidHashError(
                f"frame {number} (quality {quality}, {millis} ms) cannot be packed: "
                "expected increasing frame numbers, quality 0-100 and timestamps "
                "of zero or more"
            )
        _varint(number - number_before, body)
        body.append(quality)
        body += value.to_bytes(_HASH_BYTES, "big")
        step = millis - millis_before
        _varint(_zigzag(step - step_before), body)
        number_before, millis_before, step_before = number, millis, step
        count += 1
    head = bytearray()
    _varint(count, head)
    packed = base64.urlsafe_b64encode(bytes(head + body)).rstrip(b"=")
    return PREFIX + packed.decode("ascii")


class _Reader:
    """Reads varints and bytes from the payload, naming what ran short."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def varint(self, what: str) -> int:
        value = 0
        for shift in range(0, 7 * _MAX_VARINT_BYTES, 7):
            byte = self.take(1, what)[0]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
        raise InvalidHashError(
            f"compact vPDQ {what} runs over {_MAX_VARINT_BYTES} bytes: the hash "
            "is corrupt; copy it again from its source"
        )

    def take(self, size: int, what: str) -> bytes:
        if self.at + size > len(self.data):
            raise InvalidHashError(
                f"compact vPDQ hash ends inside {what} (byte {self.at} of "
                f"{len(self.data)}): it was cut short; copy it whole"
            )
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk


def _payload(text: str) -> bytes:
    cleaned = text.strip()
    if not cleaned.startswith(PREFIX):
        raise InvalidHashError(
            f"{cleaned[:10]!r}... is not a compact vPDQ hash this version reads: "
            f"expected it to start with {PREFIX!r}; update reclaim to read newer forms"
        )
    packed = cleaned[len(PREFIX) :]
    if not _BASE64URL.fullmatch(packed) or len(packed) % 4 == 1:
        raise InvalidHashError(
            "a compact vPDQ hash must be base64url (A-Z, a-z, 0-9, '-', '_') "
            "after its prefix: it was damaged in copying; copy it again"
        )
    return base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))


def decode(text: str, *, max_frames: int) -> list[Row]:
    """Unpack the compact text form into rows; every malformation is named."""
    reader = _Reader(_payload(text))
    count = reader.varint("the frame count")
    if count == 0:
        raise InvalidHashError(
            "an empty vPDQ hash has no frames: expected one or more frames"
        )
    if count > max_frames:
        raise InvalidHashError(
            f"a vPDQ hash of {count} frames is too long: at most {max_frames}; "
            "sample fewer frames per second"
        )
    return list(_rows(reader, count))


def _rows(reader: _Reader, count: int) -> Iterator[Row]:
    number = millis = step = 0
    for index in range(count):
        where = f"frame {index + 1}"
        number += reader.varint(f"{where}'s number")
        quality = reader.take(1, f"{where}'s quality")[0]
        if quality > 100:
            raise InvalidHashError(
                f"compact vPDQ {where} has quality {quality}: expected 0 to 100; "
                "the hash is corrupt"
            )
        value = int.from_bytes(reader.take(_HASH_BYTES, f"{where}'s hash"), "big")
        zigzag = reader.varint(f"{where}'s timestamp")
        step += zigzag // 2 if zigzag % 2 == 0 else -(zigzag + 1) // 2
        millis += step
        if millis < 0:
            raise InvalidHashError(
                f"compact vPDQ {where} has a negative timestamp: expected zero or "
                "more seconds; the hash is corrupt"
            )
        yield number, quality, value, millis
    if reader.at != len(reader.data):
        raise InvalidHashError(
            f"compact vPDQ hash has {len(reader.data) - reader.at} bytes after its "
            f"{count} frames: expected none; it is corrupt or two were joined"
        )
