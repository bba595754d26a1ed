"""Strict-Transport-Security: sent on answers to HTTPS requests only, as a
trusted reverse proxy reports them (a real uvicorn server on 127.0.0.1)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest

from reclaim.api.app import create_app
from reclaim.config import Settings
from tests.conftest import (
    generous_settings,
    live_server,
    migrated_registry,
    run_async,
)

LOCAL = (ipaddress.ip_network("127.0.0.1/32"),)
YEAR = "max-age=31536000"


Serve = Callable[..., AbstractContextManager[str]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Serve the registry with some settings changed, at the URL it yields."""
    base = generous_settings(f"sqlite:///{tmp_path}/registry.db")
    with migrated_registry(base) as registry:

        @contextmanager
        def start(**changes: object) -> Iterator[str]:
            settings: Settings = registry.settings.replace(**changes)
            with live_server(create_app(settings, registry)) as url:
                yield url

        yield start


def _hsts(url: str, path: str = "/", **headers: str) -> str | None:
    answer = httpx.get(url + path, headers=headers, timeout=30)
    return answer.headers.get("strict-transport-security")


def test_https_through_a_trusted_proxy_gets_hsts(serve: Serve) -> None:
    with serve(trusted_proxies=LOCAL) as url:
        assert _hsts(url, **{"X-Forwarded-Proto": "https"}) == YEAR
        # Errors too: every answer over HTTPS carries it.
        missing = "/api/v1/nothing-here"
        assert _hsts(url, missing, **{"X-Forwarded-Proto": "https"}) == YEAR


def test_plain_http_gets_no_hsts(serve: Serve) -> None:
    with serve(trusted_proxies=LOCAL) as url:
        assert _hsts(url) is None
        assert _hsts(url, **{"X-Forwarded-Proto": "http"}) is None


def test_forwarded_proto_from_an_untrusted_peer_is_ignored(serve: Serve) -> None:
    with serve(trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),)) as url:
        assert _hsts(url, **{"X-Forwarded-Proto": "https"}) is None


def test_the_nearest_proxy_decides(serve: Serve) -> None:
    # A client's own "https" before the proxy's "http" does not count.
    with serve(trusted_proxies=LOCAL) as url:
        assert _hsts(url, **{"X-Forwarded-Proto": "https, http"}) is None


def test_max_age_is_the_setting_and_zero_turns_it_off(serve: Serve) -> None:
    with serve(trusted_proxies=LOCAL, hsts_max_age=300) as url:
        assert _hsts(url, **{"X-Forwarded-Proto": "https"}) == "max-age=300"
    with serve(trusted_proxies=LOCAL, hsts_max_age=0) as url:
        assert _hsts(url, **{"X-Forwarded-Proto": "https"}) is None


def test_tls_at_the_asgi_server_gets_hsts(tmp_path: Path) -> None:
    # In process: the ASGI scope's scheme is the URL's, as a server that
    # terminates TLS itself sets it.
    settings = generous_settings(f"sqlite:///{tmp_path}/registry.db")

    async def ask(app: object, scheme: str) -> str | None:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        base = f"{scheme}://registry.test"
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            answer = await client.get("/healthz")
        assert answer.status_code == 200
        return answer.headers.get("strict-transport-security")

    with migrated_registry(settings) as registry:
        app = create_app(settings, registry)
        assert run_async(lambda: ask(app, "https")) == YEAR
        assert run_async(lambda: ask(app, "http")) is None
