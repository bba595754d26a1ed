"""Public names are exported, sorted, and documented."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "module_name", ["reclaim", "reclaim.hashing", "reclaim.interop"]
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
