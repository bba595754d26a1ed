"""Reverse matching equals the match rule applied pair by pair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reclaim.catalog.items import (
    STORED_VARIANTS,
    TRANSPOSED_VARIANTS,
    CatalogItem,
    to_table,
    transposed,
)
from reclaim.catalog.reverse import ListedQuery, match_shard, merge
from reclaim.hashing import DIHEDRAL_NAMES, PdqHash, SignalType
from reclaim.index import RULE, ListRecord, MatchRule, robust_match
from reclaim.index.codes import code_to_hex

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def flip(code: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    """The code with `bits` distinct bits flipped."""
    unpacked = np.unpackbits(code)
    unpacked[rng.choice(256, size=bits, replace=False)] ^= 1
    return np.packbits(unpacked)


def eight(codes: np.ndarray) -> list[PdqHash]:
    """An item's eight variants, in `query_hashes` order, from its four."""
    by_name = {n: codes[v] for v, n in enumerate(STORED_VARIANTS)}
    by_name.update({n: transposed(codes[v]) for v, n in enumerate(TRANSPOSED_VARIANTS)})
    return [PdqHash.parse(code_to_hex(by_name[n])) for n in DIHEDRAL_NAMES]


def scene(
    seed: int, *, items: int, listed: int
) -> tuple[list[CatalogItem], list[ListRecord]]:
    """Random items, and listed hashes near chosen variants of some of them
    (some transposed), at distances on both sides of the radius."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (items, 4, 32), dtype=np.uint8)
    catalog = [
        CatalogItem(
            f"post-{n}",
            NOW + timedelta(seconds=n),
            md5=rng.bytes(16),
            pdq=codes[n].tobytes(),
            quality=90,
        )
        for n in range(items)
    ]
    records = []
    for n in range(listed):
        item = int(rng.integers(items))
        variant = codes[item, int(rng.integers(4))]
        if rng.random() < 0.5:
            variant = transposed(variant)
        near = flip(variant, int(rng.integers(0, 40)), rng)
        records.append(
            ListRecord(SignalType.PDQ, code_to_hex(near), ("adult", "minor")[n % 2])
        )
    records.append(ListRecord(SignalType.MD5, catalog[0].md5.hex(), "adult"))  # type: ignore[union-attr]
    return catalog, records


def expected(
    catalog: list[CatalogItem], records: list[ListRecord], rule: MatchRule
) -> dict[tuple[str, str, str], int]:
    """Brute force: `robust_match` of each item's eight variants and each
    listed hash, and MD5 equality."""
    found: dict[tuple[str, str, str], int] = {}
    for item in catalog:
        codes = np.frombuffer(item.pdq or b"", dtype=np.uint8).reshape(4, 32)
        variants = eight(codes)
        for record in records:
            if record.kind is SignalType.MD5:
                if item.md5 is not None and item.md5.hex() == record.value:
                    found[(item.reference, record.value, record.program)] = 0
                continue
            distance = robust_match(variants, [PdqHash.parse(record.value)], rule=rule)
            if distance is not None:
                found[(item.reference, record.value, record.program)] = distance
    return found


def answered(
    catalog: list[CatalogItem],
    records: list[ListRecord],
    rule: MatchRule,
    *,
    scan: bool,
    shards: int = 1,
) -> dict[tuple[str, str, str], int]:
    query = ListedQuery.of(records, rule=rule)
    step = -(-len(catalog) // shards)
    tables = [
        match_shard(query, to_table(catalog[at : at + step]), scan=scan)
        for at in range(0, len(catalog), step)
    ]
    hits = merge(query, tables)
    keys = [(h.reference, h.record.value, h.record.program) for h in hits]
    assert len(keys) == len(set(keys)), "a hit came back twice"
    return {(h.reference, h.record.value, h.record.program): h.distance for h in hits}


@pytest.mark.parametrize("scan", [True, False], ids=["brute force", "index"])
@pytest.mark.parametrize(
    "rule", [RULE, MatchRule(derived_distance=16)], ids=["31", "31 and 16"]
)
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_reverse_matching_equals_the_rule_pair_by_pair(
    seed: int, rule: MatchRule, scan: bool
) -> None:
    catalog, records = scene(seed, items=60, listed=40)
    want = expected(catalog, records, rule)
    assert answered(catalog, records, rule, scan=scan, shards=3) == want
    assert want, "the scene should hold matches"


def test_the_variant_that_matched_is_named() -> None:
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 256, (4, 32), dtype=np.uint8)
    item = CatalogItem("post-1", NOW, pdq=codes.tobytes(), md5=bytes(16))
    for name in DIHEDRAL_NAMES:
        listed = eight(codes)[DIHEDRAL_NAMES.index(name)]
        query = ListedQuery.of(
            [ListRecord(SignalType.PDQ, listed.hex, "adult")], rule=RULE
        )
        (hit,) = merge(query, [match_shard(query, to_table([item]))])
        assert (hit.variant, hit.distance) == (name, 0)


def test_listed_values_that_do_not_parse_and_videos_are_left_out() -> None:
    query = ListedQuery.of(
        [
            ListRecord(SignalType.PDQ, "zz" * 32, "adult"),
            ListRecord(SignalType.MD5, "abc", "adult"),
            ListRecord(SignalType.VPDQ, "1,2,3", "adult"),
            ListRecord(SignalType.PDQ, "0" * 64, "adult", active=False),
            ListRecord(SignalType.MD5, "0" * 32, "adult"),
            ListRecord(SignalType.MD5, "0" * 32, "adult"),
        ],
        rule=RULE,
    )
    assert len(query) == 1 and query.pdq_count == 0
    item = CatalogItem("clip-1", NOW, md5=bytes(16))
    (hit,) = merge(query, [match_shard(query, to_table([item]))])
    assert (hit.reference, hit.variant, hit.distance) == ("clip-1", "md5", 0)
