"""Slow password hashing for desk accounts: scrypt from the standard library.

A stored password reads `scrypt$<n>$<r>$<p>$<salt hex>$<digest hex>`, so the
cost can be raised later without breaking older hashes. Checking compares
digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: scrypt's cost: 2**15 × 8 × 128 bytes = 32 MiB and ~50 ms a check here.
COST = 2**15
BLOCK = 8
PARALLEL = 1
MIN_LENGTH = 12
MAX_LENGTH = 1024


def hash_password(password: str, *, cost: int = COST) -> str:
    """The storable hash of a password (a fresh random salt each time)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost, BLOCK, PARALLEL)
    return f"scrypt${cost}${BLOCK}${PARALLEL}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from."""
    try:
        scheme, cost, block, parallel, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(digest)
        found = _scrypt(
            password, bytes.fromhex(salt), int(cost), int(block), int(parallel)
        )
    except ValueError:
        return False
    return hmac.compare_digest(found, expected)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return (
            f"a password of {len(password)} characters is too short: expected at "
            f"least {MIN_LENGTH}; use a passphrase of several words"
        )
    if len(password) > MAX_LENGTH:
        return f"a password longer than {MAX_LENGTH} characters is refused"
    return None


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8")[: MAX_LENGTH * 4],
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * 1024 * 1024,
        dklen=32,
    )
