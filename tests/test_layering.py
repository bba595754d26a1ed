"""Layers import downward only; `hashing` runs on a device with few libraries.

`hashing` <- `index` <- `registry` <- `api`, and `index` <- `catalog` <-
`matcher`; `cli` may import anything. Every package has a rule here.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "reclaim"

#: What on-device code may import besides the standard library.
HASHING_ALLOWED = {"numpy", "PIL", "pillow_heif", "av", "reclaim"}
HASHING_ALLOWED_RECLAIM = ("reclaim.hashing", "reclaim.errors")

#: What the matching core may import besides the standard library.
INDEX_ALLOWED = {"numpy", "faiss", "reclaim"}
INDEX_ALLOWED_RECLAIM = ("reclaim.hashing", "reclaim.errors", "reclaim.index")

#: The packages each package must not import (`reclaim.<name>`).
FORBIDDEN = {
    "registry": {"api", "matcher", "cli", "web", "interop"},
    "api": {"matcher", "cli", "interop"},
    "matcher": {"registry", "api", "cli", "web", "interop"},
    # The content catalog and its jobs: below the matcher, which wires it in.
    "catalog": {"registry", "api", "matcher", "cli", "web", "interop"},
    "web": {"registry", "api", "matcher", "cli", "interop"},
    # Swagger UI for both services' /docs: below both, so it knows neither.
    "apidocs": {"registry", "api", "matcher", "cli", "web", "interop", "index"},
}

#: The one registry client, used by the CLI and the matcher: the base install.
CLIENT_ALLOWED = {"httpx", "reclaim"}
CLIENT_ALLOWED_RECLAIM = ("reclaim.errors",)
#: Packages with a test of their own below, or free to import anything.
OWN_RULES = {"hashing", "index", "interop", "cli"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _check(
    files: list[Path],
    allowed: set[str],
    allowed_reclaim: tuple[str, ...],
    *,
    own: str | None = None,
) -> None:
    """Every import in `files` is the standard library, a top-level package in
    `allowed`, or (for reclaim) under one of `allowed_reclaim` or `own`."""
    assert files
    for path in files:
        for name in _imports(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            assert top in allowed, f"{path.name} imports {name}"
            if top == "reclaim" and not (own and name.startswith(own)):
                assert name.startswith(allowed_reclaim), f"{path.name}: {name}"


def test_hashing_imports_only_device_libraries() -> None:
    files = sorted((SRC / "hashing").rglob("*.py"))
    _check(files, HASHING_ALLOWED, HASHING_ALLOWED_RECLAIM)


def test_the_index_imports_only_hashing_numpy_and_faiss() -> None:
    # The matching core sits below both services: no web, database or config.
    files = sorted((SRC / "index").rglob("*.py"))
    _check(files, INDEX_ALLOWED, INDEX_ALLOWED_RECLAIM)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_downward_only(package: str) -> None:
    files = sorted((SRC / package).rglob("*.py"))
    assert files
    for path in files:
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "reclaim" and len(parts) > 1:
                assert parts[1] not in FORBIDDEN[package], f"{path.name}: {name}"


def test_every_package_has_a_layering_rule() -> None:
    packages = {p.parent.name for p in SRC.glob("*/__init__.py")}
    assert packages == set(FORBIDDEN) | OWN_RULES


def test_nothing_imports_the_test_oracle() -> None:
    for path in SRC.rglob("*.py"):
        assert not any(
            n.split(".")[0] in {"pdqhash", "vpdq"} for n in _imports(path)
        ), path


def test_the_matcher_imports_only_hashing_and_the_root() -> None:
    # A platform runs the matcher without the registry or its API.
    allowed = (
        "reclaim.hashing",
        "reclaim.errors",
        "reclaim.config",
        "reclaim.body_limit",
        "reclaim.headers",
        "reclaim.memory",
        "reclaim.strict",
        "reclaim.apidocs",
        "reclaim.client",
        "reclaim.index",
        "reclaim.catalog",
        "reclaim.matcher",
    )
    files = sorted((SRC / "matcher").rglob("*.py"))
    assert files
    for path in files:
        for name in _imports(path):
            if name == "reclaim" or name.startswith("reclaim."):
                assert name == "reclaim" or name.startswith(allowed), (
                    f"{path.name}: {name}"
                )


def test_the_matcher_loads_the_catalog_only_when_it_is_on() -> None:
    # pyarrow and Ray are the catalog extra's: a matcher without the catalog
    # runs on the matcher extra alone, so only matcher/catalog.py imports
    # reclaim.catalog at module level (service.py, lazily, when enabled).
    for path in sorted((SRC / "matcher").rglob("*.py")):
        if path.name == "catalog.py":
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(
                    ("reclaim.catalog", "reclaim.matcher.catalog", "pyarrow", "ray")
                ), f"{path.name}: {node.module}"


def test_interop_imports_only_pytx_and_the_base_install() -> None:
    # It runs inside HMA's or pytx's environment: the base install plus pytx,
    # with none of the server extras.
    allowed_reclaim = (
        "reclaim.hashing",
        "reclaim.index",
        "reclaim.errors",
        "reclaim.config",
    )
    files = sorted((SRC / "interop").rglob("*.py"))
    allowed = {"threatexchange", "reclaim", "httpx"}
    _check(files, allowed, allowed_reclaim, own="reclaim.interop")


def test_the_registry_client_needs_only_the_base_install() -> None:
    # The CLI and the matcher share it; it knows neither, nor the server.
    _check([SRC / "client.py"], CLIENT_ALLOWED, CLIENT_ALLOWED_RECLAIM)
