"""Hash validation at the registry's boundary."""

from __future__ import annotations

import numpy as np
import pytest

from reclaim.registry.errors import InvalidRequestError
from reclaim.registry.submissions import parse_hashes, parse_program
from tests.conftest import random_pdq

PDQ = random_pdq(np.random.default_rng(1))


def test_valid_hashes_are_normalised_and_deduplicated() -> None:
    parsed = parse_hashes(
        [
            {"type": "pdq", "value": PDQ.upper(), "quality": 90},
            {"type": "pdq", "value": PDQ, "quality": 90},
            {"type": "md5", "value": "0A21C8F8A3E1C5B4D2F60718293A4B5C"},
        ],
        limit=10,
    )
    assert [(h.signal_type, h.value) for h in parsed] == [
        ("pdq", PDQ),
        ("md5", "0a21c8f8a3e1c5b4d2f60718293a4b5c"),
    ]


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"type": "pdq", "value": PDQ, "quality": 49}, "below 50"),
        ({"type": "pdq", "value": PDQ}, "needs its quality"),
        ({"type": "pdq", "value": "0" * 64, "quality": 100}, "degenerate"),
        ({"type": "pdq", "value": "f" * 64, "quality": 100}, "degenerate"),
        ({"type": "pdq", "value": "xyz", "quality": 100}, "64 hex"),
        ({"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"}, "empty file"),
        ({"type": "md5", "value": "abc"}, "32 hex"),
        ({"type": "sha1", "value": "abc"}, "not a hash type"),
        ({"type": "vpdq", "value": ""}, "no frames"),
        ({"type": "vpdq", "value": f"0,10,{PDQ},0.000"}, "quality 50"),
        ({"type": "vpdq", "value": f"5,90,{PDQ},1.0\n2,90,{PDQ},0.5"}, "increasing"),
        ("not an object", "expected an object"),
    ],
)
def test_bad_items_are_refused_with_reasons(item: object, reason: str) -> None:
    good = {"type": "md5", "value": "0a21c8f8a3e1c5b4d2f60718293a4b5c"}
    with pytest.raises(InvalidRequestError) as raised:
        parse_hashes([good, item], limit=10)
    assert "nothing was stored" in str(raised.value)
    assert len(raised.value.details) == 1
    assert raised.value.details[0].startswith("hashes[1]: ")
    assert reason in raised.value.details[0]


def test_vpdq_is_accepted_in_meta_text_format() -> None:
    text = f"0,100,{PDQ},0.000\n30,95,{PDQ},1.001\n"
    (parsed,) = parse_hashes([{"type": "vpdq", "value": text}], limit=5)
    assert parsed.value == text


def test_limits() -> None:
    many = [{"type": "md5", "value": f"{i:032x}"} for i in range(1, 12)]
    with pytest.raises(InvalidRequestError, match="at most 10"):
        parse_hashes(many, limit=10)
    with pytest.raises(InvalidRequestError, match="at least one"):
        parse_hashes([], limit=10)


def test_programs() -> None:
    assert parse_program("minor").value == "minor"
    with pytest.raises(InvalidRequestError, match="'minor'"):
        parse_program("kids")


def test_vpdq_in_compact_form_is_stored_as_meta_text_and_dedupes() -> None:
    from reclaim.hashing.vpdq_format import VpdqHash

    text = f"0,100,{PDQ},0.000\n30,95,{PDQ},1.001\n"
    compact = VpdqHash.parse(text).to_compact()
    assert compact.startswith("vpdq1:") and len(compact) < len(text)
    parsed = parse_hashes(
        [{"type": "vpdq", "value": compact}, {"type": "vpdq", "value": text}],
        limit=5,
    )
    assert [h.value for h in parsed] == [text]
    (alone,) = parse_hashes([{"type": "vpdq", "value": compact}], limit=5)
    assert alone.digest == parsed[0].digest


def test_damaged_compact_vpdq_is_refused() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        parse_hashes([{"type": "vpdq", "value": "vpdq1:AAAA!"}], limit=5)
    assert "base64url" in raised.value.details[0]
