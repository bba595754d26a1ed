"""PDQ hashes as packed codes: parsing hex (or arrays) into (n, 32) uint8 rows.

A code row holds the 32 bytes of `PdqHash.to_bytes()`, so the same bits as
the 64-character hex form. Hamming distances do not depend on bit order, so
any consistent order works for matching; this one round-trips with `hex`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from reclaim.hashing import InvalidHashError, PdqHash

CODE_BYTES = 32
HEX_CHARS = 2 * CODE_BYTES

Codes = npt.NDArray[np.uint8]

_BAD = 255
# Maps an ASCII byte to its hex digit value, or _BAD.
_HEX_VALUE = np.full(256, _BAD, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _i
for _i, _c in enumerate(b"abcdef"):
    _HEX_VALUE[_c - 32] = 10 + _i  # upper case


def as_codes(hashes: Iterable[str | PdqHash] | npt.NDArray[np.uint8]) -> Codes:
    """Parse hashes into a C-contiguous (n, 32) uint8 array.

    Accepts an (n, 32) uint8 array (returned as is, or made contiguous), or an
    iterable of 64-character hex strings or `PdqHash` values. Raises
    `InvalidHashError` naming the first bad hash.
    """
    if isinstance(hashes, np.ndarray):
        return _checked_array(hashes)
    if isinstance(hashes, str | bytes | PdqHash):
        raise InvalidHashError(
            f"a single {type(hashes).__name__} is not a batch of PDQ hashes: "
            "expected an iterable of hashes; wrap one hash in a list"
        )
    items = [h.hex if isinstance(h, PdqHash) else h for h in hashes]
    if not items:
        return np.empty((0, CODE_BYTES), dtype=np.uint8)
    codes = _fast_hex(items)
    if codes is None:
        codes = _slow_hex(items)
    return codes


def code_to_hex(code: npt.NDArray[np.uint8]) -> str:
    """The 64 lowercase hex characters of one code row."""
    return bytes(code).hex()


def _checked_array(array: npt.NDArray[np.uint8]) -> Codes:
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != CODE_BYTES:
        raise InvalidHashError(
            f"an array of shape {array.shape} and dtype {array.dtype} is not a "
            f"batch of PDQ hashes: expected shape (n, {CODE_BYTES}) and dtype "
            "uint8 (one row of PdqHash.to_bytes() per hash)"
        )
    return np.ascontiguousarray(array)


def _fast_hex(items: list[object]) -> Codes | None:
    """Vectorised parse of clean input; None when any item needs a closer look."""
    if not all(type(h) is str and len(h) == HEX_CHARS for h in items):
        return None
    try:
        text = "".join(items).encode("ascii")  # type: ignore[arg-type]  # all str
    except UnicodeEncodeError:
        return None
    digits = _HEX_VALUE[np.frombuffer(text, dtype=np.uint8)].reshape(-1, HEX_CHARS)
    if (digits == _BAD).any():
        return None
    return np.ascontiguousarray((digits[:, 0::2] << 4) | digits[:, 1::2])


def _slow_hex(items: list[object]) -> Codes:
    """Parse one by one with `PdqHash.parse`, so errors read as everywhere else."""
    out = np.empty((len(items), CODE_BYTES), dtype=np.uint8)
    for row, item in enumerate(items):
        parsed = PdqHash.parse(item)  # type: ignore[arg-type]  # parse checks type
        out[row] = np.frombuffer(parsed.to_bytes(), dtype=np.uint8)
    return out
