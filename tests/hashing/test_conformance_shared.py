"""Golden vectors: Meta's reference images and hashes from ../shared/conformance.

The target is `pdqhash_convert_rgb` (= `java_ref` on 8-bit RGB files): full
resolution, exact. See ../shared/conformance/pdq/README.txt.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from reclaim.hashing import PdqHash, hamming, pdq_hash, pdq_hash_dihedral
from tests.conftest import require_shared

pytestmark = pytest.mark.conformance

DIHEDRAL_COLUMNS = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flip_plus1",
    "flip_minus1",
)


def _rows(name: str) -> tuple[Path, list[dict[str, str]]]:
    root = require_shared("pdq")
    with open(root / "expected" / name, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["file_in_this_folder"] == "yes"]
    return root, rows


def test_every_reference_image_hashes_exactly() -> None:
    root, rows = _rows("generated_pdq_hashes.csv")
    assert len(rows) >= 45, "the reference listing lost rows"
    mismatches = []
    for row in rows:
        ours = pdq_hash(root / row["repo_path"], exact=True)
        expected = PdqHash.parse(row["pdqhash_convert_rgb_hash"])
        quality = int(row["pdqhash_convert_rgb_quality"])
        if ours.value != expected.value or ours.quality != quality:
            mismatches.append(
                (row["repo_path"], hamming(ours, expected), ours.quality, quality)
            )
    assert mismatches == []


def test_java_reference_agrees_on_rgb_files() -> None:
    root, rows = _rows("generated_pdq_hashes.csv")
    checked = 0
    for row in rows:
        if row["pil_mode"] not in {"RGB", "RGBA"} or row["java_ref_hash"] in {
            "",
            "ERR",
        }:
            continue
        ours = pdq_hash(root / row["repo_path"], exact=True)
        assert ours.hex == row["java_ref_hash"], row["repo_path"]
        assert ours.quality == int(row["java_ref_quality"]), row["repo_path"]
        checked += 1
    assert checked >= 30


def test_dihedral_variants_match_reference() -> None:
    root, rows = _rows("generated_pdq_dihedral_hashes.csv")
    for row in rows:
        ours = pdq_hash_dihedral(root / row["repo_path"], exact=True)
        assert [h.hex for h in ours] == [row[c] for c in DIHEDRAL_COLUMNS], row[
            "repo_path"
        ]
        assert {h.quality for h in ours} == {int(row["quality"])}


def test_the_eight_dihedral_files_hash_like_the_variants() -> None:
    # dih/ holds the same photo rotated and mirrored as pixels; the hash of
    # each file is close to the matching variant computed from the original.
    root = require_shared("pdq", "pdq", "data", "reg-test-input", "dih")
    files = sorted(root.glob("bridge-*.jpg"))
    assert len(files) == 8
    variants = pdq_hash_dihedral(files[0], exact=True)
    for path in files:
        ours = pdq_hash(path, exact=True)
        assert min(hamming(ours, v) for v in variants) <= 16, path.name


def test_repo_listing_values_from_java_and_pytx_tests() -> None:
    root = require_shared("pdq")
    with open(root / "expected" / "repo_expected_hashes.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    pinned = [
        r
        for r in rows
        if r["source_file"].endswith(("PDQHasherTest.java", "test_pdq_hasher.py"))
        and (root / r["image_repo_path"]).exists()
    ]
    assert pinned, "no Java or pytx pinned values found in the listing"
    for row in pinned:
        ours = pdq_hash(root / row["image_repo_path"], exact=True)
        assert ours.hex == row["hash"].lower(), row["image_repo_path"]
        if row["quality"]:
            assert ours.quality == int(row["quality"])
