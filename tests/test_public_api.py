"""Public names are exported, sorted, and documented."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "module_name",
    [
        "reclaim",
        "reclaim.hashing",
        "reclaim.index",
        "reclaim.interop",
        "reclaim.matcher",
    ],
)
def test_all_is_sorted_and_complete(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = module.__all__
    assert exported == sorted(exported)
    for name in exported:
        assert hasattr(module, name), name


def test_every_module_has_a_docstring() -> None:
    from pathlib import Path

    src = Path(importlib.import_module("reclaim").__file__).parent  # type: ignore[arg-type]
    for path in src.rglob("*.py"):
        text = path.read_text().lstrip()
        assert text.startswith('"""'), f"{path} has no module docstring"


def test_the_issue_api_signature() -> None:
    import inspect

    from reclaim.hashing import PdqHash, hamming, pdq_hash, pdq_hash_dihedral

    assert "exact" in inspect.signature(pdq_hash).parameters
    assert (
        inspect.signature(pdq_hash).parameters["exact"].kind
        is inspect.Parameter.KEYWORD_ONLY
    )
    assert callable(pdq_hash_dihedral) and callable(hamming) and callable(PdqHash.parse)


def test_one_match_rule_is_public_where_the_issue_names_it() -> None:
    import inspect

    import reclaim.index
    import reclaim.matcher

    assert reclaim.matcher.robust_match is reclaim.index.robust_match
    assert reclaim.matcher.Match is reclaim.index.Match
    assert reclaim.matcher.PdqIndex is reclaim.index.PdqIndex
    parameters = inspect.signature(reclaim.index.robust_match).parameters
    assert list(parameters)[:2] == ["query_hashes", "item_hashes"]
    assert parameters["rule"].kind is inspect.Parameter.KEYWORD_ONLY
