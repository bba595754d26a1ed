"""Hash value objects: signal-type names and parsed, validated hashes.

The names in `SignalType` are storage and wire keys: never rename them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from reclaim.hashing.errors import InvalidHashError

PDQ_BITS = 256
PDQ_HEX_LENGTH = PDQ_BITS // 4

_HEX = re.compile(r"[0-9a-f]+")


class SignalType(enum.StrEnum):
    """The kinds of hash reclaim computes, exchanges and matches."""

    PDQ = "pdq"
    MD5 = "md5"
    VPDQ = "vpdq"


def _describe(text: str) -> str:
    """Show a bad input without echoing a long (possibly sensitive) value."""
    return repr(text) if len(text) <= 80 else f"{text[:16]!r}... ({len(text)} chars)"


@dataclass(frozen=True, slots=True)
class PdqHash:
    """A 256-bit PDQ hash and the quality (0-100) of the image it came from.

    `value` holds the bits as one integer in Meta's bit order: bit k (k = 0 is
    the least significant) is the DCT coefficient at row k // 16, column k % 16.
    `quality` is None when the hash was parsed from text without its quality.
    """

    value: int
    quality: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.value < 1 << PDQ_BITS:
            raise InvalidHashError(
                f"{self.value} is not a PDQ hash value: expected an integer in "
                "[0, 2**256); build hashes with PdqHash.parse(hex) instead"
            )
        if self.quality is not None and not 0 <= self.quality <= 100:
            raise InvalidHashError(
                f"{self.quality} is not a PDQ quality: expected 0 to 100"
            )

    @classmethod
    def parse(cls, text: str, *, quality: int | None = None) -> PdqHash:
        """Parse 64 hex characters (either case, surrounding blanks ignored)."""
        if not isinstance(text, str):
            raise InvalidHashError(
                f"{type(text).__name__} is not a PDQ hash: expected a string of "
                f"{PDQ_HEX_LENGTH} hex characters"
            )
        cleaned = text.strip().lower()
        if len(cleaned) != PDQ_HEX_LENGTH or not _HEX.fullmatch(cleaned):
            raise InvalidHashError(
                f"{_describe(text)} is not a valid PDQ hash: expected "
                f"{PDQ_HEX_LENGTH} hex characters (0-9, a-f)"
            )
        return cls(int(cleaned, 16), quality)

    @classmethod
    def from_bytes(cls, data: bytes, *, quality: int | None = None) -> PdqHash:
        """Build a hash from its 32-byte big-endian form (as `to_bytes` gives)."""
        if len(data) != PDQ_BITS // 8:
            raise InvalidHashError(
                f"{len(data)} bytes is not a PDQ hash: expected {PDQ_BITS // 8} bytes"
            )
        return cls(int.from_bytes(data, "big"), quality)

    @property
    def hex(self) -> str:
        """The 64 lowercase hex characters that StopNCII, NCMEC and HMA use."""
        return format(self.value, "064x")

    def to_bytes(self) -> bytes:
        """The 32-byte big-endian form: the same bits as `hex`."""
        return self.value.to_bytes(PDQ_BITS // 8, "big")

    def bit(self, index: int) -> bool:
        """Whether bit `index` (0-255, Meta's numbering) is set."""
        if not 0 <= index < PDQ_BITS:
            raise IndexError(f"bit {index} is out of range: expected 0 to 255")
        return bool(self.value >> index & 1)

    def __str__(self) -> str:
        return self.hex


@dataclass(frozen=True, slots=True)
class Md5Hash:
    """The MD5 digest of a file's exact bytes, as 32 lowercase hex characters."""

    hex: str

    def __post_init__(self) -> None:
        if len(self.hex) != 32 or not _HEX.fullmatch(self.hex):
            raise InvalidHashError(
                f"{_describe(self.hex)} is not a valid MD5 hash: expected 32 "
                "lowercase hex characters; use Md5Hash.parse to normalise"
            )

    @classmethod
    def parse(cls, text: str) -> Md5Hash:
        """Parse 32 hex characters (either case, surrounding blanks ignored)."""
        if not isinstance(text, str):
            raise InvalidHashError(
                f"{type(text).__name__} is not an MD5 hash: expected a string"
            )
        cleaned = text.strip().lower()
        if len(cleaned) != 32 or not _HEX.fullmatch(cleaned):
            raise InvalidHashError(
                f"{_describe(text)} is not a valid MD5 hash: expected 32 hex "
                "characters (0-9, a-f)"
            )
        return cls(cleaned)

    def __str__(self) -> str:
        return self.hex
