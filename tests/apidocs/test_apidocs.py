"""/docs on both services: Swagger UI from the package, nothing from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from reclaim.api.app import create_app as registry_app
from reclaim.apidocs import ASSETS
from reclaim.config import Settings
from reclaim.matcher.app import create_app as matcher_app
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.service import MatcherService
from reclaim.registry import schema
from reclaim.registry.service import Registry
from tests.conftest import _require, live_server


@pytest.fixture(params=["registry", "matcher"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FastAPI]:
    """Each service's app, as served."""
    if request.param == "registry":
        settings = Settings(database_url=f"sqlite:///{tmp_path}/r.db")
        registry = Registry(settings)
        schema.upgrade(registry.db.engine)
        yield registry_app(settings, registry)
        registry.close()
        return
    config = MatcherConfig.from_mapping(
        {
            "source": {"url": "http://127.0.0.1:9", "api_key": "k"},
            "store": {"url": f"sqlite:///{tmp_path}/m.db"},
        }
    )
    service = MatcherService(config)
    yield matcher_app(service)
    service.close()


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    with live_server(app) as url:
        yield url


def references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', html)


def test_docs_load_only_files_of_their_own_origin(served: str) -> None:
    for name, path in ASSETS.items():
        _require(path, f"Swagger UI's {name} (the web build vendors it)")
    with httpx.Client(base_url=served, timeout=30) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        found = references(page.text)
        assert {"/docs/assets/swagger-ui.css", "/docs/assets/docs.js"} <= set(found)
        for url in found:
            assert url.startswith("/") and not url.startswith("//"), url
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url
        assert "<script>" not in page.text  # no inline script: the CSP allows none
        policy = page.headers["content-security-policy"]
        assert "http" not in policy and "*" not in policy, policy
        assert "frame-ancestors 'none'" in policy
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/redoc").status_code == 404  # it would load a CDN
        missing = client.get("/docs/assets/swagger-ui-bundle.js.map")
        assert missing.status_code == 404
        assert missing.json()["ok"] is False


def test_swagger_ui_renders_under_the_csp(served: str, browser) -> None:  # type: ignore[no-untyped-def]
    for name, path in ASSETS.items():
        _require(path, f"Swagger UI's {name} (the web build vendors it)")
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    elsewhere: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "request",
        lambda r: elsewhere.append(r.url) if not r.url.startswith(served) else None,
    )
    try:
        page.goto(f"{served}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        assert page.locator(".opblock").count() >= 5
    finally:
        context.close()
    assert elsewhere == []
    assert not [p for p in problems if "Content Security Policy" in p], problems
    assert not [p for p in problems if "Refused" in p], problems
