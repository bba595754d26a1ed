"""A real registry served by uvicorn, and matcher configs and services on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.service import MatcherService
from reclaim.registry.service import Registry
from tests.conftest import generous_settings, live_server, migrated_registry


@pytest.fixture
def registry_service(tmp_path: Path) -> Iterator[Registry]:
    """A migrated registry on SQLite (the registry's own tests cover PostgreSQL)."""
    settings = generous_settings(f"sqlite:///{tmp_path}/registry.db")
    with migrated_registry(settings) as service:
        yield service


@pytest.fixture
def registry_url(registry_service: Registry) -> Iterator[str]:
    """The registry API on a free 127.0.0.1 port."""
    from reclaim.api.app import create_app

    with live_server(create_app(registry_service.settings, registry_service)) as url:
        yield url


@pytest.fixture
def person(registry_url: str) -> Iterator[httpx.Client]:
    """A person's HTTP client for the registry's case API."""
    with httpx.Client(base_url=registry_url, timeout=30) as client:
        yield client


@pytest.fixture
def platform_key(registry_service: Registry) -> str:
    return registry_service.add_platform("Example Social", ["minor", "adult"])[1]


@pytest.fixture
def make_config(
    tmp_path: Path, registry_url: str, platform_key: str
) -> Callable[..., MatcherConfig]:
    """A matcher config on the live registry, with sections overridden."""

    def make(**sections: dict[str, Any]) -> MatcherConfig:
        data: dict[str, dict[str, Any]] = {
            "source": {"url": registry_url, "api_key": platform_key},
            "store": {"url": f"sqlite:///{tmp_path}/matcher.db"},
            "sync": {"poll_seconds": 0.05, "max_backoff_seconds": 0.2},
        }
        for name, values in sections.items():
            data.setdefault(name, {}).update(values)
        return MatcherConfig.from_mapping(data)

    return make


@pytest.fixture
def make_service(
    make_config: Callable[..., MatcherConfig],
) -> Iterator[Callable[..., MatcherService]]:
    """Matcher services on the live registry; closed after the test."""
    made: list[MatcherService] = []

    def make(config: MatcherConfig | None = None, **kwargs: Any) -> MatcherService:
        service = MatcherService(config or make_config(), **kwargs)
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


def submit(
    person: httpx.Client, *hashes: dict[str, Any], program: str = "adult"
) -> dict[str, Any]:
    """Create a case as a person; returns the reply (case_number, pin, case)."""
    response = person.post(
        "/api/v1/cases", json={"program": program, "hashes": list(hashes)}
    )
    assert response.status_code == 201, response.text
    return response.json()


def pdq_item(value: str, quality: int = 100) -> dict[str, Any]:
    return {"type": "pdq", "value": value, "quality": quality}


def serve_on(app: object, port: int) -> AbstractContextManager[str]:
    """Serve an ASGI app on a given 127.0.0.1 port (so it can come back there)."""
    return live_server(app, port=port)
