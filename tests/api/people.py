"""People (and guessers) at given addresses, talking to the app in process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI

from reclaim.api.app import create_app
from reclaim.config import Settings
from reclaim.registry.service import Registry
from tests.conftest import generous_settings, migrated_registry, random_pdq, run_async

REDIS_URL = "redis://127.0.0.1:6379/15"
#: Nothing listens there: a Redis that is down.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"
RNG = np.random.default_rng(14)


def case_body(program: str = "adult") -> dict[str, object]:
    return {
        "program": program,
        "hashes": [{"type": "pdq", "value": random_pdq(RNG), "quality": 100}],
    }


def send(
    app: FastAPI,
    method: str,
    url: str,
    *,
    address: str = "198.51.100.7",
    **kwargs: Any,
) -> httpx.Response:
    """One request from `address` (the TCP peer the app sees)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(address, 50123))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://registry.test"
        ) as client:
            return await client.request(method, url, **kwargs)

    return run_async(go)


def open_case(app: FastAPI, *, address: str = "198.51.100.7") -> tuple[str, str]:
    """A new case's number and PIN."""
    created = send(app, "POST", "/api/v1/cases", address=address, json=case_body())
    assert created.status_code == 201, created.text
    return created.json()["case_number"], created.json()["pin"]


def status(app: FastAPI, number: str, pin: str, *, address: str) -> int:
    """The status code of a case look-up from `address`."""
    url = f"/api/v1/cases/{number}/status"
    return send(app, "POST", url, address=address, json={"pin": pin}).status_code


@contextmanager
def registry_app(tmp_path: Path, **changes: Any) -> Iterator[tuple[FastAPI, Registry]]:
    """An app on a fresh SQLite registry (the limits do not depend on the
    database), with generous limits unless `changes` say otherwise."""
    settings: Settings = generous_settings(f"sqlite:///{tmp_path}/limits.db")
    with migrated_registry(settings.replace(**changes)) as registry:
        yield create_app(registry.settings, registry), registry
