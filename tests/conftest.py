"""Shared fixtures: the reference data in ../shared, and real test photographs."""

from __future__ import annotations

import io
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pytest
from PIL import Image

from reclaim.config import Settings

if TYPE_CHECKING:
    from reclaim.registry.service import Registry

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "conformance"


def require_shared(*parts: str) -> Path:
    """Path into ../shared/conformance; skip without it, but fail under CI."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = (
            f"{path} is missing: Meta's reference data lives in ../shared beside "
            "the project checkout (CI has it; a plain clone does not)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def vpdq_oracle():  # type: ignore[no-untyped-def]
    """Meta's vpdq package (a test oracle); skip without it, but fail under CI."""
    try:
        import vpdq
    except ImportError as error:
        reason = f"Meta's vpdq package is not installed ({error}): make test builds it"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return vpdq


#: scikit-image's bundled photographs (no download needed).
PHOTO_NAMES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "cat",
    "camera",
    "coins",
    "moon",
    "page",
    "horse",
    "grass",
    "gravel",
    "brick",
    "clock",
    "text",
)


def _load_photo(name: str) -> np.ndarray:
    import skimage.data

    array = np.asarray(getattr(skimage.data, name)())
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return np.ascontiguousarray(array[..., :3])


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """scikit-image's bundled photographs as (H, W, 3) uint8 RGB arrays."""
    return {name: _load_photo(name) for name in PHOTO_NAMES}


def encode(array: np.ndarray, fmt: str, **options: object) -> bytes:
    """Encode an RGB array in a Pillow format, in memory."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def write_image(tmp_path: Path) -> Callable[..., Path]:
    """Write an RGB array as an image file under tmp_path and return its path."""

    def write(array: np.ndarray, name: str, **options: object) -> Path:
        path = tmp_path / name
        Image.fromarray(array).save(path, **options)
        return path

    return write


def reference_pdq(array: np.ndarray) -> tuple[int, int]:
    """Meta's C++ PDQ (pdqhash package) as (256-bit value, quality)."""
    import pdqhash

    bits, quality = pdqhash.compute(np.ascontiguousarray(array))
    return _bits_to_int(bits), int(quality)


def reference_pdq_dihedral(array: np.ndarray) -> tuple[list[int], int]:
    """Meta's 8 dihedral hashes, in the reference's output order, and quality."""
    import pdqhash

    vectors, quality = pdqhash.compute_dihedral(np.ascontiguousarray(array))
    return [_bits_to_int(v) for v in vectors], int(quality)


def _bits_to_int(bits: np.ndarray) -> int:
    # pdqhash returns the most significant bit first (as python-threatexchange
    # reads it when it builds the hex string).
    return int("".join("1" if b else "0" for b in bits), 2)


# ---- databases and servers for the registry ------------------------------

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def _postgres_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        reason = f"PostgreSQL is not reachable on 127.0.0.1:5432 ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; dropped afterwards."""
    import uuid

    import psycopg

    _postgres_or_skip()
    name = f"reclaim_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: every registry test runs on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/registry.db"
        return
    with postgres_database() as url:
        yield url


def generous_settings(database_url: str) -> Settings:
    """Settings on a test database, with generous rate limits."""
    return Settings(
        database_url=database_url, case_rate=(10_000, 3600), pin_rate=(10_000, 3600)
    )


@contextmanager
def migrated_registry(settings: Settings) -> Iterator[Registry]:
    """A migrated, empty registry on `settings`' database, closed afterwards."""
    from reclaim.registry import schema
    from reclaim.registry.service import Registry

    service = Registry(settings)
    schema.upgrade(service.db.engine)
    try:
        yield service
    finally:
        service.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings on the test database, with generous rate limits."""
    return generous_settings(database_url)


@pytest.fixture
def registry(settings: Settings) -> Iterator[Registry]:
    """A migrated, empty registry."""
    with migrated_registry(settings) as service:
        yield service


@pytest.fixture
def precise_feed_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record and audit times to the microsecond, not the minute.

    For tests of windows, seals and paging to the second (NCMEC); the real
    minute is tested in tests/registry/test_feed.py.
    """
    from datetime import timedelta

    from reclaim.registry import feed

    monkeypatch.setattr(feed, "TIME_UNIT", timedelta(microseconds=1))


def random_pdq(rng: np.random.Generator) -> str:
    """A valid-looking PDQ hash: 256 bits with exactly 128 set."""
    bits = np.zeros(256, dtype=bool)
    bits[rng.choice(256, 128, replace=False)] = True
    return format(int("".join("1" if b else "0" for b in bits), 2), "064x")


@contextmanager
def live_server(app: object, *, port: int = 0, **options: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1 in a thread: on a free port,
    or on `port` (so that a server can come back where it was); `options`
    are uvicorn's, over the defaults here."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    # Forwarded headers are the app's to read, as under `reclaim serve`.
    settings: dict[str, Any] = {
        "access_log": False,
        "log_config": None,
        "proxy_headers": False,
        **options,
    }
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **settings)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def write_video(
    path: Path, picture: np.ndarray, *, frames: int = 20, fps: int = 10
) -> Path:
    """An H.264 MP4 of a picture panning sideways, made with PyAV."""
    import av

    height, width = (picture.shape[0] // 2) * 2, (picture.shape[1] // 2) * 2
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        base = np.ascontiguousarray(picture[:height, :width])
        for index in range(frames):
            shifted = np.ascontiguousarray(np.roll(base, index * 4, axis=1))
            frame = av.VideoFrame.from_ndarray(shifted, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


# ---- a headless browser, one per test session (web and API-docs tests) ----

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = (
    Path(__file__).resolve().parents[1]
    / "web"
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)


def _require(path: str | Path, what: str) -> None:
    if not Path(path).exists():
        reason = f"{what} is missing at {path}: run `make test` (it installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    _require(CHROMIUM, "Debian's Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


T_co = TypeVar("T_co")


def run_async(work: Callable[[], Awaitable[T_co]]) -> T_co:
    """Run a coroutine function to its end on a thread of its own.

    Not on this one: a test session's browser (Playwright's sync API) keeps
    an event loop on the main thread, and `asyncio.run`/`anyio.run` refuse to
    start beside it.
    """
    from concurrent.futures import ThreadPoolExecutor

    import anyio

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, work).result()
