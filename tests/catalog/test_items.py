"""Catalog items: four stored PDQ variants give all eight, within budget."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from reclaim.catalog.errors import CatalogItemError
from reclaim.catalog.items import (
    ITEM_BYTES,
    MAX_REFERENCE_BYTES,
    STORED_VARIANTS,
    TRANSPOSED_VARIANTS,
    CatalogItem,
    from_table,
    pdq_codes,
    to_table,
    transposed,
)
from reclaim.hashing import DIHEDRAL_NAMES, Md5Hash, pdq_hash_dihedral
from reclaim.index.codes import as_codes
from tests.conftest import encode

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_the_transposes_of_the_stored_variants_are_the_other_four(
    photos: dict[str, np.ndarray], name: str
) -> None:
    hashes = pdq_hash_dihedral(encode(photos[name], "PNG"))
    item = CatalogItem.of_hashes(
        "post-1", NOW, md5=None, pdq=hashes, labels=DIHEDRAL_NAMES
    )
    _, codes = pdq_codes(to_table([item]))
    every = as_codes(hashes)
    for v, stored in enumerate(STORED_VARIANTS):
        assert (codes[0, v] == every[DIHEDRAL_NAMES.index(stored)]).all()
        flipped = transposed(codes[0, v])
        assert (flipped == every[DIHEDRAL_NAMES.index(TRANSPOSED_VARIANTS[v])]).all()
    assert (transposed(transposed(codes)) == codes).all()


def test_an_item_is_within_its_budget_and_round_trips() -> None:
    rng = np.random.default_rng(1)
    item = CatalogItem(
        "r" * MAX_REFERENCE_BYTES,
        NOW,
        md5=rng.bytes(16),
        pdq=rng.bytes(128),
        quality=100,
    )
    assert item.nbytes <= ITEM_BYTES
    video = CatalogItem("clip-1", NOW, md5=rng.bytes(16))
    assert from_table(to_table([item, video])) == [item, video]
    rows, codes = pdq_codes(to_table([video, item, video]))
    assert rows.tolist() == [1] and codes.shape == (1, 4, 32)


def test_without_rotations_only_the_md5_is_kept() -> None:
    digest = Md5Hash("0" * 32)
    item = CatalogItem.of_hashes("clip-1", NOW, md5=digest)
    assert item.pdq is None and item.md5 == bytes(16)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reference": ""}, "not a content reference"),
        ({"reference": "é" * 60}, "at most 100 bytes"),
        ({"uploaded_at": datetime(2026, 1, 1)}, "no time zone"),
        ({"md5": b"short"}, "expected 16"),
        ({"pdq": b"x" * 32}, "expected 128"),
        ({"quality": 101}, "expected 0 to 100"),
        ({"md5": None}, "nothing to match it by"),
    ],
)
def test_bad_items_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "reference": "post-1",
        "uploaded_at": NOW,
        "md5": bytes(16),
    }
    values.update(kwargs)
    with pytest.raises(CatalogItemError, match=message):
        CatalogItem(**values)  # type: ignore[arg-type]
