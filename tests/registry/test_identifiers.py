"""Case numbers catch typos; PINs are long and random."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reclaim.registry.identifiers import (
    ALPHABET,
    new_case_number,
    new_pin,
    normalise_pin,
    parse_case_number,
)


def test_new_numbers_parse_back_in_any_typing() -> None:
    for _ in range(200):
        number = new_case_number()
        assert len(number) == 11 and number.count("-") == 2
        assert parse_case_number(number) == number
        assert parse_case_number(number.lower().replace("-", " ")) == number


@given(st.data())
def test_every_single_symbol_typo_is_caught(data: st.DataObject) -> None:
    number = new_case_number().replace("-", "")
    position = data.draw(st.integers(0, len(number) - 1))
    wrong = data.draw(st.sampled_from([c for c in ALPHABET if c != number[position]]))
    typo = number[:position] + wrong + number[position + 1 :]
    assert parse_case_number(typo) is None


@given(st.data())
def test_every_neighbour_swap_is_caught(data: st.DataObject) -> None:
    number = new_case_number().replace("-", "")
    position = data.draw(st.integers(0, len(number) - 2))
    a, b = number[position], number[position + 1]
    if a == b:
        return
    swapped = number[:position] + b + a + number[position + 2 :]
    assert parse_case_number(swapped) is None


def test_issued_numbers_avoid_the_luhn_blind_spot() -> None:
    # Luhn mod 32 cannot see a swap of "0" and "Z"; such numbers are not issued.
    payload = "6W3BZ0P5"
    from reclaim.registry.identifiers import _check_symbol

    number = payload + _check_symbol(payload)
    swapped = "6W3B0ZP5" + number[-1]
    assert parse_case_number(swapped) is not None  # the blind spot is real
    for _ in range(2000):
        issued = new_case_number().replace("-", "")
        assert "0Z" not in issued and "Z0" not in issued


def test_confusable_letters_are_read_as_digits() -> None:
    number = new_case_number()
    typed = number.replace("0", "O").replace("1", "l")
    assert parse_case_number(typed) == number


def test_garbage_is_not_a_number() -> None:
    for text in ["", "abc", "U" * 9, "X" * 500, "123-456-78"]:
        assert parse_case_number(text) is None


def test_pins_are_long_random_and_normalised() -> None:
    pins = {new_pin() for _ in range(1000)}
    assert len(pins) == 1000
    pin = pins.pop()
    assert len(pin.replace("-", "")) == 16  # 80 bits
    assert normalise_pin(pin.lower().replace("-", " ")) == pin.replace("-", "")


def test_pin_symbols_are_uniform() -> None:
    # 32 symbols from the low five bits of random bytes: each equally likely.
    from collections import Counter

    counts = Counter(c for _ in range(4000) for c in new_pin().replace("-", ""))
    expected = 4000 * 16 / 32
    assert set(counts) == set(ALPHABET)
    # Six standard deviations: fails by chance about once in 10^9 runs.
    assert all(abs(n - expected) < 6 * expected**0.5 for n in counts.values())
