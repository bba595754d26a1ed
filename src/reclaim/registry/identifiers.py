"""Case numbers and PINs: short, human-friendly, typo-resistant.

Both use Crockford's base-32 alphabet (no I, L, O, U; reading is forgiving:
o -> 0, i/l -> 1, case-insensitive, dashes and spaces ignored).

* A case number is 8 random symbols (40 bits) plus a check symbol, shown as
  `XXX-XXX-XXX`. The check symbol (Luhn mod 32) catches every single-symbol
  typo, and every swap of two neighbours except `0`<->`Z` (the first and last
  symbols, Luhn mod N's one blind spot); numbers with `0` next to `Z` are
  never issued, so every swap of neighbours in an issued number is caught.
* A PIN is 16 random symbols (80 bits), shown as `XXXX-XXXX-XXXX-XXXX`. It
  is shown once; only a slow, salted hash of it is stored (`secrets.py`).
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {symbol: index for index, symbol in enumerate(ALPHABET)}
_ALIASES = {"O": "0", "I": "1", "L": "1"}

CASE_RANDOM_SYMBOLS = 8
PIN_SYMBOLS = 16


def _normalise(text: str) -> str:
    cleaned = "".join(text.split()).replace("-", "").upper()
    return "".join(_ALIASES.get(symbol, symbol) for symbol in cleaned)


def _check_symbol(payload: str) -> str:
    """Luhn mod 32 over the payload symbols."""
    total = 0
    factor = 2
    for symbol in reversed(payload):
        addend = factor * _VALUE[symbol]
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return ALPHABET[(32 - total % 32) % 32]


def _group(text: str, size: int) -> str:
    return "-".join(text[i : i + size] for i in range(0, len(text), size))


def _random_symbols(count: int) -> str:
    """`count` uniformly random symbols from one read of the system's CSPRNG.

    256 is a multiple of 32, so the low five bits of a random byte are a
    uniform symbol (one `secrets.choice` per symbol costs a system call each).
    """
    return "".join(ALPHABET[byte & 31] for byte in secrets.token_bytes(count))


def new_case_number() -> str:
    """A fresh random case number with its check symbol, e.g. `7KQ-29M-XA4`."""
    while True:
        payload = _random_symbols(CASE_RANDOM_SYMBOLS)
        number = payload + _check_symbol(payload)
        if not any(pair in number for pair in _BLIND_PAIRS):
            return _group(number, 3)


#: Neighbours whose swap Luhn mod 32 cannot see (values 0 and 31).
_BLIND_PAIRS = (ALPHABET[0] + ALPHABET[-1], ALPHABET[-1] + ALPHABET[0])


def parse_case_number(text: str) -> str | None:
    """The canonical form of a typed case number, or None if it is not one."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    cleaned = _normalise(text)
    if len(cleaned) != CASE_RANDOM_SYMBOLS + 1 or any(c not in _VALUE for c in cleaned):
        return None
    if _check_symbol(cleaned[:-1]) != cleaned[-1]:
        return None
    return _group(cleaned, 3)


def new_pin() -> str:
    """A fresh random PIN, e.g. `4F7Q-K2MD-9XHA-R0TB`."""
    return _group(_random_symbols(PIN_SYMBOLS), 4)


def normalise_pin(text: str) -> str:
    """The canonical form of a typed PIN (it may still be wrong)."""
    return _normalise(text)[:64] if isinstance(text, str) else ""
