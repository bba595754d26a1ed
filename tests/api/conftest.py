"""An in-process client for the registry API (httpx over ASGI)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from reclaim.api.app import create_app
from reclaim.registry.service import Registry
from tests.conftest import live_server


@pytest.fixture
def app(registry: Registry) -> FastAPI:
    return create_app(registry.settings, registry)


@pytest.fixture
def client(app: FastAPI) -> Iterator[httpx.Client]:
    """A real HTTP client against the app served by uvicorn on 127.0.0.1."""
    with live_server(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


@pytest.fixture
def platform_key(registry: Registry) -> str:
    return registry.add_platform("Example Social", ["minor", "adult"])[1]
