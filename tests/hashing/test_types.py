"""PdqHash / Md5Hash parsing, formatting and Hamming distance."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reclaim.hashing import InvalidHashError, Md5Hash, PdqHash, hamming, is_match

values = st.integers(min_value=0, max_value=(1 << 256) - 1)


@given(values)
def test_hex_round_trip(value: int) -> None:
    h = PdqHash(value, 80)
    assert len(h.hex) == 64 and h.hex == h.hex.lower()
    assert PdqHash.parse(h.hex).value == value
    assert PdqHash.from_bytes(h.to_bytes()).value == value


@given(values, values)
def test_hamming_is_symmetric_and_counts_bits(a: int, b: int) -> None:
    ha, hb = PdqHash(a), PdqHash(b)
    assert hamming(ha, hb) == hamming(hb, ha) == bin(a ^ b).count("1")
    assert hamming(ha, ha) == 0


def test_bit_order_is_meta_order() -> None:
    # Bit 0 is the last hex digit's low bit; bit 255 the first digit's high bit.
    assert PdqHash(1).hex == "0" * 63 + "1"
    assert PdqHash(1 << 255).hex == "8" + "0" * 63
    assert PdqHash(1 << 17).bit(17) and not PdqHash(1 << 17).bit(16)


def test_parse_accepts_upper_case_and_blanks() -> None:
    text = "F8F8F0CEE0F4A84F06370A22038F63F0B36E2ED596621E1D33E6B39C4E9C9B22"
    assert PdqHash.parse(f"  {text}\n", quality=90).hex == text.lower()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "g" * 64,
        "0" * 63,
        "0" * 65,
        "0x" + "0" * 62,
        "0" * 32 + " " + "0" * 31,
    ],
)
def test_parse_rejects_malformed(text: str) -> None:
    with pytest.raises(InvalidHashError, match="expected 64 hex characters"):
        PdqHash.parse(text)


def test_parse_error_does_not_echo_long_input() -> None:
    with pytest.raises(InvalidHashError) as raised:
        PdqHash.parse("z" * 500)
    assert "z" * 100 not in str(raised.value)


def test_quality_and_value_ranges() -> None:
    with pytest.raises(InvalidHashError, match="0 to 100"):
        PdqHash(0, 101)
    with pytest.raises(InvalidHashError, match=r"\[0, 2\*\*256\)"):
        PdqHash(1 << 256)
    with pytest.raises(InvalidHashError, match="32 bytes"):
        PdqHash.from_bytes(b"\x00" * 31)


def test_is_match_threshold() -> None:
    a = PdqHash(0)
    assert is_match(a, PdqHash((1 << 31) - 1))
    assert not is_match(a, PdqHash((1 << 32) - 1))


def test_md5_parse() -> None:
    assert Md5Hash.parse(" D41D8CD98F00B204E9800998ECF8427E ").hex == (
        "d41d8cd98f00b204e9800998ecf8427e"
    )
    with pytest.raises(InvalidHashError, match="32 hex"):
        Md5Hash.parse("d41d8cd98f00b204e9800998ecf8427")
    with pytest.raises(InvalidHashError, match="lowercase"):
        Md5Hash("D41D8CD98F00B204E9800998ECF8427E")
