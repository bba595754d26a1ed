"""A matcher with its desk served by uvicorn, desk accounts, and signed-in clients."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from reclaim.matcher.app import create_app, serving_options
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.desk.accounts import Accounts, Role
from reclaim.matcher.service import MatcherService
from tests.conftest import live_server
from tests.web.conftest import axe_violations

#: The widths every desk page is checked at: a desktop and a phone.
WIDTHS = (1280, 360)

#: Every test account's password (long enough for the desk's rule).
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Desk:
    """A served matcher: its service, its URL and a way to sign people in."""

    service: MatcherService
    url: str
    clients: list[httpx.Client] = field(default_factory=list)

    def account(self, name: str, role: Role = Role.REVIEWER) -> None:
        """Make an account with the test password."""
        Accounts(self.service.engine).add(name, PASSWORD, role)

    def client(self) -> httpx.Client:
        """A client on the desk that is not signed in."""
        client = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)
        self.clients.append(client)  # closed after the test
        return client

    def service_accounts(self) -> list[Any]:
        """The desk's accounts, by name."""
        return Accounts(self.service.engine).all()

    def sign_in(self, name: str, role: Role = Role.REVIEWER) -> httpx.Client:
        """A client signed in as a new account `name` with `role`."""
        self.account(name, role)
        return self.sign_in_existing(name)

    def sign_in_existing(self, name: str) -> httpx.Client:
        """A client signed in as the existing account `name`."""
        client = self.client()
        reply = client.post(
            "/desk/login", data={"name": name, "password": PASSWORD, "next": "/desk"}
        )
        assert reply.status_code == 303, reply.text
        return client


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token in a desk page's forms."""
    found = CSRF.search(page.text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture
def serve_desk(
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
) -> Iterator[Callable[..., Desk]]:
    """Serve a matcher (config sections overridden) with its desk."""
    servers: list[Any] = []
    desks: list[Desk] = []

    def serve(**sections: dict[str, Any]) -> Desk:
        sections.setdefault("desk", {}).setdefault("secure_cookies", False)
        service = make_service(make_config(**sections))
        # Served as `reclaim matcher serve` serves it (forwarded headers).
        server = live_server(create_app(service), **serving_options(service.config))
        url = server.__enter__()
        servers.append(server)
        desks.append(Desk(service, url))
        return desks[-1]

    yield serve
    for desk in desks:
        for client in desk.clients:
            client.close()
    for server in reversed(servers):
        server.__exit__(None, None, None)


def look(page: Any, name: str, problems: dict[str, list[object]]) -> None:
    """Check the page at both widths (axe, no sideways scroll), noting
    problems under `name`; with $DESK_SCREENSHOTS set, keep a picture of
    each as desk-<name>.png and desk-<name>-phone.png."""
    folder = os.environ.get("DESK_SCREENSHOTS")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(100)
        found: list[object] = list(axe_violations(page))
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            found.append(f"the page is {scroll} px wide at {width} px")
        if found:
            problems[f"{name}@{width}"] = found
        if folder:
            suffix = "" if width == WIDTHS[0] else "-phone"
            path = Path(folder) / f"desk-{name}{suffix}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


@contextmanager
def desk_page(browser: Any, desk: Desk) -> Iterator[Any]:
    """A Chromium page on the desk (its own context, desktop width)."""
    context = browser.new_context(
        base_url=desk.url, viewport={"width": WIDTHS[0], "height": 900}
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
    finally:
        context.close()


def sign_in_at(page: Any, path: str, name: str) -> None:
    """Open `path`, sign in as `name` on the form it leads to, and wait to
    be back at `path`."""
    page.goto(path)
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"**{path}")
