"""Headless Debian Chromium driving the real app over a real server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reclaim.api.app import create_app
from reclaim.config import Settings
from reclaim.registry import schema
from reclaim.registry.service import Registry
from tests.conftest import (  # noqa: F401 (shared with the web tests)
    ARGS,
    AXE,
    CHROMIUM,
    _require,
    live_server,
    write_video,
)


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    """The whole app (API + page) on SQLite, served by uvicorn on 127.0.0.1."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/web.db",
        case_rate=(1000, 3600),
        pin_rate=(1000, 3600),
        leave_url="about:blank",
    )
    registry = Registry(settings)
    schema.upgrade(registry.db.engine)
    with live_server(create_app(settings, registry)) as url:
        yield url
    registry.close()


@pytest.fixture
def page_factory(browser, app_url):  # type: ignore[no-untyped-def]
    """New pages (own context each) with a viewport and language."""
    contexts = []

    def make(*, width: int = 1024, height: int = 900, locale: str = "en-US"):  # type: ignore[no-untyped-def]
        context = browser.new_context(
            base_url=app_url,
            viewport={"width": width, "height": height},
            locale=locale,
            extra_http_headers={"Accept-Language": locale},
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield make
    for context in contexts:
        context.close()


def axe_violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """axe-core's WCAG 2.x A/AA violations on the page as it is now."""
    _require(AXE, "axe-core (web/node_modules)")
    # Evaluated through DevTools, not injected into the page: the CSP stays on.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
              values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact,
              nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }"""
    )
    return list(result)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real files a person might pick: JPEG, HEIC, PNG, MP4, and a broken one."""
    import pillow_heif
    import skimage.data

    pillow_heif.register_heif_opener()
    root = tmp_path_factory.mktemp("media")
    astronaut = Image.fromarray(skimage.data.astronaut())
    coffee = Image.fromarray(skimage.data.coffee())
    files = {
        "jpeg": root / "beach photo.jpg",
        "heic": root / "IMG_0042.HEIC",
        "png": root / "screenshot.png",
        "video": root / "clip.mp4",
        "broken": root / "broken.jpg",
    }
    astronaut.save(files["jpeg"], quality=90)
    coffee.save(files["heic"], quality=85)
    Image.fromarray(skimage.data.chelsea()).save(files["png"])
    write_video(files["video"], np.asarray(astronaut.resize((320, 240))))
    files["broken"].write_bytes(files["jpeg"].read_bytes()[:2000])
    shutil.copy(files["jpeg"], root / "copy.jpg")
    return files


def wait_for(page, function: str, arg: object = None, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Poll a JS function until it returns true.

    Playwright's own wait_for_function evaluates a string inside the page,
    which the app's Content-Security-Policy (no 'unsafe-eval') rightly blocks;
    page.evaluate goes through DevTools and is not affected.
    """
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(function, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {function[:80]}")
        page.wait_for_timeout(50)
