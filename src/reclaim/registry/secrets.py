"""Hashing and checking secrets: case PINs and platform API keys.

PINs are hashed with scrypt (salted, memory-hard). The cost is modest, 1 MiB
and ~2 ms, because PINs carry 80 random bits: guessing is hopeless without
it; at ~1.9 ms it is a fifth of a case creation's CPU on 2 cores. The
parameters are stored with each hash, so they can be raised later.

API keys are `rk_<key id>_<secret>` with a 256-bit secret; they are stored as
SHA-256 of the secret (a slow hash adds nothing at that entropy). Every check
compares in constant time, and checking against a missing record costs the
same as a real one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 10, 8, 1
_PREFIX = "scrypt"


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_pin(pin: str) -> str:
    """A salted scrypt hash of a (normalised) PIN, with its parameters."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{_PREFIX}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


#: Checked against when a case does not exist, so timing is the same.
_DUMMY_PIN_HASH = hash_pin("0" * 16)


def check_pin(pin: str, stored: str | None) -> bool:
    """Whether `pin` matches `stored`; costs the same when `stored` is None."""
    target = stored or _DUMMY_PIN_HASH
    try:
        prefix, n, r, p, salt, digest = target.split("$")
        expected = base64.b64decode(digest)
        actual = _scrypt(pin, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected) and stored is not None


API_KEY_PREFIX = "rk"


def new_api_key() -> tuple[str, str, str]:
    """A new platform key: (full key to show once, key id, secret hash)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return f"{API_KEY_PREFIX}_{key_id}_{secret}", key_id, hash_api_secret(secret)


def split_api_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    if not isinstance(key, str) or len(key) > 200:
        return None
    prefix, _, rest = key.strip().partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != API_KEY_PREFIX or len(key_id) != 16 or not secret:
        return None
    return key_id, secret


def hash_api_secret(secret: str) -> str:
    """SHA-256 hex of a key's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_api_secret(secret: str, stored: str | None) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    actual = hash_api_secret(secret)
    return hmac.compare_digest(actual, stored or "0" * 64) and stored is not None
