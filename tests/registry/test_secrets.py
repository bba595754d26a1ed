"""PIN and API-key hashing and checks."""

from __future__ import annotations

from reclaim.registry.secrets import (
    check_api_secret,
    check_pin,
    hash_api_secret,
    hash_pin,
    new_api_key,
    split_api_key,
)


def test_pin_hash_is_salted_and_checks() -> None:
    first, second = hash_pin("ABCD1234EFGH5678"), hash_pin("ABCD1234EFGH5678")
    assert first != second and first.startswith("scrypt$")
    assert "ABCD1234EFGH5678" not in first
    assert check_pin("ABCD1234EFGH5678", first)
    assert not check_pin("ABCD1234EFGH5679", first)
    assert not check_pin("ABCD1234EFGH5678", None)
    assert not check_pin("ABCD1234EFGH5678", "garbage")


def test_api_keys() -> None:
    key, key_id, stored = new_api_key()
    parts = split_api_key(key)
    assert parts is not None and parts[0] == key_id
    assert check_api_secret(parts[1], stored)
    assert stored == hash_api_secret(parts[1]) and parts[1] not in stored
    assert not check_api_secret(parts[1] + "x", stored)
    assert not check_api_secret(parts[1], None)
    for bad in ["", "rk_short_x", "xx_0123456789abcdef_secret", "rk_0123456789abcdef_"]:
        assert split_api_key(bad) is None
