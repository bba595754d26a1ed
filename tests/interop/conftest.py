"""A live reclaim registry for third-party clients to fetch from, and its people."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from reclaim.api.app import create_app
from tests.conftest import generous_settings, live_server, migrated_registry

#: The name the registry gives the test platform (pytx shows it as a source).
PLATFORM = "Example Social"


@dataclass(frozen=True)
class Case:
    """A person's case: what they need to withdraw it, and its hashes."""

    number: str
    pin: str
    hashes: tuple[str, ...]


@dataclass
class LiveRegistry:
    """A registry served by uvicorn on 127.0.0.1, with one platform's key."""

    url: str
    key: str
    http: httpx.Client

    @property
    def stopncii_url(self) -> str:
        """The base URL a StopNCII client is pointed at (`base_url_override`)."""
        return f"{self.url}/stopncii/v1"

    def submit(self, *pdq: str, md5: tuple[str, ...] = ()) -> Case:
        """Open a case in the `adult` program (StopNCII's) for these hashes."""
        hashes = [{"type": "pdq", "value": v, "quality": 100} for v in pdq]
        hashes += [{"type": "md5", "value": v} for v in md5]
        reply = self.http.post(
            "/api/v1/cases", json={"program": "adult", "hashes": hashes}
        )
        assert reply.status_code == 201, reply.text
        body = reply.json()
        return Case(body["case_number"], body["pin"], (*pdq, *md5))

    def withdraw(self, case: Case) -> None:
        """Withdraw a case, as the person would with their PIN."""
        reply = self.http.post(
            f"/api/v1/cases/{case.number}/withdraw", json={"pin": case.pin}
        )
        assert reply.status_code == 200, reply.text


@contextmanager
def running_registry(directory: Path) -> Iterator[LiveRegistry]:
    """A migrated SQLite registry under `directory`, served on a free port."""
    settings = generous_settings(f"sqlite:///{directory}/registry.db")
    with migrated_registry(settings) as registry:
        key = registry.add_platform(PLATFORM, ["minor", "adult"])[1]
        with (
            live_server(create_app(settings, registry)) as url,
            httpx.Client(base_url=url, timeout=30) as http,
        ):
            yield LiveRegistry(url, key, http)


@pytest.fixture
def live_registry(tmp_path: Path) -> Iterator[LiveRegistry]:
    """A fresh registry for one test."""
    with running_registry(tmp_path) as registry:
        yield registry


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # a request log would name the files; the tests need none


@contextmanager
def file_server(directory: Path) -> Iterator[str]:
    """Serve a directory over HTTP on 127.0.0.1 (media a platform is asked about)."""

    handler = functools.partial(_QuietFiles, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
